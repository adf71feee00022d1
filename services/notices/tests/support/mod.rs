//! One test's world: the notices service and the real cases service (each
//! with its own database, on one NATS prefix and one key set), the block
//! registry and duty lists contract fakes the cases service calls, and a
//! local HTTP server standing in for the gateways — a WeCom group robot and
//! an SMS provider's signed webhook.

#![allow(dead_code)]

pub mod contacts;
#[path = "../../../cases/tests/support/contracts.rs"]
pub mod contracts;
pub mod gateways;
pub mod registry;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flatgov_auth::{Jurisdiction, Role, TokenRequest, Verifier};
use flatgov_grpc::Application;
use flatgov_messaging::Envelope;
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::cases::v1::case_dispatch_client::CaseDispatchClient;
use flatgov_proto::flatgov::r#type::v1 as types;
use flatgov_proto::notices::v1 as api;
use flatgov_proto::notices::v1::notices_client::NoticesClient;
use flatgov_testkit::{TestDatabase, TestEnv, eventually, free_port, with_token};
use tonic::transport::Channel;

pub use contracts::{Directory, FakeBlock, FakeMatter};
pub use gateways::GatewayStandIn;
pub use registry::Registry;

pub const PATIENCE: Duration = Duration::from_secs(30);
pub const BLOCK: &str = "430302001004017";
pub const SUBDISTRICT: &str = "430302001";
pub const GOVERNOR: &str = "gov-017";
pub const SUPERVISOR: &str = "sup-017";
pub const STREET_LIGHT: &str = "broken_street_light";
pub const RESIDENT: &str = "resident-42";
pub const PHONE: &str = "13900001111";
/// Blocks of the registry beside BLOCK: its neighbour, a block of another
/// community, one that never gets a robot, and one in another subdistrict.
pub const NEIGHBOUR: &str = "430302001004018";
pub const OTHER_COMMUNITY_BLOCK: &str = "430302001005001";
pub const ROBOTLESS_BLOCK: &str = "430302001004019";
pub const OTHER_SUBDISTRICT_BLOCK: &str = "430302002001001";

/// The registry's blocks and households.
pub const REGISTRY: [(&str, u32); 5] = [
    (BLOCK, 350),
    (NEIGHBOUR, 340),
    (ROBOTLESS_BLOCK, 320),
    (OTHER_COMMUNITY_BLOCK, 300),
    (OTHER_SUBDISTRICT_BLOCK, 310),
];

/// The world of one test.
pub struct World {
    /// The notices service's database, keys and NATS prefix.
    pub test: TestEnv,
    /// The cases service's own database.
    pub cases_database: TestDatabase,
    pub directory: Arc<Directory>,
    pub directory_port: u16,
    /// The block registry the notices service counts audiences from.
    pub registry: Arc<Registry>,
    pub registry_port: u16,
    pub gateways: GatewayStandIn,
}

/// Everything running.
pub struct Running {
    pub cases: Application,
    pub notices: Application,
    _directory: flatgov_testkit::contract::RunningContract,
    _registry: flatgov_testkit::contract::RunningContract,
}

impl Running {
    pub fn cases(&self) -> CaseDispatchClient<Channel> {
        CaseDispatchClient::new(
            Channel::from_shared(self.cases.grpc_url())
                .unwrap()
                .connect_lazy(),
        )
    }

    pub fn notices(&self) -> NoticesClient<Channel> {
        NoticesClient::new(
            Channel::from_shared(self.notices.grpc_url())
                .unwrap()
                .connect_lazy(),
        )
    }

    pub async fn stop(self) {
        self.notices.shutdown().await.unwrap();
        self.cases.shutdown().await.unwrap();
    }
}

fn directory() -> Arc<Directory> {
    let directory = Directory::default();
    *directory.blocks.lock().unwrap() = vec![FakeBlock {
        code: BLOCK.into(),
        rectangle: (27.84, 112.90, 27.86, 112.91),
        governor: GOVERNOR.into(),
        supervisor: SUPERVISOR.into(),
    }];
    let mut matters = HashMap::new();
    matters.insert(
        STREET_LIGHT.to_owned(),
        FakeMatter {
            lead: types::Unit {
                kind: types::UnitKind::Subdistrict as i32,
                code: String::new(),
            },
            cooperating: vec![],
            tier: types::HandlingTier::FrontLine,
        },
    );
    *directory.matters.lock().unwrap() = matters;
    Arc::new(directory)
}

impl World {
    pub async fn new() -> Self {
        flatgov_testkit::init_tracing();
        Self {
            test: TestEnv::new(),
            cases_database: TestDatabase::new(),
            directory: directory(),
            directory_port: free_port(),
            registry: Registry::with_blocks(&REGISTRY),
            registry_port: free_port(),
            gateways: GatewayStandIn::start().await,
        }
    }

