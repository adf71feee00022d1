//! Reading the lists: each list with its versions of interest, a version,
//! its items, a diff between two versions, an export. The published
//! lists are public; drafts are district-wide administrators' work, so to
//! everyone else a draft is answered exactly as if there were none.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;

use super::{DataFormat, Duties, Page};
use crate::domain::names::{draft_name, version_name};
use crate::domain::{
    ItemChange, ItemCode, ListContent, ListDiff, ListItem, ListKind, VersionNumber, diff, import,
};
use crate::error::Error;
use crate::policy::{sees_drafts, sees_staff};
use crate::rules::{Rules, VersionRecord, VersionState};

/// Which version of a list a name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef {
    /// `lists/{kind}`: the version in effect at some instant.
    InEffect(ListKind),
    /// `lists/{kind}/versions/{number}`.
    Number(ListKind, VersionNumber),
    /// `lists/{kind}/draft`.
    Draft(ListKind),
}

impl VersionRef {
    pub fn kind(self) -> ListKind {
        match self {
            VersionRef::InEffect(kind) | VersionRef::Number(kind, _) | VersionRef::Draft(kind) => {
                kind
            }
        }
    }
}

/// How much of the lists a caller sees: drafts are district-wide
/// administrators' work, and who published a version is shown only to
/// those who see people.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    sees_drafts: bool,
    sees_staff: bool,
}

impl Viewer {
    pub fn of(access: &Access) -> Self {
        Self {
            sees_drafts: sees_drafts(access),
            sees_staff: sees_staff(access),
        }
    }
}

/// One version as an answer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSummary {
    pub kind: ListKind,
    pub number: VersionNumber,
    /// Its state and times; `published_by` empty unless the caller sees
    /// people.
    pub record: VersionRecord,
    pub item_count: usize,
    pub category_count: usize,
    /// A published version in effect now.
    pub in_effect: bool,
}

/// A list with its versions of interest.
#[derive(Debug, Clone)]
pub struct ListSummary {
    pub kind: ListKind,
    /// The version in effect at the instant asked about.
    pub in_effect: Option<VersionSummary>,
    /// The latest published version (possibly not in effect yet).
    pub latest: Option<VersionSummary>,
    /// The draft, for those who see drafts.
    pub draft: Option<VersionSummary>,
    pub published_versions: usize,
}

/// A version's content and record, as the rules hold them.
pub(super) struct VersionView<'a> {
    pub kind: ListKind,
    pub number: VersionNumber,
    pub content: &'a ListContent,
    pub record: Option<&'a VersionRecord>,
    /// The version's resource name (the draft's is `lists/{kind}/draft`).
    pub name: String,
}

