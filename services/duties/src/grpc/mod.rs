//! Transport: `flatgov.duties.v1.DutyLists` on the chassis. The
//! authorization layer has already checked the caller's role against
//! [`crate::policy::POLICY`]; each handler, in the module of its resource,
//! does three things: parse the request into a command
//! (`TryFrom<proto::…Request>`, every field violation collected before any
//! I/O), call the use case in [`crate::application`], render the answer.

mod assessments;
mod assignments;
mod departments;
mod drafts;
mod exceptions;
mod fields;
mod lists;
mod matters;
mod names;
mod opinions;
mod refusals;
mod responsibility;

use flatgov_proto::duties::v1 as proto;
use flatgov_proto::duties::v1::duty_lists_server::DutyLists;

use crate::application::Duties;

/// The `flatgov.duties.v1.DutyLists` server.
pub struct DutyListsService {
    /// What the use cases work with.
    pub(crate) duties: Duties,
}

impl DutyListsService {
    pub fn new(duties: Duties) -> Self {
        Self { duties }
    }
}

flatgov_grpc::dispatch! {
    impl DutyLists for DutyListsService {
        fn resolve_responsibility(proto::ResolveResponsibilityRequest) -> proto::ResolveResponsibilityResponse => responsibility::resolve_responsibility;
        fn check_assignment(proto::CheckAssignmentRequest) -> proto::CheckAssignmentResponse => assignments::check_assignment;

        fn create_department(proto::CreateDepartmentRequest) -> proto::Department => departments::create_department;
        fn get_department(proto::GetDepartmentRequest) -> proto::Department => departments::get_department;
        fn list_departments(proto::ListDepartmentsRequest) -> proto::ListDepartmentsResponse => departments::list_departments;
        fn update_department(proto::UpdateDepartmentRequest) -> proto::Department => departments::update_department;
        fn delete_department(proto::DeleteDepartmentRequest) -> () => departments::delete_department;
        fn import_departments(proto::ImportDepartmentsRequest) -> proto::ImportDepartmentsResponse => departments::import_departments;

        fn get_list(proto::GetListRequest) -> proto::DutyList => lists::get_list;
        fn list_duty_lists(proto::ListDutyListsRequest) -> proto::ListDutyListsResponse => lists::list_duty_lists;
        fn get_list_version(proto::GetListVersionRequest) -> proto::ListVersion => lists::get_list_version;
        fn list_list_versions(proto::ListListVersionsRequest) -> proto::ListListVersionsResponse => lists::list_list_versions;
        fn list_items(proto::ListItemsRequest) -> proto::ListItemsResponse => lists::list_items;
        fn diff_versions(proto::DiffVersionsRequest) -> proto::DiffVersionsResponse => lists::diff_versions;
        fn export_list(proto::ExportListRequest) -> proto::ExportListResponse => lists::export_list;

        fn create_draft(proto::CreateDraftRequest) -> proto::ListVersion => drafts::create_draft;
        fn put_draft_item(proto::PutDraftItemRequest) -> proto::ListItem => drafts::put_draft_item;
        fn delete_draft_item(proto::DeleteDraftItemRequest) -> () => drafts::delete_draft_item;
        fn discard_draft(proto::DiscardDraftRequest) -> () => drafts::discard_draft;
        fn import_list(proto::ImportListRequest) -> proto::ImportListResponse => drafts::import_list;
        fn publish_list(proto::PublishListRequest) -> proto::ListVersion => drafts::publish_list;

        fn get_matter(proto::GetMatterRequest) -> proto::Matter => matters::get_matter;
        fn list_matters(proto::ListMattersRequest) -> proto::ListMattersResponse => matters::list_matters;
        fn put_matter(proto::PutMatterRequest) -> proto::Matter => matters::put_matter;
        fn delete_matter(proto::DeleteMatterRequest) -> () => matters::delete_matter;
        fn import_catalogue(proto::ImportCatalogueRequest) -> proto::ImportCatalogueResponse => matters::import_catalogue;

        fn create_exception(proto::CreateExceptionRequest) -> proto::PlaceException => exceptions::create_exception;
        fn get_exception(proto::GetExceptionRequest) -> proto::PlaceException => exceptions::get_exception;
        fn list_exceptions(proto::ListExceptionsRequest) -> proto::ListExceptionsResponse => exceptions::list_exceptions;
        fn end_exception(proto::EndExceptionRequest) -> proto::PlaceException => exceptions::end_exception;
        fn delete_exception(proto::DeleteExceptionRequest) -> () => exceptions::delete_exception;

        fn get_refusal(proto::GetRefusalRequest) -> proto::Refusal => refusals::get_refusal;
        fn list_refusals(proto::ListRefusalsRequest) -> proto::ListRefusalsResponse => refusals::list_refusals;
        fn count_refusals(proto::CountRefusalsRequest) -> proto::CountRefusalsResponse => refusals::count_refusals;

        fn record_assessment(proto::RecordAssessmentRequest) -> proto::Assessment => assessments::record_assessment;
        fn list_assessments(proto::ListAssessmentsRequest) -> proto::ListAssessmentsResponse => assessments::list_assessments;
        fn summarise_assessments(proto::SummariseAssessmentsRequest) -> proto::SummariseAssessmentsResponse => assessments::summarise_assessments;
        fn record_opinion(proto::RecordOpinionRequest) -> proto::Opinion => opinions::record_opinion;
        fn list_opinions(proto::ListOpinionsRequest) -> proto::ListOpinionsResponse => opinions::list_opinions;
    }
}
