//! Transport: the generated `Federation` trait, delegating each RPC to its
//! mechanism's module, and the proto ⇄ domain conversions they share.

mod activities;
mod indicators;
mod innovation;
mod organisations;
mod proposals;
mod referrals;
mod rights;
mod sharing;
mod support;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::paging::{ListQuery, PageRequest, PageSize};
use flatgov_grpc::request_id::RequestId;
use flatgov_proto::federation::v1 as proto;
use flatgov_proto::federation::v1::federation_server::Federation;
use prost_types::Timestamp;
use sqlx::{PgConnection, PgPool};

use crate::domain::Invalid;
use crate::domain::identity::IdentityHasher;
use crate::domain::kinds;
use crate::error::{Error, Result};
use crate::policy::POLICY;

/// The federation's gRPC service.
#[derive(Clone)]
pub struct FederationService {
    /// The service's own database.
    pool: PgPool,
    /// Turns ID numbers into identity keys for the register of people.
    identity: Arc<IdentityHasher>,
}

impl FederationService {
    pub fn new(pool: PgPool, identity: Arc<IdentityHasher>) -> Self {
        Self { pool, identity }
    }

    async fn begin(
        &self,
        context: &'static str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(Error::database(context))
    }

    async fn connection(
        &self,
        context: &'static str,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        self.pool.acquire().await.map_err(Error::database(context))
    }
}

