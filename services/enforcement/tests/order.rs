//! Event order (issue 23, item 5): `enforcement-on-case-escalated` receives a case's
//! escalations to the whistle, which carry the case's record sequence
//! (`CaseEscalated.transition.sequence`). The one-live-operation-per-case index makes a
//! repeated or overtaken escalation harmless while the case's operation is live; this
//! test covers the escalation that arrives after a later escalation's operation ended.

mod support;

use chrono::{TimeDelta, Utc};
use flatgov_proto::cases::v1::{CaseEscalated, CaseTransition};
use flatgov_proto::enforcement::v1 as api;
use flatgov_testkit::{TestEnv, eventually, with_token};
use support::*;

const CASE: &str = "cases/0193a1b2-0000-7000-8000-00000000beef";

/// The case's escalation to the whistle recorded as its record `sequence`.
fn escalation_at(sequence: u32, minutes_ago: i64) -> CaseEscalated {
    let at = flatgov_grpc::time::timestamp(Utc::now() - TimeDelta::minutes(minutes_ago));
    let mut event = escalation(CASE, &["urban_management"]);
    event.escalated_at = Some(at);
    event.transition = Some(CaseTransition {
        case: CASE.into(),
        sequence,
        block_code: BLOCK.into(),
        subdistrict_code: SUBDISTRICT.into(),
        occurred_at: Some(at),
        ..Default::default()
    });
    event
}

async fn operations_of_case(client: &Client, token: &str) -> Vec<api::Operation> {
    client
        .clone()
        .list_operations(with_token(
            api::ListOperationsRequest {
                case: CASE.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .operations
}

/// Escalation 5 (blown, say, an hour ago) reaches the consumer only after escalation
/// 12 of the same case opened its operation and that operation was cancelled — the
/// first was retried past the second and dead-lettered, and an operator redrove it
/// (`flatgov deadletters redrive`). In the right order escalation 5's operation is
/// opened and ended before the case can be escalated again, so once escalation 12's
/// operation is cancelled the case has no live operation. Applied late, escalation 5
/// finds no live operation (the unique index `operations_one_live_per_case` ignores
/// cancelled ones) and `whistle::record` opens a new one, summoning agencies for an
/// escalation the case left long ago. The handler compares no sequence, so this test
/// fails until it remembers the newest escalation applied per case and ignores older
/// ones.
#[tokio::test]
async fn an_escalation_applied_after_a_later_escalation_of_its_case_opens_no_operation() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let client = client(&application).await;
    let tokens = tokens(&test);

    publish_as_cases(
        &test,
        "0193a1b2-0000-7000-8000-0000000000c2",
        &escalation_at(12, 5),
    )
    .await;
    let operation = eventually("escalation 12's operation", PATIENCE, || async {
        operations_of_case(&client, &tokens.admin)
            .await
            .into_iter()
            .find(|operation| state(operation) == api::OperationState::Open)
    })
    .await;
    client
        .clone()
        .cancel_operation(with_token(
            api::CancelOperationRequest {
                operation: operation.name.clone(),
                reason: "handled by the block team after all".into(),
            },
            &tokens.dispatcher,
        ))
        .await
        .expect("cancelled");

    publish_as_cases(
        &test,
        "0193a1b2-0000-7000-8000-0000000000c1",
        &escalation_at(5, 60),
    )
    .await;
    eventually("the late escalation to be consumed", PATIENCE, || async {
        (consumer_backlog(&test, "enforcement-on-case-escalated").await == Some(0)).then_some(())
    })
    .await;
    // Acked, so applied: a new operation, if any, committed before the ack.

    let live: Vec<(String, api::OperationState)> = operations_of_case(&client, &tokens.admin)
        .await
        .iter()
        .filter(|operation| state(operation) != api::OperationState::Cancelled)
        .map(|operation| (operation.name.clone(), state(operation)))
        .collect();
    assert!(
        live.is_empty(),
        "a stale escalation opened {live:?} after escalation 12's operation {} was cancelled",
        operation.name
    );
    application.shutdown().await.unwrap();
}
