//! Changing the lists: drafts (opened, edited, discarded), imports and
//! publishing. Every change takes the rules lock, validates against the
//! state it replaces, bumps the rules revision and commits with its
//! events and audit record.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_vocabulary::MatterCode;
use sqlx::PgConnection;

use super::lists::{VersionRef, VersionSummary, Viewer, summary_of};
use super::retries::{self, Remembered, Retry};
use super::{DataFormat, Duties, import_violations, record_audit};
use crate::domain::names::{draft_name, item_name, list_name, version_name};
use crate::domain::{
    DraftList, ItemCode, ListContent, ListDiff, ListItem, ListKind, VersionNumber, diff, import,
};
use crate::error::Error;
use crate::events;
use crate::rules::Rules;
use crate::store::{self, bump_revision, lock_rules};

/// How far in the past a new version of a list that already has one may
/// take effect: enough for clock skew between a caller and the service,
/// too little to rewrite what was in effect (what cases were dispatched
/// and refused under).
const BACKDATING_GRACE: chrono::Duration = chrono::Duration::minutes(1);

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
/// when there is none.
async fn draft_for_edit(
    connection: &mut PgConnection,
    rules: &Rules,
    kind: ListKind,
    empty: bool,
) -> Result<DraftList, Error> {
    if let Some(draft) = rules.drafts.get(&kind) {
        return Ok(draft.clone());
    }
    let number = store::lists::allocate_version_number(&mut *connection, kind).await?;
    store::lists::insert_draft(&mut *connection, kind, number).await?;
    let content = match rules.latest(kind) {
        Some(latest) if !empty => latest.content().clone(),
        _ => ListContent::empty(kind),
    };
    store::lists::replace_items(connection, kind, number, &content).await?;
    Ok(DraftList::with_content(number, content))
}

/// The draft of `kind` as the caller now sees it.
async fn draft_summary(
    duties: &Duties,
    access: &Access,
    kind: ListKind,
) -> Result<VersionSummary, Error> {
    let rules = duties.rules.current(&duties.pool).await?;
    summary_of(
        &rules,
        Viewer::of(access),
        VersionRef::Draft(kind),
        duties.clock.now(),
    )
}

/// Opens the list's draft: from the latest published version, or empty.
pub async fn create_draft(
    duties: &Duties,
    access: &Access,
    kind: ListKind,
    empty: bool,
) -> Result<VersionSummary, Error> {
    access.audit().resource(draft_name(kind));
    let mut transaction = store::begin(&duties.pool, "opening a draft").await?;
    lock_rules(&mut transaction).await?;
    let rules = duties.rules.locked(&mut transaction).await?;
    if rules.drafts.contains_key(&kind) {
        return Err(Error::AlreadyExists(format!(
            "lists/{kind} has a draft already ({}); edit, publish or discard it",
            draft_name(kind)
        )));
    }
    draft_for_edit(&mut transaction, &rules, kind, empty).await?;
    bump_revision(&mut transaction).await?;
    record_audit(&mut transaction, access, "opening a draft").await?;
    store::commit(transaction, "opening a draft").await?;
    draft_summary(duties, access, kind).await
}

/// Puts `item` on the list's draft (opening it when there is none),
/// replacing the item with the same code.
#[derive(Debug, Clone)]
pub struct PutDraftItem {
    pub kind: ListKind,
    /// Valid on its own; whether its departments exist is checked here.
    pub item: ListItem,
}

/// The item as put, and the draft's resource name.
pub async fn put_draft_item(
    duties: &Duties,
    access: &Access,
    command: PutDraftItem,
) -> Result<(ListItem, String), Error> {
    let kind = command.kind;
    let draft = draft_name(kind);
    access
        .audit()
        .resource(item_name(&draft, &command.item.code().to_string()));
    let mut transaction = store::begin(&duties.pool, "editing a draft").await?;
    lock_rules(&mut transaction).await?;
    let rules = duties.rules.locked(&mut transaction).await?;
    let mut edited = draft_for_edit(&mut transaction, &rules, kind, false).await?;
    edited
        .content_mut()
        .put(command.item.clone(), &rules.departments)
        .map_err(|invalid| {
            let mut violations = Violations::new();
            for problem in invalid.problems {
                violations.add(
                    format!(
                        "item.{}",
                        item_request_field(problem.violation.field().as_str())
                    ),
                    problem.violation,
                );
            }
            Error::from(violations)
        })?;
    store::lists::replace_items(&mut transaction, kind, edited.number(), edited.content()).await?;
    bump_revision(&mut transaction).await?;
    record_audit(&mut transaction, access, "editing a draft").await?;
    store::commit(transaction, "editing a draft").await?;
    tracing::info!(list = %kind, item = %command.item.code(), draft = %edited.number(), "draft item put");
    Ok((command.item, draft))
}

