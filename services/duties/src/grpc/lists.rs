//! Reading the lists: parse, read as the caller may see, render. Also how
//! versions and items are written in answers (the drafts' answers too).

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::duties::v1 as proto;

use super::DutyListsService;
use super::fields::{
    data_format, instant, level_to_proto, list_kind_to_proto, next_page_token, page,
};
use super::names::{list_kind, version_ref};
use crate::application::drafts::item_request_field;
use crate::application::lists::{
    self, ListItems, ListSummary, VersionDiff, VersionRef, VersionSummary,
};
use crate::application::{DataFormat, Page};
use crate::contract::tier_to_proto;
use crate::domain::names::{draft_name, item_name, list_name, version_name};
use crate::domain::{ListItem, ListKind};
use crate::error::Error;
use crate::rules::VersionState;

pub(super) fn version_to_proto(version: &VersionSummary) -> proto::ListVersion {
    let record = &version.record;
    let (name, state) = match record.state {
        VersionState::Draft => (draft_name(version.kind), proto::VersionState::Draft),
        VersionState::Published => (
            version_name(version.kind, version.number),
            proto::VersionState::Published,
        ),
    };
    proto::ListVersion {
        name,
        kind: list_kind_to_proto(version.kind) as i32,
        number: version.number.get(),
        state: state as i32,
        effective_from: optional_timestamp(record.effective_from),
        publish_time: optional_timestamp(record.publish_time),
        published_by: record.published_by.clone().unwrap_or_default(),
        item_count: u32::try_from(version.item_count).unwrap_or(u32::MAX),
        category_count: u32::try_from(version.category_count).unwrap_or(u32::MAX),
        in_effect: version.in_effect,
        create_time: Some(timestamp(record.create_time)),
        update_time: Some(timestamp(record.update_time)),
    }
}

/// An item of the version named `version`.
pub(super) fn item_to_proto(item: &ListItem, version: &str) -> proto::ListItem {
    let fields = item.fields();
    proto::ListItem {
        name: item_name(version, &fields.code.to_string()),
        code: fields.code.to_string(),
        category: fields.category.clone(),
        category_en: fields.category_en.clone().unwrap_or_default(),
        display_name: fields.name.clone(),
        display_name_en: fields.name_en.clone().unwrap_or_default(),
        description: fields.description.clone(),
        legal_basis: fields.legal_basis.clone(),
        handling_level: level_to_proto(fields.handling_level) as i32,
        lead_department: fields
            .lead_department
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        cooperating_departments: fields
            .cooperating_departments
            .iter()
            .map(ToString::to_string)
            .collect(),
        default_tier: tier_to_proto(fields.default_tier) as i32,
        response_limit: fields.response_limit.to_string(),
        resolution_limit: fields.resolution_limit.to_string(),
    }
}

fn list_to_proto(list: &ListSummary) -> proto::DutyList {
    proto::DutyList {
        name: list_name(list.kind),
        kind: list_kind_to_proto(list.kind) as i32,
        title: list.kind.title_zh().to_owned(),
        code_prefix: list.kind.code_prefix().to_owned(),
        in_effect: list.in_effect.as_ref().map(version_to_proto),
        latest: list.latest.as_ref().map(version_to_proto),
        draft: list.draft.as_ref().map(version_to_proto),
        published_versions: u32::try_from(list.published_versions).unwrap_or(u32::MAX),
    }
}

/// One list at an instant (`None`: now).
pub(super) struct GetList {
    kind: ListKind,
    at: Option<DateTime<Utc>>,
}

impl TryFrom<proto::GetListRequest> for GetList {
    type Error = Error;

    fn try_from(request: proto::GetListRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let kind = violations.check("name", list_kind(&request.name));
        let at = violations.check("at", instant(request.at.as_ref()));
        let (Some(kind), Some(at)) = (kind, at) else {
            return Err(Error::from(violations));
        };
        Ok(Self { kind, at })
    }
}

