//! What the mediation tests share: a service under test on a real database
//! and NATS, tokens for every kind of caller, and parties to register.
#![allow(dead_code)] // each test binary uses its own part of it

use std::time::Duration;

use flatgov_auth::{Jurisdiction, Role, TokenRequest};
use flatgov_proto::mediation::v1 as proto;
use flatgov_proto::mediation::v1::mediation_client::MediationClient;
use flatgov_testkit::{TestEnv, with_token};
use tonic::transport::Channel;

pub const PATIENCE: Duration = Duration::from_secs(20);
pub const SUBDISTRICT: &str = "430302001";
pub const COMMUNITY: &str = "430302001004";
pub const OTHER_SUBDISTRICT: &str = "430302002";

/// One service under test with a dispatcher's client.
pub struct Service {
    pub test: TestEnv,
    pub application: flatgov_grpc::Application,
    pub client: MediationClient<Channel>,
    /// The dispatcher of [`SUBDISTRICT`] (the justice office and the
    /// community's committee work on its platform).
    pub dispatcher: String,
}

impl Service {
    pub async fn start() -> Self {
        let test = TestEnv::new();
        let env = test
            .env()
            .with("MEDIATION_TEST_CONTROLS", "enabled".to_owned())
            .with("MEDIATION_WORKER_POLL_MS", "100".to_owned());
        let application = flatgov_mediation::build(env).await.expect("service starts");
        let client = MediationClient::connect(application.grpc_url())
            .await
            .expect("connect");
        let dispatcher = token_in(
            &test,
            "dispatcher-1",
            &[Role::SubdistrictDispatcher],
            SUBDISTRICT,
        );
        Self {
            test,
            application,
            client,
            dispatcher,
        }
    }

    pub fn token_in(&self, subject: &str, roles: &[Role], subdistrict: &str) -> String {
        token_in(&self.test, subject, roles, subdistrict)
    }

    pub fn department_officer(&self, department: &str) -> String {
        self.test.auth.token_for(
            TokenRequest::new("officer-1", &[Role::DepartmentOfficer]).organisation(department),
        )
    }

    /// Registers `request` as the dispatcher.
    pub async fn register(&self, request: proto::RegisterDisputeRequest) -> proto::Dispute {
        self.client
            .clone()
            .register_dispute(with_token(request, &self.dispatcher))
            .await
            .expect("dispute registered")
            .into_inner()
    }
}

fn token_in(test: &TestEnv, subject: &str, roles: &[Role], subdistrict: &str) -> String {
    test.auth.token_for(
        TokenRequest::new(subject, roles).jurisdiction(
            format!("subdistricts/{subdistrict}")
                .parse::<Jurisdiction>()
                .unwrap(),
        ),
    )
}

pub fn party(role: proto::PartyRole, name: &str, phone: &str) -> proto::Party {
    proto::Party {
        role: role as i32,
        name: name.into(),
        phone: phone.into(),
        ..Default::default()
    }
}

/// A neighbour-noise dispute between two residents of [`COMMUNITY`].
pub fn neighbour_noise() -> proto::RegisterDisputeRequest {
    proto::RegisterDisputeRequest {
        dispute: Some(proto::Dispute {
            case: "cases/01890a5d-ac96-774b-bcce-b302099a8057".into(),
            r#type: proto::DisputeType::Neighbour as i32,
            community_code: COMMUNITY.into(),
            summary: "楼上住户夜间噪音扰民，多次沟通无果".into(),
            parties: vec![
                party(proto::PartyRole::Applicant, "张伟", "13800138000"),
                party(proto::PartyRole::Respondent, "李娜", "13900139000"),
            ],
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn timestamp(time: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    flatgov_grpc::time::timestamp(time)
}
