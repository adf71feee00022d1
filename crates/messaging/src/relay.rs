//! The outbox relay: publishes committed events to JetStream.
//!
//! A pass claims the oldest unpublished rows with `FOR UPDATE SKIP LOCKED`
//! (so replicas share the work without publishing a row twice), keeps only
//! rows with no older unpublished row of the same entity held elsewhere (so
//! per-entity order survives several replicas), publishes each entity's rows
//! in order while different entities go concurrently, and deletes a row
//! only after JetStream's PubAck, in the same transaction that claimed it
//! (the stream, not the outbox, is the record of what was published).
//! A relay killed after publishing but before committing leaves the rows
//! unpublished; the next pass publishes them again with the same
//! `Nats-Msg-Id`, which JetStream (within its duplicate window) and the
//! consumers' inbox (beyond it) recognise.
//!
//! A poison row — one that fails for a reason of its own (a subject no
//! stream captures, a payload over the server's `max_payload`) — is parked
//! after [`RelayConfig::max_attempts`] counted failures: the relay stops
//! trying it and holds the later rows of its resource (so per-entity order
//! survives) while every other resource keeps flowing. A failure counts
//! against a row only when it is about the message itself, or when another
//! row was published in the same pass (so NATS and JetStream were up): an
//! outage of NATS, however long, parks nothing. `flatgov_outbox_parked`
//! counts parked rows; `flatgov outbox retry` releases them once the cause
//! is fixed ([`crate::outbox::retry_parked`]).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row as _};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::envelope::{EventMetadata, headers_for};
use crate::{EventBus, MessagingMetrics};

/// How often a relay whose listener was lost tries to listen again.
const RELISTEN_INTERVAL: Duration = Duration::from_millis(200);

/// Tuning of the relay.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Rows claimed per pass.
    pub batch_size: i64,
    /// Safety net when a notification is missed (e.g. while the listener
    /// reconnects); normally the relay wakes on commit.
    pub idle_poll: Duration,
    /// How long to wait for a PubAck before treating the publish as failed.
    pub publish_timeout: Duration,
    /// Longest pause between passes while NATS or PostgreSQL is failing.
    pub max_backoff: Duration,
    /// How long shutdown may spend publishing what is still pending.
    pub drain_timeout: Duration,
    /// Counted failed publishes after which a row is parked
    /// (`OUTBOX_MAX_PUBLISH_ATTEMPTS`, 10 by default).
    pub max_attempts: i32,
    /// Fault injection for tests: abort each pass after publishing and
    /// before marking rows sent, as a relay killed at that moment would.
    pub crash_after_publish: bool,
}

/// Counted failed publishes before a row is parked, unless configured.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 256,
            idle_poll: Duration::from_secs(5),
            publish_timeout: Duration::from_secs(5),
            max_backoff: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(10),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            crash_after_publish: false,
        }
    }
}

/// Why a relay pass failed; the relay logs it and retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("publishing {failed} of {claimed} events failed: {first_error}")]
    Publish {
        claimed: usize,
        failed: usize,
        first_error: String,
    },
    #[error("relay stopped after publishing (fault injection)")]
    InjectedCrash,
}

/// One service's outbox relay.
#[derive(Clone)]
pub struct Relay {
    pool: PgPool,
    bus: EventBus,
    /// The publishing service, e.g. `cases` (the CloudEvents source).
    service: &'static str,
    config: RelayConfig,
    metrics: MessagingMetrics,
}

/// Why one row was not published.
struct PublishFailure {
    row_id: i64,
    error: String,
    /// The failure may be NATS or JetStream being away (a timeout, a lost
    /// connection, no stream answering) rather than the row: it counts
    /// against the row only if another row was published in the same pass.
    maybe_infrastructure: bool,
}

struct ClaimedRow {
    id: i64,
    event_id: Uuid,
    subject: String,
    event_type: String,
    resource: String,
    payload: Vec<u8>,
    trace_headers: serde_json::Value,
    occurred_at: DateTime<Utc>,
}

impl Relay {
    pub fn new(
        pool: PgPool,
        bus: EventBus,
        service: &'static str,
        config: RelayConfig,
        metrics: MessagingMetrics,
    ) -> Self {
        Self {
            pool,
            bus,
            service,
            config,
            metrics,
        }
    }

