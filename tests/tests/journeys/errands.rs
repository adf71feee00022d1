//! Journeys of convenience matters handled through the block team (帮代办),
//! every service its own process, the catalogue loaded by `flatgov demo
//! load`: a pension annual review handled at a resident's home by the
//! block's assistant through to approval; a subsistence allowance returned
//! once for a missing document, then approved; the speed-up rate
//! (便民事项办理提速率) for the month. An integrator follows each errand on the
//! errands stream, which never names the resident or a document.

use chrono::{Datelike, TimeZone};
use flatgov_auth::Role;
use flatgov_journeys::events::{assert_nowhere, types_about};
use flatgov_journeys::{Platform, with_token};
use flatgov_proto::errands::v1 as errands;

const SUBDISTRICT: &str = "430302001";
const RESIDENT_NAME: &str = "刘秀英";
const RESIDENT_PHONE: &str = "13800138000";

/// The first block of the subdistrict, and an assistant's token for it.
async fn block_and_assistant(platform: &Platform) -> (String, String) {
    let block = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .next()
        .expect("the subdistrict has blocks");
    let assistant = platform.token(
        &format!("demo-{block}-assistant-1"),
        &[Role::Assistant],
        &format!("blocks/{block}"),
        None,
    );
    (block, assistant)
}

fn request(matter: &str, block: &str, account: &str) -> errands::RequestErrandRequest {
    errands::RequestErrandRequest {
        matter: matter.to_owned(),
        block_code: block.to_owned(),
        channel: errands::Channel::BlockTeam as i32,
        proxy: true,
        resident: Some(errands::Resident {
            name: RESIDENT_NAME.into(),
            phone: RESIDENT_PHONE.into(),
            id_number: "11010519491231002X".into(),
            account: account.into(),
        }),
        request_id: String::new(),
    }
}

fn documents(materials: &[&str]) -> Vec<errands::Document> {
    materials
        .iter()
        .map(|material| errands::Document {
            material: (*material).to_owned(),
            reference: format!("docs://scans/liu/{material}.pdf"),
            ..Default::default()
        })
        .collect()
}

async fn collect(platform: &Platform, token: &str, errand: &str, materials: &[&str]) {
    platform
        .errands()
        .collect_materials(with_token(
            errands::CollectMaterialsRequest {
                errand: errand.to_owned(),
                documents: documents(materials),
                resident_trip: false,
            },
            token,
        ))
        .await
        .expect("materials collected");
}

async fn submit(platform: &Platform, token: &str, errand: &str) -> errands::Errand {
    platform
        .errands()
        .submit_errand(with_token(
            errands::SubmitErrandRequest {
                errand: errand.to_owned(),
                resident_trip: false,
            },
            token,
        ))
        .await
        .expect("submitted")
        .into_inner()
}

async fn decide(
    platform: &Platform,
    errand: &str,
    department: &str,
    result: errands::Result,
    materials: &[&str],
) -> errands::Errand {
    platform
        .errands()
        .record_result(with_token(
            errands::RecordResultRequest {
                errand: errand.to_owned(),
                result: result as i32,
                reason: String::new(),
                materials: materials.iter().map(|code| (*code).to_owned()).collect(),
            },
            &platform.officer(department),
        ))
        .await
        .expect("result recorded")
        .into_inner()
}

async fn tell(platform: &Platform, token: &str, errand: &str) -> errands::Errand {
    platform
        .errands()
        .record_resident_told(with_token(
            errands::RecordResidentToldRequest {
                errand: errand.to_owned(),
                channel: errands::TellingChannel::Call as i32,
                resident_trip: false,
            },
            token,
        ))
        .await
        .expect("resident told")
        .into_inner()
}

