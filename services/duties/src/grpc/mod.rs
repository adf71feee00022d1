//! Transport: the generated `DutyLists` trait, implemented with
//! `flatgov_grpc::dispatch!` by handing each RPC to the module of its area.
//! The chassis' authorization layer has already checked the caller's role
//! against [`crate::policy::POLICY`]; a handler parses the request
//! completely, checks the scope of what it loads with `Access::reaches`
//! (or narrows a list with [`crate::policy::Reach`]), and only then writes.

mod assessments;
pub mod convert;
mod departments;
mod exceptions;
mod gate;
mod lists;
mod matters;
mod retries;

use std::sync::Arc;

use flatgov_proto::duties::v1 as proto;
use flatgov_proto::duties::v1::duty_lists_server::DutyLists;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::error::Error;
use crate::rules::RulesCache;

/// Labels of the refusal counter: who tried, and why it was refused.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// `department`, `subdistrict`, `community` or `block_team`.
    pub from_kind: String,
    /// The assigning unit's code (a department code, or a division code).
    pub from_code: String,
    /// `NEGATIVE_LIST`, `NOT_ON_SUBDISTRICT_LISTS`, …
    pub reason: String,
}

/// The service's own Prometheus series.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Refused assignments, so dashboards count push-down attempts per
    /// department as they happen (CountRefusals answers per month).
    pub assignments_refused: Family<RefusalLabels, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "flatgov_duties_assignments_refused",
            "Assignments refused by the duty lists gate, by assigning unit and reason",
            metrics.assignments_refused.clone(),
        );
        metrics
    }
}

/// The `flatgov.duties.v1.DutyLists` server.
pub struct DutyListsService {
    /// The service's own database.
    pub(crate) pool: PgPool,
    /// The rules as last read, shared by every call.
    pub(crate) rules: Arc<RulesCache>,
    pub(crate) metrics: Metrics,
    /// Wakes the catalogue announcer after a commit scheduled an announcement.
    pub(crate) announcer: Arc<Notify>,
}

impl DutyListsService {
    pub fn new(
        pool: PgPool,
        rules: Arc<RulesCache>,
        metrics: Metrics,
        announcer: Arc<Notify>,
    ) -> Self {
        Self {
            pool,
            rules,
            metrics,
            announcer,
        }
    }
}

flatgov_grpc::dispatch! {
    impl DutyLists for DutyListsService {
        fn resolve_responsibility(proto::ResolveResponsibilityRequest) -> proto::ResolveResponsibilityResponse => gate::resolve_responsibility;
        fn check_assignment(proto::CheckAssignmentRequest) -> proto::CheckAssignmentResponse => gate::check_assignment;
        fn get_refusal(proto::GetRefusalRequest) -> proto::Refusal => gate::get_refusal;
        fn list_refusals(proto::ListRefusalsRequest) -> proto::ListRefusalsResponse => gate::list_refusals;
        fn count_refusals(proto::CountRefusalsRequest) -> proto::CountRefusalsResponse => gate::count_refusals;

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
        fn create_draft(proto::CreateDraftRequest) -> proto::ListVersion => lists::create_draft;
        fn put_draft_item(proto::PutDraftItemRequest) -> proto::ListItem => lists::put_draft_item;
        fn delete_draft_item(proto::DeleteDraftItemRequest) -> () => lists::delete_draft_item;
        fn discard_draft(proto::DiscardDraftRequest) -> () => lists::discard_draft;
        fn import_list(proto::ImportListRequest) -> proto::ImportListResponse => lists::import_list;
        fn publish_list(proto::PublishListRequest) -> proto::ListVersion => lists::publish_list;

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

        fn record_assessment(proto::RecordAssessmentRequest) -> proto::Assessment => assessments::record_assessment;
        fn list_assessments(proto::ListAssessmentsRequest) -> proto::ListAssessmentsResponse => assessments::list_assessments;
        fn summarise_assessments(proto::SummariseAssessmentsRequest) -> proto::SummariseAssessmentsResponse => assessments::summarise_assessments;
        fn record_opinion(proto::RecordOpinionRequest) -> proto::Opinion => assessments::record_opinion;
        fn list_opinions(proto::ListOpinionsRequest) -> proto::ListOpinionsResponse => assessments::list_opinions;
    }
}

/// A division code prefix given as a filter: 6, 9, 12 or 15 digits.
pub(crate) fn division_filter(field: &str, value: &str) -> Result<Option<String>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    let digits = value.bytes().all(|byte| byte.is_ascii_digit());
    if !digits || ![6, 9, 12, 15].contains(&value.len()) {
        return Err(Error::invalid(
            field,
            format!("{value:?} is not a division code (6, 9, 12 or 15 digits)"),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// A free-text field bounded in length.
pub(crate) fn bounded_text(field: &str, value: &str, max_chars: usize) -> Result<String, Error> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("is longer than {max_chars} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A `cases/{id}` reference, when given.
pub(crate) fn case_reference(field: &str, value: &str) -> Result<Option<String>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    let valid = value
        .strip_prefix("cases/")
        .is_some_and(|id| !id.is_empty() && id.len() <= 64 && !id.contains('/'));
    if !valid {
        return Err(Error::invalid(
            field,
            format!("{value:?} is not a case name (cases/{{id}})"),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// The sort key of newest-first pages (refusals, assessments, opinions):
/// the row's time and id, written `{RFC 3339 to the nanosecond}|{uuid}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeKey {
    pub time: chrono::DateTime<chrono::Utc>,
    pub id: uuid::Uuid,
}

impl TimeKey {
    /// Where a page request resumes, if it continues a list.
    pub fn after(
        page: &flatgov_grpc::paging::PageRequest,
    ) -> Result<Option<(chrono::DateTime<chrono::Utc>, uuid::Uuid)>, Error> {
        let key = page.after_as::<TimeKey>()?;
        Ok(key.map(|key| (key.time, key.id)))
    }

    /// The page key of a row.
    pub fn of(time: chrono::DateTime<chrono::Utc>, id: uuid::Uuid) -> String {
        Self { time, id }.to_string()
    }
}

impl std::fmt::Display for TimeKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let time = self
            .time
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        write!(formatter, "{time}|{}", self.id)
    }
}

impl std::str::FromStr for TimeKey {
    type Err = ();

    fn from_str(key: &str) -> Result<Self, ()> {
        let (time, id) = key.split_once('|').ok_or(())?;
        let time = chrono::DateTime::parse_from_rfc3339(time)
            .map_err(|_| ())?
            .with_timezone(&chrono::Utc);
        Ok(Self {
            time,
            id: id.parse().map_err(|_| ())?,
        })
    }
}