flatgov_grpc::dispatch! {
    impl Federation for FederationService {
        fn get_organisation(proto::GetOrganisationRequest) -> proto::Organisation => organisations::get_organisation;
        fn list_organisations(proto::ListOrganisationsRequest) -> proto::ListOrganisationsResponse => organisations::list_organisations;
        fn create_organisation(proto::CreateOrganisationRequest) -> proto::Organisation => organisations::create_organisation;
        fn update_organisation(proto::UpdateOrganisationRequest) -> proto::Organisation => organisations::update_organisation;
        fn create_staff(proto::CreateStaffRequest) -> proto::Staff => organisations::create_staff;
        fn update_staff(proto::UpdateStaffRequest) -> proto::Staff => organisations::update_staff;
        fn get_staff(proto::GetStaffRequest) -> proto::Staff => organisations::get_staff;
        fn list_staff(proto::ListStaffRequest) -> proto::ListStaffResponse => organisations::list_staff;
        fn create_series(proto::CreateSeriesRequest) -> proto::Series => activities::create_series;
        fn get_series(proto::GetSeriesRequest) -> proto::Series => activities::get_series;
        fn list_series(proto::ListSeriesRequest) -> proto::ListSeriesResponse => activities::list_series;
        fn create_activity(proto::CreateActivityRequest) -> proto::Activity => activities::create_activity;
        fn publish_activity(proto::PublishActivityRequest) -> proto::Activity => activities::publish_activity;
        fn cancel_activity(proto::CancelActivityRequest) -> proto::Activity => activities::cancel_activity;
        fn complete_activity(proto::CompleteActivityRequest) -> proto::Activity => activities::complete_activity;
        fn get_activity(proto::GetActivityRequest) -> proto::Activity => activities::get_activity;
        fn list_activities(proto::ListActivitiesRequest) -> proto::ListActivitiesResponse => activities::list_activities;
        fn register_for_activity(proto::RegisterForActivityRequest) -> proto::Registration => activities::register_for_activity;
        fn cancel_registration(proto::CancelRegistrationRequest) -> proto::Registration => activities::cancel_registration;
        fn check_in(proto::CheckInRequest) -> proto::Registration => activities::check_in;
        fn get_registration(proto::GetRegistrationRequest) -> proto::Registration => activities::get_registration;
        fn list_registrations(proto::ListRegistrationsRequest) -> proto::ListRegistrationsResponse => activities::list_registrations;
        fn register_person(proto::RegisterPersonRequest) -> proto::Person => support::register_person;
        fn update_person(proto::UpdatePersonRequest) -> proto::Person => support::update_person;
        fn get_person(proto::GetPersonRequest) -> proto::Person => support::get_person;
        fn list_people(proto::ListPeopleRequest) -> proto::ListPeopleResponse => support::list_people;
        fn create_sharing_request(proto::CreateSharingRequestRequest) -> proto::SharingRequest => sharing::create_sharing_request;
        fn get_sharing_request(proto::GetSharingRequestRequest) -> proto::SharingRequest => sharing::get_sharing_request;
        fn list_sharing_requests(proto::ListSharingRequestsRequest) -> proto::ListSharingRequestsResponse => sharing::list_sharing_requests;
        fn approve_sharing_request(proto::ApproveSharingRequestRequest) -> proto::SharingRequest => sharing::approve_sharing_request;
        fn decline_sharing_request(proto::DeclineSharingRequestRequest) -> proto::SharingRequest => sharing::decline_sharing_request;
        fn create_assessment(proto::CreateAssessmentRequest) -> proto::Assessment => support::create_assessment;
        fn get_assessment(proto::GetAssessmentRequest) -> proto::Assessment => support::get_assessment;
        fn list_assessments(proto::ListAssessmentsRequest) -> proto::ListAssessmentsResponse => support::list_assessments;
        fn create_support_plan(proto::CreateSupportPlanRequest) -> proto::SupportPlan => support::create_support_plan;
        fn add_support_measure(proto::AddSupportMeasureRequest) -> proto::SupportMeasure => support::add_support_measure;
        fn record_delivery(proto::RecordDeliveryRequest) -> proto::SupportMeasure => support::record_delivery;
        fn log_visit(proto::LogVisitRequest) -> proto::Visit => support::log_visit;
        fn list_visits(proto::ListVisitsRequest) -> proto::ListVisitsResponse => support::list_visits;
        fn close_support_plan(proto::CloseSupportPlanRequest) -> proto::SupportPlan => support::close_support_plan;
        fn get_support_plan(proto::GetSupportPlanRequest) -> proto::SupportPlan => support::get_support_plan;
        fn list_support_plans(proto::ListSupportPlansRequest) -> proto::ListSupportPlansResponse => support::list_support_plans;
        fn get_referral(proto::GetReferralRequest) -> proto::Referral => referrals::get_referral;
        fn list_referrals(proto::ListReferralsRequest) -> proto::ListReferralsResponse => referrals::list_referrals;
        fn accept_referral(proto::AcceptReferralRequest) -> proto::Referral => referrals::accept_referral;
        fn decline_referral(proto::DeclineReferralRequest) -> proto::Referral => referrals::decline_referral;
        fn submit_rights_request(proto::SubmitRightsRequestRequest) -> proto::RightsRequest => rights::submit_rights_request;
        fn record_rights_action(proto::RecordRightsActionRequest) -> proto::RightsRequest => rights::record_rights_action;
        fn transfer_rights_request(proto::TransferRightsRequestRequest) -> proto::RightsRequest => rights::transfer_rights_request;
        fn link_rights_request_case(proto::LinkRightsRequestCaseRequest) -> proto::RightsRequest => rights::link_rights_request_case;
        fn resolve_rights_request(proto::ResolveRightsRequestRequest) -> proto::RightsRequest => rights::resolve_rights_request;
        fn get_rights_request(proto::GetRightsRequestRequest) -> proto::RightsRequest => rights::get_rights_request;
        fn list_rights_requests(proto::ListRightsRequestsRequest) -> proto::ListRightsRequestsResponse => rights::list_rights_requests;
        fn create_programme(proto::CreateProgrammeRequest) -> proto::Programme => innovation::create_programme;
        fn close_programme(proto::CloseProgrammeRequest) -> proto::Programme => innovation::close_programme;
        fn get_programme(proto::GetProgrammeRequest) -> proto::Programme => innovation::get_programme;
        fn list_programmes(proto::ListProgrammesRequest) -> proto::ListProgrammesResponse => innovation::list_programmes;
        fn create_mentor(proto::CreateMentorRequest) -> proto::Mentor => innovation::create_mentor;
        fn get_mentor(proto::GetMentorRequest) -> proto::Mentor => innovation::get_mentor;
        fn list_mentors(proto::ListMentorsRequest) -> proto::ListMentorsResponse => innovation::list_mentors;
        fn submit_application(proto::SubmitApplicationRequest) -> proto::Application => innovation::submit_application;
        fn decide_application(proto::DecideApplicationRequest) -> proto::Application => innovation::decide_application;
        fn assign_mentor(proto::AssignMentorRequest) -> proto::Application => innovation::assign_mentor;
        fn record_progress(proto::RecordProgressRequest) -> proto::Application => innovation::record_progress;
        fn get_application(proto::GetApplicationRequest) -> proto::Application => innovation::get_application;
        fn list_applications(proto::ListApplicationsRequest) -> proto::ListApplicationsResponse => innovation::list_applications;
        fn create_proposal(proto::CreateProposalRequest) -> proto::Proposal => proposals::create_proposal;
        fn co_sign_proposal(proto::CoSignProposalRequest) -> proto::Proposal => proposals::co_sign_proposal;
        fn submit_proposal(proto::SubmitProposalRequest) -> proto::Proposal => proposals::submit_proposal;
        fn record_proposal_response(proto::RecordProposalResponseRequest) -> proto::Proposal => proposals::record_proposal_response;
        fn get_proposal(proto::GetProposalRequest) -> proto::Proposal => proposals::get_proposal;
        fn list_proposals(proto::ListProposalsRequest) -> proto::ListProposalsResponse => proposals::list_proposals;
        fn get_indicators(proto::GetIndicatorsRequest) -> proto::GetIndicatorsResponse => indicators::get_indicators;
    }
}

