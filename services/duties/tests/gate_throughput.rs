//! How fast ResolveResponsibility and CheckAssignment answer over gRPC with
//! the reference district loaded. A benchmark that measures and prints, not
//! a timed test: `cargo test -p flatgov-duties --release --test
//! gate_throughput -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use flatgov_proto::duties::v1 as proto;
use flatgov_proto::duties::v1::duty_lists_client::DutyListsClient;
use flatgov_proto::flatgov::r#type::v1::{Unit, UnitKind};
use flatgov_testkit::{TestEnv, with_token};

const CALLS: usize = 4000;
const CONCURRENCY: usize = 16;

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn resolve_and_check_throughput_with_the_reference_district() {
    let test = TestEnv::new();
    let application = flatgov_duties::build(test.env()).await.unwrap();
    let mut client = DutyListsClient::connect(application.grpc_url())
        .await
        .unwrap();
    let admin = test.auth.admin_token();
    let data = include_str!("../data/reference/departments.csv");
    client
        .import_departments(with_token(
            proto::ImportDepartmentsRequest {
                format: proto::DataFormat::Csv as i32,
                content: data.into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    for (kind, csv) in [
        (
            "subdistrict_duty",
            include_str!("../data/reference/subdistrict_duty.csv"),
        ),
        (
            "subdistrict_cooperation",
            include_str!("../data/reference/subdistrict_cooperation.csv"),
        ),
        (
            "residents_self_government",
            include_str!("../data/reference/residents_self_government.csv"),
        ),
        (
            "residents_assisting",
            include_str!("../data/reference/residents_assisting.csv"),
        ),
        (
            "residents_negative",
            include_str!("../data/reference/residents_negative.csv"),
        ),
    ] {
        client
            .import_list(with_token(
                proto::ImportListRequest {
                    parent: format!("lists/{kind}"),
                    format: proto::DataFormat::Csv as i32,
                    content: csv.into(),
                    publish: true,
                    effective_from: None,
                },
                &admin,
            ))
            .await
            .unwrap();
    }
    client
        .import_catalogue(with_token(
            proto::ImportCatalogueRequest {
                format: proto::DataFormat::Csv as i32,
                content: include_str!("../data/reference/matters.csv").into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let service_token = test.auth.service_token("cases");

    for rpc in [
        "ResolveResponsibility",
        "CheckAssignment (allowed)",
        "CheckAssignment (refused and recorded)",
    ] {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..CONCURRENCY {
            let mut client = client.clone();
            let token = service_token.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(CALLS / CONCURRENCY);
                for call in 0..CALLS / CONCURRENCY {
                    let block = format!("430302001004{:03}", (worker * 31 + call) % 300 + 1);
                    let began = Instant::now();
                    if rpc == "ResolveResponsibility" {
                        client
                            .resolve_responsibility(with_token(
                                proto::ResolveResponsibilityRequest {
                                    matter_code: "broken_street_light".into(),
                                    place: Some(proto::Place {
                                        subdistrict_code: block[..9].into(),
                                        block_code: block.clone(),
                                        ..Default::default()
                                    }),
                                    at: None,
                                },
                                &token,
                            ))
                            .await
                            .unwrap();
                    } else {
                        let refused = rpc.contains("refused");
                        let (matter, department) = if refused {
                            ("food_safety_inspection_task", "market_supervision")
                        } else {
                            ("illegal_construction", "urban_management")
                        };
                        let answer = client
                            .check_assignment(with_token(
                                proto::CheckAssignmentRequest {
                                    matter_code: matter.into(),
                                    from: Some(Unit {
                                        kind: UnitKind::Department as i32,
                                        code: department.into(),
                                    }),
                                    to: Some(Unit {
                                        kind: UnitKind::Subdistrict as i32,
                                        code: "430302001".into(),
                                    }),
                                    ..Default::default()
                                },
                                &token,
                            ))
                            .await
                            .unwrap()
                            .into_inner();
                        assert_eq!(answer.allowed, !refused);
                    }
                    latencies.push(began.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::with_capacity(CALLS);
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        let elapsed = started.elapsed();
        latencies.sort();
        println!(
            "{rpc}: {CALLS} calls, {CONCURRENCY} concurrent: {:.0} calls/s, p50 {:?}, p99 {:?}",
            CALLS as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
        );
    }
    application.shutdown().await.unwrap();
}
