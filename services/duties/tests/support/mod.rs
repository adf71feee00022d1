//! What the duty lists tests share: a service under test with an
//! administrator's client, tokens for every kind of caller, the reference
//! district, and what "nothing was written" is checked against.
#![allow(dead_code)] // each test binary uses its own part of it

use std::time::Duration;

use chrono::{DateTime, Utc};
use flatgov_auth::{Jurisdiction, Role, TokenRequest};
use flatgov_grpc::time::timestamp;
use flatgov_messaging::Event;
use flatgov_proto::duties::v1 as proto;
use flatgov_proto::duties::v1::duty_lists_client::DutyListsClient;
use flatgov_proto::flatgov::r#type::v1::{HandlingTier, Unit, UnitKind};
use flatgov_testkit::events::{events_committed, events_once};
use flatgov_testkit::{TestEnv, field_violations, with_token};
use tonic::transport::Channel;

pub const PATIENCE: Duration = Duration::from_secs(20);

pub const DEPARTMENTS: &str = include_str!("../../data/reference/departments.csv");
pub const MATTERS: &str = include_str!("../../data/reference/matters.csv");
pub const LISTS: [(&str, &str); 5] = [
    (
        "lists/subdistrict_duty",
        include_str!("../../data/reference/subdistrict_duty.csv"),
    ),
    (
        "lists/subdistrict_cooperation",
        include_str!("../../data/reference/subdistrict_cooperation.csv"),
    ),
    (
        "lists/residents_self_government",
        include_str!("../../data/reference/residents_self_government.csv"),
    ),
    (
        "lists/residents_assisting",
        include_str!("../../data/reference/residents_assisting.csv"),
    ),
    (
        "lists/residents_negative",
        include_str!("../../data/reference/residents_negative.csv"),
    ),
];

pub const SUBDISTRICT: &str = "430302001";
pub const COMMUNITY: &str = "430302001004";
pub const BLOCK: &str = "430302001004017";

/// One service under test with an administrator's client.
pub struct Service {
    pub test: TestEnv,
    pub application: flatgov_grpc::Application,
    pub client: DutyListsClient<Channel>,
    /// A district-wide administrator's token.
    pub admin: String,
}

impl Service {
    pub async fn start() -> Self {
        let test = TestEnv::new();
        let application = flatgov_duties::build(test.env())
            .await
            .expect("service starts");
        let client = DutyListsClient::connect(application.grpc_url())
            .await
            .expect("connect");
        let admin = test.auth.admin_token();
        Self {
            test,
            application,
            client,
            admin,
        }
    }

    pub fn token(&self, request: TokenRequest) -> String {
        self.test.auth.token_for(request)
    }

    pub fn department_officer(&self, department: &str) -> String {
        self.token(
            TokenRequest::new("officer-1", &[Role::DepartmentOfficer]).organisation(department),
        )
    }

    pub fn dispatcher(&self, subdistrict: &str) -> String {
        self.token(
            TokenRequest::new("dispatcher-1", &[Role::SubdistrictDispatcher]).jurisdiction(
                format!("subdistricts/{subdistrict}")
                    .parse::<Jurisdiction>()
                    .unwrap(),
            ),
        )
    }

    /// A token for `subject` with `roles` and one jurisdiction, e.g.
    /// `subdistricts/430302002`.
    pub fn token_in(&self, subject: &str, roles: &[Role], jurisdiction: &str) -> String {
        self.token(
            TokenRequest::new(subject, roles)
                .jurisdiction(jurisdiction.parse::<Jurisdiction>().unwrap()),
        )
    }

    /// A district administrator whose jurisdiction is one subdistrict.
    pub fn subdistrict_admin(&self, subdistrict: &str) -> String {
        self.token_in(
            &format!("admin-{subdistrict}"),
            &[Role::DistrictAdmin],
            &format!("subdistricts/{subdistrict}"),
        )
    }

    /// An integrator (a read-only outside system) limited to `jurisdiction`.
    pub fn integrator(&self, jurisdiction: &str) -> String {
        self.token_in("integrator-1", &[Role::Integrator], jurisdiction)
    }

    /// A flatgov service calling on its own behalf.
    pub fn service_token(&self, name: &str) -> String {
        self.test.auth.service_token(name)
    }

    /// Loads the reference district the way the demo loader does: the
    /// departments, each list imported and published, then the catalogue.
    pub async fn load_reference(&mut self, effective_from: Option<DateTime<Utc>>) -> Vec<bool> {
        let mut unchanged = Vec::new();
        let response = self
            .client
            .import_departments(with_token(
                proto::ImportDepartmentsRequest {
                    format: proto::DataFormat::Csv as i32,
                    content: DEPARTMENTS.into(),
                },
                &self.admin,
            ))
            .await
            .expect("departments import")
            .into_inner();
        unchanged.push(response.created == 0 && response.updated == 0);
        for (list, csv) in LISTS {
            let response = self
                .client
                .import_list(with_token(
                    proto::ImportListRequest {
                        parent: list.into(),
                        format: proto::DataFormat::Csv as i32,
                        content: csv.into(),
                        publish: true,
                        effective_from: effective_from.map(timestamp),
                    },
                    &self.admin,
                ))
                .await
                .unwrap_or_else(|status| panic!("{list} imports: {status:?}"))
                .into_inner();
            unchanged.push(response.unchanged);
        }
        let response = self
            .client
            .import_catalogue(with_token(
                proto::ImportCatalogueRequest {
                    format: proto::DataFormat::Csv as i32,
                    content: MATTERS.into(),
                },
                &self.admin,
            ))
            .await
            .expect("catalogue import")
            .into_inner();
        unchanged.push(response.unchanged);
        unchanged
    }

