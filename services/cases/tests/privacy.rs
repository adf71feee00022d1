//! Reporters' personal data over time (PIPL): the export for an access
//! request and the erasure of contacts once their retention after the case
//! closed runs out, through the API with the test clock.

mod support;

use chrono::TimeDelta;
use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::cases::v1 as proto;
use flatgov_testkit::{eventually, field_violations, with_token};
use support::*;
use tonic::Code;

async fn audit_records(service: &Service, token: &str, resource: &str) -> Vec<audit::AuditRecord> {
    AuditTrailClient::connect(service.application.grpc_url())
        .await
        .unwrap()
        .list_audit_records(with_token(
            audit::ListAuditRecordsRequest {
                resource: resource.into(),
                page_size: 100,
                page_token: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .records
}

async fn export(
    service: &Service,
    token: &str,
    phone: &str,
) -> Result<Vec<proto::ReportedWithContact>, tonic::Status> {
    service
        .client()
        .export_reporter_data(with_token(
            proto::ExportReporterDataRequest {
                phone: phone.into(),
            },
            token,
        ))
        .await
        .map(|response| response.into_inner().reports)
}

async fn close(world: &World, service: &Service, case: &str) {
    service
        .client()
        .close_case(with_token(
            proto::CloseCaseRequest {
                name: case.into(),
                reason: "重复上报".into(),
            },
            &world.admin(),
        ))
        .await
        .expect("closed");
}

#[tokio::test]
async fn only_district_administrators_export_what_is_held_under_a_phone_and_each_export_is_audited()
{
    let world = World::new();
    let service = world.start().await;
    let case = report(&service, &world.resident(), street_light_report("lamp-1"))
        .await
        .case
        .unwrap();
    for token in [world.dispatcher(), world.governor(), world.integrator()] {
        assert_eq!(
            export(&service, &token, "13900001111")
                .await
                .unwrap_err()
                .code(),
            Code::PermissionDenied
        );
    }
    let refused = export(&service, &world.admin(), "call me")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&refused)[0].field, "phone");

    let reports = export(&service, &world.admin(), "139-0000-1111")
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].case, case.name);
    assert!(!reports[0].me_too);
    let contact = reports[0].contact.as_ref().unwrap();
    assert_eq!(
        (contact.name.as_str(), contact.phone.as_str()),
        ("李四", "13900001111")
    );
    assert!(reports[0].description.contains("路灯"));
    assert!(
        export(&service, &world.admin(), "13700000000")
            .await
            .unwrap()
            .is_empty()
    );

    let trail = audit_records(&service, &world.admin(), &case.name).await;
    let exported: Vec<_> = trail
        .iter()
        .filter(|record| record.method == "ExportReporterData")
        .collect();
    assert_eq!(exported.len(), 1, "{trail:?}");
    assert!(
        !exported[0]
            .resources
            .iter()
            .any(|resource| resource.contains("13900001111")),
        "the audit trail never holds the phone"
    );
    service.stop().await;
}

#[tokio::test]
async fn a_reporters_contact_is_erased_once_its_retention_after_the_case_closed_runs_out_and_not_before()
 {
    let world = World::new();
    let service = world.start().await;
    let earlier = report(&service, &world.resident(), street_light_report("lamp-1"))
        .await
        .case
        .unwrap();
    let mut next_door = street_light_report("lamp-2");
    next_door.location = Some(point_in_neighbour());
    let later = report(&service, &world.resident(), next_door)
        .await
        .case
        .unwrap();
    close(&world, &service, &earlier.name).await;
    // Six months (the default retention) and a day later, the second case
    // closes: its contact has six months to go, the first one's ran out.
    service
        .advance_clock(&world.admin(), TimeDelta::days(6 * 31 + 1))
        .await;
    close(&world, &service, &later.name).await;

    let remaining = eventually("the expired contact to be erased", PATIENCE, || async {
        let reports = export(&service, &world.admin(), "13900001111")
            .await
            .unwrap();
        (reports.len() == 1).then_some(reports)
    })
    .await;
    assert_eq!(
        remaining[0].case, later.name,
        "the later case keeps its contact"
    );
    let erased = service
        .client()
        .get_case(with_token(
            proto::GetCaseRequest {
                name: earlier.name.clone(),
            },
            &world.admin(),
        ))
        .await
        .expect("the case itself stays")
        .into_inner();
    assert_eq!(state(&erased), proto::CaseState::Closed);
    assert!(erased.reporter.is_none(), "{:?}", erased.reporter);
    let trail = audit_records(&service, &world.admin(), &earlier.name).await;
    assert!(
        trail
            .iter()
            .any(|record| record.subject == flatgov_cases::retention::WORKER),
        "the erasure is audited: {trail:?}"
    );
    service.stop().await;
}
