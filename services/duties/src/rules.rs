//! The rules in memory: departments, every list version, the drafts, the
//! matter catalogue and the per-place exceptions, as the domain's types.
//!
//! Resolution and the assignment gate run on every case, while the rules
//! change a few times a year, so each replica keeps one [`Rules`] snapshot
//! and reloads it when `rules_revision` has moved. Every write to the rules
//! bumps the revision in its own transaction (under [`lock_rules`]), so a
//! reader sees either the snapshot before a write or the one after it: one
//! indexed single-row read per call decides which.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::{
    Department, DepartmentCode, Departments, DraftList, DutyLists, DutyRules, ExceptionId,
    ExceptionScope, ItemCode, ItemFields, ListContent, ListItem, ListKind, Matter, MatterCatalogue,
    MatterCode, PlaceException, PlaceExceptions, PlaceRef, PublishedList, Responsible, Tier,
    VersionNumber, WorkingDuration,
};
use crate::error::{DatabaseContext as _, Error};

/// Serialises every write to the rules (they are rare), so each write
/// validates against the state it replaces. Taken inside the writer's
/// transaction and released at its end.
pub async fn lock_rules(connection: &mut PgConnection) -> Result<(), Error> {
    // "duties" in ASCII: the one advisory lock this service takes.
    const RULES_LOCK: i64 = 0x0000_6475_7469_6573;
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(RULES_LOCK)
        .execute(connection)
        .await
        .context("locking the rules")?;
    Ok(())
}

/// Marks the rules changed; call in the transaction that changes them.
pub async fn bump_revision(connection: &mut PgConnection) -> Result<i64, Error> {
    sqlx::query_scalar("update rules_revision set revision = revision + 1 returning revision")
        .fetch_one(connection)
        .await
        .context("recording the rules revision")
}

/// Whether a list version is being edited or in the published history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionState {
    Draft,
    Published,
}

/// What the domain's versions do not carry: who published, and when each
/// row was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub state: VersionState,
    pub effective_from: Option<DateTime<Utc>>,
    pub publish_time: Option<DateTime<Utc>>,
    pub published_by: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

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
    pub async fn read_uncommitted(connection: &mut PgConnection) -> Result<Self, Error> {
        let revision = read_revision(connection).await?;
        Self::load(connection, revision).await
    }

    /// The latest published version of a list.
    pub fn latest(&self, list: ListKind) -> Option<&PublishedList> {
        self.lists.history(list).latest()
    }

    /// Loads the whole snapshot through `connection` (which the caller keeps
    /// consistent: a repeatable-read transaction, or one holding the rules
    /// lock).
    async fn load(connection: &mut PgConnection, revision: i64) -> Result<Self, Error> {
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
    pub async fn current(&self, pool: &PgPool) -> Result<Arc<Rules>, Error> {
        // One pooled round trip decides; no connection is held while the
        // reload below takes another.
        let revision: i64 = sqlx::query_scalar("select revision from rules_revision")
            .fetch_one(pool)
            .await
            .context("reading the rules revision")?;
        if let Some(rules) = self.cached(revision) {
            return Ok(rules);
        }
        let mut transaction = pool.begin().await.context("reading the rules")?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *transaction)
            .await
            .context("reading the rules")?;
        let revision = read_revision(&mut transaction).await?;
        let rules = Arc::new(Rules::load(&mut transaction, revision).await?);
        transaction.commit().await.context("reading the rules")?;
        self.remember(&rules);
        Ok(rules)
    }

    /// The rules as the caller's transaction sees them; the caller holds
    /// [`lock_rules`], so nobody else can change them before it commits.
    pub async fn locked(&self, connection: &mut PgConnection) -> Result<Arc<Rules>, Error> {
        let revision = read_revision(connection).await?;
        if let Some(rules) = self.cached(revision) {
            return Ok(rules);
        }
        let rules = Arc::new(Rules::load(connection, revision).await?);
        self.remember(&rules);
        Ok(rules)
    }
}

async fn read_revision(connection: &mut PgConnection) -> Result<i64, Error> {
    sqlx::query_scalar("select revision from rules_revision")
        .fetch_one(connection)
        .await
        .context("reading the rules revision")
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Corrupt(what.to_string())
}

async fn load_departments(connection: &mut PgConnection) -> Result<Departments, Error> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("select code, name, name_en from departments order by code")
            .fetch_all(connection)
            .await
            .context("reading departments")?;
    let mut departments = Vec::with_capacity(rows.len());
    for (code, name, name_en) in rows {
        let code = DepartmentCode::parse(&code).map_err(corrupt)?;
        departments.push(Department::new(code, &name, name_en.as_deref()).map_err(corrupt)?);
    }
    Departments::new(departments).map_err(|errors| corrupt(format!("{errors:?}")))
}

