//! Drafts, imports and publishing: parse, call the use case, render.

use chrono::Utc;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::request_id::RequestId;
use flatgov_proto::duties::v1 as proto;
use flatgov_vocabulary::DepartmentCode;

use super::DutyListsService;
use super::fields::{data_format, instant, level_from_proto, optional_code, tier_from_proto};
use super::lists::{item_to_proto, version_to_proto};
use super::names::{draft_item, draft_of, list_kind};
use crate::application::drafts::{self, ImportList, PublishList, PutDraftItem, item_request_field};
use crate::application::retries::Retry;
use crate::domain::{ItemCode, ItemFields, ListItem, ListKind, WorkingDuration};
use crate::error::Error;

/// Open a draft of a list, from its latest version or empty.
pub(super) struct CreateDraft {
    kind: ListKind,
    empty: bool,
}

impl TryFrom<proto::CreateDraftRequest> for CreateDraft {
    type Error = Error;

    fn try_from(request: proto::CreateDraftRequest) -> Result<Self, Error> {
        let kind = list_kind(&request.parent).map_err(|error| Error::invalid("parent", error))?;
        Ok(Self {
            kind,
            empty: request.empty,
        })
    }
}

pub(super) async fn create_draft(
    service: &DutyListsService,
    access: &Access,
    request: proto::CreateDraftRequest,
) -> Result<proto::ListVersion, Error> {
    let CreateDraft { kind, empty } = CreateDraft::try_from(request)?;
    let draft = drafts::create_draft(&service.duties, access, kind, empty).await?;
    Ok(version_to_proto(&draft))
}

/// The typed fields of an item in a request; every problem recorded with
/// its path under `field`.
fn item_fields_from_proto(
    field: &str,
    item: &proto::ListItem,
    violations: &mut Violations,
) -> Option<ItemFields> {
    let path = |name: &str| format!("{field}.{name}");
    let code = violations.check(path("code"), ItemCode::parse(&item.code));
    let required = |violations: &mut Violations, name: &str, value: &str| {
        if value.trim().is_empty() {
            violations.add(path(name), "a value is required");
            None
        } else {
            Some(value.to_owned())
        }
    };
    let category = required(violations, "category", &item.category);
    let name = required(violations, "display_name", &item.display_name);
    let legal_basis = required(violations, "legal_basis", &item.legal_basis);
    let handling_level = violations.check(
        path("handling_level"),
        level_from_proto(item.handling_level),
    );
    let lead_department = optional_code(
        violations,
        path("lead_department"),
        item.lead_department.trim(),
        DepartmentCode::parse,
    );
    let mut cooperating = Some(Vec::new());
    for (index, code) in item.cooperating_departments.iter().enumerate() {
        match DepartmentCode::parse(code.trim()) {
            Ok(code) => {
                if let Some(named) = cooperating.as_mut() {
                    named.push(code);
                }
            }
            Err(error) => {
                violations.add(format!("{field}.cooperating_departments[{index}]"), error);
                cooperating = None;
            }
        }
    }
    let default_tier = match tier_from_proto(item.default_tier) {
        Ok(Some(tier)) => Some(tier),
        Ok(None) => {
            violations.add(path("default_tier"), "a tier is required");
            None
        }
        Err(error) => {
            violations.add(path("default_tier"), error);
            None
        }
    };
    let response_limit = violations.check(
        path("response_limit"),
        WorkingDuration::parse(item.response_limit.trim()),
    );
    let resolution_limit = violations.check(
        path("resolution_limit"),
        WorkingDuration::parse(item.resolution_limit.trim()),
    );
    let gloss = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
    Some(ItemFields {
        code: code?,
        category: category?,
        category_en: gloss(&item.category_en),
        name: name?,
        name_en: gloss(&item.display_name_en),
        description: item.description.clone(),
        legal_basis: legal_basis?,
        handling_level: handling_level?,
        lead_department: lead_department?,
        cooperating_departments: cooperating?,
        default_tier: default_tier?,
        response_limit: response_limit?,
        resolution_limit: resolution_limit?,
    })
}

impl TryFrom<proto::PutDraftItemRequest> for PutDraftItem {
    type Error = Error;

    fn try_from(request: proto::PutDraftItemRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let kind = violations.check("parent", list_kind(&request.parent));
        let fields = match request.item.as_ref() {
            Some(item) => item_fields_from_proto("item", item, &mut violations),
            None => {
                violations.add("item", "an item is required");
                None
            }
        };
        let (Some(kind), Some(fields)) = (kind, fields) else {
            return Err(Error::from(violations));
        };
        if fields.code.list() != kind {
            violations.add(
                "item.code",
                format!(
                    "item {} belongs to the {} list, not lists/{kind}",
                    fields.code,
                    fields.code.list()
                ),
            );
            return Err(Error::from(violations));
        }
        let item = ListItem::new(fields).map_err(|invalid| {
            let mut violations = Violations::new();
            for violation in invalid.violations {
                violations.add(
                    format!("item.{}", item_request_field(violation.field().as_str())),
                    violation,
                );
            }
            Error::from(violations)
        })?;
        Ok(Self { kind, item })
    }
}