/// A create call's request id and what its request said: a retry by the
/// same caller with the same content answers with the first result.
pub(crate) struct Retry {
    /// The caller's idempotency key.
    request_id: RequestId,
    /// The request as the caller sent it, reduced to a number.
    fingerprint: Fingerprint,
}

impl Retry {
    /// `None` when the request carries no request id.
    pub fn of(request_id: Option<RequestId>, fingerprint: Fingerprint) -> Option<Self> {
        request_id.map(|request_id| Self {
            request_id,
            fingerprint,
        })
    }
}

/// The resource an earlier call of this caller made under the same request
/// id, which the handler reads again through the caller's current access.
/// INVALID_ARGUMENT naming `request_id` when that call said something else.
pub(crate) async fn recall(
    service: &FederationService,
    access: &Access,
    retry: Option<&Retry>,
) -> Result<Option<String>> {
    let Some(retry) = retry else {
        return Ok(None);
    };
    let mut connection = service.connection("reading a retried request").await?;
    Ok(idempotency::recall(
        &mut connection,
        access,
        &retry.request_id,
        retry.fingerprint,
    )
    .await?)
}

/// Remembers, in the transaction that creates `resource`, that this
/// caller's request id made it. [`Error::ConcurrentRetry`] when a call with
/// the same id committed first: the handler then answers with its result.
async fn remember(
    connection: &mut PgConnection,
    access: &Access,
    retry: Option<&Retry>,
    resource: &str,
) -> Result<()> {
    let Some(retry) = retry else {
        return Ok(());
    };
    idempotency::remember(
        connection,
        access,
        &retry.request_id,
        retry.fingerprint,
        resource,
    )
    .await
    .map_err(|error| {
        if flatgov_grpc::error::is_unique_violation(&error) {
            Error::ConcurrentRetry
        } else {
            Error::Database {
                context: "remembering a request id",
                source: error,
            }
        }
    })
}

/// Claims the request id for `resource` in the transaction that creates
/// it. When a call with the same id committed first, the transaction is
/// spent and the answer is the name of what that call made, for the
/// handler to read again and return.
pub(crate) async fn claim(
    service: &FederationService,
    transaction: &mut PgConnection,
    access: &Access,
    retry: Option<&Retry>,
    resource: &str,
) -> Result<Option<String>> {
    match remember(transaction, access, retry, resource).await {
        Ok(()) => Ok(None),
        Err(Error::ConcurrentRetry) => recall(service, access, retry)
            .await?
            .map(Some)
            .ok_or(Error::ConcurrentRetry),
        Err(other) => Err(other),
    }
}

/// Writes the call's audit record inside `transaction` (with the resources
/// the handler noted), then commits, so the record and the change stand or
/// fall together.
pub(crate) async fn commit(
    mut transaction: sqlx::Transaction<'static, sqlx::Postgres>,
    access: &Access,
    context: &'static str,
) -> Result<()> {
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .map_err(Error::database("recording the audit trail"))?;
    transaction.commit().await.map_err(Error::database(context))
}

