//! Lists, versions, items, diffs, drafts, imports and publishing.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::{ForField as _, Violations};
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time;
use flatgov_proto::duties::v1 as proto;
use sqlx::PgConnection;

use super::DutyListsService;
use super::convert::{
    self, VersionRef, draft_item, draft_name, item_fields_from_proto, item_proto_field,
    item_to_proto, list_kind, list_kind_to_proto, version_name, version_ref, version_to_proto,
};
use super::retries::{self, Remembered, Retry};
use crate::domain::{
    DraftList, ImportError, ItemCode, ListContent, ListItem, ListKind, MatterCode, VersionNumber,
    diff, import,
};
use crate::error::{DatabaseContext as _, Error};
use crate::events;
use crate::policy::{POLICY, sees_drafts, sees_staff};
use crate::rules::{Rules, VersionRecord, VersionState};
use crate::store;
use crate::store::{bump_revision, lock_rules};

/// How far in the past a new version of a list that already has one may
/// take effect: enough for clock skew between a caller and the service,
/// too little to rewrite what was in effect (what cases were dispatched
/// and refused under).
const BACKDATING_GRACE: chrono::Duration = chrono::Duration::minutes(1);

/// An import's problems as field violations of `content`, each naming the
/// row and column (or JSON path) it was found at.
pub(super) fn import_violations(error: ImportError) -> Error {
    let mut violations = Violations::new();
    for problem in error.problems {
        violations.add("content", problem);
    }
    Error::from(violations)
}

// ---------------------------------------------------------------- reading

/// How much of the lists a caller sees: drafts are district-wide
/// administrators' work, and who published a version is shown only to
/// those who see people.
#[derive(Debug, Clone, Copy)]
struct Viewer {
    sees_drafts: bool,
    sees_staff: bool,
}

impl Viewer {
    fn of(access: &Access) -> Self {
        Self {
            sees_drafts: sees_drafts(access),
            sees_staff: sees_staff(access),
        }
    }
}

/// A version's content and record: published, or the draft.
struct VersionView<'a> {
    kind: ListKind,
    number: VersionNumber,
    content: &'a ListContent,
    record: Option<&'a VersionRecord>,
    /// The version's resource name (the draft's is `lists/{kind}/draft`).
    name: String,
}

/// The version a reference names, as `viewer` may see it: a draft is
/// answered exactly as a version that does not exist to those who do not
/// see drafts.
fn version_view(
    rules: &Rules,
    viewer: Viewer,
    reference: VersionRef,
    at: DateTime<Utc>,
) -> Result<VersionView<'_>, Error> {
    let kind = reference.kind();
    let history = rules.lists.history(kind);
    let (number, content, name) = match reference {
        VersionRef::InEffect(_) => {
            let version = history.in_effect_at(at).ok_or_else(|| {
                Error::NotFound(format!(
                    "no version of lists/{kind} is in effect at {}",
                    at.to_rfc3339()
                ))
            })?;
            (
                version.number(),
                version.content(),
                version_name(kind, version.number()),
            )
        }
        VersionRef::Number(_, number) => match history.version(number) {
            Some(version) => (number, version.content(), version_name(kind, number)),
            None => match rules.drafts.get(&kind) {
                Some(draft) if draft.number() == number && viewer.sees_drafts => {
                    (number, draft.content(), draft_name(kind))
                }
                _ => {
                    return Err(Error::NotFound(format!(
                        "{} does not exist",
                        version_name(kind, number)
                    )));
                }
            },
        },
        VersionRef::Draft(_) => {
            let draft = rules
                .drafts
                .get(&kind)
                .filter(|_| viewer.sees_drafts)
                .ok_or_else(|| Error::NotFound(format!("lists/{kind} has no draft")))?;
            (draft.number(), draft.content(), draft_name(kind))
        }
    };
    Ok(VersionView {
        kind,
        number,
        content,
        record: rules.versions.get(&(kind, number)),
        name,
    })
}

