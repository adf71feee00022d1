//! What every registry test starts from: the service on port 0 against a fresh
//! database and a unique NATS prefix, a client, tokens, and a small district.

use std::time::Duration;

use flatgov_auth::{Role, TokenRequest};
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use flatgov_testkit::{TestEnv, with_token};
use serde_json::{Value, json};
use tonic::transport::Channel;

pub const PATIENCE: Duration = Duration::from_secs(20);

/// Four blocks tile subdistrict 430302001 (112.90–112.92 E, 27.80–27.81 N) as a 2 × 2 grid:
///
/// ```text
///  27.810 +-----------+-----------+
///         | C 002 001 | D 002 002 |
///  27.805 +-----------+-----------+
///         | A 001 001 | B 001 002 |
///  27.800 +-----------+-----------+
///       112.90      112.91      112.92
/// ```
pub const A: &str = "430302001001001";
pub const B: &str = "430302001001002";
pub const C: &str = "430302001002001";
pub const D: &str = "430302001002002";
/// The east half of B after a redistricting splits it.
pub const E: &str = "430302001001003";
/// The one block of the second subdistrict 430302002 (112.92–112.93 E, 27.80–27.81 N),
/// when [`Registry::seed_second_subdistrict`] made it.
pub const F: &str = "430302002001001";

pub struct Registry {
    pub test: TestEnv,
    pub application: flatgov_grpc::Application,
    pub client: BlockRegistryClient<Channel>,
    pub admin: String,
}

impl Registry {
    pub async fn start() -> Self {
        let test = TestEnv::new();
        let application = flatgov_blocks::build(test.env())
            .await
            .expect("registry starts");
        let client = BlockRegistryClient::connect(application.grpc_url())
            .await
            .expect("connect")
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024);
        let admin = test.auth.admin_token();
        Self {
            test,
            application,
            client,
            admin,
        }
    }

    pub fn token(&self, subject: &str, roles: &[Role], jurisdiction: &str) -> String {
        self.test.auth.token_for(
            TokenRequest::new(subject, roles)
                .jurisdiction(jurisdiction.parse().expect("jurisdiction")),
        )
    }

    /// A district administrator whose jurisdiction is `jurisdiction`
    /// (`districts/…` or `subdistricts/…`).
    pub fn admin_of(&self, jurisdiction: &str) -> String {
        self.token(
            &format!("admin-{}", jurisdiction.replace('/', "-")),
            &[Role::DistrictAdmin],
            jurisdiction,
        )
    }

    pub fn dispatcher(&self, subdistrict: &str) -> String {
        self.token(
            "dispatcher",
            &[Role::SubdistrictDispatcher],
            &format!("subdistricts/{subdistrict}"),
        )
    }

    /// District 430302, subdistrict 430302001 with its rectangle, communities 001 and 002,
    /// and a governor, an assistant and a supervisor per block A–E.
    pub async fn seed_hierarchy_and_staff(&mut self) {
        self.client
            .create_district(with_token(
                api::CreateDistrictRequest {
                    district: Some(api::District {
                        name: "districts/430302".into(),
                        display_name: "雨湖区".into(),
                        ..Default::default()
                    }),
                },
                &self.admin,
            ))
            .await
            .expect("district");
        self.client
            .create_subdistrict(with_token(
                api::CreateSubdistrictRequest {
                    subdistrict: Some(api::Subdistrict {
                        name: "subdistricts/430302001".into(),
                        display_name: "雨湖路街道".into(),
                        boundary_geojson: rectangle(112.90, 27.80, 112.92, 27.81).to_string(),
                        ..Default::default()
                    }),
                },
                &self.admin,
            ))
            .await
            .expect("subdistrict");
        for (code, name) in [("430302001001", "和平社区"), ("430302001002", "建设社区")] {
            self.client
                .create_community(with_token(
                    api::CreateCommunityRequest {
                        community: Some(api::Community {
                            name: format!("communities/{code}"),
                            display_name: name.into(),
                            ..Default::default()
                        }),
                    },
                    &self.admin,
                ))
                .await
                .expect("community");
        }
        let mut staff = Vec::new();
        for code in [A, B, C, D, E] {
            for post in ["governor", "assistant", "supervisor"] {
                staff.push(api::Staff {
                    id: format!("{post}-{code}"),
                    display_name: format!("{post} of {code}"),
                    phone: format!("1380000{}", &code[12..]),
                    unit: "雨湖路街道办事处".into(),
                    division: format!("blocks/{code}"),
                    ..Default::default()
                });
            }
        }
        self.client
            .import_staff(with_token(api::ImportStaffRequest { staff }, &self.admin))
            .await
            .expect("staff");
    }

    /// Subdistrict 430302002 east of the first, its community 430302002001,
    /// and a governor, an assistant and a supervisor for block F there.
    pub async fn seed_second_subdistrict(&mut self) {
        self.client
            .create_subdistrict(with_token(
                api::CreateSubdistrictRequest {
                    subdistrict: Some(api::Subdistrict {
                        name: "subdistricts/430302002".into(),
                        display_name: "城正街街道".into(),
                        boundary_geojson: rectangle(112.92, 27.80, 112.93, 27.81).to_string(),
                        ..Default::default()
                    }),
                },
                &self.admin,
            ))
            .await
            .expect("second subdistrict");
        self.client
            .create_community(with_token(
                api::CreateCommunityRequest {
                    community: Some(api::Community {
                        name: "communities/430302002001".into(),
                        display_name: "新华社区".into(),
                        ..Default::default()
                    }),
                },
                &self.admin,
            ))
            .await
            .expect("community of the second subdistrict");
        let staff = ["governor", "assistant", "supervisor"]
            .into_iter()
            .map(|post| api::Staff {
                id: format!("{post}-{F}"),
                display_name: format!("{post} of {F}"),
                phone: "13900000001".into(),
                division: format!("blocks/{F}"),
                ..Default::default()
            })
            .collect();
        self.client
            .import_staff(with_token(api::ImportStaffRequest { staff }, &self.admin))
            .await
            .expect("staff of the second subdistrict");
    }

    pub async fn import(
        &mut self,
        request: api::ImportBlocksRequest,
    ) -> Result<api::Generation, tonic::Status> {
        self.client
            .import_blocks(with_token(request, &self.admin))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn validate(&mut self, generation: &str) -> api::ValidationReport {
        self.client
            .validate_generation(with_token(
                api::ValidateGenerationRequest {
                    name: generation.into(),
                    settings: None,
                },
                &self.admin,
            ))
            .await
            .expect("validate")
            .into_inner()
    }

    pub async fn activate(&mut self, generation: &str) -> Result<api::Generation, tonic::Status> {
        self.client
            .activate_generation(with_token(
                api::ActivateGenerationRequest {
                    name: generation.into(),
                },
                &self.admin,
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn locate(
        &mut self,
        token: &str,
        longitude: f64,
        latitude: f64,
        at: Option<prost_types::Timestamp>,
    ) -> Result<api::Block, tonic::Status> {
        self.client
            .locate_point(with_token(
                api::LocatePointRequest {
                    point: Some(GeoPoint {
                        longitude,
                        latitude,
                        ..Default::default()
                    }),
                    at,
                    view: api::BlockView::Basic as i32,
                    generation: String::new(),
                },
                token,
            ))
            .await
            .map(|response| response.into_inner().block.expect("a block"))
    }

    /// Imports `blocks` with standard teams and activates them.
    pub async fn activate_blocks(&mut self, blocks: Vec<Value>) -> api::Generation {
        let draft = self.import(import_request(blocks)).await.expect("import");
        self.activate(&draft.name).await.expect("activation")
    }
}

/// A GeoJSON Polygon of a lon/lat rectangle.
pub fn rectangle(west: f64, south: f64, east: f64, north: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]]})
}

