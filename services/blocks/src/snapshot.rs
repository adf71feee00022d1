//! What lookups are served from: an in-memory snapshot of the generation in
//! force (spatial index, block attributes, teams), kept current on every replica.
//!
//! # Keeping replicas current
//!
//! Every change to what lookups serve (an activation, a team set in the active
//! generation) happens in a transaction that locks the one-row
//! `registry_state`, bumps its `revision`, and calls `pg_notify` on
//! [`CHANNEL`](crate::store::state::CHANNEL); PostgreSQL delivers the
//! notification when the transaction commits. Each replica:
//!
//! 1. refreshes right after its own write commits, before answering the caller
//!    (so a caller reads its own writes);
//! 2. listens on the channel on a dedicated connection and refreshes when notified
//!    (other replicas' writes show up within milliseconds);
//! 3. polls the revision every `BLOCKS_REFRESH_INTERVAL_MS` (default 1 s) as a
//!    safety net for a lost listener connection: one single-row primary-key read.
//!
//! So a replica serves a superseded generation for at most one poll interval
//! even when notifications are lost. Reacting to the service's own
//! `BlockGenerationActivated` event was rejected: a durable JetStream consumer
//! delivers each message to *one* replica, not to all, and a team change must
//! propagate too.
//!
//! A refresh compares revisions. When the active generation changed it rebuilds
//! the index (decoding and bulk-loading on a blocking thread) and swaps the
//! whole snapshot; otherwise it reloads only the teams written after the
//! revision it holds. Readers take an `Arc` of the current snapshot and never wait
//! on a rebuild.
//!
//! # Historical lookups
//!
//! Retired generations are indexed lazily, on the first lookup that needs them,
//! and the last few (`BLOCKS_HISTORY_CACHE_GENERATIONS`) are kept. The cache is
//! cleared on every activation, since an activation ends the validity of blocks
//! in earlier generations.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry as MetricsRegistry;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::codec;
use crate::domain::index::BlockIndex;
use crate::domain::team::Team;
use crate::error::Error;
use crate::store;
use crate::store::generations::BlockRow;
use flatgov_vocabulary::BlockCode;

/// A block's attributes as lookups return them (geometry stays in the index).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockRecord {
    /// The block's code.
    pub code: BlockCode,
    /// Display name.
    pub display_name: String,
    /// Households living in it.
    pub households: u32,
    /// Geodesic area.
    pub area_m2: f64,
    /// Since when it has had this shape (unset in a draft).
    pub valid_from: Option<DateTime<Utc>>,
    /// Until when (unset while in force).
    pub valid_to: Option<DateTime<Utc>>,
}

impl BlockRecord {
    /// The attributes of a stored block; an invalid stored code is corruption.
    pub fn from_row(row: &BlockRow) -> Result<Self, Error> {
        Ok(Self {
            code: BlockCode::parse(&row.code)
                .map_err(|error| Error::internal("reading a stored block", error))?,
            display_name: row.display_name.clone(),
            households: u32::try_from(row.households).unwrap_or(u32::MAX),
            area_m2: row.area_m2,
            valid_from: row.valid_from,
            valid_to: row.valid_to,
        })
    }
}

/// One generation, indexed for lookups.
pub struct GenerationIndex {
    /// The generation.
    pub id: Uuid,
    /// Point → block code.
    pub index: BlockIndex,
    /// Attributes by code.
    pub blocks: HashMap<BlockCode, BlockRecord>,
}

impl std::fmt::Debug for GenerationIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GenerationIndex")
            .field("id", &self.id)
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

/// When one generation was in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The generation.
    pub id: Uuid,
    /// Activated at.
    pub from: DateTime<Utc>,
    /// Retired at (unset for the one in force).
    pub to: Option<DateTime<Utc>>,
}

/// What lookups see; replaced as a whole, never mutated.
#[derive(Debug)]
pub struct Snapshot {
    /// The `registry_state.revision` this snapshot reflects.
    pub revision: i64,
    /// The generation in force, if any.
    pub active: Option<Arc<GenerationIndex>>,
    /// Teams in force by block code.
    pub teams: Arc<HashMap<BlockCode, Team>>,
    /// Every generation that was ever in force, oldest first.
    pub timeline: Arc<Vec<Span>>,
}

impl Snapshot {
    /// The generation in force at `at`, from the timeline.
    pub fn generation_at(&self, at: DateTime<Utc>) -> Option<Span> {
        self.timeline
            .iter()
            .rev()
            .find(|span| span.from <= at && span.to.is_none_or(|to| to > at))
            .copied()
    }
}

