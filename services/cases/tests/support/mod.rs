//! Starting the cases service against real PostgreSQL and NATS, with contract fakes of
//! the block registry and the duty lists on a real socket, and tokens for every role.

#![allow(dead_code)]

pub mod contracts;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flatgov_auth::{Jurisdiction, Role, TokenRequest, Verifier};
use flatgov_messaging::{Envelope, Event};
use flatgov_proto::cases::v1 as proto;
use flatgov_proto::cases::v1::case_dispatch_client::CaseDispatchClient;
use flatgov_proto::flatgov::r#type::v1 as types;
use flatgov_testkit::events::{publish_as, read_stream};
use flatgov_testkit::{TestEnv, eventually, free_port, with_token};
use tonic::transport::Channel;

pub use contracts::{Directory, FakeBlock, FakeMatter, FakeRefusal};

pub const PATIENCE: Duration = Duration::from_secs(20);

/// Block 017 of community 004 of subdistrict 001, and its neighbour 018.
pub const BLOCK: &str = "430302001004017";
pub const NEIGHBOUR: &str = "430302001004018";
pub const SUBDISTRICT: &str = "430302001";
pub const GOVERNOR: &str = "gov-017";
pub const SUPERVISOR: &str = "sup-017";
pub const NEIGHBOUR_GOVERNOR: &str = "gov-018";

/// A street light matter led by the subdistrict, handled at the front line.
pub const STREET_LIGHT: &str = "street_light";
/// A stall encroaching on the road (占道经营): front line first; urban management leads,
/// market supervision cooperates.
pub const STALL_ENCROACHMENT: &str = "stall_encroachment";
/// A pension review errand the gate refuses to push to a block team.
pub const PENSION_REVIEW: &str = "pension_review";
/// Support for a person in difficulty.
pub const NEEDY_SUPPORT: &str = "needy_support";

/// A point inside block 017, `metres` north of its reference point.
pub fn point_in_block(metres: f64) -> types::GeoPoint {
    types::GeoPoint {
        latitude: 27.8500 + metres / 111_195.0,
        longitude: 112.9050,
        ..Default::default()
    }
}

/// A point inside block 018.
pub fn point_in_neighbour() -> types::GeoPoint {
    types::GeoPoint {
        latitude: 27.8500,
        longitude: 112.9150,
        ..Default::default()
    }
}

/// A point in no block.
pub fn point_nowhere() -> types::GeoPoint {
    types::GeoPoint {
        latitude: 30.0,
        longitude: 100.0,
        ..Default::default()
    }
}

fn unit(kind: types::UnitKind, code: &str) -> types::Unit {
    types::Unit {
        kind: kind as i32,
        code: code.into(),
    }
}

/// The fakes' data: two blocks side by side, four matters, one gate rule.
pub fn directory() -> Arc<Directory> {
    let directory = Directory::default();
    *directory.blocks.lock().unwrap() = vec![
        FakeBlock {
            code: BLOCK.into(),
            rectangle: (27.84, 112.90, 27.86, 112.91),
            governor: GOVERNOR.into(),
            supervisor: SUPERVISOR.into(),
        },
        FakeBlock {
            code: NEIGHBOUR.into(),
            rectangle: (27.84, 112.91, 27.86, 112.92),
            governor: NEIGHBOUR_GOVERNOR.into(),
            supervisor: "sup-018".into(),
        },
    ];
    let mut matters = HashMap::new();
    matters.insert(
        STREET_LIGHT.to_owned(),
        FakeMatter {
            lead: unit(types::UnitKind::Subdistrict, ""),
            cooperating: vec![],
            tier: types::HandlingTier::FrontLine,
        },
    );
    matters.insert(
        STALL_ENCROACHMENT.to_owned(),
        FakeMatter {
            lead: unit(types::UnitKind::Department, "urban_management"),
            cooperating: vec!["market_supervision".into()],
            tier: types::HandlingTier::FrontLine,
        },
    );
    matters.insert(
        PENSION_REVIEW.to_owned(),
        FakeMatter {
            lead: unit(
                types::UnitKind::Department,
                "human_resources_social_security",
            ),
            cooperating: vec![],
            tier: types::HandlingTier::FrontLine,
        },
    );
    matters.insert(
        NEEDY_SUPPORT.to_owned(),
        FakeMatter {
            lead: unit(types::UnitKind::Subdistrict, ""),
            cooperating: vec!["civil_affairs".into()],
            tier: types::HandlingTier::FrontLine,
        },
    );
    *directory.matters.lock().unwrap() = matters;
    *directory.refusals.lock().unwrap() = vec![
        FakeRefusal {
            matter: PENSION_REVIEW.into(),
            to_kind: types::UnitKind::BlockTeam,
            reason_code: "NOT_ON_RESIDENTS_COMMITTEE_LISTS".into(),
            responsible_instead: unit(
                types::UnitKind::Department,
                "human_resources_social_security",
            ),
        },
        FakeRefusal {
            matter: PENSION_REVIEW.into(),
            to_kind: types::UnitKind::Subdistrict,
            reason_code: "NOT_ON_SUBDISTRICT_LISTS".into(),
            responsible_instead: unit(
                types::UnitKind::Department,
                "human_resources_social_security",
            ),
        },
    ];
    Arc::new(directory)
}