/// Collects every field violation of a request before anything is written,
/// so one reply names everything wrong. Values of failed checks are
/// placeholders that [`Checks::finish`] keeps from ever being used.
#[derive(Debug, Default)]
pub(crate) struct Checks {
    violations: Violations,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    /// The value, or a placeholder and a violation of `field`.
    pub fn check<T: Default, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: std::result::Result<T, E>,
    ) -> T {
        self.violations.check(field, result).unwrap_or_default()
    }

    /// The paging fields of a list request, checked with its other fields;
    /// the token must have come from `query`.
    pub fn page(&mut self, query: &ListQuery, page_size: i32, page_token: &str) -> PageRequest {
        PageRequest {
            size: self.check("page_size", PageSize::parse(page_size)),
            after: self.check("page_token", query.key_in(page_token)),
        }
    }

    /// The key `page` resumes after, as the list's key type (a UUID); a
    /// key of another type was forged.
    pub fn page_after<K: std::str::FromStr>(&mut self, page: &PageRequest) -> Option<K> {
        self.check(
            "page_token",
            flatgov_grpc::paging::parse_key(page.after.as_deref()),
        )
    }

    /// True while nothing has failed.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn fail(&mut self, field: impl Into<String>, description: impl std::fmt::Display) {
        self.violations.add(field, description);
    }

    /// INVALID_ARGUMENT now if anything failed so far; otherwise the checks
    /// go on (e.g. against the database) and finish later.
    pub fn stop_if_failed(&mut self) -> Result<()> {
        std::mem::take(&mut self.violations)
            .finish()
            .map_err(Error::InvalidArgument)
    }

    /// INVALID_ARGUMENT naming every violation, if there is one.
    pub fn finish(self) -> Result<()> {
        self.violations.finish().map_err(Error::InvalidArgument)
    }
}

/// A domain word set with a proto enum of the same members
/// (`MEASURE_KIND_MATERIAL_AID` ⇄ `material_aid`).
pub(crate) trait ProtoWord: Sized + Copy {
    const WHAT: &'static str;
    fn from_proto(value: i32) -> Option<Self>;
    fn to_proto(self) -> i32;
    fn proto_names() -> Vec<String>;
}

macro_rules! proto_word {
    ($($domain:ident => $proto:ident, $prefix:literal;)+) => {
        $(
            impl ProtoWord for kinds::$domain {
                const WHAT: &'static str = kinds::$domain::WHAT;

                fn from_proto(value: i32) -> Option<Self> {
                    let member = proto::$proto::try_from(value).ok()?;
                    let word = member.as_str_name().strip_prefix($prefix)?.to_ascii_lowercase();
                    kinds::$domain::parse(&word)
                }

                fn to_proto(self) -> i32 {
                    let name = format!("{}{}", $prefix, self.as_str().to_ascii_uppercase());
                    proto::$proto::from_str_name(&name).map_or(0, |member| member as i32)
                }

                fn proto_names() -> Vec<String> {
                    kinds::$domain::ALL
                        .iter()
                        .map(|member| format!("{}{}", $prefix, member.as_str().to_ascii_uppercase()))
                        .collect()
                }
            }
        )+

        #[cfg(test)]
        mod proto_word_tests {
            use super::*;

            #[test]
            fn every_domain_word_has_its_proto_member_and_back() {
                $(
                    for member in kinds::$domain::ALL {
                        let value = member.to_proto();
                        assert_ne!(value, 0, "{} has no proto member", member);
                        assert_eq!(kinds::$domain::from_proto(value), Some(*member));
                    }
                    assert_eq!(kinds::$domain::from_proto(0), None);
                )+
            }
        }
    };
}