/// Gauges a scrape shows about the snapshot.
#[derive(Clone, Default)]
pub struct SnapshotMetrics {
    blocks: Gauge,
    revision: Gauge,
    rebuilds: Counter,
}

impl SnapshotMetrics {
    /// Registers the series on the service's metrics registry.
    pub fn register(registry: &mut MetricsRegistry) -> Self {
        let metrics = Self::default();
        registry.register(
            "flatgov_blocks_index_blocks",
            "Blocks in the in-memory index of the generation in force",
            metrics.blocks.clone(),
        );
        registry.register(
            "flatgov_blocks_registry_revision",
            "Registry revision the in-memory snapshot reflects",
            metrics.revision.clone(),
        );
        registry.register(
            "flatgov_blocks_index_rebuilds",
            "Rebuilds of the in-memory index of the generation in force",
            metrics.rebuilds.clone(),
        );
        metrics
    }
}

/// The registry's in-memory state and how it is refreshed.
pub struct Registry {
    /// Where generations, teams and the revision are read from.
    pool: PgPool,
    /// The snapshot lookups read; swapped whole by `refresh`.
    current: RwLock<Arc<Snapshot>>,
    /// One refresh at a time, so two never race to install older data.
    refresh_lock: tokio::sync::Mutex<()>,
    /// Indexes of retired generations, most recently used last.
    history: Mutex<VecDeque<Arc<GenerationIndex>>>,
    /// One historical load at a time, so a burst of lookups builds an index once.
    history_load: tokio::sync::Mutex<()>,
    /// How many retired generations' indexes to keep.
    history_capacity: usize,
    /// What the snapshot exports to Prometheus.
    metrics: SnapshotMetrics,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Registry")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

impl Registry {
    /// Loads the generation in force and its teams from the database.
    pub async fn load(
        pool: PgPool,
        history_capacity: usize,
        metrics: SnapshotMetrics,
    ) -> Result<Self, Error> {
        let registry = Self {
            pool,
            current: RwLock::new(Arc::new(Snapshot {
                revision: -1,
                active: None,
                teams: Arc::new(HashMap::new()),
                timeline: Arc::new(Vec::new()),
            })),
            refresh_lock: tokio::sync::Mutex::new(()),
            history: Mutex::new(VecDeque::new()),
            history_load: tokio::sync::Mutex::new(()),
            history_capacity,
            metrics,
        };
        registry.refresh().await?;
        Ok(registry)
    }