/// One test's world: database, NATS prefix, keys, the fakes' port and data.
pub struct World {
    pub test: TestEnv,
    pub directory: Arc<Directory>,
    pub directory_port: u16,
}

impl World {
    pub fn new() -> Self {
        Self {
            test: TestEnv::new(),
            directory: directory(),
            directory_port: free_port(),
        }
    }

    /// The service's environment: fast workers, quick retries, movable clock.
    pub fn env(&self) -> flatgov_config::Env {
        let url = format!("http://127.0.0.1:{}", self.directory_port);
        self.test
            .service_env("cases")
            .with("BLOCKS_URL", url.clone())
            .with("DUTIES_URL", url)
            .with("CASES_TEST_CONTROLS", "enabled")
            .with("CASES_WORKER_POLL_MS", "100")
            .with("CASES_TRIAGE_RETRY_INITIAL_MS", "50")
            .with("CASES_TRIAGE_RETRY_MAX_MS", "300")
            .with("CASES_CALL_TIMEOUT_MS", "2000")
            .with("DATABASE_MAX_CONNECTIONS", "10")
    }

    /// Starts a replica of the service.
    pub async fn start(&self) -> Service {
        let application = flatgov_cases::build(self.env())
            .await
            .expect("the service starts");
        let client = CaseDispatchClient::connect(application.grpc_url())
            .await
            .expect("connect");
        Service {
            application,
            client,
        }
    }

    /// Starts the block registry and duty lists fakes.
    pub async fn start_directory(&self) -> flatgov_testkit::contract::RunningContract {
        // The fakes stand in for both services on one port: they accept tokens for
        // either.
        let verifier = Verifier::new(flatgov_auth::AuthConfig {
            jwks_file: self.test.auth.jwks_file(),
            issuer: "flatgov".into(),
            audiences: vec!["flatgov.blocks".into(), "flatgov.duties".into()],
            max_service_token: std::time::Duration::from_secs(900),
            max_person_token: std::time::Duration::from_secs(36_000),
            oidc: None,
        })
        .await
        .unwrap();
        contracts::serve(self.directory_port, self.directory.clone(), verifier).await
    }

    fn token(
        &self,
        subject: &str,
        roles: &[Role],
        jurisdiction: &str,
        organisation: Option<&str>,
    ) -> String {
        let mut request = TokenRequest::new(subject, roles)
            .jurisdiction(jurisdiction.parse::<Jurisdiction>().unwrap());
        if let Some(organisation) = organisation {
            request = request.organisation(organisation);
        }
        self.test.auth.token_for(request)
    }

    pub fn governor(&self) -> String {
        self.token(
            GOVERNOR,
            &[Role::Governor],
            &format!("blocks/{BLOCK}"),
            None,
        )
    }

    pub fn neighbour_governor(&self) -> String {
        self.token(
            NEIGHBOUR_GOVERNOR,
            &[Role::Governor],
            &format!("blocks/{NEIGHBOUR}"),
            None,
        )
    }

    pub fn supervisor(&self) -> String {
        self.token(
            SUPERVISOR,
            &[Role::Supervisor],
            &format!("blocks/{BLOCK}"),
            None,
        )
    }

    pub fn dispatcher(&self) -> String {
        self.token(
            "disp-001",
            &[Role::SubdistrictDispatcher],
            &format!("subdistricts/{SUBDISTRICT}"),
            None,
        )
    }

    pub fn other_dispatcher(&self) -> String {
        self.token(
            "disp-002",
            &[Role::SubdistrictDispatcher],
            "subdistricts/430302002",
            None,
        )
    }

    pub fn resident(&self) -> String {
        self.token("resident-42", &[Role::Resident], "districts/430302", None)
    }

    /// Another resident, who reported nothing of resident-42's.
    pub fn other_resident(&self) -> String {
        self.token("resident-77", &[Role::Resident], "districts/430302", None)
    }

    /// The owner's connection to the service's database (what an operator with the
    /// owner role, not the service, could do).
    pub fn owner_database_url(&self) -> String {
        self.test.database.url().to_owned()
    }

    /// The service's own application-role connection.
    pub fn application_database_url(&self) -> String {
        flatgov_testkit::application_url(self.test.database.url())
    }

    /// The test's key pair, for probing every role.
    pub fn auth(&self) -> &flatgov_testkit::TestAuth {
        &self.test.auth
    }

