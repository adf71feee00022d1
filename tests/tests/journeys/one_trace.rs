//! Journey 6: one trace id follows a journey through every service it
//! touches. The journey's client sends one W3C trace (`traceparent`) on
//! every call it makes; the services export their spans over OTLP to a
//! collector the journey runs. What is observable, and asserted: the
//! `traceparent` header of every event the calls caused, on every stream,
//! and the spans each service exported for that trace.
//!
//! Two journeys: the whistle (cases → enforcement → cases, through events
//! and consumers) and the street light of journey 1 (cases → blocks and
//! duties, through the triage saga's gRPC calls).

use std::collections::{BTreeMap, BTreeSet};

use flatgov_journeys::events::{short_type, trace_id};
use flatgov_journeys::traces::{SpanCollector, Trace};
use flatgov_journeys::{PATIENCE, Platform, PlatformOptions};
use flatgov_messaging::Envelope;
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::enforcement::v1 as enforcement;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;

use crate::support::*;

const SUBDISTRICT: &str = "430302006";

/// The platform with every service exporting its spans to `collector`
/// (batches sent every 200 ms).
async fn traced_platform(collector: &SpanCollector) -> Platform {
    let platform = Platform::start_with(
        PlatformOptions::default()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
            .env("OTEL_BSP_SCHEDULE_DELAY", "200"),
    )
    .await;
    platform.load_demo();
    platform
}

/// `event type → trace id` of the events about `resource`, for messages.
fn traces_of<'a>(events: &'a [Envelope], resource: &str) -> Vec<(&'a str, Option<String>)> {
    events
        .iter()
        .filter(|event| event.resource == resource)
        .map(|event| (short_type(event), trace_id(event)))
        .collect()
}