/// A block feature with the standard team (`governor-{code}`, one party group
/// leader `assistant-{code}`, `supervisor-{code}`).
pub fn block(code: &str, households: u32, geometry: Value) -> Value {
    json!({"type": "Feature",
           "properties": {"code": code, "name": format!("区块{}", &code[12..]), "households": households,
                          "team": {"governor": format!("governor-{code}"),
                                   "assistants": [{"staff": format!("assistant-{code}"), "role": "party_group_leader"}],
                                   "supervisor": format!("supervisor-{code}")}},
           "geometry": geometry})
}

pub fn collection(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

pub fn import_request(features: Vec<Value>) -> api::ImportBlocksRequest {
    api::ImportBlocksRequest {
        geojson: collection(features).to_string(),
        ..Default::default()
    }
}

/// Block F covering the whole second subdistrict.
pub fn block_f() -> Value {
    block(F, 350, rectangle(112.92, 27.80, 112.93, 27.81))
}

/// The clean 2 × 2 tiling.
pub fn tiling() -> Vec<Value> {
    vec![
        block(A, 350, rectangle(112.90, 27.800, 112.91, 27.805)),
        block(B, 340, rectangle(112.91, 27.800, 112.92, 27.805)),
        block(C, 360, rectangle(112.90, 27.805, 112.91, 27.810)),
        block(D, 355, rectangle(112.91, 27.805, 112.92, 27.810)),
    ]
}

/// The BlockTeamChanged events on the stream once at least `expected` arrived.
pub async fn eventually_events(
    registry: &Registry,
    expected: usize,
) -> Vec<flatgov_proto::blocks::v1::BlockTeamChanged> {
    let bus = registry.test.bus().await;
    flatgov_testkit::events::events_once(&bus, "blocks", PATIENCE, |events| {
        events.len() >= expected
    })
    .await
    .into_iter()
    .map(|(_, event)| event)
    .collect()
}