    /// Runs until `shutdown`, then drains what is pending (bounded by
    /// `drain_timeout`) so a clean stop leaves nothing for the next start.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut listener = self.listen().await;
        let mut backoff = Duration::from_millis(100);
        let mut last_housekeeping = tokio::time::Instant::now() - Duration::from_secs(3600);
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if last_housekeeping.elapsed() >= Duration::from_secs(5) {
                self.housekeeping().await;
                last_housekeeping = tokio::time::Instant::now();
            }
            match self.relay_once().await {
                Ok(published) if published as i64 >= self.config.batch_size => {
                    backoff = Duration::from_millis(100);
                    continue;
                }
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    self.wait_for_work(&mut listener, &shutdown).await;
                }
                Err(error) => {
                    tracing::warn!(service = self.service, %error, retry_in = ?backoff, "outbox relay pass failed");
                    if matches!(error, RelayError::Database(_)) {
                        // The listener's connection went with the others:
                        // listening again doubles as the probe that tells
                        // when PostgreSQL is back.
                        listener = None;
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                        relistened = self.relisten(&mut listener), if listener.is_none() => {
                            // PostgreSQL answers again: publish what waited
                            // at once instead of sleeping out the backoff.
                            if relistened {
                                backoff = Duration::from_millis(100);
                                continue;
                            }
                        }
                    }
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
        self.drain().await;
    }

