//! Shared helpers for the enforcement service's tests: starting the service
//! on port 0 against real PostgreSQL and NATS, tokens for each kind of
//! caller, and publishing events as the cases service would.

#![allow(dead_code)]

use std::time::Duration;

use flatgov_auth::{Role, TokenRequest};
use flatgov_grpc::Application;
use flatgov_messaging::{Envelope, Event};
use flatgov_proto::cases::v1::CaseEscalated;
use flatgov_proto::enforcement::v1 as api;
use flatgov_proto::enforcement::v1::joint_enforcement_client::JointEnforcementClient;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;
use flatgov_testkit::{TestEnv, with_token};
use tonic::transport::Channel;

pub const PATIENCE: Duration = Duration::from_secs(20);
pub const SUBDISTRICT: &str = "430302001";
pub const OTHER_SUBDISTRICT: &str = "430302002";
pub const BLOCK: &str = "430302001004017";

pub type Client = JointEnforcementClient<Channel>;

/// Starts the service with the test's environment plus `extra` variables.
pub async fn start(test: &TestEnv, extra: &[(&str, &str)]) -> Application {
    let mut env = test.service_env("enforcement");
    for (name, value) in extra {
        env = env.with(name, *value);
    }
    flatgov_enforcement::build(env)
        .await
        .expect("the service starts")
}

pub async fn client(application: &Application) -> Client {
    JointEnforcementClient::connect(application.grpc_url())
        .await
        .expect("connect")
}

/// Tokens for the callers of a test.
pub struct Tokens {
    pub admin: String,
    /// Dispatcher of SUBDISTRICT.
    pub dispatcher: String,
    /// Dispatcher of OTHER_SUBDISTRICT.
    pub other_dispatcher: String,
    pub urban: String,
    pub market: String,
    pub police: String,
    pub integrator: String,
    pub cases_service: String,
}

pub fn officer_token(test: &TestEnv, agency: &str) -> String {
    test.auth.token_for(
        TokenRequest::new(format!("officer-of-{agency}"), &[Role::DepartmentOfficer])
            .organisation(agency),
    )
}

pub fn dispatcher_token(test: &TestEnv, subdistrict: &str) -> String {
    test.auth.token_for(
        TokenRequest::new(
            format!("dispatcher-{subdistrict}"),
            &[Role::SubdistrictDispatcher],
        )
        .jurisdiction(
            format!("subdistricts/{subdistrict}")
                .parse()
                .expect("jurisdiction"),
        ),
    )
}

pub fn tokens(test: &TestEnv) -> Tokens {
    Tokens {
        admin: test.auth.admin_token(),
        dispatcher: dispatcher_token(test, SUBDISTRICT),
        other_dispatcher: dispatcher_token(test, OTHER_SUBDISTRICT),
        urban: officer_token(test, "urban_management"),
        market: officer_token(test, "market_supervision"),
        police: officer_token(test, "public_security"),
        integrator: test.auth.token("integrator-1", &[Role::Integrator]),
        cases_service: test.auth.service_token("cases"),
    }
}

/// Registers one officer of `agency` (by its own officer) and returns its name.
pub async fn officer(client: &mut Client, token: &str, agency: &str, badge: &str) -> String {
    client
        .create_officer(with_token(
            api::CreateOfficerRequest {
                parent: format!("agencies/{agency}"),
                request_id: String::new(),
                unit: String::new(),
                display_name: format!("Officer {badge}"),
                badge_number: badge.into(),
                phone: "13800000000".into(),
            },
            token,
        ))
        .await
        .expect("officer created")
        .into_inner()
        .name
}

pub fn whistle(agencies: &[&str], urgent: bool) -> api::BlowWhistleRequest {
    api::BlowWhistleRequest {
        request_id: String::new(),
        case: String::new(),
        subdistrict_code: SUBDISTRICT.into(),
        block_code: BLOCK.into(),
        location: None,
        matter_code: "illegal_construction".into(),
        description: "an illegal extension blocks the fire lane".into(),
        agencies: agencies.iter().map(|code| (*code).to_owned()).collect(),
        lead_agency: String::new(),
        urgent,
    }
}

pub async fn blow(
    client: &mut Client,
    token: &str,
    request: api::BlowWhistleRequest,
) -> api::Operation {
    client
        .blow_whistle(with_token(request, token))
        .await
        .expect("whistle blown")
        .into_inner()
}