pub(super) async fn get_list(
    service: &DutyListsService,
    access: &Access,
    request: proto::GetListRequest,
) -> Result<proto::DutyList, Error> {
    let GetList { kind, at } = GetList::try_from(request)?;
    let list = lists::get_list(&service.duties, access, kind, at).await?;
    Ok(list_to_proto(&list))
}

/// Every list at an instant (`None`: now).
pub(super) struct ListDutyLists {
    at: Option<DateTime<Utc>>,
}

impl TryFrom<proto::ListDutyListsRequest> for ListDutyLists {
    type Error = Error;

    fn try_from(request: proto::ListDutyListsRequest) -> Result<Self, Error> {
        let at = instant(request.at.as_ref()).map_err(|error| Error::invalid("at", error))?;
        Ok(Self { at })
    }
}

pub(super) async fn list_duty_lists(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListDutyListsRequest,
) -> Result<proto::ListDutyListsResponse, Error> {
    let ListDutyLists { at } = ListDutyLists::try_from(request)?;
    let all = lists::list_duty_lists(&service.duties, access, at).await?;
    Ok(proto::ListDutyListsResponse {
        lists: all.iter().map(list_to_proto).collect(),
    })
}

impl TryFrom<proto::GetListVersionRequest> for VersionRef {
    type Error = Error;

    fn try_from(request: proto::GetListVersionRequest) -> Result<Self, Error> {
        version_ref(&request.name).map_err(|error| Error::invalid("name", error))
    }
}

pub(super) async fn get_list_version(
    service: &DutyListsService,
    access: &Access,
    request: proto::GetListVersionRequest,
) -> Result<proto::ListVersion, Error> {
    let reference = VersionRef::try_from(request)?;
    let version = lists::get_version(&service.duties, access, reference).await?;
    Ok(version_to_proto(&version))
}

/// A list's versions, a page of them.
pub(super) struct ListVersions {
    kind: ListKind,
    page: Page<u32>,
}

impl TryFrom<proto::ListListVersionsRequest> for ListVersions {
    type Error = Error;

    fn try_from(request: proto::ListListVersionsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let kind = violations.check("parent", list_kind(&request.parent));
        let query = ListQuery::new(&format!(
            "versions parent={}",
            kind.map(|kind| kind.to_string()).unwrap_or_default()
        ));
        let page = page(
            request.page_size,
            &request.page_token,
            query,
            &mut violations,
        );
        let (Some(kind), Some(page)) = (kind, page) else {
            return Err(Error::from(violations));
        };
        Ok(Self { kind, page })
    }
}

pub(super) async fn list_list_versions(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListListVersionsRequest,
) -> Result<proto::ListListVersionsResponse, Error> {
    let ListVersions { kind, page } = ListVersions::try_from(request)?;
    let mut versions = lists::list_versions(&service.duties, access, kind, &page).await?;
    let next_page_token = next_page_token(&page, &mut versions, |version| {
        version.number.get().to_string()
    });
    Ok(proto::ListListVersionsResponse {
        versions: versions.iter().map(version_to_proto).collect(),
        next_page_token,
    })
}

impl TryFrom<proto::ListItemsRequest> for ListItems {
    type Error = Error;

    fn try_from(request: proto::ListItemsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let version = violations.check("parent", version_ref(&request.parent));
        let at = violations.check("at", instant(request.at.as_ref()));
        let category = u8::try_from(request.category)
            .ok()
            .filter(|category| *category <= 99);
        if category.is_none() {
            violations.add("category", "must be a category number 1-99, or 0 for all");
        }
        let query = ListQuery::new(&format!(
            "items parent={} at={} category={}",
            request.parent,
            at.flatten().map(|at| at.to_rfc3339()).unwrap_or_default(),
            request.category,
        ));
        let page = page(
            request.page_size,
            &request.page_token,
            query,
            &mut violations,
        );
        let (Some(version), Some(at), Some(category), Some(page)) = (version, at, category, page)
        else {
            return Err(Error::from(violations));
        };
        Ok(Self {
            version,
            at,
            category: Some(category).filter(|category| *category != 0),
            page,
        })
    }
}