    /// The current snapshot (cheap: an `Arc` clone under a read lock).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(current) => current.clone(),
            // A panic while swapping cannot leave a half-written Arc; keep serving.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn install(&self, snapshot: Snapshot) {
        self.metrics.revision.set(snapshot.revision);
        self.metrics.blocks.set(
            snapshot
                .active
                .as_ref()
                .map(|active| i64::try_from(active.blocks.len()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        );
        let snapshot = Arc::new(snapshot);
        match self.current.write() {
            Ok(mut current) => *current = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    /// Brings the snapshot up to the database's revision. Returns true when it changed.
    pub async fn refresh(&self) -> Result<bool, Error> {
        let _one_at_a_time = self.refresh_lock.lock().await;
        let mut connection =
            store::connection(&self.pool, "refreshing the lookup snapshot").await?;
        let state = store::state::read(&mut connection).await?;
        let current = self.snapshot();
        if state.revision == current.revision {
            return Ok(false);
        }
        let active_id = current.active.as_ref().map(|active| active.id);
        if state.active_generation != active_id || current.revision < 0 {
            let active = match state.active_generation {
                Some(id) => Some(Arc::new(load_index(&mut connection, id).await?)),
                None => None,
            };
            let teams = match state.active_generation {
                Some(id) => {
                    teams_by_code(store::teams::load_teams(&mut connection, id, None, None).await?)?
                }
                None => HashMap::new(),
            };
            let timeline = store::generations::timeline(&mut connection)
                .await?
                .into_iter()
                .map(|(id, from, to)| Span { id, from, to })
                .collect();
            if let Ok(mut history) = self.history.lock() {
                history.clear();
            }
            self.metrics.rebuilds.inc();
            tracing::info!(
                revision = state.revision,
                generation = ?state.active_generation,
                blocks = active.as_ref().map(|active| active.blocks.len()).unwrap_or(0),
                "lookup index rebuilt"
            );
            self.install(Snapshot {
                revision: state.revision,
                active,
                teams: Arc::new(teams),
                timeline: Arc::new(timeline),
            });
            return Ok(true);
        }
        let Some(active) = current.active.clone() else {
            self.install(Snapshot {
                revision: state.revision,
                active: None,
                teams: current.teams.clone(),
                timeline: current.timeline.clone(),
            });
            return Ok(true);
        };
        let changed = teams_by_code(
            store::teams::load_teams(&mut connection, active.id, Some(current.revision), None)
                .await?,
        )?;
        let mut teams = (*current.teams).clone();
        teams.extend(changed);
        self.install(Snapshot {
            revision: state.revision,
            active: Some(active),
            teams: Arc::new(teams),
            timeline: current.timeline.clone(),
        });
        Ok(true)
    }

    /// The index of any generation that was ever in force (or a draft): the
    /// active one from the snapshot, others from the cache or loaded now.
    pub async fn generation_index(&self, id: Uuid) -> Result<Arc<GenerationIndex>, Error> {
        if let Some(active) = self
            .snapshot()
            .active
            .clone()
            .filter(|active| active.id == id)
        {
            return Ok(active);
        }
        if let Some(cached) = self.cached(id) {
            return Ok(cached);
        }
        let _one_load = self.history_load.lock().await;
        if let Some(cached) = self.cached(id) {
            return Ok(cached);
        }
        let mut connection = store::connection(&self.pool, "loading a past generation").await?;
        let index = Arc::new(load_index(&mut connection, id).await?);
        if let Ok(mut history) = self.history.lock() {
            history.push_back(index.clone());
            while history.len() > self.history_capacity {
                history.pop_front();
            }
        }
        Ok(index)
    }

    fn cached(&self, id: Uuid) -> Option<Arc<GenerationIndex>> {
        let mut history = self.history.lock().ok()?;
        let position = history.iter().position(|index| index.id == id)?;
        let index = history.remove(position)?;
        history.push_back(index.clone());
        Some(index)
    }

    /// Keeps the snapshot current until `shutdown` (see the module docs).
    pub async fn run_refresher(
        self: Arc<Self>,
        database_url: String,
        interval: Duration,
        shutdown: CancellationToken,
    ) {
        let mut listener: Option<PgListener> = None;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if listener.is_none() {
                listener = listen(&database_url).await;
            }
            let woke = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => Wake::Poll,
                notification = next_notification(&mut listener) => match notification {
                    Ok(()) => Wake::Notified,
                    Err(error) => {
                        tracing::warn!(%error, "registry change listener lost; polling until it is back");
                        Wake::ListenerLost
                    }
                },
            };
            if woke == Wake::ListenerLost {
                listener = None;
            }
            if let Err(error) = self.refresh().await {
                tracing::warn!(%error, "cannot refresh the lookup snapshot; serving the previous one");
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Poll,
    Notified,
    ListenerLost,
}

async fn listen(database_url: &str) -> Option<PgListener> {
    let connected = async {
        let mut listener = PgListener::connect(database_url).await?;
        listener.listen(store::state::CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    }
    .await;
    match connected {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for registry changes; polling only");
            None
        }
    }
}

async fn next_notification(listener: &mut Option<PgListener>) -> Result<(), sqlx::Error> {
    match listener {
        Some(listener) => listener.recv().await.map(|_| ()),
        None => std::future::pending().await,
    }
}

fn teams_by_code(
    stored: HashMap<String, store::teams::StoredTeam>,
) -> Result<HashMap<BlockCode, Team>, Error> {
    stored
        .into_values()
        .map(|team| {
            let code = BlockCode::parse(&team.block_code)
                .map_err(|error| Error::internal("reading a stored team", error))?;
            let team = team
                .to_team()
                .map_err(|detail| Error::internal("reading a stored team", detail))?;
            Ok((code, team))
        })
        .collect()
}

/// Reads a generation's blocks and builds its index on a blocking thread.
async fn load_index(
    connection: &mut sqlx::PgConnection,
    id: Uuid,
) -> Result<GenerationIndex, Error> {
    let rows = store::generations::all_blocks(connection, id).await?;
    tokio::task::spawn_blocking(move || build_index(id, rows))
        .await
        .map_err(|error| Error::internal("building the lookup index", error))?
}

fn build_index(id: Uuid, rows: Vec<BlockRow>) -> Result<GenerationIndex, Error> {
    let mut blocks = HashMap::with_capacity(rows.len());
    let mut geometries = Vec::with_capacity(rows.len());
    for row in rows {
        let record = BlockRecord::from_row(&row)?;
        let geometry = codec::decode(row.geometry.as_deref().unwrap_or_default())
            .map_err(|error| Error::internal("decoding a stored block geometry", error))?;
        geometries.push((record.code, geometry));
        blocks.insert(record.code, record);
    }
    let index = BlockIndex::build(geometries)
        .map_err(|error| Error::internal("building the lookup index", error))?;
    Ok(GenerationIndex { id, index, blocks })
}
