//! Journey 3: market supervision tries to push a food-safety inspection
//! task — on the residents' committee negative list, on no subdistrict
//! list — onto a subdistrict: the duty-list gate refuses it, directly and
//! when the department reassigns its case; each refusal is recorded and
//! counted; the case stays with the department.

use flatgov_journeys::events::{count_about, short_type};
use flatgov_journeys::{Platform, with_token};
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::duties::v1 as duties;
use flatgov_proto::flatgov::r#type::v1::{HandlingTier, Unit, UnitKind};

use crate::support::*;

const SUBDISTRICT: &str = "430302003";
const DEPARTMENT: &str = "market_supervision";
/// RN-01-02: market-supervision inspections may not be put on residents'
/// committees, and are on neither subdistrict list.
const MATTER: &str = "food_safety_inspection_task";
const REFUSAL_CODE: &str = "NOT_ON_SUBDISTRICT_LISTS";

fn department() -> Unit {
    Unit {
        kind: UnitKind::Department as i32,
        code: DEPARTMENT.into(),
    }
}

fn subdistrict() -> Unit {
    Unit {
        kind: UnitKind::Subdistrict as i32,
        code: SUBDISTRICT.into(),
    }
}

async fn count_refusals(platform: &Platform, token: &str) -> duties::CountRefusalsResponse {
    platform
        .duties()
        .count_refusals(with_token(
            duties::CountRefusalsRequest {
                from_department: DEPARTMENT.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("refusals are counted")
        .into_inner()
}

async fn list_refusals(
    platform: &Platform,
    request: duties::ListRefusalsRequest,
) -> Vec<duties::Refusal> {
    platform
        .duties()
        .list_refusals(with_token(request, &platform.admin()))
        .await
        .expect("refusals are listed")
        .into_inner()
        .refusals
}

#[tokio::test]
async fn journey_a_department_pushing_an_off_list_matter_onto_a_subdistrict_is_refused_counted_and_keeps_it()
 {
    let platform = Platform::start().await;
    platform.load_demo();
    let block_code = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .next()
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let officer = platform.officer(DEPARTMENT);

    // The department asks the gate whether it may hand the task down.
    let check = duties::CheckAssignmentRequest {
        matter_code: MATTER.into(),
        from: Some(department()),
        to: Some(subdistrict()),
        at: None,
        attempted_by: String::new(),
        case: String::new(),
        request_id: "journey-3-first-push".into(),
        place: Some(duties::Place {
            block_code: block.code.clone(),
            ..Default::default()
        }),
    };
    let answer = platform
        .duties()
        .check_assignment(with_token(check.clone(), &officer))
        .await
        .expect("the gate answers")
        .into_inner();
    assert!(!answer.allowed, "{answer:?}");
    assert_eq!(answer.reason_code, REFUSAL_CODE);
    assert_eq!(answer.responsible_instead, Some(department()));
    assert_eq!(answer.list_item_code, "RN-01-02");
    assert!(answer.refusal.starts_with("refusals/"), "{answer:?}");
    // A retry is the same answer and the same refusal, not a second one.
    let retried = platform
        .duties()
        .check_assignment(with_token(check, &officer))
        .await
        .expect("the gate answers a retry")
        .into_inner();
    assert_eq!(retried.refusal, answer.refusal);
    assert_eq!(count_refusals(&platform, &officer).await.total, 1);

    // The department reports the task as a case: the duty lists make it the
    // department's own, at the whistle.
    let mut request = app_report(
        &Resident::new("unused", "市场监管所值班室", "0731-55550000"),
        MATTER,
        block.inside,
        "辖区餐饮店食品安全专项检查",
    );
    request.channel = cases::Channel::Referral as i32;
    request.request_id = "journey-3-task".into();
    let reported = platform
        .cases()
        .report_case(with_token(request, &officer))
        .await
        .expect("a department reports")
        .into_inner()
        .case
        .expect("the case");
    let name = reported.name;
    let with_department = case_until(&platform, &name, "dispatch to the department", |case| {
        state(case) == cases::CaseState::Dispatched
    })
    .await;
    assert_eq!(
        with_department.assignee,
        format!("departments/{DEPARTMENT}")
    );
    assert_eq!(with_department.tier, HandlingTier::Whistle as i32);
    let lead = with_department.lead.clone().expect("the lead unit");
    assert_eq!(lead, department());

    // It tries to hand the case to the subdistrict: refused, nothing moves.
    let refused = platform
        .cases()
        .reassign_case(with_token(
            cases::ReassignCaseRequest {
                name: name.clone(),
                assignee: format!("subdistricts/{SUBDISTRICT}"),
                tier: HandlingTier::CoordinationMeeting as i32,
                reason: "请街道组织辖区食品安全检查".into(),
            },
            &officer,
        ))
        .await
        .expect_err("the gate refuses the reassignment");
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(
        refused.message().contains(REFUSAL_CODE) && refused.message().contains(DEPARTMENT),
        "the refusal names why and who is responsible: {}",
        refused.message()
    );
    let kept = get_case(&platform, &name).await;
    assert_eq!(kept.assignee, format!("departments/{DEPARTMENT}"));
    assert_eq!(kept.tier, HandlingTier::Whistle as i32);
    assert_eq!(state(&kept), cases::CaseState::Dispatched);
    assert_eq!(
        kept.version,
        with_department.version + 1,
        "one record: the refusal"
    );
    let shown = kept
        .dispatch_refusal
        .expect("the refusal is shown on the case");
    assert_eq!(shown.reason_code, REFUSAL_CODE);
    assert_eq!(
        shown.attempted_assignee,
        format!("subdistricts/{SUBDISTRICT}")
    );
    assert_eq!(shown.responsible_instead, Some(department()));

    // Both refusals are recorded and counted against the department.
    let counted = count_refusals(&platform, &platform.admin()).await;
    assert_eq!(counted.total, 2, "{counted:?}");
    assert_eq!(counted.counts.len(), 1, "{counted:?}");
    assert_eq!(counted.counts[0].from, Some(department()));
    assert_eq!(counted.counts[0].by_reason.get(REFUSAL_CODE), Some(&2));
    assert_eq!(count_refusals(&platform, &officer).await.total, 2);
    let of_case = list_refusals(
        &platform,
        duties::ListRefusalsRequest {
            case: name.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(of_case.len(), 1);
    assert_eq!(of_case[0].name, shown.refusal);
    assert_eq!(of_case[0].to, Some(subdistrict()));
    assert_eq!(of_case[0].matter_code, MATTER);
    let into_subdistrict = platform
        .duties()
        .list_refusals(with_token(
            duties::ListRefusalsRequest {
                to_division: SUBDISTRICT.into(),
                ..Default::default()
            },
            &platform.dispatcher(SUBDISTRICT),
        ))
        .await
        .expect("the subdistrict sees what was pushed at it")
        .into_inner()
        .refusals;
    assert_eq!(into_subdistrict.len(), 2);

    // Integrators saw both refusals and the case's refused dispatch.
    let refusals = platform
        .events_until("duties", "both refusals on the stream", |events| {
            events
                .iter()
                .filter(|event| short_type(event) == "AssignmentRefused")
                .count()
                >= 2
        })
        .await;
    let published: Vec<duties::AssignmentRefused> = refusals
        .iter()
        .filter_map(|event| event.decode().ok())
        .collect();
    assert_eq!(published.len(), 2);
    assert!(
        published
            .iter()
            .all(|refusal| refusal.reason_code == REFUSAL_CODE
                && refusal.from == Some(department())
                && refusal.to == Some(subdistrict()))
    );
    assert_eq!(
        published
            .iter()
            .filter(|refusal| refusal.case == name)
            .count(),
        1
    );
    let case_events = platform
        .events_until("cases", "the refused dispatch on the stream", |events| {
            count_about(events, &name, "CaseDispatchRefused") > 0
        })
        .await;
    assert_eq!(count_about(&case_events, &name, "CaseDispatchRefused"), 1);
    assert_eq!(count_about(&case_events, &name, "CaseReassigned"), 0);
}