proto_word! {
    StaffPermission => StaffPermission, "STAFF_PERMISSION_";
    Audience => Audience, "AUDIENCE_";
    ActivityState => ActivityState, "ACTIVITY_STATE_";
    RegistrationStatus => RegistrationStatus, "REGISTRATION_STATUS_";
    DifficultyCategory => DifficultyCategory, "DIFFICULTY_CATEGORY_";
    ConsentMethod => ConsentMethod, "CONSENT_METHOD_";
    Gender => Gender, "GENDER_";
    NeedArea => NeedArea, "NEED_AREA_";
    Severity => Severity, "SEVERITY_";
    MeasureKind => MeasureKind, "MEASURE_KIND_";
    MeasureState => MeasureState, "MEASURE_STATE_";
    SupportPlanState => SupportPlanState, "SUPPORT_PLAN_STATE_";
    VisitKind => VisitKind, "VISIT_KIND_";
    ReferralState => ReferralState, "REFERRAL_STATE_";
    SharingRequestState => SharingRequestState, "SHARING_REQUEST_STATE_";
    RightsCategory => RightsCategory, "RIGHTS_CATEGORY_";
    RightsChannel => RightsChannel, "RIGHTS_CHANNEL_";
    RightsRequestState => RightsRequestState, "RIGHTS_REQUEST_STATE_";
    RightsOutcome => RightsOutcome, "RIGHTS_OUTCOME_";
    RightsActionKind => RightsActionKind, "RIGHTS_ACTION_KIND_";
    ProgrammeKind => ProgrammeKind, "PROGRAMME_KIND_";
    ProgrammeState => ProgrammeState, "PROGRAMME_STATE_";
    ApplicationState => ApplicationState, "APPLICATION_STATE_";
    Addressee => Addressee, "ADDRESSEE_";
    ProposalState => ProposalState, "PROPOSAL_STATE_";
    ResponseKind => ResponseKind, "RESPONSE_KIND_";
}

/// A member that must be set.
pub(crate) fn required_word<E: ProtoWord>(value: i32) -> std::result::Result<Option<E>, Invalid> {
    match E::from_proto(value) {
        Some(member) => Ok(Some(member)),
        None => Err(Invalid::new(format!(
            "{} must be one of {}",
            E::WHAT,
            E::proto_names().join(", ")
        ))),
    }
}

/// A member, or `None` for the unspecified value (a filter not set).
pub(crate) fn optional_word<E: ProtoWord>(value: i32) -> std::result::Result<Option<E>, Invalid> {
    if value == 0 {
        return Ok(None);
    }
    required_word(value)
}

/// At least one member, duplicates dropped, order kept.
pub(crate) fn word_list<E: ProtoWord + PartialEq>(
    values: &[i32],
) -> std::result::Result<Vec<E>, Invalid> {
    if values.is_empty() {
        return Err(Invalid::new(format!(
            "needs at least one {}: {}",
            E::WHAT,
            E::proto_names().join(", ")
        )));
    }
    let mut members: Vec<E> = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let member = E::from_proto(*value).ok_or_else(|| {
            Invalid::new(format!(
                "[{index}] is not a {}: use one of {}",
                E::WHAT,
                E::proto_names().join(", ")
            ))
        })?;
        if !members.contains(&member) {
            members.push(member);
        }
    }
    Ok(members)
}

/// A set timestamp within the years the platform can mean (1900–9999).
pub(crate) fn required_time(
    value: Option<&Timestamp>,
) -> std::result::Result<DateTime<Utc>, Invalid> {
    match value {
        None => Err(Invalid::new("must be set")),
        Some(value) => parse_time(value),
    }
}

pub(crate) fn optional_time(
    value: Option<&Timestamp>,
) -> std::result::Result<Option<DateTime<Utc>>, Invalid> {
    value.map(parse_time).transpose()
}

fn parse_time(value: &Timestamp) -> std::result::Result<DateTime<Utc>, Invalid> {
    let time =
        flatgov_grpc::time::instant(value).map_err(|error| Invalid::new(error.to_string()))?;
    let earliest = DateTime::<Utc>::from_timestamp(-2_208_988_800, 0).unwrap_or(time);
    if time < earliest {
        return Err(Invalid::new("lies before 1900"));
    }
    Ok(time)
}

/// When something happened: unset means now; the future is refused (with
/// five minutes' grace for clocks that run ahead).
pub(crate) fn past_time(
    value: Option<&Timestamp>,
    now: DateTime<Utc>,
) -> std::result::Result<DateTime<Utc>, Invalid> {
    let time = optional_time(value)?.unwrap_or(now);
    if time > now + chrono::Duration::minutes(5) {
        return Err(Invalid::new("lies in the future"));
    }
    Ok(time)
}

/// Reads stored words back.
pub(crate) fn stored_words<E>(
    stored: &[String],
    parse: impl Fn(&str) -> std::result::Result<E, kinds::UnknownWord>,
) -> Result<Vec<E>> {
    stored
        .iter()
        .map(|word| parse(word).map_err(Error::from))
        .collect()
}
