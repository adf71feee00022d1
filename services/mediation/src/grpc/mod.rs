//! Transport: `flatgov.mediation.v1.Mediation` on the chassis. The
//! authorization layer has already checked the caller's role against
//! [`crate::policy::POLICY`]; each handler parses the request into a
//! command (every field violation collected before any I/O), calls the use
//! case in [`crate::application`], and renders the answer.

mod advisers;
mod disputes;
mod indicators;
mod render;
mod test_clock;

use std::sync::Arc;

use flatgov_proto::mediation::v1 as proto;
use flatgov_proto::mediation::v1::mediation_server::Mediation as MediationApi;

use crate::application::Mediation;

/// The `flatgov.mediation.v1.Mediation` server.
pub struct MediationService {
    /// What the use cases work with (shared with the overdue worker).
    pub(crate) mediation: Arc<Mediation>,
}

impl MediationService {
    pub fn new(mediation: Arc<Mediation>) -> Self {
        Self { mediation }
    }
}

flatgov_grpc::dispatch! {
    impl MediationApi for MediationService {
        fn register_dispute(proto::RegisterDisputeRequest) -> proto::Dispute => disputes::register_dispute;
        fn get_dispute(proto::GetDisputeRequest) -> proto::Dispute => disputes::get_dispute;
        fn list_disputes(proto::ListDisputesRequest) -> proto::ListDisputesResponse => disputes::list_disputes;
        fn assign_mediator(proto::AssignMediatorRequest) -> proto::Dispute => disputes::assign_mediator;
        fn record_session(proto::RecordSessionRequest) -> proto::Dispute => disputes::record_session;
        fn conclude_stage(proto::ConcludeStageRequest) -> proto::Dispute => disputes::conclude_stage;
        fn hand_over_dispute(proto::HandOverDisputeRequest) -> proto::Dispute => disputes::hand_over_dispute;
        fn sign_agreement(proto::SignAgreementRequest) -> proto::Dispute => disputes::sign_agreement;
        fn record_follow_up(proto::RecordFollowUpRequest) -> proto::Dispute => disputes::record_follow_up;
        fn record_confirmation(proto::RecordConfirmationRequest) -> proto::Dispute => disputes::record_confirmation;
        fn create_adviser(proto::CreateAdviserRequest) -> proto::Adviser => advisers::create_adviser;
        fn list_advisers(proto::ListAdvisersRequest) -> proto::ListAdvisersResponse => advisers::list_advisers;
        fn record_consultation(proto::RecordConsultationRequest) -> proto::Dispute => disputes::record_consultation;
        fn flag_threat(proto::FlagThreatRequest) -> proto::Dispute => disputes::flag_threat;
        fn get_indicators(proto::GetIndicatorsRequest) -> proto::Indicators => indicators::get_indicators;
        fn advance_test_clock(proto::AdvanceTestClockRequest) -> proto::AdvanceTestClockResponse => test_clock::advance_test_clock;
    }
}
