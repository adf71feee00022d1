//! `flatgov.enforcement.v1.JointEnforcement` over gRPC: the dispatch table
//! and the service. Each resource's handlers live in their own module and
//! do three things: parse the request into a command (every field
//! violation at once, before any I/O), call the use case (`crate::application`),
//! render what it returns as the caller may see it.

mod actions;
mod agencies;
mod duty;
mod indicators;
mod officers;
mod operations;
mod parse;
mod render;
mod units;

use flatgov_proto::enforcement::v1 as api;
use flatgov_proto::enforcement::v1::joint_enforcement_server::JointEnforcement;

use crate::application::Enforcement;

/// The service behind the generated server.
pub struct EnforcementService {
    /// The use cases every handler calls.
    pub app: Enforcement,
}

flatgov_grpc::dispatch! {
    impl JointEnforcement for EnforcementService {
        fn create_agency(api::CreateAgencyRequest) -> api::Agency => agencies::create_agency;
        fn update_agency(api::UpdateAgencyRequest) -> api::Agency => agencies::update_agency;
        fn get_agency(api::GetAgencyRequest) -> api::Agency => agencies::get_agency;
        fn list_agencies(api::ListAgenciesRequest) -> api::ListAgenciesResponse => agencies::list_agencies;
        fn create_unit(api::CreateUnitRequest) -> api::EnforcementUnit => units::create_unit;
        fn update_unit(api::UpdateUnitRequest) -> api::EnforcementUnit => units::update_unit;
        fn get_unit(api::GetUnitRequest) -> api::EnforcementUnit => units::get_unit;
        fn list_units(api::ListUnitsRequest) -> api::ListUnitsResponse => units::list_units;
        fn create_officer(api::CreateOfficerRequest) -> api::Officer => officers::create_officer;
        fn update_officer(api::UpdateOfficerRequest) -> api::Officer => officers::update_officer;
        fn get_officer(api::GetOfficerRequest) -> api::Officer => officers::get_officer;
        fn list_officers(api::ListOfficersRequest) -> api::ListOfficersResponse => officers::list_officers;
        fn blow_whistle(api::BlowWhistleRequest) -> api::Operation => operations::blow_whistle;
        fn summon_agency(api::SummonAgencyRequest) -> api::Operation => operations::summon_agency;
        fn report_in(api::ReportInRequest) -> api::Operation => operations::report_in;
        fn record_action(api::RecordActionRequest) -> api::Action => actions::record_action;
        fn conclude_operation(api::ConcludeOperationRequest) -> api::Operation => operations::conclude_operation;
        fn cancel_operation(api::CancelOperationRequest) -> api::Operation => operations::cancel_operation;
        fn rate_agency(api::RateAgencyRequest) -> api::Operation => operations::rate_agency;
        fn get_operation(api::GetOperationRequest) -> api::Operation => operations::get_operation;
        fn list_operations(api::ListOperationsRequest) -> api::ListOperationsResponse => operations::list_operations;
        fn get_indicators(api::GetIndicatorsRequest) -> api::GetIndicatorsResponse => indicators::get_indicators;
        fn create_duty_shift(api::CreateDutyShiftRequest) -> api::DutyShift => duty::create_duty_shift;
        fn list_duty_shifts(api::ListDutyShiftsRequest) -> api::ListDutyShiftsResponse => duty::list_duty_shifts;
        fn delete_duty_shift(api::DeleteDutyShiftRequest) -> () => duty::delete_duty_shift;
    }
}
