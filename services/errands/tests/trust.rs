//! Who may see and do what on the errands service: the policy table
//! against the proto, probed as every role, and the audit trail of writes
//! and personal-data reads.

mod support;

use flatgov_errands::policy::POLICY;
use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::errands::v1 as proto;
use flatgov_testkit::authz::{probe, uncovered};
use flatgov_testkit::{eventually, with_token};
use support::*;

#[tokio::test]
async fn every_rpc_has_a_rule_and_a_probe_as_every_role_finds_the_table_enforced() {
    assert_eq!(uncovered(&POLICY), Vec::<String>::new());
    let service = Service::start().await;
    let report = probe(&service.application.grpc_url(), &POLICY, &service.test.auth).await;
    println!(
        "probe of {}: {} calls over {} RPCs, {} refused by the table as expected, {} contradictions",
        POLICY.service,
        report.calls,
        POLICY.rules.len(),
        report.refusals_expected,
        report.contradictions.len(),
    );
    let contradictions = &report.contradictions;
    assert!(contradictions.is_empty(), "{contradictions:#?}");
    assert_eq!(POLICY.rules.len(), 12);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn requesting_and_reading_an_errand_are_in_the_audit_trail_without_the_resident() {
    let service = Service::start().await;
    let requested = service.request("pension_annual_review").await;
    service
        .client
        .clone()
        .get_errand(with_token(
            proto::GetErrandRequest {
                name: requested.name.clone(),
            },
            &service.assistant,
        ))
        .await
        .expect("read");
    let trail = AuditTrailClient::connect(service.application.grpc_url())
        .await
        .unwrap();
    let admin = service.test.auth.admin_token();
    // The layer records a read after answering it: wait for the record.
    let records = eventually("both calls in the audit trail", PATIENCE, || {
        let mut trail = trail.clone();
        let request = with_token(
            audit::ListAuditRecordsRequest {
                resource: requested.name.clone(),
                page_size: 100,
                ..Default::default()
            },
            &admin,
        );
        async move {
            let records = trail
                .list_audit_records(request)
                .await
                .ok()?
                .into_inner()
                .records;
            let methods: Vec<String> = records.iter().map(|record| record.method.clone()).collect();
            (methods.iter().any(|method| method == "RequestErrand")
                && methods.iter().any(|method| method == "GetErrand"))
            .then_some(records)
        }
    })
    .await;
    for record in &records {
        let text = format!("{record:?}");
        assert!(!text.contains("刘秀英") && !text.contains("13800138000"));
        assert!(!text.contains("docs://"));
    }
    service.application.shutdown().await.unwrap();
}