fn view_to_proto(
    rules: &Rules,
    viewer: Viewer,
    view: &VersionView<'_>,
    now: DateTime<Utc>,
) -> proto::ListVersion {
    let in_effect = rules
        .lists
        .history(view.kind)
        .in_effect_at(now)
        .is_some_and(|version| version.number() == view.number)
        && view
            .record
            .is_some_and(|record| record.state == VersionState::Published);
    let fallback = VersionRecord {
        state: VersionState::Draft,
        effective_from: None,
        publish_time: None,
        published_by: None,
        create_time: now,
        update_time: now,
    };
    let mut version = version_to_proto(
        view.kind,
        view.number,
        view.record.unwrap_or(&fallback),
        view.content.len(),
        view.content.categories().len(),
        in_effect,
    );
    if !viewer.sees_staff {
        version.published_by.clear();
    }
    version
}

fn duty_list(
    rules: &Rules,
    viewer: Viewer,
    kind: ListKind,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> proto::DutyList {
    let history = rules.lists.history(kind);
    let view = |reference| {
        version_view(rules, viewer, reference, at)
            .ok()
            .map(|view| view_to_proto(rules, viewer, &view, now))
    };
    proto::DutyList {
        name: convert::list_name(kind),
        kind: list_kind_to_proto(kind) as i32,
        title: kind.title_zh().to_owned(),
        code_prefix: kind.code_prefix().to_owned(),
        in_effect: view(VersionRef::InEffect(kind)),
        latest: history
            .latest()
            .and_then(|latest| view(VersionRef::Number(kind, latest.number()))),
        draft: rules
            .drafts
            .contains_key(&kind)
            .then(|| view(VersionRef::Draft(kind)))
            .flatten(),
        published_versions: u32::try_from(history.versions().len()).unwrap_or(u32::MAX),
    }
}

pub(super) async fn get_list(
    service: &DutyListsService,
    access: &Access,
    request: proto::GetListRequest,
) -> Result<proto::DutyList, Error> {
    let kind = list_kind("name", &request.name)?;
    let now = Utc::now();
    let at = time::optional_instant(request.at.as_ref())
        .for_field("at")?
        .unwrap_or(now);
    let rules = service.rules.current(&service.pool).await?;
    Ok(duty_list(&rules, Viewer::of(access), kind, at, now))
}

pub(super) async fn list_duty_lists(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListDutyListsRequest,
) -> Result<proto::ListDutyListsResponse, Error> {
    let now = Utc::now();
    let at = time::optional_instant(request.at.as_ref())
        .for_field("at")?
        .unwrap_or(now);
    let rules = service.rules.current(&service.pool).await?;
    Ok(proto::ListDutyListsResponse {
        lists: ListKind::ALL
            .into_iter()
            .map(|kind| duty_list(&rules, Viewer::of(access), kind, at, now))
            .collect(),
    })
}

pub(super) async fn get_list_version(
    service: &DutyListsService,
    access: &Access,
    request: proto::GetListVersionRequest,
) -> Result<proto::ListVersion, Error> {
    let reference = version_ref("name", &request.name)?;
    let now = Utc::now();
    let rules = service.rules.current(&service.pool).await?;
    let viewer = Viewer::of(access);
    let view = version_view(&rules, viewer, reference, now)?;
    Ok(view_to_proto(&rules, viewer, &view, now))
}

pub(super) async fn list_list_versions(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListListVersionsRequest,
) -> Result<proto::ListListVersionsResponse, Error> {
    let kind = list_kind("parent", &request.parent)?;
    let query = ListQuery::new(&format!("versions parent={kind}"));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let before = page.after_as::<u32>()?;
    let now = Utc::now();
    let rules = service.rules.current(&service.pool).await?;
    let viewer = Viewer::of(access);
    let mut numbers: Vec<VersionNumber> = rules
        .versions
        .iter()
        .filter(|((version_kind, _), record)| {
            *version_kind == kind && (viewer.sees_drafts || record.state == VersionState::Published)
        })
        .map(|((_, number), _)| *number)
        .collect();
    numbers.sort_by(|a, b| b.cmp(a));
    let mut remaining: Vec<VersionNumber> = numbers
        .into_iter()
        .filter(|number| before.is_none_or(|before| number.get() < before))
        .collect();
    let next_page_token = page
        .size
        .next_page_token(&mut remaining, &query, |number| number.get().to_string());
    let mut versions = Vec::with_capacity(remaining.len());
    for number in remaining {
        let view = version_view(&rules, viewer, VersionRef::Number(kind, number), now)?;
        versions.push(view_to_proto(&rules, viewer, &view, now));
    }
    Ok(proto::ListListVersionsResponse {
        versions,
        next_page_token,
    })
}

pub(super) async fn list_items(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListItemsRequest,
) -> Result<proto::ListItemsResponse, Error> {
    let reference = version_ref("parent", &request.parent)?;
    let at = time::optional_instant(request.at.as_ref()).for_field("at")?;
    let category = u8::try_from(request.category)
        .ok()
        .filter(|category| *category <= 99)
        .ok_or_else(|| {
            Error::invalid("category", "must be a category number 1-99, or 0 for all")
        })?;
    let query = ListQuery::new(&format!(
        "items parent={} at={} category={category}",
        request.parent,
        at.map(|at| at.to_rfc3339()).unwrap_or_default(),
    ));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let at = at.unwrap_or_else(Utc::now);
    let rules = service.rules.current(&service.pool).await?;
    let view = version_view(&rules, Viewer::of(access), reference, at)?;
    let mut matching: Vec<&ListItem> = view
        .content
        .items()
        .filter(|item| category == 0 || item.code().category() == category)
        .filter(|item| {
            page.after
                .as_deref()
                .is_none_or(|after| item.code().to_string().as_str() > after)
        })
        .collect();
    let next_page_token = page
        .size
        .next_page_token(&mut matching, &query, |item| item.code().to_string());
    Ok(proto::ListItemsResponse {
        items: matching
            .iter()
            .map(|item| item_to_proto(item, &view.name))
            .collect(),
        next_page_token,
        version: view.name.clone(),
    })
}

pub(super) async fn diff_versions(
    service: &DutyListsService,
    access: &Access,
    request: proto::DiffVersionsRequest,
) -> Result<proto::DiffVersionsResponse, Error> {
    let from = version_ref("from_version", &request.from_version)?;
    let to = version_ref("to_version", &request.to_version)?;
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
    let now = Utc::now();
    let rules = service.rules.current(&service.pool).await?;
    let viewer = Viewer::of(access);
    let older = version_view(&rules, viewer, from, now)?;
    let newer = version_view(&rules, viewer, to, now)?;
    let changes = diff(older.content, newer.content);
    Ok(proto::DiffVersionsResponse {
        added: changes.added.iter().map(ToString::to_string).collect(),
        removed: changes.removed.iter().map(ToString::to_string).collect(),
        changed: changes
            .changed
            .iter()
            .map(|change| proto::ItemChange {
                code: change.code.to_string(),
                fields: change
                    .fields
                    .iter()
                    .map(|field| item_proto_field(field.as_str()).to_owned())
                    .collect(),
                before: older
                    .content
                    .item(&change.code)
                    .map(|item| item_to_proto(item, &older.name)),
                after: newer
                    .content
                    .item(&change.code)
                    .map(|item| item_to_proto(item, &newer.name)),
            })
            .collect(),
    })
}

pub(super) async fn export_list(
    service: &DutyListsService,
    access: &Access,
    request: proto::ExportListRequest,
) -> Result<proto::ExportListResponse, Error> {
    let reference = version_ref("name", &request.name)?;
    let at = time::optional_instant(request.at.as_ref())
        .for_field("at")?
        .unwrap_or(Utc::now());
    let format = convert::data_format("format", request.format)?;
    let rules = service.rules.current(&service.pool).await?;
    let view = version_view(&rules, Viewer::of(access), reference, at)?;
    let content = match format {
        proto::DataFormat::Json => import::list_to_json(view.content),
        _ => import::list_to_csv(view.content),
    };
    Ok(proto::ExportListResponse {
        content,
        version: view.name.clone(),
    })
}

// ---------------------------------------------------------------- writing

/// Matters that map to one of `removed` when no published version has it:
/// taking those items away would leave the matters pointing nowhere.
fn stranded_matters(rules: &Rules, removed: &[ItemCode]) -> Vec<MatterCode> {
    let published = rules.lists.published_item_codes();
    rules
        .catalogue
        .iter()
        .filter(|matter| removed.contains(&matter.item()) && !published.contains(&matter.item()))
        .map(|matter| matter.code().clone())
        .collect()
}

fn refuse_stranding(rules: &Rules, removed: &[ItemCode], action: &str) -> Result<(), Error> {
    let stranded = stranded_matters(rules, removed);
    if stranded.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = stranded.iter().map(ToString::to_string).collect();
    Err(Error::FailedPrecondition(format!(
        "{action} would leave matters {} mapped to items no version has; map them elsewhere first",
        names.join(", ")
    )))
}

/// The list's draft, opened (from the latest published version, or empty)
/// when there is none; the flag says whether it was just opened.
async fn draft_for_edit(
    connection: &mut PgConnection,
    rules: &Rules,
    kind: ListKind,
    empty: bool,
) -> Result<(DraftList, bool), Error> {
    if let Some(draft) = rules.drafts.get(&kind) {
        return Ok((draft.clone(), false));
    }
    let number = store::allocate_version_number(&mut *connection, kind).await?;
    store::insert_draft(&mut *connection, kind, number).await?;
    let content = match rules.latest(kind) {
        Some(latest) if !empty => latest.content().clone(),
        _ => ListContent::empty(kind),
    };
    store::replace_items(connection, kind, number, &content).await?;
    Ok((DraftList::with_content(number, content), true))
}

pub(super) async fn create_draft(
    service: &DutyListsService,
    access: &Access,
    request: proto::CreateDraftRequest,
) -> Result<proto::ListVersion, Error> {
    let kind = list_kind("parent", &request.parent)?;
    access.audit().resource(draft_name(kind));
    let mut transaction = service.pool.begin().await.context("opening a draft")?;
    lock_rules(&mut transaction).await?;
    let rules = service.rules.locked(&mut transaction).await?;
    if rules.drafts.contains_key(&kind) {
        return Err(Error::AlreadyExists(format!(
            "lists/{kind} has a draft already ({}); edit, publish or discard it",
            draft_name(kind)
        )));
    }
    draft_for_edit(&mut transaction, &rules, kind, request.empty).await?;
    bump_revision(&mut transaction).await?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("opening a draft")?;
    transaction.commit().await.context("opening a draft")?;
    let now = Utc::now();
    let rules = service.rules.current(&service.pool).await?;
    let viewer = Viewer::of(access);
    let view = version_view(&rules, viewer, VersionRef::Draft(kind), now)?;
    Ok(view_to_proto(&rules, viewer, &view, now))
}

pub(super) async fn put_draft_item(
    service: &DutyListsService,
    access: &Access,
    request: proto::PutDraftItemRequest,
) -> Result<proto::ListItem, Error> {
    let kind = list_kind("parent", &request.parent)?;
    let proto_item = request
        .item
        .as_ref()
        .ok_or_else(|| Error::invalid("item", "an item is required"))?;
    let mut violations = Violations::new();
    let fields = item_fields_from_proto("item", proto_item, &mut violations);
    let Some(fields) = fields else {
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
                format!("item.{}", item_proto_field(violation.field().as_str())),
                violation,
            );
        }
        Error::from(violations)
    })?;
    access
        .audit()
        .resource(format!("{}/items/{}", draft_name(kind), item.code()));
    let mut transaction = service.pool.begin().await.context("editing a draft")?;
    lock_rules(&mut transaction).await?;
    let rules = service.rules.locked(&mut transaction).await?;
    let (mut draft, _) = draft_for_edit(&mut transaction, &rules, kind, false).await?;
    draft
        .content_mut()
        .put(item.clone(), &rules.departments)
        .map_err(|invalid| {
            let mut violations = Violations::new();
            for problem in invalid.problems {
                violations.add(
                    format!(
                        "item.{}",
                        item_proto_field(problem.violation.field().as_str())
                    ),
                    problem.violation,
                );
            }
            Error::from(violations)
        })?;
    store::replace_items(&mut transaction, kind, draft.number(), draft.content()).await?;
    bump_revision(&mut transaction).await?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("editing a draft")?;
    transaction.commit().await.context("editing a draft")?;
    tracing::info!(list = %kind, item = %item.code(), draft = %draft.number(), "draft item put");
    Ok(item_to_proto(&item, &draft_name(kind)))
}