/// Waits until the collector holds, in `trace`, a span of each `(process,
/// span name)` of `required` (e.g. `("flatgov-blocks",
/// "/flatgov.blocks.v1.BlockRegistry/LocatePoint")`). Panics after
/// [`PATIENCE`] showing what each process exported in the trace and under
/// which other trace ids the required spans were found.
async fn wait_for_spans(collector: &SpanCollector, trace: &Trace, required: &[(&str, &str)]) {
    let in_trace = || {
        let mut by_process: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for span in collector.spans() {
            if span.trace_id == trace.trace_id {
                by_process
                    .entry(span.service)
                    .or_default()
                    .insert(span.name);
            }
        }
        by_process
    };
    let complete = |by_process: &BTreeMap<String, BTreeSet<String>>| {
        required.iter().all(|(process, name)| {
            by_process
                .get(*process)
                .is_some_and(|names| names.contains(*name))
        })
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if complete(&in_trace()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut elsewhere: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for span in collector.spans() {
        let wanted = required
            .iter()
            .any(|(process, name)| span.service == *process && span.name == *name);
        if wanted && span.trace_id != trace.trace_id {
            elsewhere
                .entry(format!("{} {}", span.service, span.name))
                .or_default()
                .insert(span.trace_id);
        }
    }
    panic!(
        "within {PATIENCE:?} not every span of {required:#?} was exported in trace {}.\n\
         spans of the trace per process: {:#?}\n\
         the required spans found under other trace ids: {elsewhere:#?}",
        trace.trace_id,
        in_trace()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_one_trace_id_follows_a_whistled_case_from_cases_to_enforcement_and_back() {
    let collector = SpanCollector::start().await;
    let platform = traced_platform(&collector).await;
    let trace = Trace::new();
    let block_code = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .next()
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let resident = Resident::new("resident-wu", "吴秀兰", "13600001111");
    let reported = platform
        .cases()
        .report_case(trace.request(
            app_report(
                &resident,
                "illegal_street_vending",
                block.inside,
                "夜市摊贩堵住消防通道",
            ),
            &platform.resident(&resident.account),
        ))
        .await
        .expect("the report is received")
        .into_inner()
        .case
        .expect("the case");
    let name = reported.name;
    case_until(&platform, &name, "dispatch", |case| {
        state(case) == cases::CaseState::Dispatched
    })
    .await;

    // The subdistrict platform escalates by hand: a meeting, then the whistle.
    let dispatcher = platform.dispatcher(SUBDISTRICT);
    for reason in [
        "摊贩不听劝导, 提交协调会",
        "协调会决定吹哨, 城管市场监管联合执法",
    ] {
        platform
            .cases()
            .escalate_case(trace.request(
                cases::EscalateCaseRequest {
                    name: name.clone(),
                    reason: reason.into(),
                    agencies: vec![],
                },
                &dispatcher,
            ))
            .await
            .expect("the dispatcher escalates");
    }
    let whistled = get_case(&platform, &name).await;
    assert_eq!(whistled.tier, HandlingTier::Whistle as i32);
    let lead_agency = whistled
        .assignee
        .strip_prefix("departments/")
        .expect("a department handles the whistle")
        .to_owned();

    // The agencies act under the same trace; the lead concludes.
    let operation = open_operation(&platform, &name).await;
    for summons in &operation.summons {
        let agency = summons.agency.trim_start_matches("agencies/");
        let (officer, unit) = stationed_officer(&platform, agency, SUBDISTRICT).await;
        let officer_token = platform.officer(agency);
        platform
            .enforcement()
            .report_in(trace.request(
                enforcement::ReportInRequest {
                    operation: operation.name.clone(),
                    agency: agency.into(),
                    officers: vec![officer.name],
                    unit: unit.name,
                    note: String::new(),
                },
                &officer_token,
            ))
            .await
            .expect("the agency reports in");
        platform
            .enforcement()
            .record_action(trace.request(
                enforcement::RecordActionRequest {
                    operation: operation.name.clone(),
                    request_id: format!("{agency}-inspection"),
                    agency: agency.into(),
                    summary: "现场检查".into(),
                    details: Some(enforcement::record_action_request::Details::Inspection(
                        enforcement::Inspection {
                            findings: "摊贩已撤离".into(),
                            violation_found: true,
                        },
                    )),
                    ..Default::default()
                },
                &officer_token,
            ))
            .await
            .expect("the agency records an action");
    }
    platform
        .enforcement()
        .conclude_operation(trace.request(
            enforcement::ConcludeOperationRequest {
                operation: operation.name.clone(),
                outcome: enforcement::OperationOutcome::Resolved as i32,
                summary: "消防通道已清理".into(),
            },
            &platform.officer(&lead_agency),
        ))
        .await
        .expect("the lead concludes");
    case_until(
        &platform,
        &name,
        "the conclusion to resolve the case",
        |case| state(case) == cases::CaseState::Resolved,
    )
    .await;
    platform
        .cases()
        .verify_case(trace.request(
            cases::VerifyCaseRequest {
                name: name.clone(),
                passed: true,
                reason: String::new(),
            },
            &dispatcher,
        ))
        .await
        .expect("the platform verifies");
    platform
        .cases()
        .rate_case(trace.request(
            cases::RateCaseRequest {
                name: name.clone(),
                rating: cases::Rating::Satisfied as i32,
                comment: String::new(),
            },
            &platform.resident(&resident.account),
        ))
        .await
        .expect("the resident rates");

    // Every event the journey's calls caused carries its trace id: the
    // escalation, the whistle and everything enforcement published, the
    // system's acceptance and resolution on the conclusion, the end.
    let case_events = platform
        .events_until("cases", "the closing event", |events| {
            events
                .iter()
                .any(|event| event.resource == name && short_type(event) == "CaseClosed")
        })
        .await;
    let case_traces = traces_of(&case_events, &name);
    let caused: Vec<&(&str, Option<String>)> = case_traces
        .iter()
        .filter(|(kind, _)| !matches!(*kind, "CaseTriaged" | "CaseDispatched"))
        .collect();
    assert_eq!(
        caused.iter().map(|(kind, _)| *kind).collect::<Vec<_>>(),
        [
            "CaseReported",
            "CaseEscalated",
            "CaseEscalated",
            "CaseAccepted",
            "CaseWorkStarted",
            "CaseResolved",
            "CaseVerified",
            "CaseRated",
            "CaseClosed"
        ]
    );
    for (kind, event_trace) in &caused {
        assert_eq!(
            event_trace.as_deref(),
            Some(trace.trace_id.as_str()),
            "{kind} of the case carries the journey's trace: {case_traces:#?}"
        );
    }
    let enforcement_events = platform
        .events_until("enforcement", "the conclusion", |events| {
            events.iter().any(|event| {
                event.resource == operation.name && short_type(event) == "OperationConcluded"
            })
        })
        .await;
    let operation_traces = traces_of(&enforcement_events, &operation.name);
    assert!(operation_traces.len() >= 8, "{operation_traces:#?}");
    for (kind, event_trace) in &operation_traces {
        assert_eq!(
            event_trace.as_deref(),
            Some(trace.trace_id.as_str()),
            "{kind} of the operation carries the journey's trace: {operation_traces:#?}"
        );
    }

    // Both services exported spans of the trace: the RPCs the journey
    // called and the consumers that carried the trace across NATS.
    wait_for_spans(
        &collector,
        &trace,
        &[
            (
                "flatgov-cases",
                "/flatgov.cases.v1.CaseDispatch/EscalateCase",
            ),
            ("flatgov-cases", "consume"),
            ("flatgov-enforcement", "consume"),
            (
                "flatgov-enforcement",
                "/flatgov.enforcement.v1.JointEnforcement/ConcludeOperation",
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_one_trace_id_follows_a_street_light_report_through_triage_into_blocks_and_duties()
{
    let collector = SpanCollector::start().await;
    let platform = traced_platform(&collector).await;
    let trace = Trace::new();
    let block_code = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .nth(1)
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let resident = Resident::new("resident-zheng", "郑小川", "13700002222");
    let name = platform
        .cases()
        .report_case(trace.request(
            app_report(&resident, "broken_street_light", block.inside, "路灯不亮"),
            &platform.resident(&resident.account),
        ))
        .await
        .expect("the report is received")
        .into_inner()
        .case
        .expect("the case")
        .name;
    case_until(&platform, &name, "dispatch to the governor", |case| {
        state(case) == cases::CaseState::Dispatched
    })
    .await;
    let governor = platform.governor(&block);
    platform
        .cases()
        .accept_case(trace.request(cases::AcceptCaseRequest { name: name.clone() }, &governor))
        .await
        .expect("accepted");
    platform
        .cases()
        .start_work(trace.request(cases::StartWorkRequest { name: name.clone() }, &governor))
        .await
        .expect("started");
    platform
        .cases()
        .resolve_case(trace.request(
            cases::ResolveCaseRequest {
                name: name.clone(),
                resolution_note: "换了灯头".into(),
            },
            &governor,
        ))
        .await
        .expect("resolved");
    platform
        .cases()
        .verify_case(trace.request(
            cases::VerifyCaseRequest {
                name: name.clone(),
                passed: true,
                reason: String::new(),
            },
            &platform.supervisor(&block),
        ))
        .await
        .expect("verified");
    platform
        .cases()
        .rate_case(trace.request(
            cases::RateCaseRequest {
                name: name.clone(),
                rating: cases::Rating::Satisfied as i32,
                comment: String::new(),
            },
            &platform.resident(&resident.account),
        ))
        .await
        .expect("rated");

    // Every event of the case — triage's included — carries the trace.
    let case_events = platform
        .events_until("cases", "the closing event", |events| {
            events
                .iter()
                .any(|event| event.resource == name && short_type(event) == "CaseClosed")
        })
        .await;
    let case_traces = traces_of(&case_events, &name);
    assert_eq!(case_traces.len(), 9, "{case_traces:#?}");
    // The triage saga's calls reach the block registry and the duty lists
    // under the trace its events carry …
    let triage_trace = Trace {
        trace_id: case_traces
            .iter()
            .find(|(kind, _)| *kind == "CaseTriaged")
            .and_then(|(_, event_trace)| event_trace.clone())
            .expect("CaseTriaged carries a traceparent"),
    };
    wait_for_spans(
        &collector,
        &triage_trace,
        &[
            (
                "flatgov-blocks",
                "/flatgov.blocks.v1.BlockRegistry/LocatePoint",
            ),
            (
                "flatgov-duties",
                "/flatgov.duties.v1.DutyLists/ResolveResponsibility",
            ),
        ],
    )
    .await;
    // … which must be the report's: every event of the case, and those
    // calls, on one trace.
    let off_trace: Vec<&(&str, Option<String>)> = case_traces
        .iter()
        .filter(|(_, event_trace)| event_trace.as_deref() != Some(trace.trace_id.as_str()))
        .collect();
    assert!(
        off_trace.is_empty() && triage_trace == trace,
        "events of the case not on the report's trace {} (the triage's calls to blocks and \
         duties are spans of trace {}): {off_trace:#?}",
        trace.trace_id,
        triage_trace.trace_id
    );
    wait_for_spans(
        &collector,
        &trace,
        &[("flatgov-cases", "/flatgov.cases.v1.CaseDispatch/ReportCase")],
    )
    .await;
}