    /// Serves the block registry on its port.
    pub async fn serve_registry(&self) -> flatgov_testkit::contract::RunningContract {
        registry::serve(
            self.registry_port,
            self.registry.clone(),
            self.verifier().await,
        )
        .await
    }

    /// Serves the stand-in of the cases service's claim check on a free
    /// port; answers its URL.
    pub async fn serve_contacts(&self) -> (String, flatgov_testkit::contract::RunningContract) {
        let port = free_port();
        let running = self.serve_contacts_on(port).await;
        (format!("http://127.0.0.1:{port}"), running)
    }

    /// Serves the claim-check stand-in on `port`.
    pub async fn serve_contacts_on(&self, port: u16) -> flatgov_testkit::contract::RunningContract {
        let verifier = Verifier::new(flatgov_auth::AuthConfig {
            jwks_file: self.test.auth.jwks_file(),
            issuer: "flatgov".into(),
            audiences: vec!["flatgov.cases".into()],
            max_service_token: Duration::from_secs(900),
            max_person_token: Duration::from_secs(36_000),
            oidc: None,
        })
        .await
        .unwrap();
        contacts::serve(port, verifier).await
    }

    async fn verifier(&self) -> Verifier {
        Verifier::new(flatgov_auth::AuthConfig {
            jwks_file: self.test.auth.jwks_file(),
            issuer: "flatgov".into(),
            audiences: vec!["flatgov.blocks".into(), "flatgov.duties".into()],
            max_service_token: Duration::from_secs(900),
            max_person_token: Duration::from_secs(36_000),
            oidc: None,
        })
        .await
        .unwrap()
    }

    /// Starts the directory fakes, the cases service and the notices service.
    pub async fn start(&self) -> Running {
        let verifier = self.verifier().await;
        let directory = contracts::serve(
            self.directory_port,
            self.directory.clone(),
            verifier.clone(),
        )
        .await;
        let registry = registry::serve(self.registry_port, self.registry.clone(), verifier).await;
        let directory_url = format!("http://127.0.0.1:{}", self.directory_port);
        let cases_env = self
            .test
            .env_for_database(self.cases_database.url())
            .with(
                "AUTH_SIGNING_KEY_FILE",
                self.test
                    .auth
                    .service_key_file("cases")
                    .display()
                    .to_string(),
            )
            .with("BLOCKS_URL", directory_url.clone())
            .with("DUTIES_URL", directory_url)
            .with("CASES_WORKER_POLL_MS", "100")
            .with("CASES_TRIAGE_RETRY_INITIAL_MS", "50")
            .with("CASES_TRIAGE_RETRY_MAX_MS", "300");
        let cases = flatgov_cases::build(cases_env)
            .await
            .expect("the cases service starts");
        let notices = self.start_notices(&cases.grpc_url()).await;
        Running {
            cases,
            notices,
            _directory: directory,
            _registry: registry,
        }
    }

    /// The notices service's environment: quick retries and pauses.
    pub fn notices_env(&self, cases_url: &str) -> flatgov_config::Env {
        self.test
            .service_env("notices")
            .with("CASES_URL", cases_url.to_owned())
            .with(
                "BLOCKS_URL",
                format!("http://127.0.0.1:{}", self.registry_port),
            )
            .with("NOTICES_DELIVERY_RETRY_INITIAL_MS", "100")
            .with("NOTICES_DELIVERY_RETRY_MAX_SECONDS", "1")
            .with("NOTICES_RATE_LIMIT_PAUSE_MS", "300")
            .with("NOTICES_DELIVERY_POLL_MS", "100")
            .with("NOTICES_DELIVERY_MAX_ATTEMPTS", "4")
    }

    pub async fn start_notices(&self, cases_url: &str) -> Application {
        flatgov_notices::build(self.notices_env(cases_url))
            .await
            .expect("the notices service starts")
    }

    fn token(&self, subject: &str, roles: &[Role], jurisdiction: &str) -> String {
        self.test.auth.token_for(
            TokenRequest::new(subject, roles)
                .jurisdiction(jurisdiction.parse::<Jurisdiction>().unwrap()),
        )
    }

    pub fn admin(&self) -> String {
        self.test.auth.admin_token()
    }

    /// A second district administrator of the whole district.
    pub fn second_admin(&self) -> String {
        self.token("admin-2", &[Role::DistrictAdmin], "districts/430302")
    }

    pub fn governor(&self) -> String {
        self.token(GOVERNOR, &[Role::Governor], &format!("blocks/{BLOCK}"))
    }

    pub fn supervisor(&self) -> String {
        self.token(SUPERVISOR, &[Role::Supervisor], &format!("blocks/{BLOCK}"))
    }