pub(super) async fn list_items(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListItemsRequest,
) -> Result<proto::ListItemsResponse, Error> {
    let command = ListItems::try_from(request)?;
    let mut items = lists::list_items(&service.duties, access, &command).await?;
    let next_page_token = next_page_token(&command.page, &mut items.items, |item| {
        item.code().to_string()
    });
    Ok(proto::ListItemsResponse {
        items: items
            .items
            .iter()
            .map(|item| item_to_proto(item, &items.version))
            .collect(),
        next_page_token,
        version: items.version,
    })
}

/// Two versions of one list, older first.
pub(super) struct DiffVersions {
    from: VersionRef,
    to: VersionRef,
}

impl TryFrom<proto::DiffVersionsRequest> for DiffVersions {
    type Error = Error;

    fn try_from(request: proto::DiffVersionsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let from = violations.check("from_version", version_ref(&request.from_version));
        let to = violations.check("to_version", version_ref(&request.to_version));
        let (Some(from), Some(to)) = (from, to) else {
            return Err(Error::from(violations));
        };
        if from.kind() != to.kind() {
            return Err(Error::invalid(
                "to_version",
                format!(
                    "is a version of lists/{}, but from_version is of lists/{}",
                    to.kind(),
                    from.kind()
                ),
            ));
        }
        Ok(Self { from, to })
    }
}

pub(super) async fn diff_versions(
    service: &DutyListsService,
    access: &Access,
    request: proto::DiffVersionsRequest,
) -> Result<proto::DiffVersionsResponse, Error> {
    let DiffVersions { from, to } = DiffVersions::try_from(request)?;
    let VersionDiff {
        older,
        newer,
        added,
        removed,
        changed,
    } = lists::diff_versions(&service.duties, access, from, to).await?;
    Ok(proto::DiffVersionsResponse {
        added: added.iter().map(ToString::to_string).collect(),
        removed: removed.iter().map(ToString::to_string).collect(),
        changed: changed
            .iter()
            .map(|changed| proto::ItemChange {
                code: changed.change.code.to_string(),
                fields: changed
                    .change
                    .fields
                    .iter()
                    .map(|field| item_request_field(field.as_str()).to_owned())
                    .collect(),
                before: changed
                    .before
                    .as_ref()
                    .map(|item| item_to_proto(item, &older)),
                after: changed
                    .after
                    .as_ref()
                    .map(|item| item_to_proto(item, &newer)),
            })
            .collect(),
    })
}

/// A version (or the version in effect at an instant) in a format.
pub(super) struct ExportList {
    version: VersionRef,
    at: Option<DateTime<Utc>>,
    format: DataFormat,
}

impl TryFrom<proto::ExportListRequest> for ExportList {
    type Error = Error;

    fn try_from(request: proto::ExportListRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let version = violations.check("name", version_ref(&request.name));
        let at = violations.check("at", instant(request.at.as_ref()));
        let format = violations.check("format", data_format(request.format));
        let (Some(version), Some(at), Some(format)) = (version, at, format) else {
            return Err(Error::from(violations));
        };
        Ok(Self {
            version,
            at,
            format,
        })
    }
}

pub(super) async fn export_list(
    service: &DutyListsService,
    access: &Access,
    request: proto::ExportListRequest,
) -> Result<proto::ExportListResponse, Error> {
    let ExportList {
        version,
        at,
        format,
    } = ExportList::try_from(request)?;
    let export = lists::export(&service.duties, access, version, at, format).await?;
    Ok(proto::ExportListResponse {
        content: export.content,
        version: export.version,
    })
}