pub async fn report_in(
    client: &mut Client,
    token: &str,
    operation: &str,
    officers: &[&str],
) -> api::Operation {
    client
        .report_in(with_token(
            api::ReportInRequest {
                operation: operation.into(),
                agency: String::new(),
                officers: officers.iter().map(|name| (*name).to_owned()).collect(),
                unit: String::new(),
                note: "on site".into(),
            },
            token,
        ))
        .await
        .expect("reported in")
        .into_inner()
}

pub fn inspection(operation: &str) -> api::RecordActionRequest {
    api::RecordActionRequest {
        operation: operation.into(),
        request_id: String::new(),
        agency: String::new(),
        summary: "inspected the site".into(),
        notes: String::new(),
        notes_sensitive: false,
        attachments: vec![api::Attachment {
            uri: "s3://evidence/site-1.jpg".into(),
            media_type: "image/jpeg".into(),
            description: "the extension".into(),
            sha256: String::new(),
        }],
        details: Some(api::record_action_request::Details::Inspection(
            api::Inspection {
                findings: "extension built without a permit".into(),
                violation_found: true,
            },
        )),
        ..Default::default()
    }
}

pub async fn record(
    client: &mut Client,
    token: &str,
    request: api::RecordActionRequest,
) -> api::Action {
    client
        .record_action(with_token(request, token))
        .await
        .expect("action recorded")
        .into_inner()
}

pub async fn get(client: &mut Client, token: &str, name: &str) -> api::Operation {
    client
        .get_operation(with_token(
            api::GetOperationRequest { name: name.into() },
            token,
        ))
        .await
        .expect("operation readable")
        .into_inner()
}

/// Every event on the enforcement stream of type `E` so far (waits until
/// at least `expected` arrived).
pub async fn events_of<E: Event>(test: &TestEnv, expected: usize) -> Vec<(Envelope, E)> {
    let bus = test.bus().await;
    flatgov_testkit::events::events_once(&bus, "enforcement", PATIENCE, |events| {
        events.len() >= expected
    })
    .await
}

/// Every event on the enforcement stream so far.
pub async fn all_events(test: &TestEnv) -> Vec<Envelope> {
    let bus = test.bus().await;
    flatgov_testkit::events::read_stream(
        &bus,
        "enforcement",
        usize::MAX,
        Duration::from_millis(300),
    )
    .await
}

/// A case escalation, as the cases service publishes it.
pub fn escalation(case: &str, agencies: &[&str]) -> CaseEscalated {
    CaseEscalated {
        case: case.into(),
        from_tier: HandlingTier::CoordinationMeeting as i32,
        to_tier: HandlingTier::Whistle as i32,
        reason: 1,
        matter_code: "illegal_construction".into(),
        block_code: BLOCK.into(),
        subdistrict_code: SUBDISTRICT.into(),
        location: None,
        agencies: agencies.iter().map(|code| (*code).to_owned()).collect(),
        urgent: false,
        escalated_at: None,
        ..Default::default()
    }
}

/// Publishes `event` on the cases stream with the CloudEvents headers the
/// cases service's relay would set, under the event id `event_id`.
pub async fn publish_as_cases(test: &TestEnv, event_id: &str, event: &CaseEscalated) {
    let bus = test.bus().await;
    flatgov_testkit::events::publish_as(&bus, "cases", event_id, &event.case, event).await;
}

/// How many messages the consumer has not yet acknowledged.
pub async fn consumer_backlog(test: &TestEnv, durable: &str) -> Option<u64> {
    let bus = test.bus().await;
    let stream = bus
        .jetstream()
        .get_stream(bus.stream_name("cases"))
        .await
        .ok()?;
    let mut consumer = stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(durable)
        .await
        .ok()?;
    let info = consumer.info().await.ok()?;
    Some(info.num_pending + u64::try_from(info.num_ack_pending).unwrap_or(u64::MAX))
}

pub fn state(operation: &api::Operation) -> api::OperationState {
    api::OperationState::try_from(operation.state).expect("known state")
}

pub fn summons<'a>(operation: &'a api::Operation, agency: &str) -> &'a api::Summons {
    operation
        .summons
        .iter()
        .find(|summons| summons.agency == format!("agencies/{agency}"))
        .unwrap_or_else(|| panic!("{agency} is summoned"))
}
