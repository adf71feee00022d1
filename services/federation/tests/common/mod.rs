#![allow(dead_code)]

//! What the federation's test suites share: a service on a fresh database
//! and NATS prefix, tokens for its callers, and the requests they make.

use std::time::Duration;

use chrono::Utc;
use flatgov_auth::{Role, TokenRequest};
use flatgov_messaging::Envelope;
use flatgov_proto::cases::v1::{CaseKind, CaseReferred};
use flatgov_proto::federation::v1 as proto;
use flatgov_proto::federation::v1::federation_client::FederationClient;
use flatgov_testkit::events::{committed_envelopes, publish_as, read_stream};
use flatgov_testkit::{TestEnv, eventually, with_token};
use prost_types::Timestamp;
use tonic::transport::Channel;
use tonic::{Code, Status};

pub const PATIENCE: Duration = Duration::from_secs(20);

/// One federation service on a fresh database and NATS prefix.
pub struct Federation {
    pub test: TestEnv,
    pub application: flatgov_grpc::Application,
    pub client: FederationClient<Channel>,
}

impl Federation {
    pub async fn start() -> Self {
        let test = TestEnv::new();
        let application = flatgov_federation::build(test.env())
            .await
            .expect("federation starts");
        let client = FederationClient::connect(application.grpc_url())
            .await
            .expect("connect");
        Self {
            test,
            application,
            client,
        }
    }

    pub fn client(&self) -> FederationClient<Channel> {
        self.client.clone()
    }

    pub fn admin(&self) -> String {
        self.test.auth.admin_token()
    }

    /// A token of federation staff member `subject` of `organisation`.
    pub fn staff(&self, organisation: &str, subject: &str) -> String {
        self.test.auth.token_for(
            TokenRequest::new(subject, &[Role::FederationStaff]).organisation(organisation),
        )
    }

    /// Puts `subject` on `organisation`'s staff list with `permissions` and
    /// returns their token.
    pub async fn staff_with(
        &self,
        organisation: &str,
        subject: &str,
        permissions: &[proto::StaffPermission],
    ) -> String {
        self.client()
            .create_staff(with_token(
                proto::CreateStaffRequest {
                    parent: format!("organisations/{organisation}"),
                    staff_id: subject.into(),
                    display_name: format!("staff {subject}"),
                    position: "干事".into(),
                    permissions: permissions
                        .iter()
                        .map(|permission| *permission as i32)
                        .collect(),
                },
                &self.admin(),
            ))
            .await
            .expect("staff member added");
        self.staff(organisation, subject)
    }

    pub fn resident(&self, subject: &str) -> String {
        self.test.auth.token(subject, &[Role::Resident])
    }

    pub async fn events(&self, expected: usize) -> Vec<Envelope> {
        let bus = self.test.bus().await;
        read_stream(&bus, "federation", expected, PATIENCE).await
    }

    /// Every event committed so far, once the relay has published them all.
    pub async fn committed_events(&self) -> Vec<Envelope> {
        let bus = self.test.bus().await;
        committed_envelopes(self.application.pool(), &bus, "federation", PATIENCE).await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(self.application.pool())
            .await
            .expect("count")
    }
}

pub fn timestamp(time: chrono::DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: time.timestamp(),
        nanos: 0,
    })
}

pub fn assert_code(
    result: Result<impl std::fmt::Debug, Status>,
    code: Code,
    mentions: &str,
) -> Status {
    let status = result.expect_err("the call is refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(mentions),
        "`{}` should mention `{mentions}`",
        status.message()
    );
    status
}

/// A valid resident ID number: 17 digits completed with their check character.
pub fn id_number(first_seventeen: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = first_seventeen
        .chars()
        .zip(WEIGHTS)
        .map(|(digit, weight)| digit.to_digit(10).unwrap() * weight)
        .sum();
    format!("{first_seventeen}{}", CHECK[(sum % 11) as usize])
}

pub fn person_request(full_name: &str, number: &str) -> proto::RegisterPersonRequest {
    proto::RegisterPersonRequest {
        request_id: String::new(),
        full_name: full_name.into(),
        id_number: number.into(),
        phone: "13812345678".into(),
        address: "雨湖路街道某小区3栋2单元".into(),
        block_code: "430302001004017".into(),
        categories: vec![proto::DifficultyCategory::SubsistenceAllowance as i32],
        circumstances: "独居，行动不便".into(),
        consent: Some(proto::Consent {
            method: proto::ConsentMethod::Written as i32,
            give_time: None,
            document_reference: "WF-2026-0042".into(),
            guardian_name: String::new(),
        }),
    }
}

pub fn measure(
    organisation: &str,
    kind: proto::MeasureKind,
    description: &str,
) -> proto::MeasureInput {
    proto::MeasureInput {
        organisation: organisation.into(),
        kind: kind as i32,
        description: description.into(),
        due_time: None,
    }
}

/// A published activity starting a minute ago, so check-in is open.
pub async fn published_activity(
    federation: &Federation,
    token: &str,
    capacity: u32,
) -> proto::Activity {
    let now = Utc::now();
    let draft = federation
        .client()
        .create_activity(with_token(
            proto::CreateActivityRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                title: "青年夜校·摄影入门".into(),
                description: "零基础摄影课".into(),
                series: "series/youth_night_school".into(),
                co_organisers: vec!["literary_art_federation".into()],
                place: Some(proto::Place {
                    block_code: "430302001004017".into(),
                    venue: "党群服务中心二楼".into(),
                }),
                start_time: timestamp(now - chrono::Duration::minutes(1)),
                end_time: timestamp(now + chrono::Duration::hours(2)),
                capacity,
                audiences: vec![proto::Audience::Youth as i32],
            },
            token,
        ))
        .await
        .expect("activity drafted")
        .into_inner();
    assert_eq!(draft.state, proto::ActivityState::Draft as i32);
    federation
        .client()
        .publish_activity(with_token(
            proto::PublishActivityRequest { name: draft.name },
            token,
        ))
        .await
        .expect("activity published")
        .into_inner()
}