/// The request field an item's import-shape field is reported under.
pub fn item_request_field(shape_field: &str) -> &str {
    match shape_field {
        "name" => "display_name",
        "name_en" => "display_name_en",
        other => other,
    }
}

/// Takes `code` off the list's draft.
pub async fn delete_draft_item(
    duties: &Duties,
    access: &Access,
    kind: ListKind,
    code: ItemCode,
) -> Result<(), Error> {
    access
        .audit()
        .resource(item_name(&draft_name(kind), &code.to_string()));
    let mut transaction = store::begin(&duties.pool, "editing a draft").await?;
    lock_rules(&mut transaction).await?;
    let rules = duties.rules.locked(&mut transaction).await?;
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
    store::lists::replace_items(&mut transaction, kind, draft.number(), draft.content()).await?;
    bump_revision(&mut transaction).await?;
    record_audit(&mut transaction, access, "editing a draft").await?;
    store::commit(transaction, "editing a draft").await?;
    Ok(())
}

/// Abandons the list's draft (its number is not reused).
pub async fn discard_draft(duties: &Duties, access: &Access, kind: ListKind) -> Result<(), Error> {
    access.audit().resource(draft_name(kind));
    let mut transaction = store::begin(&duties.pool, "discarding a draft").await?;
    lock_rules(&mut transaction).await?;
    let rules = duties.rules.locked(&mut transaction).await?;
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
    store::lists::delete_draft(&mut transaction, kind).await?;
    bump_revision(&mut transaction).await?;
    record_audit(&mut transaction, access, "discarding a draft").await?;
    store::commit(transaction, "discarding a draft").await?;
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
        store::lists::insert_draft(&mut *connection, kind, number).await?;
        store::lists::replace_items(&mut *connection, kind, number, content).await?;
    }
    store::lists::publish_version(
        &mut *connection,
        kind,
        number,
        effective_from,
        now,
        access.subject(),
    )
    .await?;
    let empty = ListContent::empty(kind);
    let previous = history.latest().map_or(&empty, |latest| latest.content());
    let changes = diff(previous, content);
    events::list_version_published(&mut *connection, kind, number, effective_from, &changes)
        .await?;
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
        store::announcements::schedule(&mut *connection, effective_from).await?;
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

/// The published version `number` of `kind`, as the caller sees it.
async fn published_version(
    duties: &Duties,
    access: &Access,
    kind: ListKind,
    number: VersionNumber,
) -> Result<VersionSummary, Error> {
    let rules = duties.rules.current(&duties.pool).await?;
    summary_of(
        &rules,
        Viewer::of(access),
        VersionRef::Number(kind, number),
        duties.clock.now(),
    )
}

/// Publishes the list's draft to take effect at `effective_from`.
#[derive(Debug, Clone)]
pub struct PublishList {
    pub kind: ListKind,
    pub effective_from: DateTime<Utc>,
    pub retry: Option<Retry>,
}