pub(super) async fn delete_draft_item(
    service: &DutyListsService,
    access: &Access,
    request: proto::DeleteDraftItemRequest,
) -> Result<(), Error> {
    let (kind, code) = draft_item("name", &request.name)?;
    access.audit().resource(request.name.clone());
    let mut transaction = service.pool.begin().await.context("editing a draft")?;
    lock_rules(&mut transaction).await?;
    let rules = service.rules.locked(&mut transaction).await?;
    let mut draft = rules
        .drafts
        .get(&kind)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("lists/{kind} has no draft")))?;
    if draft.content_mut().remove(&code).is_none() {
        return Err(Error::NotFound(format!(
            "the draft of lists/{kind} has no item {code}"
        )));
    }
    refuse_stranding(&rules, &[code], &format!("removing {code} from the draft"))?;
    store::replace_items(&mut transaction, kind, draft.number(), draft.content()).await?;
    bump_revision(&mut transaction).await?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("editing a draft")?;
    transaction.commit().await.context("editing a draft")?;
    Ok(())
}

pub(super) async fn discard_draft(
    service: &DutyListsService,
    access: &Access,
    request: proto::DiscardDraftRequest,
) -> Result<(), Error> {
    let VersionRef::Draft(kind) = version_ref("name", &request.name)? else {
        return Err(Error::invalid(
            "name",
            format!("{:?} is not of the form lists/{{kind}}/draft", request.name),
        ));
    };
    access.audit().resource(draft_name(kind));
    let mut transaction = service.pool.begin().await.context("discarding a draft")?;
    lock_rules(&mut transaction).await?;
    let rules = service.rules.locked(&mut transaction).await?;
    let draft = rules
        .drafts
        .get(&kind)
        .ok_or_else(|| Error::NotFound(format!("lists/{kind} has no draft")))?;
    let items: Vec<ItemCode> = draft.content().codes().collect();
    refuse_stranding(
        &rules,
        &items,
        &format!("discarding the draft of lists/{kind}"),
    )?;
    store::delete_draft(&mut transaction, kind).await?;
    bump_revision(&mut transaction).await?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("discarding a draft")?;
    transaction.commit().await.context("discarding a draft")?;
    Ok(())
}

