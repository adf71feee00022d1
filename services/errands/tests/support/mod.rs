//! What the errands tests share: a service under test on a real database
//! and NATS with the demo catalogue published, tokens for every kind of
//! caller, and helpers that walk an errand through its track.
#![allow(dead_code)] // each test binary uses its own part of it

use std::time::Duration;

use flatgov_auth::{Jurisdiction, Role, TokenRequest};
use flatgov_proto::errands::v1 as proto;
use flatgov_proto::errands::v1::errands_client::ErrandsClient;
use flatgov_testkit::{TestEnv, with_token};
use tonic::transport::Channel;

pub const PATIENCE: Duration = Duration::from_secs(20);
pub const SUBDISTRICT: &str = "430302001";
pub const BLOCK: &str = "430302001004007";
pub const OTHER_BLOCK: &str = "430302001004008";

/// One service under test, the demo catalogue published, with the block's
/// assistant's client.
pub struct Service {
    pub test: TestEnv,
    pub application: flatgov_grpc::Application,
    pub client: ErrandsClient<Channel>,
    /// An assistant (协理员) of [`BLOCK`].
    pub assistant: String,
}

impl Service {
    pub async fn start() -> Self {
        let test = TestEnv::new();
        let env = test
            .env()
            .with("ERRANDS_TEST_CONTROLS", "enabled".to_owned());
        let application = flatgov_errands::build(env).await.expect("service starts");
        let client = ErrandsClient::connect(application.grpc_url())
            .await
            .expect("connect");
        let assistant = block_token(&test, "assistant-1", Role::Assistant, BLOCK);
        let service = Self {
            test,
            application,
            client,
            assistant,
        };
        service
            .client
            .clone()
            .publish_catalogue(with_token(
                proto::PublishCatalogueRequest {
                    matters: flatgov_demo::errands::demo_catalogue(),
                    request_id: String::new(),
                },
                &service.test.auth.admin_token(),
            ))
            .await
            .expect("catalogue published");
        service
    }

    pub fn block_token(&self, subject: &str, role: Role, block: &str) -> String {
        block_token(&self.test, subject, role, block)
    }

    pub fn dispatcher(&self, subdistrict: &str) -> String {
        self.test.auth.token_for(
            TokenRequest::new("dispatcher-1", &[Role::SubdistrictDispatcher]).jurisdiction(
                format!("subdistricts/{subdistrict}")
                    .parse::<Jurisdiction>()
                    .unwrap(),
            ),
        )
    }

    pub fn department_officer(&self, department: &str) -> String {
        self.test.auth.token_for(
            TokenRequest::new("officer-1", &[Role::DepartmentOfficer]).organisation(department),
        )
    }

    pub fn resident(&self, account: &str) -> String {
        self.test
            .auth
            .token_for(TokenRequest::new(account, &[Role::Resident]))
    }

    /// Asks for `matter` at the resident's home as the assistant, on their
    /// behalf.
    pub async fn request(&self, matter: &str) -> proto::Errand {
        self.client
            .clone()
            .request_errand(with_token(request(matter), &self.assistant))
            .await
            .expect("errand requested")
            .into_inner()
    }

    pub async fn collect(&self, errand: &str, materials: &[&str]) -> proto::Errand {
        self.client
            .clone()
            .collect_materials(with_token(
                proto::CollectMaterialsRequest {
                    errand: errand.to_owned(),
                    documents: materials.iter().map(|code| document(code)).collect(),
                    resident_trip: false,
                },
                &self.assistant,
            ))
            .await
            .expect("materials collected")
            .into_inner()
    }

    pub async fn submit(&self, errand: &str) -> proto::Errand {
        self.client
            .clone()
            .submit_errand(with_token(
                proto::SubmitErrandRequest {
                    errand: errand.to_owned(),
                    resident_trip: false,
                },
                &self.assistant,
            ))
            .await
            .expect("submitted")
            .into_inner()
    }

    pub async fn decide(
        &self,
        errand: &str,
        department: &str,
        result: proto::Result,
        materials: &[&str],
    ) -> proto::Errand {
        self.client
            .clone()
            .record_result(with_token(
                proto::RecordResultRequest {
                    errand: errand.to_owned(),
                    result: result as i32,
                    reason: String::new(),
                    materials: materials.iter().map(|code| (*code).to_owned()).collect(),
                },
                &self.department_officer(department),
            ))
            .await
            .expect("result recorded")
            .into_inner()
    }

    pub async fn tell(&self, errand: &str) -> proto::Errand {
        self.client
            .clone()
            .record_resident_told(with_token(
                proto::RecordResidentToldRequest {
                    errand: errand.to_owned(),
                    channel: proto::TellingChannel::Call as i32,
                    resident_trip: false,
                },
                &self.assistant,
            ))
            .await
            .expect("resident told")
            .into_inner()
    }
}

fn block_token(test: &TestEnv, subject: &str, role: Role, block: &str) -> String {
    test.auth.token_for(
        TokenRequest::new(subject, &[role])
            .jurisdiction(format!("blocks/{block}").parse::<Jurisdiction>().unwrap()),
    )
}

/// A request for `matter` by the block team on the resident's behalf.
pub fn request(matter: &str) -> proto::RequestErrandRequest {
    proto::RequestErrandRequest {
        matter: matter.to_owned(),
        block_code: BLOCK.to_owned(),
        channel: proto::Channel::BlockTeam as i32,
        proxy: true,
        resident: Some(proto::Resident {
            name: "刘秀英".into(),
            phone: "13800138000".into(),
            id_number: "11010519491231002X".into(),
            account: "resident-liu".into(),
        }),
        request_id: String::new(),
    }
}

pub fn document(material: &str) -> proto::Document {
    proto::Document {
        material: material.to_owned(),
        reference: format!("docs://scans/liu/{material}.pdf"),
        ..Default::default()
    }
}

pub fn timestamp(time: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    flatgov_grpc::time::timestamp(time)
}
