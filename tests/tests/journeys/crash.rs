//! Journey 7: journey 2 with services killed (SIGKILL) in the middle — the
//! cases service right after its clock passed the meeting's limit, the
//! enforcement service while the whistle is blown, the cases service again
//! while the operation concludes. The journey completes; every expected
//! event arrives; nothing is done twice.

use flatgov_journeys::Platform;
use flatgov_journeys::events::count_about;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;

use crate::support::*;
use crate::whistle::*;

#[tokio::test]
async fn journey_services_killed_in_the_middle_of_a_whistle_lose_nothing_and_do_nothing_twice() {
    let mut platform = Platform::start().await;
    platform.load_demo();
    let case = report_vending(&platform).await;
    overdue_to_meeting(&platform, &case).await;

    // The whistle is blown while the enforcement service is dead, and the
    // cases service dies the moment its clock passes the meeting's limit.
    platform.kill("enforcement");
    advance_clock(&platform, 30).await;
    platform.kill("cases");
    platform.restart("cases").await;
    let at_whistle = case_until(&platform, &case.name, "escalation to the whistle", |case| {
        case.tier == HandlingTier::Whistle as i32
    })
    .await;
    assert_eq!(
        at_whistle.assignee,
        format!("departments/{}", case.lead_agency)
    );
    platform
        .events_until(
            "cases",
            "the escalation to the whistle on the stream",
            |events| count_about(events, &case.name, "CaseEscalated") == 2,
        )
        .await;
    platform.restart("enforcement").await;
    let operation = summoned_operation(&platform, &case).await;
    report_in(&platform, &operation.name, &case.lead_agency).await;
    report_in(&platform, &operation.name, &case.other_agency).await;

    // The operation concludes while the cases service is dead.
    platform.kill("cases");
    record_actions(&platform, &operation.name).await;
    conclude(&platform, &case, &operation.name).await;
    platform
        .events_until("enforcement", "the conclusion on the stream", |events| {
            count_about(events, &operation.name, "OperationConcluded") == 1
        })
        .await;
    platform.restart("cases").await;

    verify_rate_close(&platform, &case).await;
    assert_everything_happened_once(&platform, &case, &operation.name).await;
}