/// A `list_items` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ItemRow {
    pub list_kind: String,
    pub version_number: i32,
    pub code: String,
    pub category: String,
    pub category_en: Option<String>,
    pub name: String,
    pub name_en: Option<String>,
    pub description: String,
    pub legal_basis: String,
    pub handling_level: String,
    pub lead_department: Option<String>,
    pub cooperating_departments: Vec<String>,
    pub default_tier: String,
    pub response_limit: String,
    pub resolution_limit: String,
}

impl ItemRow {
    fn into_item(self) -> Result<ListItem, Error> {
        let cooperating_departments = self
            .cooperating_departments
            .iter()
            .map(|code| DepartmentCode::parse(code).map_err(corrupt))
            .collect::<Result<Vec<_>, _>>()?;
        let fields = ItemFields {
            code: ItemCode::parse(&self.code).map_err(corrupt)?,
            category: self.category,
            category_en: self.category_en,
            name: self.name,
            name_en: self.name_en,
            description: self.description,
            legal_basis: self.legal_basis,
            handling_level: self.handling_level.parse().map_err(corrupt)?,
            lead_department: self
                .lead_department
                .as_deref()
                .map(DepartmentCode::parse)
                .transpose()
                .map_err(corrupt)?,
            cooperating_departments,
            default_tier: Tier::parse(&self.default_tier).map_err(corrupt)?,
            response_limit: WorkingDuration::parse(&self.response_limit).map_err(corrupt)?,
            resolution_limit: WorkingDuration::parse(&self.resolution_limit).map_err(corrupt)?,
        };
        ListItem::new(fields).map_err(corrupt)
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    list_kind: String,
    number: i32,
    state: String,
    effective_from: Option<DateTime<Utc>>,
    publish_time: Option<DateTime<Utc>>,
    published_by: Option<String>,
    create_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
}

type LoadedLists = (
    DutyLists,
    BTreeMap<ListKind, DraftList>,
    BTreeMap<(ListKind, VersionNumber), VersionRecord>,
);

async fn load_lists(
    connection: &mut PgConnection,
    departments: &Departments,
) -> Result<LoadedLists, Error> {
    let version_rows: Vec<VersionRow> = sqlx::query_as(
        "select list_kind, number, state, effective_from, publish_time, published_by,
                create_time, update_time
         from list_versions order by list_kind, number",
    )
    .fetch_all(&mut *connection)
    .await
    .context("reading list versions")?;
    let item_rows: Vec<ItemRow> = sqlx::query_as(
        "select list_kind, version_number, code, category, category_en, name, name_en,
                description, legal_basis, handling_level, lead_department,
                cooperating_departments, default_tier, response_limit, resolution_limit
         from list_items order by list_kind, version_number, code",
    )
    .fetch_all(&mut *connection)
    .await
    .context("reading list items")?;
    let mut items_by_version: BTreeMap<(String, i32), Vec<ListItem>> = BTreeMap::new();
    for row in item_rows {
        let key = (row.list_kind.clone(), row.version_number);
        items_by_version
            .entry(key)
            .or_default()
            .push(row.into_item()?);
    }
    let mut lists = DutyLists::new();
    let mut drafts = BTreeMap::new();
    let mut versions = BTreeMap::new();
    for row in version_rows {
        let kind = ListKind::parse(&row.list_kind).map_err(corrupt)?;
        let number = u32::try_from(row.number)
            .ok()
            .and_then(VersionNumber::new)
            .ok_or_else(|| corrupt(format!("version number {}", row.number)))?;
        let items = items_by_version
            .remove(&(row.list_kind.clone(), row.number))
            .unwrap_or_default();
        let content = ListContent::new(kind, items, departments).map_err(corrupt)?;
        let draft = DraftList::with_content(number, content);
        let state = match (row.state.as_str(), row.effective_from, row.publish_time) {
            ("draft", _, _) => {
                drafts.insert(kind, draft);
                VersionState::Draft
            }
            ("published", Some(effective_from), Some(publish_time)) => {
                lists
                    .publish(&draft, effective_from, publish_time)
                    .map_err(corrupt)?;
                VersionState::Published
            }
            (state, _, _) => return Err(corrupt(format!("version state {state:?}"))),
        };
        versions.insert(
            (kind, number),
            VersionRecord {
                state,
                effective_from: row.effective_from,
                publish_time: row.publish_time,
                published_by: row.published_by,
                create_time: row.create_time,
                update_time: row.update_time,
            },
        );
    }
    Ok((lists, drafts, versions))
}

async fn load_catalogue(
    connection: &mut PgConnection,
    known_items: &BTreeSet<ItemCode>,
) -> Result<MatterCatalogue, Error> {
    let rows: Vec<crate::store::MatterRow> = sqlx::query_as(
        "select code, name, name_en, item_code, tier, create_time, update_time
         from matters order by code",
    )
    .fetch_all(connection)
    .await
    .context("reading the matter catalogue")?;
    let mut matters = Vec::with_capacity(rows.len());
    for row in rows {
        matters.push(
            Matter::new(
                MatterCode::parse(&row.code).map_err(corrupt)?,
                &row.name,
                row.name_en.as_deref(),
                ItemCode::parse(&row.item_code).map_err(corrupt)?,
                row.tier
                    .as_deref()
                    .map(Tier::parse)
                    .transpose()
                    .map_err(corrupt)?,
            )
            .map_err(corrupt)?,
        );
    }
    MatterCatalogue::new(matters, known_items).map_err(corrupt)
}

/// How a responsible unit is stored: `block_team`, `community`,
/// `subdistrict_platform` or `department:<code>`.
pub(crate) fn responsible_to_text(responsible: &Responsible) -> String {
    match responsible {
        Responsible::BlockTeam => "block_team".to_owned(),
        Responsible::Community => "community".to_owned(),
        Responsible::SubdistrictPlatform => "subdistrict_platform".to_owned(),
        Responsible::Department(code) => format!("department:{code}"),
    }
}

pub(crate) fn responsible_from_text(text: &str) -> Result<Responsible, Error> {
    match text {
        "block_team" => Ok(Responsible::BlockTeam),
        "community" => Ok(Responsible::Community),
        "subdistrict_platform" => Ok(Responsible::SubdistrictPlatform),
        _ => match text.strip_prefix("department:") {
            Some(code) => Ok(Responsible::Department(
                DepartmentCode::parse(code).map_err(corrupt)?,
            )),
            None => Err(corrupt(format!("responsible unit {text:?}"))),
        },
    }
}

/// A `place_exceptions` row.
#[derive(sqlx::FromRow)]
pub struct ExceptionRow {
    pub id: String,
    pub place_kind: String,
    pub place_code: String,
    pub scope_kind: String,
    pub scope_code: String,
    pub lead: String,
    pub cooperating: Vec<String>,
    pub tier: Option<String>,
    pub effective_from: DateTime<Utc>,
    pub effective_until: Option<DateTime<Utc>>,
    pub reason: String,
    pub created_by: String,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl ExceptionRow {
    pub fn to_exception(&self) -> Result<PlaceException, Error> {
        use crate::domain::{AreaId, BlockCode, CommunityCode, SubdistrictCode};
        let place = match self.place_kind.as_str() {
            "subdistrict" => {
                PlaceRef::Subdistrict(SubdistrictCode::parse(&self.place_code).map_err(corrupt)?)
            }
            "community" => {
                PlaceRef::Community(CommunityCode::parse(&self.place_code).map_err(corrupt)?)
            }
            "block" => PlaceRef::Block(BlockCode::parse(&self.place_code).map_err(corrupt)?),
            "area" => PlaceRef::Area(AreaId::parse(&self.place_code).map_err(corrupt)?),
            other => return Err(corrupt(format!("place kind {other:?}"))),
        };
        let scope = match self.scope_kind.as_str() {
            "item" => ExceptionScope::Item(ItemCode::parse(&self.scope_code).map_err(corrupt)?),
            "matter" => {
                ExceptionScope::Matter(MatterCode::parse(&self.scope_code).map_err(corrupt)?)
            }
            other => return Err(corrupt(format!("scope kind {other:?}"))),
        };
        Ok(PlaceException {
            id: ExceptionId::parse(&self.id).map_err(corrupt)?,
            place,
            scope,
            lead: responsible_from_text(&self.lead)?,
            cooperating: self
                .cooperating
                .iter()
                .map(|text| responsible_from_text(text))
                .collect::<Result<_, _>>()?,
            tier: self
                .tier
                .as_deref()
                .map(Tier::parse)
                .transpose()
                .map_err(corrupt)?,
            effective_from: self.effective_from,
            effective_until: self.effective_until,
            reason: self.reason.clone(),
        })
    }
}

pub const EXCEPTION_COLUMNS: &str =
    "id, place_kind, place_code, scope_kind, scope_code, lead, cooperating, tier,
     effective_from, effective_until, reason, created_by, create_time, update_time";

async fn load_exceptions(
    connection: &mut PgConnection,
    departments: &Departments,
) -> Result<PlaceExceptions, Error> {
    let rows: Vec<ExceptionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {EXCEPTION_COLUMNS} from place_exceptions order by create_time, id"
    )))
    .fetch_all(connection)
    .await
    .context("reading place exceptions")?;
    let exceptions = rows
        .iter()
        .map(ExceptionRow::to_exception)
        .collect::<Result<Vec<_>, _>>()?;
    PlaceExceptions::new(exceptions, departments).map_err(corrupt)
}
