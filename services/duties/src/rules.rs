//! The rules in memory: departments, every list version, the drafts, the
//! matter catalogue and the per-place exceptions, as the domain's types.
//!
//! Resolution and the assignment gate run on every case, while the rules
//! change a few times a year, so each replica keeps one [`Rules`] snapshot
//! and reloads it when `rules_revision` has moved. Every write to the rules
//! bumps the revision in its own transaction (under
//! [`crate::store::lock_rules`]), so a
//! reader sees either the snapshot before a write or the one after it: one
//! indexed single-row read per call decides which.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use sqlx::{PgConnection, PgPool};

use crate::domain::{
    Departments, DraftList, DutyLists, DutyRules, ItemCode, ListKind, MatterCatalogue,
    PlaceExceptions, PublishedList, VersionNumber,
};
pub use crate::store::snapshot::{VersionRecord, VersionState};
use crate::store::snapshot::{load_catalogue, load_departments, load_exceptions, load_lists};
use crate::store::{DatabaseContext as _, StoreError, rules_revision};

/// One consistent snapshot of the rules.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The `rules_revision` the snapshot was read at.
    pub revision: i64,
    pub departments: Departments,
    /// Every published version of every list.
    pub lists: DutyLists,
    /// The draft of each list that has one.
    pub drafts: BTreeMap<ListKind, DraftList>,
    /// Records of every version, drafts included.
    pub versions: BTreeMap<(ListKind, VersionNumber), VersionRecord>,
    pub catalogue: MatterCatalogue,
    pub exceptions: PlaceExceptions,
}

impl Rules {
    /// The domain's view for resolution and the gate.
    pub fn duty_rules(&self) -> DutyRules<'_> {
        DutyRules::new(&self.lists, &self.catalogue, &self.exceptions)
    }

    /// Every item code a matter may map to: those of published versions and
    /// of drafts being prepared.
    pub fn known_items(&self) -> BTreeSet<ItemCode> {
        let mut known = self.lists.published_item_codes();
        known.extend(
            self.drafts
                .values()
                .flat_map(|draft| draft.content().codes()),
        );
        known
    }

    /// Reads the rules as `connection` sees them, bypassing the cache: for
    /// a writer that needs the state after its own uncommitted changes
    /// (which must never be cached, as they may yet roll back).
    pub async fn read_uncommitted(connection: &mut PgConnection) -> Result<Self, StoreError> {
        let revision = rules_revision(&mut *connection).await?;
        Self::load(connection, revision).await
    }

    /// The latest published version of a list.
    pub fn latest(&self, list: ListKind) -> Option<&PublishedList> {
        self.lists.history(list).latest()
    }

    /// Loads the whole snapshot through `connection` (which the caller keeps
    /// consistent: a repeatable-read transaction, or one holding the rules
    /// lock).
    async fn load(connection: &mut PgConnection, revision: i64) -> Result<Self, StoreError> {
        let departments = load_departments(connection).await?;
        let (lists, drafts, versions) = load_lists(connection, &departments).await?;
        let mut rules = Rules {
            revision,
            departments,
            lists,
            drafts,
            versions,
            catalogue: MatterCatalogue::default(),
            exceptions: PlaceExceptions::none(),
        };
        rules.catalogue = load_catalogue(connection, &rules.known_items()).await?;
        rules.exceptions = load_exceptions(connection, &rules.departments).await?;
        Ok(rules)
    }
}

/// The current snapshot, shared by every call of one replica.
#[derive(Debug, Default)]
pub struct RulesCache {
    current: RwLock<Option<Arc<Rules>>>,
}

impl RulesCache {
    fn cached(&self, revision: i64) -> Option<Arc<Rules>> {
        let guard = self.current.read().ok()?;
        guard
            .as_ref()
            .filter(|rules| rules.revision == revision)
            .cloned()
    }

    fn remember(&self, rules: &Arc<Rules>) {
        if let Ok(mut guard) = self.current.write() {
            let newer = guard
                .as_ref()
                .is_none_or(|current| current.revision < rules.revision);
            if newer {
                *guard = Some(rules.clone());
            }
        }
    }

    /// The rules as committed now.
    pub async fn current(&self, pool: &PgPool) -> Result<Arc<Rules>, StoreError> {
        // One pooled round trip decides; no connection is held while the
        // reload below takes another.
        let revision = rules_revision(pool).await?;
        if let Some(rules) = self.cached(revision) {
            return Ok(rules);
        }
        let mut transaction = pool.begin().await.context("reading the rules")?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *transaction)
            .await
            .context("reading the rules")?;
        let revision = rules_revision(&mut *transaction).await?;
        let rules = Arc::new(Rules::load(&mut transaction, revision).await?);
        transaction.commit().await.context("reading the rules")?;
        self.remember(&rules);
        Ok(rules)
    }

    /// The rules as the caller's transaction sees them; the caller holds
    /// [`lock_rules`], so nobody else can change them before it commits.
    pub async fn locked(&self, connection: &mut PgConnection) -> Result<Arc<Rules>, StoreError> {
        let revision = rules_revision(&mut *connection).await?;
        if let Some(rules) = self.cached(revision) {
            return Ok(rules);
        }
        let rules = Arc::new(Rules::load(connection, revision).await?);
        self.remember(&rules);
        Ok(rules)
    }
}