pub async fn publish_list(
    duties: &Duties,
    access: &Access,
    command: PublishList,
) -> Result<VersionSummary, Error> {
    let kind = command.kind;
    let now = duties.clock.now();
    let retry = command.retry.as_ref();
    let mut transaction = store::begin(&duties.pool, "publishing a list").await?;
    // Publications are serialised by the rules lock, so a retry racing the
    // first call finds what it remembered here.
    lock_rules(&mut transaction).await?;
    if let Some(first) = retries::recall_in(&mut transaction, access, retry).await? {
        store::roll_back(transaction, "publishing a list").await?;
        return replayed_publication(duties, access, first).await;
    }
    let rules = duties.rules.locked(&mut transaction).await?;
    let draft = rules.drafts.get(&kind).ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "lists/{kind} has no draft to publish; open one with CreateDraft, PutDraftItem or ImportList"
        ))
    })?;
    let name = version_name(kind, draft.number());
    if retries::remember(&mut transaction, access, retry, &name).await? == Remembered::LostRace {
        return Err(Error::corrupt(format!(
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
        command.effective_from,
        now,
        access,
    )
    .await?;
    record_audit(&mut transaction, access, "publishing a list").await?;
    store::commit(transaction, "publishing a list").await?;
    if published.scheduled {
        duties.announcer.notify_one();
    }
    published_version(duties, access, kind, published.number).await
}

/// The version a retried PublishList published the first time.
async fn replayed_publication(
    duties: &Duties,
    access: &Access,
    first: String,
) -> Result<VersionSummary, Error> {
    let number = first
        .rsplit_once("/versions/")
        .and_then(|(list, number)| {
            let kind = list.strip_prefix("lists/")?;
            Some((kind.parse::<ListKind>().ok()?, number.parse::<u32>().ok()?))
        })
        .and_then(|(kind, number)| Some((kind, VersionNumber::new(number)?)))
        .ok_or_else(|| Error::corrupt(format!("remembered resource {first:?}")))?;
    access.audit().resource(first);
    published_version(duties, access, number.0, number.1).await
}

/// Replace the draft's items with a file of one list, all or nothing;
/// with `publish`, publish them in the same transaction.
#[derive(Debug, Clone)]
pub struct ImportList {
    pub kind: ListKind,
    pub format: DataFormat,
    pub content: String,
    pub publish: bool,
    /// With `publish`: when the new version takes effect; `None` for now.
    pub effective_from: Option<DateTime<Utc>>,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportedList {
    /// The draft the items went into, or the version published.
    pub version: VersionSummary,
    /// The file matched what is there and nothing changed.
    pub unchanged: bool,
    pub item_count: usize,
    /// Against the latest published version (empty when unchanged).
    pub changes: ListDiff,
}

pub async fn import_list(
    duties: &Duties,
    access: &Access,
    command: ImportList,
) -> Result<ImportedList, Error> {
    let kind = command.kind;
    let now = duties.clock.now();
    let effective_from = command.effective_from.unwrap_or(now);
    access.audit().resource(list_name(kind));
    let mut transaction = store::begin(&duties.pool, "importing a list").await?;
    lock_rules(&mut transaction).await?;
    let rules = duties.rules.locked(&mut transaction).await?;
    let parsed = match command.format {
        DataFormat::Json => import::list_from_json(kind, &command.content, &rules.departments),
        DataFormat::Csv => import::list_from_csv(kind, &command.content, &rules.departments),
    };
    let content = parsed.map_err(import_violations)?;
    let latest = rules.latest(kind);
    let draft = rules.drafts.get(&kind);
    let empty = ListContent::empty(kind);
    let changes = diff(latest.map_or(&empty, |latest| latest.content()), &content);
    let unchanged_version = match (command.publish, draft) {
        (true, _) | (false, None) => latest
            .filter(|latest| latest.content() == &content)
            .map(|latest| VersionRef::Number(kind, latest.number())),
        (false, Some(draft)) => (draft.content() == &content).then_some(VersionRef::Draft(kind)),
    };
    let viewer = Viewer::of(access);
    if let Some(reference) = unchanged_version {
        store::roll_back(transaction, "importing a list").await?;
        return Ok(ImportedList {
            version: summary_of(&rules, viewer, reference, now)?,
            unchanged: true,
            item_count: content.len(),
            changes: ListDiff::default(),
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
    let (number, reference, scheduled) = if command.publish {
        let (number, is_draft) = match draft {
            Some(draft) => {
                store::lists::replace_items(&mut transaction, kind, draft.number(), &content)
                    .await?;
                (draft.number(), true)
            }
            None => (
                store::lists::allocate_version_number(&mut transaction, kind).await?,
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
        let draft = draft_for_edit(&mut transaction, &rules, kind, true).await?;
        store::lists::replace_items(&mut transaction, kind, draft.number(), &content).await?;
        bump_revision(&mut transaction).await?;
        access.audit().resource(draft_name(kind));
        (draft.number(), VersionRef::Draft(kind), false)
    };
    record_audit(&mut transaction, access, "importing a list").await?;
    store::commit(transaction, "importing a list").await?;
    if scheduled {
        duties.announcer.notify_one();
    }
    tracing::info!(list = %kind, version = %number, publish = command.publish, items = content.len(), "list imported");
    let rules = duties.rules.current(&duties.pool).await?;
    Ok(ImportedList {
        version: summary_of(&rules, viewer, reference, now)?,
        unchanged: false,
        item_count: content.len(),
        changes,
    })
}