pub(super) async fn put_draft_item(
    service: &DutyListsService,
    access: &Access,
    request: proto::PutDraftItemRequest,
) -> Result<proto::ListItem, Error> {
    let command = PutDraftItem::try_from(request)?;
    let (item, draft) = drafts::put_draft_item(&service.duties, access, command).await?;
    Ok(item_to_proto(&item, &draft))
}

/// An item of a list's draft.
pub(super) struct DraftItem {
    kind: ListKind,
    code: ItemCode,
}

impl TryFrom<proto::DeleteDraftItemRequest> for DraftItem {
    type Error = Error;

    fn try_from(request: proto::DeleteDraftItemRequest) -> Result<Self, Error> {
        let (kind, code) =
            draft_item(&request.name).map_err(|error| Error::invalid("name", error))?;
        Ok(Self { kind, code })
    }
}

pub(super) async fn delete_draft_item(
    service: &DutyListsService,
    access: &Access,
    request: proto::DeleteDraftItemRequest,
) -> Result<(), Error> {
    let DraftItem { kind, code } = DraftItem::try_from(request)?;
    drafts::delete_draft_item(&service.duties, access, kind, code).await
}

impl TryFrom<proto::DiscardDraftRequest> for ListKind {
    type Error = Error;

    fn try_from(request: proto::DiscardDraftRequest) -> Result<Self, Error> {
        draft_of(&request.name).map_err(|error| Error::invalid("name", error))
    }
}

pub(super) async fn discard_draft(
    service: &DutyListsService,
    access: &Access,
    request: proto::DiscardDraftRequest,
) -> Result<(), Error> {
    let kind = ListKind::try_from(request)?;
    drafts::discard_draft(&service.duties, access, kind).await
}

impl TryFrom<proto::ImportListRequest> for ImportList {
    type Error = Error;

    fn try_from(request: proto::ImportListRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let kind = violations.check("parent", list_kind(&request.parent));
        let format = violations.check("format", data_format(request.format));
        let effective_from =
            violations.check("effective_from", instant(request.effective_from.as_ref()));
        if effective_from.flatten().is_some() && !request.publish {
            violations.add(
                "effective_from",
                "is only meaningful with publish; a draft takes effect when PublishList publishes it",
            );
        }
        let (Some(kind), Some(format), Some(effective_from)) = (kind, format, effective_from)
        else {
            return Err(Error::from(violations));
        };
        violations.finish()?;
        Ok(Self {
            kind,
            format,
            content: request.content,
            publish: request.publish,
            effective_from,
        })
    }
}

pub(super) async fn import_list(
    service: &DutyListsService,
    access: &Access,
    request: proto::ImportListRequest,
) -> Result<proto::ImportListResponse, Error> {
    let command = ImportList::try_from(request)?;
    let imported = drafts::import_list(&service.duties, access, command).await?;
    let codes = |codes: &[ItemCode]| codes.iter().map(ToString::to_string).collect();
    Ok(proto::ImportListResponse {
        version: Some(version_to_proto(&imported.version)),
        unchanged: imported.unchanged,
        item_count: u32::try_from(imported.item_count).unwrap_or(u32::MAX),
        items_added: codes(&imported.changes.added),
        items_removed: codes(&imported.changes.removed),
        items_changed: imported
            .changes
            .changed
            .iter()
            .map(|change| change.code.to_string())
            .collect(),
    })
}

impl TryFrom<proto::PublishListRequest> for PublishList {
    type Error = Error;

    fn try_from(request: proto::PublishListRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let kind = violations.check("name", list_kind(&request.name));
        let effective_from =
            violations.check("effective_from", instant(request.effective_from.as_ref()));
        let request_id =
            violations.check("request_id", RequestId::parse_optional(&request.request_id));
        let (Some(kind), Some(effective_from), Some(request_id)) =
            (kind, effective_from, request_id)
        else {
            return Err(Error::from(violations));
        };
        Ok(Self {
            retry: Retry::of(request_id, &request),
            kind,
            effective_from: effective_from.unwrap_or_else(Utc::now),
        })
    }
}

pub(super) async fn publish_list(
    service: &DutyListsService,
    access: &Access,
    request: proto::PublishListRequest,
) -> Result<proto::ListVersion, Error> {
    let command = PublishList::try_from(request)?;
    let published = drafts::publish_list(&service.duties, access, command).await?;
    Ok(version_to_proto(&published))
}
