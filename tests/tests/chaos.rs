//! The chaos run's short form, in the suite: the platform keeps every report a
//! resident was told was received while services are killed and PostgreSQL and
//! NATS restart and go away (`flatgov_journeys::chaos`). `scripts/chaos` runs
//! the long form.

use flatgov_journeys::chaos::{Plan, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_short_form_loses_nothing_duplicates_nothing_and_recovers() {
    let plan = match std::env::var("FLATGOV_CHAOS_PLAN").as_deref() {
        Ok("long") => Plan::long(),
        _ => Plan::short(),
    };
    let report = run(plan).await;
    let markdown = report.to_markdown();
    println!("{markdown}");
    if let Ok(file) = std::env::var("FLATGOV_CHAOS_REPORT") {
        std::fs::write(&file, &markdown).expect("writing the chaos report");
    }
    assert!(report.reports > 0, "{markdown}");
    assert_eq!(
        report.unresolved, 0,
        "every report resolved by retrying:\n{markdown}"
    );
    assert_eq!(
        report.cases, report.reports,
        "each report is one case:\n{markdown}"
    );
    assert_eq!(report.duplicated_reported, 0, "{markdown}");
    assert_eq!(report.duplicated_dispatched, 0, "{markdown}");
    assert_eq!(report.never_dispatched, 0, "{markdown}");
    assert_eq!(report.dead_letters, 0, "{markdown}");
    assert!(
        report.outbox_backlog.values().all(|rows| *rows == 0),
        "nothing stuck in an outbox:\n{markdown}"
    );
    assert_eq!(
        report.errors_during_nats_outages, 0,
        "reports are answered while NATS is away:\n{markdown}"
    );
    assert!(!report.kills.is_empty(), "{markdown}");
}