    pub async fn check(
        &mut self,
        token: &str,
        matter: &str,
        from: Unit,
        to: Unit,
        at: Option<DateTime<Utc>>,
    ) -> Result<proto::CheckAssignmentResponse, tonic::Status> {
        self.client
            .check_assignment(with_token(
                proto::CheckAssignmentRequest {
                    matter_code: matter.into(),
                    from: Some(from),
                    to: Some(to),
                    at: at.map(timestamp),
                    attempted_by: "staff-42".into(),
                    case: "cases/0193a1b2".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn resolve(
        &mut self,
        matter: &str,
        place: proto::Place,
    ) -> Result<proto::ResolveResponsibilityResponse, tonic::Status> {
        let token = self.test.auth.token("governor-1", &[Role::Governor]);
        self.client
            .resolve_responsibility(with_token(
                proto::ResolveResponsibilityRequest {
                    matter_code: matter.into(),
                    place: Some(place),
                    at: None,
                },
                &token,
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Row counts of every table the rules and records live in, and the
    /// events committed: what "nothing was written" is checked against.
    pub async fn written(&self) -> Vec<(String, i64)> {
        let mut counts = Vec::new();
        for table in [
            "departments",
            "list_versions",
            "list_items",
            "matters",
            "place_exceptions",
            "refusals",
            "assessments",
        ] {
            let count: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
                    .fetch_one(self.application.pool())
                    .await
                    .unwrap();
            counts.push((table.to_owned(), count));
        }
        let revision: i64 = sqlx::query_scalar("select revision from rules_revision")
            .fetch_one(self.application.pool())
            .await
            .unwrap();
        counts.push(("revision".into(), revision));
        let bus = self.test.bus().await;
        let events = events_committed(self.application.pool(), &bus, "duties", PATIENCE).await;
        counts.push(("events".into(), i64::try_from(events).unwrap()));
        counts
    }

    pub async fn events<E: Event>(&self, expected: usize) -> Vec<(flatgov_messaging::Envelope, E)> {
        self.events_until(|events: &[(flatgov_messaging::Envelope, E)]| events.len() >= expected)
            .await
    }

    /// The service's events of type `E` once `done` holds for them.
    pub async fn events_until<E: Event>(
        &self,
        done: impl Fn(&[(flatgov_messaging::Envelope, E)]) -> bool,
    ) -> Vec<(flatgov_messaging::Envelope, E)> {
        let bus = self.test.bus().await;
        events_once(&bus, "duties", PATIENCE, done).await
    }
}

pub fn unit(kind: UnitKind, code: &str) -> Unit {
    Unit {
        kind: kind as i32,
        code: code.into(),
    }
}

/// A request with the token when there is one, anonymous otherwise.
pub fn as_caller<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    match token {
        Some(token) => with_token(message, token),
        None => tonic::Request::new(message),
    }
}

/// A refusal's code and its message with `name` put as `<name>`, so the
/// answer about one resource compares with the answer about another.
pub fn refusal_shape(status: &tonic::Status, name: &str) -> (tonic::Code, String) {
    (status.code(), status.message().replace(name, "<name>"))
}

pub fn at_block(block: &str) -> proto::Place {
    proto::Place {
        subdistrict_code: block[..9].into(),
        block_code: block.into(),
        ..Default::default()
    }
}

/// Every BadRequest field violation as "field: description".
pub fn violations(status: &tonic::Status) -> Vec<String> {
    field_violations(status)
        .into_iter()
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect()
}

/// Adds SC-07-03 (shared bikes) to the cooperation list's draft and the
/// matter `shared_bike_clutter` mapped to it.
pub async fn draft_shared_bikes(service: &mut Service) {
    service
        .client
        .put_draft_item(with_token(
            proto::PutDraftItemRequest {
                parent: "lists/subdistrict_cooperation".into(),
                item: Some(proto::ListItem {
                    code: "SC-07-03".into(),
                    category: "交通与市政".into(),
                    display_name: "共享单车乱停放治理".into(),
                    display_name_en: "Clearing badly parked shared bicycles".into(),
                    legal_basis: "《关于鼓励和规范互联网租赁自行车发展的指导意见》".into(),
                    handling_level: proto::HandlingLevel::Department as i32,
                    lead_department: "transport".into(),
                    cooperating_departments: vec!["urban_management".into()],
                    default_tier: HandlingTier::CoordinationMeeting as i32,
                    response_limit: "4h".into(),
                    resolution_limit: "3d".into(),
                    ..Default::default()
                }),
            },
            &service.admin,
        ))
        .await
        .expect("draft item");
    service
        .client
        .put_matter(with_token(
            proto::PutMatterRequest {
                matter: Some(proto::Matter {
                    code: "shared_bike_clutter".into(),
                    display_name: "共享单车乱停放".into(),
                    list_item_code: "SC-07-03".into(),
                    ..Default::default()
                }),
            },
            &service.admin,
        ))
        .await
        .expect("matter mapped to the drafted item");
}