/// The version a reference names, as `viewer` may see it.
pub(super) fn version_view(
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

pub(super) fn summarise(
    rules: &Rules,
    viewer: Viewer,
    view: &VersionView<'_>,
    now: DateTime<Utc>,
) -> VersionSummary {
    let published = view
        .record
        .is_some_and(|record| record.state == VersionState::Published);
    let in_effect = published
        && rules
            .lists
            .history(view.kind)
            .in_effect_at(now)
            .is_some_and(|version| version.number() == view.number);
    let mut record = view.record.cloned().unwrap_or(VersionRecord {
        state: VersionState::Draft,
        effective_from: None,
        publish_time: None,
        published_by: None,
        create_time: now,
        update_time: now,
    });
    if !viewer.sees_staff {
        record.published_by = None;
    }
    VersionSummary {
        kind: view.kind,
        number: view.number,
        record,
        item_count: view.content.len(),
        category_count: view.content.categories().len(),
        in_effect,
    }
}

/// The version a reference names, summarised for `viewer`.
pub(super) fn summary_of(
    rules: &Rules,
    viewer: Viewer,
    reference: VersionRef,
    at: DateTime<Utc>,
) -> Result<VersionSummary, Error> {
    let view = version_view(rules, viewer, reference, at)?;
    Ok(summarise(rules, viewer, &view, at))
}

fn list_summary(
    rules: &Rules,
    viewer: Viewer,
    kind: ListKind,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ListSummary {
    let history = rules.lists.history(kind);
    let summary = |reference, at| {
        version_view(rules, viewer, reference, at)
            .ok()
            .map(|view| summarise(rules, viewer, &view, now))
    };
    ListSummary {
        kind,
        in_effect: summary(VersionRef::InEffect(kind), at),
        latest: history
            .latest()
            .and_then(|latest| summary(VersionRef::Number(kind, latest.number()), now)),
        draft: rules
            .drafts
            .contains_key(&kind)
            .then(|| summary(VersionRef::Draft(kind), now))
            .flatten(),
        published_versions: history.versions().len(),
    }
}

/// One list, with the version in effect at `at`.
pub async fn get_list(
    duties: &Duties,
    access: &Access,
    kind: ListKind,
    at: Option<DateTime<Utc>>,
) -> Result<ListSummary, Error> {
    let now = duties.clock.now();
    let rules = duties.rules.current(&duties.pool).await?;
    Ok(list_summary(
        &rules,
        Viewer::of(access),
        kind,
        at.unwrap_or(now),
        now,
    ))
}

/// The five lists, in the order they are usually printed.
pub async fn list_duty_lists(
    duties: &Duties,
    access: &Access,
    at: Option<DateTime<Utc>>,
) -> Result<Vec<ListSummary>, Error> {
    let now = duties.clock.now();
    let at = at.unwrap_or(now);
    let rules = duties.rules.current(&duties.pool).await?;
    let viewer = Viewer::of(access);
    Ok(ListKind::ALL
        .into_iter()
        .map(|kind| list_summary(&rules, viewer, kind, at, now))
        .collect())
}

pub async fn get_version(
    duties: &Duties,
    access: &Access,
    reference: VersionRef,
) -> Result<VersionSummary, Error> {
    let rules = duties.rules.current(&duties.pool).await?;
    summary_of(&rules, Viewer::of(access), reference, duties.clock.now())
}

/// A list's versions, newest first (the draft first, for those who see
/// it), after the page's version number.
pub async fn list_versions(
    duties: &Duties,
    access: &Access,
    kind: ListKind,
    page: &Page<u32>,
) -> Result<Vec<VersionSummary>, Error> {
    let now = duties.clock.now();
    let rules = duties.rules.current(&duties.pool).await?;
    let viewer = Viewer::of(access);
    let mut numbers: Vec<VersionNumber> = rules
        .versions
        .iter()
        .filter(|((version_kind, _), record)| {
            *version_kind == kind && (viewer.sees_drafts || record.state == VersionState::Published)
        })
        .map(|((_, number), _)| *number)
        .filter(|number| page.after.is_none_or(|before| number.get() < before))
        .collect();
    numbers.sort_by(|a, b| b.cmp(a));
    numbers.truncate(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX));
    numbers
        .into_iter()
        .map(|number| {
            let view = version_view(&rules, viewer, VersionRef::Number(kind, number), now)?;
            Ok(summarise(&rules, viewer, &view, now))
        })
        .collect()
}

/// The items of a version (or of the version in effect at `at`), in code
/// order, optionally of one category.
#[derive(Debug, Clone)]
pub struct ListItems {
    pub version: VersionRef,
    pub at: Option<DateTime<Utc>>,
    /// A category number 1–99; `None` for all.
    pub category: Option<u8>,
    pub page: Page<String>,
}

/// Items and the version they come from.
#[derive(Debug, Clone)]
pub struct Items {
    /// The version's resource name.
    pub version: String,
    pub items: Vec<ListItem>,
}

pub async fn list_items(
    duties: &Duties,
    access: &Access,
    command: &ListItems,
) -> Result<Items, Error> {
    let at = command.at.unwrap_or_else(Utc::now);
    let rules = duties.rules.current(&duties.pool).await?;
    let view = version_view(&rules, Viewer::of(access), command.version, at)?;
    let items = view
        .content
        .items()
        .filter(|item| {
            command
                .category
                .is_none_or(|category| item.code().category() == category)
        })
        .filter(|item| {
            command
                .page
                .after
                .as_deref()
                .is_none_or(|after| item.code().to_string().as_str() > after)
        })
        .take(usize::try_from(command.page.fetch_limit()).unwrap_or(usize::MAX))
        .cloned()
        .collect();
    Ok(Items {
        version: view.name,
        items,
    })
}

/// An item in both versions whose fields differ, with both.
#[derive(Debug, Clone)]
pub struct ChangedItem {
    pub change: ItemChange,
    pub before: Option<ListItem>,
    pub after: Option<ListItem>,
}

/// Item by item, from one version of a list to another.
#[derive(Debug, Clone)]
pub struct VersionDiff {
    /// The older version's resource name.
    pub older: String,
    /// The newer version's resource name.
    pub newer: String,
    pub added: Vec<ItemCode>,
    pub removed: Vec<ItemCode>,
    pub changed: Vec<ChangedItem>,
}

/// Compares two versions of one list (the transport checks they are).
pub async fn diff_versions(
    duties: &Duties,
    access: &Access,
    from: VersionRef,
    to: VersionRef,
) -> Result<VersionDiff, Error> {
    let now = duties.clock.now();
    let rules = duties.rules.current(&duties.pool).await?;
    let viewer = Viewer::of(access);
    let older = version_view(&rules, viewer, from, now)?;
    let newer = version_view(&rules, viewer, to, now)?;
    let ListDiff {
        added,
        removed,
        changed,
    } = diff(older.content, newer.content);
    let changed = changed
        .into_iter()
        .map(|change| ChangedItem {
            before: older.content.item(&change.code).cloned(),
            after: newer.content.item(&change.code).cloned(),
            change,
        })
        .collect();
    Ok(VersionDiff {
        older: older.name,
        newer: newer.name,
        added,
        removed,
        changed,
    })
}

/// A version as a file in the shape ImportList reads.
#[derive(Debug, Clone)]
pub struct Export {
    /// The version's resource name.
    pub version: String,
    pub content: String,
}

pub async fn export(
    duties: &Duties,
    access: &Access,
    reference: VersionRef,
    at: Option<DateTime<Utc>>,
    format: DataFormat,
) -> Result<Export, Error> {
    let rules = duties.rules.current(&duties.pool).await?;
    let view = version_view(
        &rules,
        Viewer::of(access),
        reference,
        at.unwrap_or_else(Utc::now),
    )?;
    let content = match format {
        DataFormat::Json => import::list_to_json(view.content),
        DataFormat::Csv => import::list_to_csv(view.content),
    };
    Ok(Export {
        version: view.name,
        content,
    })
}
