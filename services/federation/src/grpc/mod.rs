//! Transport: the generated `Federation` trait, one line per RPC handing
//! the request to its resource's handler. Every handler parses its request
//! into a command (`TryFrom`, every field violation at once, before any
//! I/O), calls the use case (`crate::application`), and renders what it returns.

mod activities;
mod applications;
mod assessments;
mod indicators;
mod mentors;
mod organisations;
mod parse;
mod people;
mod privacy;
mod programmes;
mod proposals;
mod referrals;
mod registrations;
mod rights_requests;
mod series;
mod sharing_requests;
mod staff;
mod support_plans;
mod words;

use flatgov_proto::federation::v1 as proto;
use flatgov_proto::federation::v1::federation_server::Federation;

use crate::application::App;

/// The federation's gRPC service.
#[derive(Clone)]
pub struct FederationService {
    /// The use cases, with the database and identity key they work with.
    app: App,
}

impl FederationService {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

flatgov_grpc::dispatch! {
    impl Federation for FederationService {
        fn get_organisation(proto::GetOrganisationRequest) -> proto::Organisation => organisations::get_organisation;
        fn list_organisations(proto::ListOrganisationsRequest) -> proto::ListOrganisationsResponse => organisations::list_organisations;
        fn create_organisation(proto::CreateOrganisationRequest) -> proto::Organisation => organisations::create_organisation;
        fn update_organisation(proto::UpdateOrganisationRequest) -> proto::Organisation => organisations::update_organisation;
        fn create_staff(proto::CreateStaffRequest) -> proto::Staff => staff::create_staff;
        fn update_staff(proto::UpdateStaffRequest) -> proto::Staff => staff::update_staff;
        fn get_staff(proto::GetStaffRequest) -> proto::Staff => staff::get_staff;
        fn list_staff(proto::ListStaffRequest) -> proto::ListStaffResponse => staff::list_staff;
        fn create_series(proto::CreateSeriesRequest) -> proto::Series => series::create_series;
        fn get_series(proto::GetSeriesRequest) -> proto::Series => series::get_series;
        fn list_series(proto::ListSeriesRequest) -> proto::ListSeriesResponse => series::list_series;
        fn create_activity(proto::CreateActivityRequest) -> proto::Activity => activities::create_activity;
        fn publish_activity(proto::PublishActivityRequest) -> proto::Activity => activities::publish_activity;
        fn cancel_activity(proto::CancelActivityRequest) -> proto::Activity => activities::cancel_activity;
        fn complete_activity(proto::CompleteActivityRequest) -> proto::Activity => activities::complete_activity;
        fn get_activity(proto::GetActivityRequest) -> proto::Activity => activities::get_activity;
        fn list_activities(proto::ListActivitiesRequest) -> proto::ListActivitiesResponse => activities::list_activities;
        fn register_for_activity(proto::RegisterForActivityRequest) -> proto::Registration => registrations::register_for_activity;
        fn cancel_registration(proto::CancelRegistrationRequest) -> proto::Registration => registrations::cancel_registration;
        fn check_in(proto::CheckInRequest) -> proto::Registration => registrations::check_in;
        fn get_registration(proto::GetRegistrationRequest) -> proto::Registration => registrations::get_registration;
        fn list_registrations(proto::ListRegistrationsRequest) -> proto::ListRegistrationsResponse => registrations::list_registrations;
        fn register_person(proto::RegisterPersonRequest) -> proto::Person => people::register_person;
        fn update_person(proto::UpdatePersonRequest) -> proto::Person => people::update_person;
        fn get_person(proto::GetPersonRequest) -> proto::Person => people::get_person;
        fn list_people(proto::ListPeopleRequest) -> proto::ListPeopleResponse => people::list_people;
        fn withdraw_consent(proto::WithdrawConsentRequest) -> proto::Person => privacy::withdraw_consent;
        fn export_personal_data(proto::ExportPersonalDataRequest) -> proto::ExportPersonalDataResponse => privacy::export_personal_data;
        fn create_sharing_request(proto::CreateSharingRequestRequest) -> proto::SharingRequest => sharing_requests::create_sharing_request;
        fn get_sharing_request(proto::GetSharingRequestRequest) -> proto::SharingRequest => sharing_requests::get_sharing_request;
        fn list_sharing_requests(proto::ListSharingRequestsRequest) -> proto::ListSharingRequestsResponse => sharing_requests::list_sharing_requests;
        fn approve_sharing_request(proto::ApproveSharingRequestRequest) -> proto::SharingRequest => sharing_requests::approve_sharing_request;
        fn decline_sharing_request(proto::DeclineSharingRequestRequest) -> proto::SharingRequest => sharing_requests::decline_sharing_request;
        fn create_assessment(proto::CreateAssessmentRequest) -> proto::Assessment => assessments::create_assessment;
        fn get_assessment(proto::GetAssessmentRequest) -> proto::Assessment => assessments::get_assessment;
        fn list_assessments(proto::ListAssessmentsRequest) -> proto::ListAssessmentsResponse => assessments::list_assessments;
        fn create_support_plan(proto::CreateSupportPlanRequest) -> proto::SupportPlan => support_plans::create_support_plan;
        fn add_support_measure(proto::AddSupportMeasureRequest) -> proto::SupportMeasure => support_plans::add_support_measure;
        fn record_delivery(proto::RecordDeliveryRequest) -> proto::SupportMeasure => support_plans::record_delivery;
        fn log_visit(proto::LogVisitRequest) -> proto::Visit => support_plans::log_visit;
        fn list_visits(proto::ListVisitsRequest) -> proto::ListVisitsResponse => support_plans::list_visits;
        fn close_support_plan(proto::CloseSupportPlanRequest) -> proto::SupportPlan => support_plans::close_support_plan;
        fn get_support_plan(proto::GetSupportPlanRequest) -> proto::SupportPlan => support_plans::get_support_plan;
        fn list_support_plans(proto::ListSupportPlansRequest) -> proto::ListSupportPlansResponse => support_plans::list_support_plans;
        fn get_referral(proto::GetReferralRequest) -> proto::Referral => referrals::get_referral;
        fn list_referrals(proto::ListReferralsRequest) -> proto::ListReferralsResponse => referrals::list_referrals;
        fn accept_referral(proto::AcceptReferralRequest) -> proto::Referral => referrals::accept_referral;
        fn decline_referral(proto::DeclineReferralRequest) -> proto::Referral => referrals::decline_referral;
        fn submit_rights_request(proto::SubmitRightsRequestRequest) -> proto::RightsRequest => rights_requests::submit_rights_request;
        fn record_rights_action(proto::RecordRightsActionRequest) -> proto::RightsRequest => rights_requests::record_rights_action;
        fn transfer_rights_request(proto::TransferRightsRequestRequest) -> proto::RightsRequest => rights_requests::transfer_rights_request;
        fn link_rights_request_case(proto::LinkRightsRequestCaseRequest) -> proto::RightsRequest => rights_requests::link_rights_request_case;
        fn resolve_rights_request(proto::ResolveRightsRequestRequest) -> proto::RightsRequest => rights_requests::resolve_rights_request;
        fn get_rights_request(proto::GetRightsRequestRequest) -> proto::RightsRequest => rights_requests::get_rights_request;
        fn list_rights_requests(proto::ListRightsRequestsRequest) -> proto::ListRightsRequestsResponse => rights_requests::list_rights_requests;
        fn create_programme(proto::CreateProgrammeRequest) -> proto::Programme => programmes::create_programme;
        fn close_programme(proto::CloseProgrammeRequest) -> proto::Programme => programmes::close_programme;
        fn get_programme(proto::GetProgrammeRequest) -> proto::Programme => programmes::get_programme;
        fn list_programmes(proto::ListProgrammesRequest) -> proto::ListProgrammesResponse => programmes::list_programmes;
        fn create_mentor(proto::CreateMentorRequest) -> proto::Mentor => mentors::create_mentor;
        fn get_mentor(proto::GetMentorRequest) -> proto::Mentor => mentors::get_mentor;
        fn list_mentors(proto::ListMentorsRequest) -> proto::ListMentorsResponse => mentors::list_mentors;
        fn submit_application(proto::SubmitApplicationRequest) -> proto::Application => applications::submit_application;
        fn decide_application(proto::DecideApplicationRequest) -> proto::Application => applications::decide_application;
        fn assign_mentor(proto::AssignMentorRequest) -> proto::Application => applications::assign_mentor;
        fn record_progress(proto::RecordProgressRequest) -> proto::Application => applications::record_progress;
        fn get_application(proto::GetApplicationRequest) -> proto::Application => applications::get_application;
        fn list_applications(proto::ListApplicationsRequest) -> proto::ListApplicationsResponse => applications::list_applications;
        fn create_proposal(proto::CreateProposalRequest) -> proto::Proposal => proposals::create_proposal;
        fn co_sign_proposal(proto::CoSignProposalRequest) -> proto::Proposal => proposals::co_sign_proposal;
        fn submit_proposal(proto::SubmitProposalRequest) -> proto::Proposal => proposals::submit_proposal;
        fn record_proposal_response(proto::RecordProposalResponseRequest) -> proto::Proposal => proposals::record_proposal_response;
        fn get_proposal(proto::GetProposalRequest) -> proto::Proposal => proposals::get_proposal;
        fn list_proposals(proto::ListProposalsRequest) -> proto::ListProposalsResponse => proposals::list_proposals;
        fn get_indicators(proto::GetIndicatorsRequest) -> proto::GetIndicatorsResponse => indicators::get_indicators;
    }
}
