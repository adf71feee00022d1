//! List versions: drafts that are edited, published versions with an effective instant,
//! the published history of each list, and which items are in effect at an instant.
//!
//! Each of the five lists is versioned on its own, district-wide. A list's published
//! versions take effect at strictly increasing instants, so at any instant at most one
//! version of each list is in effect: the one with the latest effective instant not after
//! it. Publishing never rewrites history; a correction is a new version.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};

use super::item::ListItem;
use super::item_code::ItemCode;
use super::kinds::ListKind;
use super::list::ListContent;

/// The number of a list version; `1` is the first. Numbers increase with every version of
/// a list, drafts included, so a number may be skipped when a draft is abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionNumber(u32);

impl VersionNumber {
    /// The first version of a list.
    pub const FIRST: VersionNumber = VersionNumber(1);

    /// A version number; `None` for `0`.
    pub fn new(number: u32) -> Option<Self> {
        (number >= 1).then_some(Self(number))
    }

    /// The number as an integer.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The number after this one (saturating at `u32::MAX`).
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

impl fmt::Display for VersionNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "v{}", self.0)
    }
}

/// A version being edited. Only drafts give mutable access to their content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftList {
    /// The number the version will have when published.
    number: VersionNumber,
    /// The items being edited.
    content: ListContent,
}

impl DraftList {
    /// An empty draft.
    pub fn new(list: ListKind, number: VersionNumber) -> Self {
        Self {
            number,
            content: ListContent::empty(list),
        }
    }

    /// A draft holding `content`.
    pub fn with_content(number: VersionNumber, content: ListContent) -> Self {
        Self { number, content }
    }

    /// A draft of the next version, starting from a published version's items.
    pub fn based_on(published: &PublishedList) -> Self {
        Self {
            number: published.number.next(),
            content: published.content.clone(),
        }
    }

    /// The number the version will have.
    pub fn number(&self) -> VersionNumber {
        self.number
    }

    /// Which list.
    pub fn list(&self) -> ListKind {
        self.content.list()
    }

    /// The items.
    pub fn content(&self) -> &ListContent {
        &self.content
    }

    /// The items, for editing with [`ListContent::put`] and [`ListContent::remove`].
    pub fn content_mut(&mut self) -> &mut ListContent {
        &mut self.content
    }
}

/// A published version: read-only, in effect from `effective_from` until the next
/// version of the list takes effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedList {
    /// The version number.
    number: VersionNumber,
    /// The items.
    content: ListContent,
    /// The instant the version takes effect.
    effective_from: DateTime<Utc>,
    /// The instant it was published (for the record; may precede `effective_from`).
    published_at: DateTime<Utc>,
}

impl PublishedList {
    /// The version number.
    pub fn number(&self) -> VersionNumber {
        self.number
    }

    /// Which list.
    pub fn list(&self) -> ListKind {
        self.content.list()
    }

    /// The items.
    pub fn content(&self) -> &ListContent {
        &self.content
    }

    /// The instant the version takes effect.
    pub fn effective_from(&self) -> DateTime<Utc> {
        self.effective_from
    }

    /// The instant it was published.
    pub fn published_at(&self) -> DateTime<Utc> {
        self.published_at
    }
}

/// Why a draft cannot be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The draft is of another list than the history.
    #[error("a draft of the {draft} list cannot be published into the {history} list")]
    WrongList {
        /// The history's list.
        history: ListKind,
        /// The draft's list.
        draft: ListKind,
    },
    /// The draft's effective instant is not after the latest published version's.
    #[error(
        "{list} {number} cannot take effect at {}: the current version {current_number} takes effect at {}, and a new version must take effect after it",
        instant(*.requested),
        instant(*.current_effective_from)
    )]
    EffectiveNotAfterCurrent {
        /// Which list.
        list: ListKind,
        /// The draft's number.
        number: VersionNumber,
        /// The requested effective instant.
        requested: DateTime<Utc>,
        /// The latest published version.
        current_number: VersionNumber,
        /// When it takes effect.
        current_effective_from: DateTime<Utc>,
    },
    /// The draft's number is not above the latest published version's.
    #[error("{list} {number} cannot be published: {current_number} is already published")]
    NumberNotAfterCurrent {
        /// Which list.
        list: ListKind,
        /// The draft's number.
        number: VersionNumber,
        /// The latest published number.
        current_number: VersionNumber,
    },
}

