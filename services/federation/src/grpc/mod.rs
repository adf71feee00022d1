//! Transport: the generated `Federation` trait, delegating each RPC to its
//! mechanism's module, and the proto ⇄ domain conversions they share.

mod activities;
mod indicators;
mod innovation;
mod organisations;
mod proposals;
mod referrals;
mod rights;
mod support;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flatgov_auth::Caller;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::{ListQuery, PageRequest, PageSize};
use flatgov_proto::federation::v1 as proto;
use flatgov_proto::federation::v1::federation_server::Federation;
use prost_types::Timestamp;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::domain::Invalid;
use crate::domain::identity::IdentityHasher;
use crate::domain::kinds;
use crate::error::{Error, Result};

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

/// The verified caller and the message of a request.
fn split<T>(request: Request<T>) -> Result<(Caller, T)> {
    let caller = flatgov_auth::caller(&request)?.clone();
    Ok((caller, request.into_inner()))
}

macro_rules! delegate {
    ($($module:ident :: $method:ident ($request:ident) -> $response:ident;)+) => {
        #[tonic::async_trait]
        impl Federation for FederationService {
            $(
                async fn $method(
                    &self,
                    request: Request<proto::$request>,
                ) -> std::result::Result<Response<proto::$response>, Status> {
                    $module::$method(self, request)
                        .await
                        .map(Response::new)
                        .map_err(Status::from)
                }
            )+
        }
    };
}

delegate! {
    organisations::get_organisation(GetOrganisationRequest) -> Organisation;
    organisations::list_organisations(ListOrganisationsRequest) -> ListOrganisationsResponse;
    organisations::create_organisation(CreateOrganisationRequest) -> Organisation;
    organisations::update_organisation(UpdateOrganisationRequest) -> Organisation;
    organisations::create_staff(CreateStaffRequest) -> Staff;
    organisations::update_staff(UpdateStaffRequest) -> Staff;
    organisations::get_staff(GetStaffRequest) -> Staff;
    organisations::list_staff(ListStaffRequest) -> ListStaffResponse;
    activities::create_series(CreateSeriesRequest) -> Series;
    activities::get_series(GetSeriesRequest) -> Series;
    activities::list_series(ListSeriesRequest) -> ListSeriesResponse;
    activities::create_activity(CreateActivityRequest) -> Activity;
    activities::publish_activity(PublishActivityRequest) -> Activity;
    activities::cancel_activity(CancelActivityRequest) -> Activity;
    activities::complete_activity(CompleteActivityRequest) -> Activity;
    activities::get_activity(GetActivityRequest) -> Activity;
    activities::list_activities(ListActivitiesRequest) -> ListActivitiesResponse;
    activities::register_for_activity(RegisterForActivityRequest) -> Registration;
    activities::cancel_registration(CancelRegistrationRequest) -> Registration;
    activities::check_in(CheckInRequest) -> Registration;
    activities::get_registration(GetRegistrationRequest) -> Registration;
    activities::list_registrations(ListRegistrationsRequest) -> ListRegistrationsResponse;
    support::register_person(RegisterPersonRequest) -> Person;
    support::update_person(UpdatePersonRequest) -> Person;
    support::get_person(GetPersonRequest) -> Person;
    support::list_people(ListPeopleRequest) -> ListPeopleResponse;
    support::create_assessment(CreateAssessmentRequest) -> Assessment;
    support::get_assessment(GetAssessmentRequest) -> Assessment;
    support::list_assessments(ListAssessmentsRequest) -> ListAssessmentsResponse;
    support::create_support_plan(CreateSupportPlanRequest) -> SupportPlan;
    support::add_support_measure(AddSupportMeasureRequest) -> SupportMeasure;
    support::record_delivery(RecordDeliveryRequest) -> SupportMeasure;
    support::log_visit(LogVisitRequest) -> Visit;
    support::list_visits(ListVisitsRequest) -> ListVisitsResponse;
    support::close_support_plan(CloseSupportPlanRequest) -> SupportPlan;
    support::get_support_plan(GetSupportPlanRequest) -> SupportPlan;
    support::list_support_plans(ListSupportPlansRequest) -> ListSupportPlansResponse;
    referrals::get_referral(GetReferralRequest) -> Referral;
    referrals::list_referrals(ListReferralsRequest) -> ListReferralsResponse;
    referrals::accept_referral(AcceptReferralRequest) -> Referral;
    referrals::decline_referral(DeclineReferralRequest) -> Referral;
    rights::submit_rights_request(SubmitRightsRequestRequest) -> RightsRequest;
    rights::record_rights_action(RecordRightsActionRequest) -> RightsRequest;
    rights::transfer_rights_request(TransferRightsRequestRequest) -> RightsRequest;
    rights::link_rights_request_case(LinkRightsRequestCaseRequest) -> RightsRequest;
    rights::resolve_rights_request(ResolveRightsRequestRequest) -> RightsRequest;
    rights::get_rights_request(GetRightsRequestRequest) -> RightsRequest;
    rights::list_rights_requests(ListRightsRequestsRequest) -> ListRightsRequestsResponse;
    innovation::create_programme(CreateProgrammeRequest) -> Programme;
    innovation::close_programme(CloseProgrammeRequest) -> Programme;
    innovation::get_programme(GetProgrammeRequest) -> Programme;
    innovation::list_programmes(ListProgrammesRequest) -> ListProgrammesResponse;
    innovation::create_mentor(CreateMentorRequest) -> Mentor;
    innovation::get_mentor(GetMentorRequest) -> Mentor;
    innovation::list_mentors(ListMentorsRequest) -> ListMentorsResponse;
    innovation::submit_application(SubmitApplicationRequest) -> Application;
    innovation::decide_application(DecideApplicationRequest) -> Application;
    innovation::assign_mentor(AssignMentorRequest) -> Application;
    innovation::record_progress(RecordProgressRequest) -> Application;
    innovation::get_application(GetApplicationRequest) -> Application;
    innovation::list_applications(ListApplicationsRequest) -> ListApplicationsResponse;
    proposals::create_proposal(CreateProposalRequest) -> Proposal;
    proposals::co_sign_proposal(CoSignProposalRequest) -> Proposal;
    proposals::submit_proposal(SubmitProposalRequest) -> Proposal;
    proposals::record_proposal_response(RecordProposalResponseRequest) -> Proposal;
    proposals::get_proposal(GetProposalRequest) -> Proposal;
    proposals::list_proposals(ListProposalsRequest) -> ListProposalsResponse;
    indicators::get_indicators(GetIndicatorsRequest) -> GetIndicatorsResponse;
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