#[tokio::test]
async fn journey_a_pension_annual_review_is_handled_at_home_by_the_blocks_assistant_through_to_approval()
 {
    let platform = Platform::start().await;
    platform.load_demo();
    // The demo published the catalogue: the review is decided by human
    // resources and social security, may be handled on the resident's
    // behalf, and needs the resident in person (the face check at home).
    let catalogue = platform
        .errands()
        .get_catalogue(errands::GetCatalogueRequest::default())
        .await
        .expect("the catalogue is public")
        .into_inner();
    assert!(catalogue.matters.len() >= 10);
    let review = catalogue
        .matters
        .iter()
        .find(|matter| matter.code == "pension_annual_review")
        .expect("the review is in the catalogue");
    assert_eq!(
        review.deciding_department,
        "human_resources_social_security"
    );
    assert!(review.proxy_allowed && review.in_person_required);

    let (block, assistant) = block_and_assistant(&platform).await;
    let requested = platform
        .errands()
        .request_errand(with_token(
            request("pension_annual_review", &block, "resident-liu"),
            &assistant,
        ))
        .await
        .expect("requested at the resident's home")
        .into_inner();
    collect(
        &platform,
        &assistant,
        &requested.name,
        &["id_card", "face_check"],
    )
    .await;
    let submitted = submit(&platform, &assistant, &requested.name).await;
    assert!(submitted.promised_due.is_some() && submitted.statutory_due.is_some());
    // The department sees what it decides, with the documents.
    let seen = platform
        .errands()
        .get_errand(with_token(
            errands::GetErrandRequest {
                name: requested.name.clone(),
            },
            &platform.officer("human_resources_social_security"),
        ))
        .await
        .expect("the deciding department reads the errand")
        .into_inner();
    assert_eq!(seen.documents.len(), 2);
    decide(
        &platform,
        &requested.name,
        "human_resources_social_security",
        errands::Result::Approved,
        &[],
    )
    .await;
    let told = tell(&platform, &assistant, &requested.name).await;
    assert_eq!(told.state, errands::ErrandState::Completed as i32);
    assert_eq!(told.trips_saved, 2, "both trips to the counter saved");
    let steps: Vec<&str> = told
        .transitions
        .iter()
        .map(|transition| transition.action.as_str())
        .collect();
    assert_eq!(
        steps,
        vec![
            "requested",
            "materials_collected",
            "submitted",
            "approved",
            "resident_told"
        ]
    );
    // The resident follows it in the app.
    let own = platform
        .errands()
        .get_errand(with_token(
            errands::GetErrandRequest {
                name: requested.name.clone(),
            },
            &platform.resident("resident-liu"),
        ))
        .await
        .expect("the resident reads their own errand")
        .into_inner();
    assert_eq!(own.result, errands::Result::Approved as i32);

    let events = platform
        .events_until("errands", "the errand's completion", |events| {
            types_about(events, &requested.name).contains(&"ErrandCompleted")
        })
        .await;
    assert_eq!(
        types_about(&events, &requested.name),
        vec![
            "ErrandRequested",
            "ErrandSubmitted",
            "ErrandDecided",
            "ErrandCompleted"
        ]
    );
    for needle in [RESIDENT_NAME, RESIDENT_PHONE, "docs://", "resident-liu"] {
        assert_nowhere("errands", &events, needle);
    }
}