/// What a publication did.
struct Published {
    number: VersionNumber,
    /// An announcement was scheduled for a future effective instant.
    scheduled: bool,
}

/// Publishes `content` as version `number` of `kind` in the caller's
/// transaction (which holds the rules lock): checks the effective instant,
/// writes the version (opening it as a draft first unless it is one),
/// records the event, and announces the catalogue now or when the version
/// takes effect. Nothing is written when the instant is refused.
#[allow(clippy::too_many_arguments)]
async fn publish(
    connection: &mut PgConnection,
    rules: &Rules,
    kind: ListKind,
    number: VersionNumber,
    content: &ListContent,
    is_draft: bool,
    effective_from: DateTime<Utc>,
    now: DateTime<Utc>,
    access: &Access,
) -> Result<Published, Error> {
    let history = rules.lists.history(kind);
    let candidate = DraftList::with_content(number, content.clone());
    history
        .check_publish(&candidate, effective_from)
        .map_err(|error| Error::FailedPrecondition(error.to_string()))?;
    if let Some(current) = history.latest()
        && effective_from < now - BACKDATING_GRACE
    {
        return Err(Error::FailedPrecondition(format!(
            "lists/{kind} {number} cannot take effect at {}, in the past: {} has been in effect since {}, and publishing never rewrites what was in effect; choose an instant from now on",
            effective_from.to_rfc3339(),
            version_name(kind, current.number()),
            current.effective_from().to_rfc3339(),
        )));
    }
    if !is_draft {
        store::insert_draft(&mut *connection, kind, number).await?;
        store::replace_items(&mut *connection, kind, number, content).await?;
    }
    store::publish_version(
        &mut *connection,
        kind,
        number,
        effective_from,
        now,
        access
            .caller()
            .map(|caller| caller.subject.as_str())
            .unwrap_or_default(),
    )
    .await?;
    let empty = ListContent::empty(kind);
    let previous = history.latest().map_or(&empty, |latest| latest.content());
    let changes = diff(previous, content);
    flatgov_messaging::outbox::enqueue(
        &mut *connection,
        &convert::list_name(kind),
        &events::list_version_published(kind, number, effective_from, &changes),
    )
    .await
    .context("publishing a list version")?;
    access.audit().resource(version_name(kind, number));
    bump_revision(&mut *connection).await?;
    // An empty catalogue (lists loaded before it) has nothing to announce.
    let scheduled = if effective_from <= now {
        let after = Rules::read_uncommitted(&mut *connection).await?;
        if !after.catalogue.is_empty() {
            events::announce_catalogue(&mut *connection, &after, now).await?;
        }
        false
    } else {
        store::schedule_announcement(&mut *connection, effective_from).await?;
        true
    };
    tracing::info!(
        list = %kind,
        version = %number,
        effective_from = %effective_from,
        added = changes.added.len(),
        removed = changes.removed.len(),
        changed = changes.changed.len(),
        "list version published"
    );
    Ok(Published { number, scheduled })
}