/// The published versions of one list, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListHistory {
    /// Which list.
    list: ListKind,
    /// Published versions by increasing number and effective instant.
    published: Vec<PublishedList>,
}

impl ListHistory {
    /// A list with nothing published.
    pub fn new(list: ListKind) -> Self {
        Self {
            list,
            published: Vec::new(),
        }
    }

    /// Which list.
    pub fn list(&self) -> ListKind {
        self.list
    }

    /// The published versions, oldest first.
    pub fn versions(&self) -> &[PublishedList] {
        &self.published
    }

    /// The published version with this number.
    pub fn version(&self, number: VersionNumber) -> Option<&PublishedList> {
        self.published
            .iter()
            .find(|version| version.number == number)
    }

    /// The latest published version (the one taking effect last), in effect or not yet.
    pub fn latest(&self) -> Option<&PublishedList> {
        self.published.last()
    }

    /// The version in effect at `at`: the one with the latest effective instant not
    /// after `at`. `None` before the first version takes effect.
    pub fn in_effect_at(&self, at: DateTime<Utc>) -> Option<&PublishedList> {
        self.published
            .iter()
            .rev()
            .find(|version| version.effective_from <= at)
    }

    /// Checks that `draft` could be published to take effect at `effective_from`:
    /// it is of this list, and both its number and its effective instant come strictly
    /// after the latest published version's. Publishing a version that takes effect
    /// before (or together with) the current one is refused, because it would rewrite
    /// what was in effect in between.
    pub fn check_publish(
        &self,
        draft: &DraftList,
        effective_from: DateTime<Utc>,
    ) -> Result<(), PublishError> {
        if draft.list() != self.list {
            return Err(PublishError::WrongList {
                history: self.list,
                draft: draft.list(),
            });
        }
        let Some(current) = self.latest() else {
            return Ok(());
        };
        if draft.number <= current.number {
            return Err(PublishError::NumberNotAfterCurrent {
                list: self.list,
                number: draft.number,
                current_number: current.number,
            });
        }
        if effective_from <= current.effective_from {
            return Err(PublishError::EffectiveNotAfterCurrent {
                list: self.list,
                number: draft.number,
                requested: effective_from,
                current_number: current.number,
                current_effective_from: current.effective_from,
            });
        }
        Ok(())
    }

    /// Publishes a copy of `draft` to take effect at `effective_from`; see
    /// [`ListHistory::check_publish`] for when it is refused (nothing changes then).
    /// A store reloading a history replays its versions through this, oldest first.
    pub fn publish(
        &mut self,
        draft: &DraftList,
        effective_from: DateTime<Utc>,
        published_at: DateTime<Utc>,
    ) -> Result<&PublishedList, PublishError> {
        self.check_publish(draft, effective_from)?;
        self.published.push(PublishedList {
            number: draft.number,
            content: draft.content.clone(),
            effective_from,
            published_at,
        });
        let just_published = self.published.len() - 1;
        Ok(&self.published[just_published])
    }
}

/// The published histories of all five lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutyLists {
    /// One history per list kind, in [`ListKind::ALL`] order.
    histories: [ListHistory; 5],
}

impl Default for DutyLists {
    fn default() -> Self {
        Self::new()
    }
}

impl DutyLists {
    /// Five lists with nothing published.
    pub fn new() -> Self {
        Self {
            histories: ListKind::ALL.map(ListHistory::new),
        }
    }

    /// The history of one list.
    pub fn history(&self, list: ListKind) -> &ListHistory {
        &self.histories[list.ordinal()]
    }

    /// Publishes a draft into its list's history; see [`ListHistory::publish`].
    pub fn publish(
        &mut self,
        draft: &DraftList,
        effective_from: DateTime<Utc>,
        published_at: DateTime<Utc>,
    ) -> Result<&PublishedList, PublishError> {
        self.histories[draft.list().ordinal()].publish(draft, effective_from, published_at)
    }