    async fn listen(&self) -> Option<PgListener> {
        let attempt = async {
            let mut listener = PgListener::connect_with(&self.pool).await?;
            listener.listen("flatgov_outbox").await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match attempt.await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::debug!(%error, "cannot listen for outbox commits yet");
                None
            }
        }
    }

    /// Tries to listen again every [`RELISTEN_INTERVAL`] until it succeeds
    /// (true, `listener` set); never returns false, so it is meant to race
    /// a timer.
    async fn relisten(&self, listener: &mut Option<PgListener>) -> bool {
        loop {
            if let Some(active) = self.listen().await {
                tracing::info!(service = self.service, "outbox listener connected again");
                *listener = Some(active);
                return true;
            }
            tokio::time::sleep(RELISTEN_INTERVAL).await;
        }
    }

    /// Waits for a commit notification, the idle poll or shutdown. A lost
    /// listener is replaced at once — not after the idle poll, which left
    /// publication stalled for up to 5 s after a PostgreSQL restart — and a
    /// pass follows, since commits made while nobody listened were not
    /// announced.
    async fn wait_for_work(&self, listener: &mut Option<PgListener>, shutdown: &CancellationToken) {
        let poll = tokio::time::sleep(self.config.idle_poll);
        tokio::pin!(poll);
        let lost = match listener {
            Some(active) => {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = &mut poll => return,
                    notification = active.try_recv() => match notification {
                        Ok(Some(_)) => return,
                        // sqlx reconnects this listener on the next call.
                        Ok(None) => {
                            tracing::warn!(service = self.service, "outbox listener lost its connection, listening again");
                            return;
                        }
                        Err(error) => {
                            tracing::warn!(service = self.service, %error, "outbox listener failed, listening again");
                            true
                        }
                    }
                }
            }
            None => true,
        };
        if lost {
            *listener = None;
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = &mut poll => {}
                _ = self.relisten(listener) => {}
            }
        }
    }

    async fn drain(&self) {
        let deadline = tokio::time::Instant::now() + self.config.drain_timeout;
        while tokio::time::Instant::now() < deadline {
            match self.relay_once().await {
                Ok(0) => return,
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(%error, "outbox relay could not drain before shutdown; the next start publishes the rest");
                    return;
                }
            }
        }
    }

    /// Updates the backlog gauge and deletes rows that a relay of an earlier
    /// version marked published instead of deleting them (left over from a
    /// rolling upgrade).
    async fn housekeeping(&self) {
        match crate::outbox::backlog(&self.pool).await {
            Ok(backlog) => {
                self.metrics.outbox_backlog.set(backlog);
            }
            Err(error) => tracing::debug!(%error, "cannot measure outbox backlog"),
        }
        match crate::outbox::parked_count(&self.pool).await {
            Ok(parked) => {
                self.metrics.outbox_parked.set(parked);
            }
            Err(error) => tracing::debug!(%error, "cannot count parked outbox rows"),
        }
        let deleted = sqlx::query(
            "delete from flatgov_outbox where id in (
                 select id from flatgov_outbox where published_at is not null limit 10000)",
        )
        .execute(&self.pool)
        .await;
        if let Err(error) = deleted {
            tracing::debug!(%error, "cannot prune the outbox");
        }
    }

    /// One pass: claim, publish, mark. Returns how many events were published.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let mut transaction = self.pool.begin().await?;
        let claimed: Vec<ClaimedRow> = sqlx::query(
            "select id, event_id, subject, event_type, resource, payload, trace_headers, occurred_at
             from flatgov_outbox o
             where published_at is null and parked_at is null
               -- held behind a parked row of the same resource: left alone,
               -- so held rows never fill a batch and starve the others
               and not exists (
                   select 1 from flatgov_outbox p
                   where p.parked_at is not null and p.resource = o.resource and p.id < o.id)
             order by id
             limit $1
             for update of o skip locked",
        )
        .bind(self.config.batch_size)
        .fetch_all(&mut *transaction)
        .await?
        .into_iter()
        .map(|row| ClaimedRow {
            id: row.get("id"),
            event_id: row.get("event_id"),
            subject: row.get("subject"),
            event_type: row.get("event_type"),
            resource: row.get("resource"),
            payload: row.get("payload"),
            trace_headers: row.get("trace_headers"),
            occurred_at: row.get("occurred_at"),
        })
        .collect();
        if claimed.is_empty() {
            return Ok(0);
        }

        // The oldest unpublished row of each entity that another relay holds:
        // our rows of that entity from there on must wait for it.
        let claimed_ids: Vec<i64> = claimed.iter().map(|row| row.id).collect();
        let resources: Vec<&str> = claimed.iter().map(|row| row.resource.as_str()).collect();
        let blockers: HashMap<String, i64> = sqlx::query(
            "select resource, min(id) as blocker from flatgov_outbox
             where published_at is null and resource = any($1) and id <> all($2)
             group by resource",
        )
        .bind(&resources)
        .bind(&claimed_ids)
        .fetch_all(&mut *transaction)
        .await?
        .into_iter()
        .map(|row| (row.get("resource"), row.get("blocker")))
        .collect();

        let claimed_count = claimed.len();
        let mut by_entity: BTreeMap<String, Vec<ClaimedRow>> = BTreeMap::new();
        for row in claimed {
            let blocked = blockers
                .get(&row.resource)
                .is_some_and(|blocker| *blocker < row.id);
            if !blocked {
                by_entity.entry(row.resource.clone()).or_default().push(row);
            }
        }

        // Entities in parallel, each entity's rows in order.
        let mut publishing = Vec::with_capacity(by_entity.len());
        for rows in by_entity.into_values() {
            publishing.push(self.publish_in_order(rows));
        }
        let outcomes = futures::future::join_all(publishing).await;

        let mut published_ids = Vec::new();
        let mut failures: Vec<PublishFailure> = Vec::new();
        for (published, failure) in outcomes {
            published_ids.extend(published);
            failures.extend(failure);
        }
        if self.config.crash_after_publish {
            transaction.rollback().await?;
            return Err(RelayError::InjectedCrash);
        }
        // A published row is deleted rather than marked: the stream keeps
        // the event, and a delete writes no index entries where an update of
        // `published_at` (indexed, so never a HOT update) wrote three per row
        // — it was the costliest statement of a case's intake-to-dispatch.
        sqlx::query("delete from flatgov_outbox where id = any($1)")
            .bind(&published_ids)
            .execute(&mut *transaction)
            .await?;
        // JetStream took other rows in this pass: it is up, so a failure
        // that could have been an outage was about the row after all.
        let jetstream_proved_up = !published_ids.is_empty();
        let mut parked = Vec::new();
        for failure in &failures {
            let counted = !failure.maybe_infrastructure || jetstream_proved_up;
            let parked_now: Option<bool> = sqlx::query_scalar(
                "update flatgov_outbox
                    set attempts = attempts + $3::int,
                        last_error = $2,
                        parked_at = case when $3::int = 1 and attempts + 1 >= $4 then now() end
                  where id = $1
                  returning parked_at is not null",
            )
            .bind(failure.row_id)
            .bind(&failure.error)
            .bind(i32::from(counted))
            .bind(self.config.max_attempts.max(1))
            .fetch_optional(&mut *transaction)
            .await?;
            if parked_now == Some(true) {
                parked.push(failure);
            }
        }
        transaction.commit().await?;
        for failure in &parked {
            tracing::error!(
                service = self.service,
                outbox_row = failure.row_id,
                error = %failure.error,
                attempts = self.config.max_attempts,
                "outbox row parked after repeated publish failures; later events of its resource wait (flatgov outbox parked)"
            );
        }
        if !parked.is_empty() {
            self.metrics.outbox_parked.inc_by(parked.len() as i64);
        }
        self.metrics
            .outbox_published
            .inc_by(published_ids.len() as u64);
        if let Some(PublishFailure {
            error: first_error, ..
        }) = failures.first()
        {
            self.metrics
                .outbox_publish_failures
                .inc_by(failures.len() as u64);
            return Err(RelayError::Publish {
                claimed: claimed_count,
                failed: failures.len(),
                first_error: first_error.clone(),
            });
        }
        Ok(published_ids.len())
    }

    /// Publishes one entity's rows strictly in order, stopping at the first
    /// failure so a later event never overtakes an earlier one.
    async fn publish_in_order(&self, rows: Vec<ClaimedRow>) -> (Vec<i64>, Option<PublishFailure>) {
        let mut published = Vec::with_capacity(rows.len());
        for row in rows {
            match self.publish(&row).await {
                Ok(()) => published.push(row.id),
                Err((error, maybe_infrastructure)) => {
                    return (
                        published,
                        Some(PublishFailure {
                            row_id: row.id,
                            error,
                            maybe_infrastructure,
                        }),
                    );
                }
            }
        }
        (published, None)
    }

    /// Publishes one row and waits for its PubAck; on failure, the error and
    /// whether NATS or JetStream being away could explain it.
    async fn publish(&self, row: &ClaimedRow) -> Result<(), (String, bool)> {
        let trace_headers: Vec<(String, String)> = row
            .trace_headers
            .as_object()
            .map(|object| {
                object
                    .iter()
                    .filter_map(|(name, value)| {
                        value.as_str().map(|value| (name.clone(), value.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let event_id = row.event_id.to_string();
        let headers = headers_for(&EventMetadata {
            id: &event_id,
            service: self.service,
            event_type: &row.event_type,
            time: row.occurred_at,
            resource: &row.resource,
            trace_headers: &trace_headers,
        });
        let publish = async_nats::jetstream::message::PublishMessage::build()
            .payload(row.payload.clone().into())
            .headers(headers);
        let subject = self.bus.subject(&row.subject);
        let acknowledgement = self
            .bus
            .jetstream()
            .send_publish(subject, publish)
            .await
            .map_err(|error| (error.to_string(), may_be_infrastructure(error.kind())))?;
        match tokio::time::timeout(self.config.publish_timeout, acknowledgement).await {
            Ok(Ok(_ack)) => Ok(()),
            Ok(Err(error)) => Err((error.to_string(), may_be_infrastructure(error.kind()))),
            Err(_) => Err((
                format!("no puback within {:?}", self.config.publish_timeout),
                true,
            )),
        }
    }
}

/// Whether a publish error could come from NATS or JetStream being away
/// rather than from the message. Only a payload over the server's
/// `max_payload` (and the expectations we never set) is surely the row's
/// own; a timeout, a lost connection, no stream answering (also what a
/// server shutting down says, see issue 23) or a server error may be the
/// infrastructure, and count against the row only when another row got
/// through in the same pass.
fn may_be_infrastructure(kind: async_nats::jetstream::context::PublishErrorKind) -> bool {
    use async_nats::jetstream::context::PublishErrorKind;
    !matches!(
        kind,
        PublishErrorKind::MaxPayloadExceeded
            | PublishErrorKind::WrongLastMessageId
            | PublishErrorKind::WrongLastSequence
    )
}