    pub fn integrator(&self) -> String {
        self.token(
            "integrator-1",
            &[Role::Integrator],
            "districts/430302",
            None,
        )
    }

    pub fn admin(&self) -> String {
        self.test.auth.admin_token()
    }

    pub fn department(&self, code: &str) -> String {
        self.token(
            &format!("officer-{code}"),
            &[Role::DepartmentOfficer],
            "districts/430302",
            Some(code),
        )
    }

    pub fn federation(&self, organisation: &str) -> String {
        self.token(
            &format!("staff-{organisation}"),
            &[Role::FederationStaff],
            "districts/430302",
            Some(organisation),
        )
    }

    /// Publishes an event as another service would (through its stream).
    pub async fn publish<E: Event>(&self, service: &str, resource: &str, event: &E) {
        let bus = self.test.bus().await;
        let id = uuid::Uuid::now_v7().to_string();
        publish_as(&bus, service, &id, resource, event).await;
    }

    /// Every event the cases service published so far.
    pub async fn events_now(&self) -> Vec<Envelope> {
        let bus = self.test.bus().await;
        read_stream(&bus, "cases", usize::MAX, Duration::from_millis(500)).await
    }

    /// Waits until the stream holds events that satisfy `done`; returns them all.
    pub async fn events_until(
        &self,
        what: &str,
        done: impl Fn(&[Envelope]) -> bool,
    ) -> Vec<Envelope> {
        let bus = self.test.bus().await;
        eventually(what, PATIENCE, || async {
            let events = read_stream(&bus, "cases", usize::MAX, Duration::from_millis(300)).await;
            done(&events).then_some(events)
        })
        .await
    }
}

/// A running replica and a client of it.
pub struct Service {
    pub application: flatgov_grpc::Application,
    pub client: CaseDispatchClient<Channel>,
}

impl Service {
    pub fn client(&self) -> CaseDispatchClient<Channel> {
        self.client.clone()
    }

    pub async fn stop(self) {
        self.application.shutdown().await.unwrap();
    }

    pub async fn get(&self, token: &str, name: &str) -> proto::Case {
        self.client()
            .get_case(with_token(
                proto::GetCaseRequest { name: name.into() },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// Waits until the case satisfies `condition`.
    pub async fn case_until(
        &self,
        token: &str,
        name: &str,
        what: &str,
        condition: impl Fn(&proto::Case) -> bool,
    ) -> proto::Case {
        eventually(what, PATIENCE, || async {
            let case = self
                .client()
                .get_case(with_token(
                    proto::GetCaseRequest { name: name.into() },
                    token,
                ))
                .await
                .ok()?
                .into_inner();
            condition(&case).then_some(case)
        })
        .await
    }

    pub async fn history(&self, token: &str, name: &str) -> Vec<proto::CaseRecord> {
        self.client()
            .get_case_history(with_token(
                proto::GetCaseHistoryRequest { name: name.into() },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .records
    }

    pub async fn advance_clock(&self, token: &str, by: chrono::TimeDelta) {
        self.client()
            .advance_test_clock(with_token(
                proto::AdvanceTestClockRequest {
                    by: Some(prost_types::Duration {
                        seconds: by.num_seconds(),
                        nanos: 0,
                    }),
                },
                token,
            ))
            .await
            .unwrap();
    }
}

/// A resident's app report of a broken street light inside block 017.
pub fn street_light_report(request_id: &str) -> proto::ReportCaseRequest {
    proto::ReportCaseRequest {
        request_id: request_id.into(),
        kind: proto::CaseKind::Problem as i32,
        channel: proto::Channel::ResidentApp as i32,
        location: Some(point_in_block(0.0)),
        block: String::new(),
        matter_code: STREET_LIGHT.into(),
        description: "楼下路灯坏了三天, 晚上很黑 (李四 13900001111)".into(),
        attachments: vec!["https://files.example/lamp.jpg".into()],
        reporter: Some(proto::Contact {
            name: "李四".into(),
            phone: "13900001111".into(),
        }),
        anonymous: false,
        urgent: false,
    }
}

pub async fn report(
    service: &Service,
    token: &str,
    request: proto::ReportCaseRequest,
) -> proto::ReportCaseResponse {
    service
        .client()
        .report_case(with_token(request, token))
        .await
        .expect("the report is received")
        .into_inner()
}

/// The state of a case, as a proto enum.
pub fn state(case: &proto::Case) -> proto::CaseState {
    proto::CaseState::try_from(case.state).unwrap()
}

/// The case's events in stream order: (proto type name, sequence when present).
pub fn types_of(events: &[Envelope], case: &str) -> Vec<String> {
    events
        .iter()
        .filter(|event| event.resource == case)
        .map(|event| {
            event
                .event_type
                .trim_start_matches("flatgov.cases.v1.")
                .to_owned()
        })
        .collect()
}
