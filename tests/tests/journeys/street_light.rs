//! Journey 1: a resident reports a broken street light through the app; it
//! is located to its block, dispatched to the block's governor, accepted,
//! worked on, resolved, verified by the block's supervisor, rated satisfied
//! and closed — and an integrator saw every event in order, each with its
//! CloudEvents headers, and no personal data on any stream.

use flatgov_journeys::events::{STREAMS, assert_nowhere, short_type, types_about};
use flatgov_journeys::{Platform, with_token};
use flatgov_messaging::Envelope;
use flatgov_proto::Event;
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;
use prost::Message as _;

use crate::support::*;

/// The subdistrict the journey happens in (雨湖路街道 in the demo).
const SUBDISTRICT: &str = "430302001";

/// What every lifecycle event of a case leads with (field 1).
#[derive(Clone, PartialEq, prost::Message)]
struct LeadingTransition {
    #[prost(message, optional, tag = "1")]
    transition: Option<cases::CaseTransition>,
}

fn transition(event: &Envelope) -> cases::CaseTransition {
    LeadingTransition::decode(event.payload.clone())
        .unwrap_or_else(|error| panic!("{} does not decode: {error}", event.event_type))
        .transition
        .unwrap_or_else(|| panic!("{} carries no transition", event.event_type))
}

fn decode<E: Event>(events: &[&Envelope]) -> E {
    let matching: Vec<&&Envelope> = events.iter().filter(|event| event.is::<E>()).collect();
    assert_eq!(matching.len(), 1, "exactly one {}", E::TYPE);
    matching[0]
        .decode()
        .expect("the payload decodes as its ce-type says")
}