#[tokio::test]
async fn journey_a_subsistence_allowance_is_returned_once_for_a_missing_document_then_approved() {
    let platform = Platform::start().await;
    platform.load_demo();
    let (block, assistant) = block_and_assistant(&platform).await;
    let requested = platform
        .errands()
        .request_errand(with_token(
            request("subsistence_allowance", &block, "resident-liu"),
            &assistant,
        ))
        .await
        .unwrap()
        .into_inner();
    collect(
        &platform,
        &assistant,
        &requested.name,
        &[
            "id_card",
            "household_register",
            "income_proof",
            "property_declaration",
            "authorisation",
        ],
    )
    .await;
    submit(&platform, &assistant, &requested.name).await;
    // Civil affairs finds the income statement out of date: returned once,
    // naming it.
    let returned = decide(
        &platform,
        &requested.name,
        "civil_affairs",
        errands::Result::Returned,
        &["income_proof"],
    )
    .await;
    assert_eq!(returned.state, errands::ErrandState::Returned as i32);
    assert_eq!(returned.missing_materials, vec!["income_proof"]);
    // The assistant tells the resident everything missing at once.
    let notified = platform
        .errands()
        .notify_missing_materials(with_token(
            errands::NotifyMissingMaterialsRequest {
                errand: requested.name.clone(),
            },
            &assistant,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(notified.notices.len(), 1);
    assert_eq!(notified.notices[0].materials, vec!["income_proof"]);
    collect(&platform, &assistant, &requested.name, &["income_proof"]).await;
    submit(&platform, &assistant, &requested.name).await;
    decide(
        &platform,
        &requested.name,
        "civil_affairs",
        errands::Result::Approved,
        &[],
    )
    .await;
    let told = tell(&platform, &assistant, &requested.name).await;
    assert_eq!(told.returns, 1);
    assert_eq!(told.result, errands::Result::Approved as i32);
    let events = platform
        .events_until("errands", "the allowance's completion", |events| {
            types_about(events, &requested.name).contains(&"ErrandCompleted")
        })
        .await;
    assert_eq!(
        types_about(&events, &requested.name),
        vec![
            "ErrandRequested",
            "ErrandSubmitted",
            "ErrandDecided",
            "MissingMaterialsNotified",
            "ErrandSubmitted",
            "ErrandDecided",
            "ErrandCompleted"
        ]
    );
    for needle in [RESIDENT_NAME, RESIDENT_PHONE, "docs://", "income_proof"] {
        assert_nowhere("errands", &events, needle);
    }
}

#[tokio::test]
async fn journey_the_speed_up_rate_is_computed_for_the_month() {
    let platform = Platform::start().await;
    platform.load_demo();
    let (block, assistant) = block_and_assistant(&platform).await;
    // Three errands this month: two decided at once, one (an unemployment
    // registration, 5 working days by law) decided six weeks later.
    let mut names = Vec::new();
    for (matter, materials) in [
        ("pension_annual_review", &["id_card", "face_check"][..]),
        (
            "elderly_allowance",
            &["id_card", "household_register", "bank_card"][..],
        ),
        (
            "unemployment_registration",
            &["id_card", "termination_proof"][..],
        ),
    ] {
        let requested = platform
            .errands()
            .request_errand(with_token(
                request(matter, &block, "resident-liu"),
                &assistant,
            ))
            .await
            .unwrap()
            .into_inner();
        collect(&platform, &assistant, &requested.name, materials).await;
        submit(&platform, &assistant, &requested.name).await;
        names.push(requested);
    }
    decide(
        &platform,
        &names[0].name,
        "human_resources_social_security",
        errands::Result::Approved,
        &[],
    )
    .await;
    decide(
        &platform,
        &names[1].name,
        "civil_affairs",
        errands::Result::Approved,
        &[],
    )
    .await;
    platform
        .errands()
        .advance_test_clock(with_token(
            errands::AdvanceTestClockRequest {
                by: Some(prost_types::Duration {
                    seconds: 42 * 24 * 3600,
                    nanos: 0,
                }),
            },
            &platform.admin(),
        ))
        .await
        .expect("the errands clock moves in a test deployment");
    decide(
        &platform,
        &names[2].name,
        "human_resources_social_security",
        errands::Result::Approved,
        &[],
    )
    .await;
    // The month the errands were requested in, China time.
    let china = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8");
    let now = chrono::Utc::now().with_timezone(&china);
    let month_start = china
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .unwrap();
    let next_month = if now.month() == 12 {
        month_start
            .with_year(now.year() + 1)
            .unwrap()
            .with_month(1)
            .unwrap()
    } else {
        month_start.with_month(now.month() + 1).unwrap()
    };
    let indicators = platform
        .errands()
        .get_indicators(with_token(
            errands::GetIndicatorsRequest {
                division_code: SUBDISTRICT.into(),
                period_start: Some(flatgov_grpc::time::timestamp(month_start.to_utc())),
                period_end: Some(flatgov_grpc::time::timestamp(next_month.to_utc())),
            },
            &platform.dispatcher(SUBDISTRICT),
        ))
        .await
        .expect("the subdistrict reads its indicators")
        .into_inner();
    eprintln!(
        "speed-up rate {:.4} over {} decided, mean working days saved {:.2}, within the promised limit {}",
        indicators.speed_up_rate,
        indicators.decided,
        indicators.mean_working_days_saved,
        indicators.within_promised_limit
    );
    assert_eq!(indicators.requested, 3);
    assert_eq!(indicators.decided, 3);
    assert!((indicators.speed_up_rate - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(indicators.within_promised_limit, 2);
    assert_eq!(indicators.by_matter_and_block.len(), 3);
    assert!(
        indicators
            .by_matter_and_block
            .iter()
            .all(|count| count.block_code == block && count.errands == 1)
    );
    let departments: Vec<&str> = indicators
        .departments
        .iter()
        .map(|department| department.department.as_str())
        .collect();
    assert_eq!(
        departments,
        vec!["civil_affairs", "human_resources_social_security"]
    );
}