    /// The lists as they stand at `at`.
    pub fn in_effect_at(&self, at: DateTime<Utc>) -> ListsInEffect<'_> {
        ListsInEffect { lists: self, at }
    }

    /// Every item code in any published version of any list: what a matter may map to.
    pub fn published_item_codes(&self) -> BTreeSet<ItemCode> {
        self.histories
            .iter()
            .flat_map(|history| history.published.iter())
            .flat_map(|version| version.content.codes())
            .collect()
    }
}

/// An instant as messages print it: RFC 3339 in UTC to the second, e.g.
/// `2025-01-01T00:00:00Z`.
pub(crate) fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A list item in a published version, identified for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ItemRef {
    /// The item's code (its prefix names the list).
    pub code: ItemCode,
    /// The published version it was read from.
    pub version: VersionNumber,
}

impl fmt::Display for ItemRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} ({} {})",
            self.code,
            self.code.list(),
            self.version
        )
    }
}

/// Why an item is not in effect at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotInEffect {
    /// A later version of its list puts it in effect from `effective_from`.
    NotYet {
        /// When the item takes effect.
        effective_from: DateTime<Utc>,
        /// The version that brings it.
        version: VersionNumber,
    },
    /// An earlier version had it; the version in effect does not, and no later one
    /// brings it back.
    Withdrawn {
        /// When the version without it took effect.
        since: DateTime<Utc>,
        /// The version without it.
        version: VersionNumber,
    },
    /// No published version of its list ever had it.
    NeverPublished,
}

impl fmt::Display for NotInEffect {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotInEffect::NotYet {
                effective_from,
                version,
            } => write!(
                formatter,
                "not in effect until {} ({version})",
                instant(*effective_from)
            ),
            NotInEffect::Withdrawn { since, version } => {
                write!(formatter, "withdrawn since {} ({version})", instant(*since))
            }
            NotInEffect::NeverPublished => formatter.write_str("never published"),
        }
    }
}

/// Whether an item is in effect at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus<'a> {
    /// The version in effect has the item.
    InEffect {
        /// The item as that version has it.
        item: &'a ListItem,
        /// The version in effect.
        version: &'a PublishedList,
    },
    /// The item is not in effect, and why.
    NotInEffect(NotInEffect),
}

impl<'a> ItemStatus<'a> {
    /// The item, when it is in effect.
    pub fn in_effect(&self) -> Option<&'a ListItem> {
        match self {
            ItemStatus::InEffect { item, .. } => Some(item),
            ItemStatus::NotInEffect(_) => None,
        }
    }
}

/// The published lists as they stand at one instant.
#[derive(Debug, Clone, Copy)]
pub struct ListsInEffect<'a> {
    /// All histories.
    lists: &'a DutyLists,
    /// The instant.
    at: DateTime<Utc>,
}

impl<'a> ListsInEffect<'a> {
    /// The instant.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// The version of `list` in effect.
    pub fn version(&self, list: ListKind) -> Option<&'a PublishedList> {
        self.lists.history(list).in_effect_at(self.at)
    }

    /// Whether the item with `code` is in effect, and if not, why: a later version
    /// bringing it wins over an earlier version having had it.
    pub fn item_status(&self, code: ItemCode) -> ItemStatus<'a> {
        let history = self.lists.history(code.list());
        let current = history.in_effect_at(self.at);
        if let Some(version) = current
            && let Some(item) = version.content.item(&code)
        {
            return ItemStatus::InEffect { item, version };
        }
        let later_with_item = history
            .published
            .iter()
            .find(|version| version.effective_from > self.at && version.content.contains(&code));
        if let Some(later) = later_with_item {
            return ItemStatus::NotInEffect(NotInEffect::NotYet {
                effective_from: later.effective_from,
                version: later.number,
            });
        }
        let had_it_before = history
            .published
            .iter()
            .any(|version| version.effective_from <= self.at && version.content.contains(&code));
        match current {
            Some(version) if had_it_before => ItemStatus::NotInEffect(NotInEffect::Withdrawn {
                since: version.effective_from,
                version: version.number,
            }),
            _ => ItemStatus::NotInEffect(NotInEffect::NeverPublished),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