#[tokio::test]
async fn journey_a_broken_street_light_reported_in_the_app_runs_the_closed_loop_at_the_front_line()
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
    assert_eq!(block.governor, format!("demo-{block_code}-governor"));
    assert_eq!(block.supervisor, format!("demo-{block_code}-supervisor"));
    let resident = Resident::new("resident-zhao", "赵一鸣", "139 1234 5678");
    let description = "小区门口的路灯坏了三天, 晚上很黑";

    // Report → located to its block → dispatched to the block's governor.
    let reported = report(
        &platform,
        &resident,
        app_report(&resident, "broken_street_light", block.inside, description),
    )
    .await;
    let name = reported.name.clone();
    assert_eq!(state(&reported), cases::CaseState::Reported);
    let dispatched = case_until(
        &platform,
        &name,
        "dispatch to the block's governor",
        |case| state(case) == cases::CaseState::Dispatched,
    )
    .await;
    assert_eq!(dispatched.block, block.name);
    assert_eq!(dispatched.community_code, block.community_code);
    assert_eq!(dispatched.subdistrict_code, SUBDISTRICT);
    assert_eq!(dispatched.tier, HandlingTier::FrontLine as i32);
    assert_eq!(dispatched.assignee, format!("staff/{}", block.governor));
    assert_eq!(
        dispatched.triage_status,
        cases::TriageStatus::Complete as i32
    );

    // The governor accepts, works and resolves.
    let governor = platform.governor(&block);
    let mut client = platform.cases();
    let accepted = client
        .accept_case(with_token(
            cases::AcceptCaseRequest { name: name.clone() },
            &governor,
        ))
        .await
        .expect("the governor accepts")
        .into_inner();
    assert_eq!(state(&accepted), cases::CaseState::Accepted);
    let started = client
        .start_work(with_token(
            cases::StartWorkRequest { name: name.clone() },
            &governor,
        ))
        .await
        .expect("the governor starts work")
        .into_inner();
    assert_eq!(state(&started), cases::CaseState::InProgress);
    let resolved = client
        .resolve_case(with_token(
            cases::ResolveCaseRequest {
                name: name.clone(),
                resolution_note: "联系路灯所更换了灯头".into(),
            },
            &governor,
        ))
        .await
        .expect("the governor resolves")
        .into_inner();
    assert_eq!(state(&resolved), cases::CaseState::Resolved);
    assert_eq!(resolved.resolved_by, block.governor);

    // The governor may not verify their own work; the block's supervisor does.
    let own_verification = client
        .verify_case(with_token(
            cases::VerifyCaseRequest {
                name: name.clone(),
                passed: true,
                reason: String::new(),
            },
            &governor,
        ))
        .await
        .expect_err("the resolver may not verify");
    assert!(
        matches!(
            own_verification.code(),
            tonic::Code::PermissionDenied | tonic::Code::FailedPrecondition
        ),
        "{own_verification:?}"
    );
    let verified = client
        .verify_case(with_token(
            cases::VerifyCaseRequest {
                name: name.clone(),
                passed: true,
                reason: String::new(),
            },
            &platform.supervisor(&block),
        ))
        .await
        .expect("the supervisor verifies")
        .into_inner();
    assert_eq!(state(&verified), cases::CaseState::Verified);

    // The resident who reported rates it; a satisfied rating closes it.
    let closed = client
        .rate_case(with_token(
            cases::RateCaseRequest {
                name: name.clone(),
                rating: cases::Rating::Satisfied as i32,
                comment: "修得很快, 谢谢".into(),
            },
            &platform.resident(&resident.account),
        ))
        .await
        .expect("the reporting resident rates")
        .into_inner();
    assert_eq!(state(&closed), cases::CaseState::Closed);
    assert_eq!(closed.closure, cases::Closure::Rated as i32);
    assert_eq!(closed.rating, cases::Rating::Satisfied as i32);

    // The integrator saw every step, in order, with CloudEvents headers.
    let expected = [
        "CaseReported",
        "CaseTriaged",
        "CaseDispatched",
        "CaseAccepted",
        "CaseWorkStarted",
        "CaseResolved",
        "CaseVerified",
        "CaseRated",
        "CaseClosed",
    ];
    let stream = platform
        .events_until("cases", "the case's closing event", |events| {
            types_about(events, &name).contains(&"CaseClosed")
        })
        .await;
    assert_eq!(types_about(&stream, &name), expected);
    let events: Vec<&Envelope> = stream
        .iter()
        .filter(|event| event.resource == name)
        .collect();
    let mut previous_time = None;
    let mut ids = std::collections::HashSet::new();
    for (index, event) in events.iter().enumerate() {
        let header = |header: &str| event.header(header).unwrap_or_default();
        let what = format!("{} ({})", short_type(event), event.id);
        assert_eq!(header("ce-specversion"), "1.0", "{what}");
        assert!(
            !event.id.is_empty() && ids.insert(event.id.clone()),
            "{what}: ce-id unique"
        );
        assert_eq!(header("Nats-Msg-Id"), event.id, "{what}");
        assert_eq!(header("ce-source"), "flatgov/cases", "{what}");
        assert_eq!(
            header("ce-type"),
            format!("flatgov.cases.v1.{}", expected[index]),
            "{what}"
        );
        assert_eq!(header("ce-subject"), name, "{what}");
        assert_eq!(header("content-type"), "application/protobuf", "{what}");
        let time = chrono::DateTime::parse_from_rfc3339(&header("ce-time"))
            .unwrap_or_else(|error| panic!("{what}: ce-time {:?}: {error}", header("ce-time")));
        if let Some(previous) = previous_time {
            assert!(time >= previous, "{what}: ce-time goes backwards");
        }
        previous_time = Some(time);
        assert_eq!(
            event.subject,
            format!("flatgov.cases.case.{}", subject_verb(expected[index]))
        );
        let step = transition(event);
        assert_eq!(step.case, name, "{what}");
        assert_eq!(step.sequence as usize, index + 1, "{what}: record sequence");
    }
    let transitions: Vec<cases::CaseTransition> =
        events.iter().map(|event| transition(event)).collect();
    assert_eq!(transitions[1].block_code, block.code);
    assert_eq!(transitions[1].matter_code, "broken_street_light");
    let dispatched_event: cases::CaseDispatched = decode(&events);
    assert_eq!(
        dispatched_event.assignee,
        format!("staff/{}", block.governor)
    );
    assert!(!dispatched_event.fallback);
    let accepted_by = transitions[3].actor.clone().unwrap_or_default();
    assert_eq!(accepted_by.staff, block.governor);
    let verified_by = transitions[6].actor.clone().unwrap_or_default();
    assert_eq!(verified_by.staff, block.supervisor);
    let rated_by = transitions[7].actor.clone().unwrap_or_default();
    assert_eq!(rated_by.kind, cases::ActorKind::Resident as i32);
    assert!(
        rated_by.staff.is_empty(),
        "the resident is never identified"
    );
    let rated_event: cases::CaseRated = decode(&events);
    assert_eq!(rated_event.rating, cases::Rating::Satisfied as i32);
    let closed_event: cases::CaseClosed = decode(&events);
    assert_eq!(closed_event.closure, cases::Closure::Rated as i32);

    // No stream carries the resident's name, phone, words or comment.
    for service in STREAMS {
        let events = platform.events(service).await;
        for personal in [
            resident.name.as_str(),
            resident.phone.as_str(),
            "13912345678",
            description,
            "修得很快",
        ] {
            assert_nowhere(service, &events, personal);
        }
    }
    // And an integrator asking the API gets codes, states and times only.
    let for_integrator = platform
        .cases()
        .get_case(with_token(
            cases::GetCaseRequest { name: name.clone() },
            &platform.integrator(),
        ))
        .await
        .expect("integrators read cases")
        .into_inner();
    assert!(for_integrator.reporter.is_none());
    assert!(for_integrator.description.is_empty() && for_integrator.rating_comment.is_empty());
    assert!(for_integrator.personal_data_redacted);
}

/// The subject verb of a lifecycle event, e.g. `work_started`.
fn subject_verb(short_name: &str) -> String {
    let verb = short_name.trim_start_matches("Case");
    let mut snake = String::new();
    for (index, character) in verb.chars().enumerate() {
        if character.is_uppercase() && index > 0 {
            snake.push('_');
        }
        snake.extend(character.to_lowercase());
    }
    snake
}
