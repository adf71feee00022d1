//! `flatgov.cases.v1.CaseDispatch`: the dispatch table. The policy table
//! (`crate::policy`) has already decided which roles may call each RPC; every handler
//! parses its request completely, runs its use case on the case the caller reaches
//! (`crate::access`), and renders the answer the caller may see.

mod contacts;
mod indicators;
mod lifecycle;
mod meetings;
mod parse;
mod privacy;
mod reports;
mod test_clock;
mod working;

use std::sync::Arc;

use flatgov_proto::cases::v1 as proto;
use flatgov_proto::cases::v1::case_dispatch_server::CaseDispatch;

use crate::application::ops::Shared;
use crate::directory::Directory;

/// The service behind the generated server.
pub struct CaseService {
    /// The rules with their configuration, the pool and the clock.
    shared: Arc<Shared>,
    /// The block registry and the duty lists, for calls made while a caller waits.
    directory: Directory,
}

impl CaseService {
    pub fn new(shared: Arc<Shared>, directory: Directory) -> Self {
        Self { shared, directory }
    }
}

flatgov_grpc::dispatch! {
    impl CaseDispatch for CaseService {
        fn report_case(proto::ReportCaseRequest) -> proto::ReportCaseResponse => reports::report_case;
        fn get_case(proto::GetCaseRequest) -> proto::Case => reports::get_case;
        fn list_cases(proto::ListCasesRequest) -> proto::ListCasesResponse => reports::list_cases;
        fn count_open_cases(proto::CountOpenCasesRequest) -> proto::CountOpenCasesResponse => reports::count_open_cases;
        fn get_case_history(proto::GetCaseHistoryRequest) -> proto::GetCaseHistoryResponse => reports::get_case_history;
        fn classify_case(proto::ClassifyCaseRequest) -> proto::Case => reports::classify_case;
        fn accept_case(proto::AcceptCaseRequest) -> proto::Case => lifecycle::accept_case;
        fn start_work(proto::StartWorkRequest) -> proto::Case => lifecycle::start_work;
        fn resolve_case(proto::ResolveCaseRequest) -> proto::Case => lifecycle::resolve_case;
        fn verify_case(proto::VerifyCaseRequest) -> proto::Case => lifecycle::verify_case;
        fn rate_case(proto::RateCaseRequest) -> proto::Case => lifecycle::rate_case;
        fn close_case(proto::CloseCaseRequest) -> proto::Case => lifecycle::close_case;
        fn escalate_case(proto::EscalateCaseRequest) -> proto::Case => lifecycle::escalate_case;
        fn reassign_case(proto::ReassignCaseRequest) -> proto::Case => lifecycle::reassign_case;
        fn request_extension(proto::RequestExtensionRequest) -> proto::Case => lifecycle::request_extension;
        fn decide_extension(proto::DecideExtensionRequest) -> proto::Case => lifecycle::decide_extension;
        fn park_case(proto::ParkCaseRequest) -> proto::Case => lifecycle::park_case;
        fn unpark_case(proto::UnparkCaseRequest) -> proto::Case => lifecycle::unpark_case;
        fn schedule_meeting(proto::ScheduleMeetingRequest) -> proto::Meeting => meetings::schedule_meeting;
        fn record_meeting_decision(proto::RecordMeetingDecisionRequest) -> proto::Meeting => meetings::record_meeting_decision;
        fn list_meetings(proto::ListMeetingsRequest) -> proto::ListMeetingsResponse => meetings::list_meetings;
        fn complete_meeting_action(proto::CompleteMeetingActionRequest) -> proto::Meeting => meetings::complete_meeting_action;
        fn get_indicators(proto::GetIndicatorsRequest) -> proto::GetIndicatorsResponse => indicators::get_indicators;
        fn advance_test_clock(proto::AdvanceTestClockRequest) -> proto::AdvanceTestClockResponse => test_clock::advance_test_clock;
        fn get_reporter_contact(proto::GetReporterContactRequest) -> proto::ReporterContact => contacts::get_reporter_contact;
        fn export_reporter_data(proto::ExportReporterDataRequest) -> proto::ExportReporterDataResponse => privacy::export_reporter_data;
    }
}