async fn published_version(
    service: &DutyListsService,
    access: &Access,
    kind: ListKind,
    number: VersionNumber,
) -> Result<proto::ListVersion, Error> {
    let now = Utc::now();
    let rules = service.rules.current(&service.pool).await?;
    let viewer = Viewer::of(access);
    let view = version_view(&rules, viewer, VersionRef::Number(kind, number), now)?;
    Ok(view_to_proto(&rules, viewer, &view, now))
}

/// The version a retried PublishList published the first time.
async fn replayed_publication(
    service: &DutyListsService,
    access: &Access,
    first: String,
) -> Result<proto::ListVersion, Error> {
    let VersionRef::Number(kind, number) = version_ref("request_id", &first)
        .map_err(|_| Error::Corrupt(format!("remembered resource {first:?}")))?
    else {
        return Err(Error::Corrupt(format!("remembered resource {first:?}")));
    };
    access.audit().resource(first);
    published_version(service, access, kind, number).await
}

pub(super) async fn publish_list(
    service: &DutyListsService,
    access: &Access,
    request: proto::PublishListRequest,
) -> Result<proto::ListVersion, Error> {
    let kind = list_kind("name", &request.name)?;
    let now = Utc::now();
    let effective_from = time::optional_instant(request.effective_from.as_ref())
        .for_field("effective_from")?
        .unwrap_or(now);
    let request_id = RequestId::parse_optional(&request.request_id).for_field("request_id")?;
    let retry = Retry::of(request_id, &request);
    let mut transaction = service.pool.begin().await.context("publishing a list")?;
    // Publications are serialised by the rules lock, so a retry racing the
    // first call finds what it remembered here.
    lock_rules(&mut transaction).await?;
    if let Some(first) = retries::recall_in(&mut transaction, access, retry.as_ref()).await? {
        transaction.rollback().await.context("publishing a list")?;
        return replayed_publication(service, access, first).await;
    }
    let rules = service.rules.locked(&mut transaction).await?;
    let draft = rules.drafts.get(&kind).ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "lists/{kind} has no draft to publish; open one with CreateDraft, PutDraftItem or ImportList"
        ))
    })?;
    let name = version_name(kind, draft.number());
    if retries::remember(&mut transaction, access, retry.as_ref(), &name).await?
        == Remembered::LostRace
    {
        return Err(Error::Corrupt(format!(
            "a request id was remembered for {name} while the rules were locked"
        )));
    }
    let published = publish(
        &mut transaction,
        &rules,
        kind,
        draft.number(),
        draft.content(),
        true,
        effective_from,
        now,
        access,
    )
    .await?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("publishing a list")?;
    transaction.commit().await.context("publishing a list")?;
    if published.scheduled {
        service.announcer.notify_one();
    }
    published_version(service, access, kind, published.number).await
}

