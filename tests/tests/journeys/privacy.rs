//! Journey: an access request under PIPL. A resident reported a problem
//! with her phone and is on the federation's needy register; the district
//! administrator runs `flatgov privacy export --id-number …` and gets, in
//! one document, her register record with its plan and every report she
//! made — the cases service found through the phone on her record, since
//! it keeps no ID numbers. Each service audits the export.

use flatgov_journeys::identity::with_check_character;
use flatgov_journeys::{Platform, with_token};
use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::federation::v1 as federation;

const SUBDISTRICT: &str = "430302004";

#[tokio::test]
async fn journey_a_district_administrator_exports_everything_held_about_one_person_with_the_cli() {
    let platform = Platform::start().await;
    platform.load_demo();
    let block_code = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .next()
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let governor = platform.governor(&block);
    let phone = "13607319753";
    let id_number = with_check_character("43030219520611002");

    let reported = platform
        .cases()
        .report_case(with_token(
            cases::ReportCaseRequest {
                request_id: "journey-privacy-lamp".into(),
                kind: cases::CaseKind::NeedySupport as i32,
                channel: cases::Channel::Patrol as i32,
                location: Some(block.inside),
                block: String::new(),
                matter_code: "lonely_elderly_visit".into(),
                description: "独居老人, 冬季缺少生活物资".into(),
                attachments: vec![],
                reporter: Some(cases::Contact {
                    name: "周玉兰".into(),
                    phone: phone.into(),
                }),
                anonymous: false,
                urgent: false,
            },
            &governor,
        ))
        .await
        .expect("reported")
        .into_inner()
        .case
        .expect("the case");

    let staff = platform.federation_staff("womens_federation-lead", "womens_federation");
    let person = platform
        .federation()
        .register_person(with_token(
            federation::RegisterPersonRequest {
                request_id: String::new(),
                full_name: "周玉兰".into(),
                id_number: id_number.clone(),
                phone: phone.into(),
                address: "雨湖区示例路 12 号".into(),
                block_code: block.code.clone(),
                categories: vec![federation::DifficultyCategory::ElderlyAlone as i32],
                circumstances: "独居".into(),
                consent: Some(federation::Consent {
                    method: federation::ConsentMethod::Written as i32,
                    give_time: None,
                    document_reference: "FL-2026-0611".into(),
                    guardian_name: String::new(),
                }),
            },
            &staff,
        ))
        .await
        .expect("registered")
        .into_inner();

    let admin = platform.admin();
    let printed = platform.cli(
        &admin,
        &[
            "--output",
            "json",
            "privacy",
            "export",
            "--id-number",
            &id_number,
        ],
    );
    let document: serde_json::Value =
        serde_json::from_str(printed.trim()).expect("one JSON document");
    let people = document["federation"]["people"].as_array().expect("people");
    assert_eq!(people.len(), 1, "{document}");
    assert_eq!(people[0]["name"], person.name);
    assert_eq!(people[0]["fullName"], "周玉兰");
    let reports = document["cases"]["reports"].as_array().expect("reports");
    assert_eq!(reports.len(), 1, "{document}");
    assert_eq!(reports[0]["case"], reported.name);
    assert_eq!(reports[0]["contact"]["phone"], phone);
    // Found through the phone on the needy record, not one the person gave
    // with the request: flagged for the officer to check before release.
    assert_eq!(
        document["review"]["found_through_recorded_phones"],
        serde_json::json!([reported.name])
    );
    // Each service recorded the export against what it returned.
    for (service, resource) in [
        ("federation", person.name.clone()),
        ("cases", reported.name.clone()),
    ] {
        let records = AuditTrailClient::connect(platform.url(service))
            .await
            .unwrap()
            .list_audit_records(with_token(
                audit::ListAuditRecordsRequest {
                    resource: resource.clone(),
                    page_size: 100,
                    page_token: String::new(),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .records;
        assert!(
            records
                .iter()
                .any(|record| record.method.starts_with("Export")
                    && record.subject == "journey-admin"),
            "{service}: {records:?}"
        );
    }
}