    pub fn dispatcher(&self) -> String {
        self.token(
            "disp-001",
            &[Role::SubdistrictDispatcher],
            &format!("subdistricts/{SUBDISTRICT}"),
        )
    }

    pub fn other_dispatcher(&self) -> String {
        self.token(
            "disp-002",
            &[Role::SubdistrictDispatcher],
            "subdistricts/430302002",
        )
    }

    pub fn resident(&self) -> String {
        self.token(RESIDENT, &[Role::Resident], "districts/430302")
    }

    /// Every event the notices service published so far.
    pub async fn notices_events(&self) -> Vec<Envelope> {
        let bus = self.test.bus().await;
        flatgov_testkit::events::read_stream(
            &bus,
            "notices",
            usize::MAX,
            Duration::from_millis(300),
        )
        .await
    }

    /// Every event the cases service published so far.
    pub async fn cases_events(&self) -> Vec<Envelope> {
        let bus = self.test.bus().await;
        flatgov_testkit::events::read_stream(&bus, "cases", usize::MAX, Duration::from_millis(300))
            .await
    }
}

/// A report of a street light in block 017, `metres` north of its middle
/// (reports of one matter close together are linked as "me too").
pub fn street_light_report(
    channel: cases::Channel,
    anonymous: bool,
    metres: f64,
) -> cases::ReportCaseRequest {
    cases::ReportCaseRequest {
        request_id: String::new(),
        kind: cases::CaseKind::Problem as i32,
        channel: channel as i32,
        location: Some(types::GeoPoint {
            latitude: 27.85 + metres / 111_195.0,
            longitude: 112.905,
            ..Default::default()
        }),
        block: String::new(),
        matter_code: STREET_LIGHT.into(),
        description: "楼下路灯坏了三天".into(),
        attachments: vec![],
        reporter: (!anonymous).then(|| cases::Contact {
            name: "李四".into(),
            phone: PHONE.into(),
        }),
        anonymous,
        urgent: false,
    }
}

/// Reports and waits until the case is dispatched; answers its name.
pub async fn dispatched(
    running: &Running,
    world: &World,
    token: &str,
    request: cases::ReportCaseRequest,
) -> String {
    let name = running
        .cases()
        .report_case(with_token(request, token))
        .await
        .expect("the report is received")
        .into_inner()
        .case
        .unwrap()
        .name;
    eventually("the case to be dispatched", PATIENCE, || async {
        let case = running
            .cases()
            .get_case(with_token(
                cases::GetCaseRequest { name: name.clone() },
                &world.admin(),
            ))
            .await
            .ok()?
            .into_inner();
        (case.state == cases::CaseState::Dispatched as i32).then_some(())
    })
    .await;
    name
}

/// The case's feedback as the dispatcher sees it, once `done` holds.
pub async fn feedback_until(
    running: &Running,
    world: &World,
    case: &str,
    what: &str,
    done: impl Fn(&[api::Feedback]) -> bool,
) -> Vec<api::Feedback> {
    eventually(what, PATIENCE, || async {
        let feedback = running
            .notices()
            .list_feedback(with_token(
                api::ListFeedbackRequest { case: case.into() },
                &world.dispatcher(),
            ))
            .await
            .ok()?
            .into_inner()
            .feedback;
        done(&feedback).then_some(feedback)
    })
    .await
}

pub fn milestones(feedback: &[api::Feedback]) -> Vec<api::Milestone> {
    feedback
        .iter()
        .map(|item| api::Milestone::try_from(item.milestone).unwrap())
        .collect()
}

pub fn delivered(feedback: &[api::Feedback], milestone: api::Milestone) -> bool {
    feedback.iter().any(|item| {
        item.milestone == milestone as i32 && item.state == api::DeliveryState::Delivered as i32
    })
}

/// Accepts, starts, resolves and verifies a dispatched case.
pub async fn work_to_verified(running: &Running, world: &World, name: &str, first_time: bool) {
    let mut client = running.cases();
    if first_time {
        client
            .accept_case(with_token(
                cases::AcceptCaseRequest { name: name.into() },
                &world.governor(),
            ))
            .await
            .unwrap();
        client
            .start_work(with_token(
                cases::StartWorkRequest { name: name.into() },
                &world.governor(),
            ))
            .await
            .unwrap();
    }
    client
        .resolve_case(with_token(
            cases::ResolveCaseRequest {
                name: name.into(),
                resolution_note: "换了灯泡".into(),
            },
            &world.governor(),
        ))
        .await
        .unwrap();
    client
        .verify_case(with_token(
            cases::VerifyCaseRequest {
                name: name.into(),
                passed: true,
                reason: String::new(),
            },
            &world.supervisor(),
        ))
        .await
        .unwrap();
}