pub async fn register(
    federation: &Federation,
    token: &str,
    activity: &str,
    participant: &str,
) -> Result<proto::Registration, Status> {
    federation
        .client()
        .register_for_activity(with_token(
            proto::RegisterForActivityRequest {
                activity: activity.into(),
                request_id: String::new(),
                participant: participant.into(),
                participant_display_name: String::new(),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

pub async fn published_activity_attempt(
    federation: &Federation,
    token: &str,
) -> Result<proto::Activity, Status> {
    let now = Utc::now();
    federation
        .client()
        .create_activity(with_token(
            proto::CreateActivityRequest {
                title: "活动".into(),
                place: Some(proto::Place {
                    block_code: String::new(),
                    venue: "礼堂".into(),
                }),
                start_time: timestamp(now),
                end_time: timestamp(now + chrono::Duration::hours(1)),
                capacity: 10,
                audiences: vec![proto::Audience::AllResidents as i32],
                ..Default::default()
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// Publishes a `CaseReferred` as the cases service does: CloudEvents
/// headers, protobuf payload, on the cases stream.
pub async fn publish_case_referred(
    federation: &Federation,
    event_id: &str,
    case: &str,
    minutes_ago: i64,
) {
    let bus = federation.test.bus().await;
    let event = CaseReferred {
        case: case.into(),
        kind: CaseKind::NeedySupport as i32,
        matter_code: "M-NEEDY-SUPPORT".into(),
        block_code: "430302001004017".into(),
        subdistrict_code: "430302001".into(),
        referred_at: timestamp(Utc::now() - chrono::Duration::minutes(minutes_ago)),
        ..Default::default()
    };
    publish_as(&bus, "cases", event_id, case, &event).await;
}

pub async fn referral_for(federation: &Federation, case: &str) -> proto::Referral {
    let token = federation.staff("womens_federation", "wf-reader");
    eventually("the referral to arrive", PATIENCE, || {
        let mut client = federation.client();
        let request = with_token(
            proto::ListReferralsRequest {
                case: case.into(),
                ..Default::default()
            },
            &token,
        );
        async move {
            client
                .list_referrals(request)
                .await
                .ok()?
                .into_inner()
                .referrals
                .into_iter()
                .next()
        }
    })
    .await
}

impl Federation {
    /// A token of an integrator whose jurisdiction is `division`
    /// (`districts/430302`, `subdistricts/430302001`, …).
    pub fn integrator(&self, subject: &str, division: &str) -> String {
        self.test.auth.token_for(
            TokenRequest::new(subject, &[Role::Integrator])
                .jurisdiction(division.parse().expect("a division name")),
        )
    }

    /// Registers a person as `token`'s organisation.
    pub async fn register_person(
        &self,
        token: &str,
        full_name: &str,
        number: &str,
    ) -> proto::Person {
        self.client()
            .register_person(with_token(person_request(full_name, number), token))
            .await
            .expect("person registered")
            .into_inner()
    }

    /// Asks, as `token`'s organisation, for the record of the person with
    /// `number` to be shared with it.
    pub async fn ask_to_share(
        &self,
        token: &str,
        number: &str,
    ) -> Result<proto::SharingRequest, Status> {
        self.client()
            .create_sharing_request(with_token(
                proto::CreateSharingRequestRequest {
                    request_id: String::new(),
                    id_number: number.into(),
                    consent: Some(written_consent("DPF-2026-0007")),
                    reason: "残联为其申请辅具，需要同一份档案".into(),
                },
                token,
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Approves a sharing request as `token`'s organisation.
    pub async fn approve_sharing(
        &self,
        token: &str,
        name: &str,
    ) -> Result<proto::SharingRequest, Status> {
        self.client()
            .approve_sharing_request(with_token(
                proto::ApproveSharingRequestRequest { name: name.into() },
                token,
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// A support plan for `person`, led by `token`'s organisation.
    pub async fn plan(
        &self,
        token: &str,
        person: &str,
        measures: Vec<proto::MeasureInput>,
    ) -> proto::SupportPlan {
        self.client()
            .create_support_plan(with_token(
                proto::CreateSupportPlanRequest {
                    request_id: String::new(),
                    plan: Some(proto::SupportPlanInput {
                        person: person.into(),
                        goal: "稳定生活".into(),
                        measures,
                        ..Default::default()
                    }),
                    referral: String::new(),
                },
                token,
            ))
            .await
            .expect("support plan created")
            .into_inner()
    }
}

/// Consent on a signed form with `reference`.
pub fn written_consent(reference: &str) -> proto::Consent {
    proto::Consent {
        method: proto::ConsentMethod::Written as i32,
        give_time: None,
        document_reference: reference.into(),
        guardian_name: String::new(),
    }
}

/// The refusal of `result`, asserted to be `code` (with no demand on its
/// words): for checks that a refusal reveals nothing.
pub fn refusal(result: Result<impl std::fmt::Debug, Status>, code: Code) -> Status {
    let status = result.expect_err("the call is refused");
    assert_eq!(status.code(), code, "{status:?}");
    status
}