pub(super) async fn import_list(
    service: &DutyListsService,
    access: &Access,
    request: proto::ImportListRequest,
) -> Result<proto::ImportListResponse, Error> {
    let kind = list_kind("parent", &request.parent)?;
    let format = convert::data_format("format", request.format)?;
    let now = Utc::now();
    let effective_from =
        time::optional_instant(request.effective_from.as_ref()).for_field("effective_from")?;
    if effective_from.is_some() && !request.publish {
        return Err(Error::invalid(
            "effective_from",
            "is only meaningful with publish; a draft takes effect when PublishList publishes it",
        ));
    }
    let effective_from = effective_from.unwrap_or(now);
    let mut transaction = service.pool.begin().await.context("importing a list")?;
    lock_rules(&mut transaction).await?;
    let rules = service.rules.locked(&mut transaction).await?;
    let parsed = match format {
        proto::DataFormat::Json => {
            import::list_from_json(kind, &request.content, &rules.departments)
        }
        _ => import::list_from_csv(kind, &request.content, &rules.departments),
    };
    let content = parsed.map_err(import_violations)?;
    let latest = rules.latest(kind);
    let draft = rules.drafts.get(&kind);
    let empty = ListContent::empty(kind);
    let changes = diff(latest.map_or(&empty, |latest| latest.content()), &content);
    let unchanged_version = match (request.publish, draft) {
        (true, _) => latest
            .filter(|latest| latest.content() == &content)
            .map(|latest| (latest.number(), VersionRef::Number(kind, latest.number()))),
        (false, Some(draft)) => {
            (draft.content() == &content).then_some((draft.number(), VersionRef::Draft(kind)))
        }
        (false, None) => latest
            .filter(|latest| latest.content() == &content)
            .map(|latest| (latest.number(), VersionRef::Number(kind, latest.number()))),
    };
    let viewer = Viewer::of(access);
    if let Some((_, reference)) = unchanged_version {
        transaction.rollback().await.context("importing a list")?;
        let view = version_view(&rules, viewer, reference, now)?;
        return Ok(proto::ImportListResponse {
            version: Some(view_to_proto(&rules, viewer, &view, now)),
            unchanged: true,
            item_count: u32::try_from(content.len()).unwrap_or(u32::MAX),
            ..Default::default()
        });
    }
    if let Some(draft) = draft {
        let removed: Vec<ItemCode> = draft
            .content()
            .codes()
            .filter(|code| !content.contains(code))
            .collect();
        refuse_stranding(
            &rules,
            &removed,
            &format!("replacing the draft of lists/{kind}"),
        )?;
    }
    let (number, reference, scheduled) = if request.publish {
        let (number, is_draft) = match draft {
            Some(draft) => {
                store::replace_items(&mut transaction, kind, draft.number(), &content).await?;
                (draft.number(), true)
            }
            None => (
                store::allocate_version_number(&mut transaction, kind).await?,
                false,
            ),
        };
        let published = publish(
            &mut transaction,
            &rules,
            kind,
            number,
            &content,
            is_draft,
            effective_from,
            now,
            access,
        )
        .await?;
        (
            number,
            VersionRef::Number(kind, number),
            published.scheduled,
        )
    } else {
        let (draft, _) = draft_for_edit(&mut transaction, &rules, kind, true).await?;
        store::replace_items(&mut transaction, kind, draft.number(), &content).await?;
        bump_revision(&mut transaction).await?;
        access.audit().resource(draft_name(kind));
        (draft.number(), VersionRef::Draft(kind), false)
    };
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("importing a list")?;
    transaction.commit().await.context("importing a list")?;
    if scheduled {
        service.announcer.notify_one();
    }
    tracing::info!(list = %kind, version = %number, publish = request.publish, items = content.len(), "list imported");
    let rules = service.rules.current(&service.pool).await?;
    let view = version_view(&rules, viewer, reference, now)?;
    Ok(proto::ImportListResponse {
        version: Some(view_to_proto(&rules, viewer, &view, now)),
        unchanged: false,
        item_count: u32::try_from(content.len()).unwrap_or(u32::MAX),
        items_added: changes.added.iter().map(ToString::to_string).collect(),
        items_removed: changes.removed.iter().map(ToString::to_string).collect(),
        items_changed: changes
            .changed
            .iter()
            .map(|change| change.code.to_string())
            .collect(),
    })
}
