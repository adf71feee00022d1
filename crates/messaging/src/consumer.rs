//! The idempotent consumer: durable pull consumer + inbox + dead letters.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures::StreamExt as _;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::envelope::header;
use crate::metrics::ConsumerLabels;
use crate::{Envelope, EventBus, MessagingMetrics};

/// What a consumer reads and how hard it tries.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Durable consumer name, unique per stream, e.g. `enforcement-on-case-escalated`.
    /// Replicas of a service share it, so each message goes to one of them.
    pub durable_name: String,
    /// The service whose stream is read, e.g. `cases`.
    pub source_service: &'static str,
    /// The canonical subject to read, e.g. `flatgov.cases.case.escalated`
    /// (one per consumer, so NATS 2.9 servers work).
    pub subject: &'static str,
    /// The consuming service, whose dead-letter subject receives failures.
    pub consuming_service: &'static str,
    /// Tries (including the first) before a failing message is dead-lettered.
    pub max_deliver: i64,
    /// Delay before the first retry; doubles per try up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long the server waits for an ack before redelivering (covers a
    /// consumer that died mid-message).
    pub ack_wait: Duration,
    /// Where a consumer created for the first time starts reading.
    pub deliver_from_start: bool,
    /// Fault injection for tests: stop after committing the first message's
    /// effects and before acking it, as a consumer killed then would.
    pub crash_after_commit: bool,
}

impl ConsumerSpec {
    /// Defaults suited to production: 8 tries over about two minutes.
    pub fn new(
        durable_name: impl Into<String>,
        source_service: &'static str,
        subject: &'static str,
        consuming_service: &'static str,
    ) -> Self {
        Self {
            durable_name: durable_name.into(),
            source_service,
            subject,
            consuming_service,
            max_deliver: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            ack_wait: Duration::from_secs(30),
            deliver_from_start: true,
            crash_after_commit: false,
        }
    }

    fn backoff_after(&self, delivered: i64) -> Duration {
        let exponent = u32::try_from(delivered.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
        self.initial_backoff
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.max_backoff)
    }
}

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth trying again later because of the message or a race (a
    /// conflict, a state not reached yet): retried with backoff, and counted
    /// toward `max_deliver`.
    #[error("{0}")]
    Retry(String),
    /// Infrastructure is away (the database, a service the handler must
    /// ask): nothing is wrong with the message. The consumer pauses on it and
    /// tries again until it applies, without counting a delivery, so an
    /// outage of any length never dead-letters an event.
    #[error("{0}")]
    Unavailable(String),
    /// Will never succeed (undecodable, violates an invariant): dead-letter now.
    #[error("{0}")]
    Reject(String),
}

/// A database out of reach pauses the consumer; any other database error is
/// retried and counted.
impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        if flatgov_db::is_connection_loss(&error) {
            HandlerError::Unavailable(format!("database: {error}"))
        } else {
            HandlerError::Retry(format!("database: {error}"))
        }
    }
}

/// The services' store error: a database out of reach pauses the consumer, any
/// other failure is retried and counted (a corrupt row will not mend itself,
/// but its handler may be fixed and the message redriven).
impl From<flatgov_db::store::StoreError> for HandlerError {
    fn from(error: flatgov_db::store::StoreError) -> Self {
        match &error {
            flatgov_db::store::StoreError::Database { source, .. }
                if flatgov_db::is_connection_loss(source) =>
            {
                HandlerError::Unavailable(error.to_string())
            }
            _ => HandlerError::Retry(error.to_string()),
        }
    }
}

/// The longest pause of a consumer waiting for its database to return.
const MAX_PAUSE: Duration = Duration::from_secs(5);

impl From<crate::EnvelopeError> for HandlerError {
    fn from(error: crate::EnvelopeError) -> Self {
        HandlerError::Reject(error.to_string())
    }
}

/// Applies events. Whatever it writes through `connection` commits together
/// with the inbox row, or not at all; it must not have effects outside the
/// database (publish follow-up events through the outbox instead).
pub trait EventHandler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        connection: &'a mut PgConnection,
        event: &'a Envelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a;
}

enum Outcome {
    Applied,
    Duplicate,
    Failed(HandlerError),
}

/// What a redrive of a dead letter did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redriven {
    /// The handler applied the event (with the consumer's inbox row).
    Applied,
    /// The consumer's inbox already held it: nothing was applied twice.
    AlreadyApplied,
}

/// A consumer's handler with its inbox, type-erased, so the chassis can
/// hand it a dead letter again ([`crate::deadletters::Redrivers`]).
pub trait Redrive: Send + Sync {
    fn redrive<'a>(
        &'a self,
        pool: &'a PgPool,
        envelope: &'a Envelope,
    ) -> futures::future::BoxFuture<'a, Result<Redriven, HandlerError>>;
}

struct HandlerRedrive<H> {
    durable_name: String,
    handler: Arc<H>,
}

impl<H: EventHandler> Redrive for HandlerRedrive<H> {
    fn redrive<'a>(
        &'a self,
        pool: &'a PgPool,
        envelope: &'a Envelope,
    ) -> futures::future::BoxFuture<'a, Result<Redriven, HandlerError>> {
        Box::pin(async move {
            match apply(pool, &self.durable_name, self.handler.as_ref(), envelope).await {
                Outcome::Applied => Ok(Redriven::Applied),
                Outcome::Duplicate => Ok(Redriven::AlreadyApplied),
                Outcome::Failed(error) => Err(error),
            }
        })
    }
}

/// The redrive path of the consumer `spec` feeding `handler`: the same
/// handler and inbox a delivery goes through.
pub fn redriver<H: EventHandler>(spec: &ConsumerSpec, handler: Arc<H>) -> Arc<dyn Redrive> {
    Arc::new(HandlerRedrive {
        durable_name: spec.durable_name.clone(),
        handler,
    })
}

/// Consumes until `shutdown`, recreating the subscription after NATS
/// outages. Returns early only under `crash_after_commit`.
pub async fn run<H: EventHandler>(
    pool: PgPool,
    bus: EventBus,
    spec: ConsumerSpec,
    handler: Arc<H>,
    metrics: MessagingMetrics,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        match consume(&pool, &bus, &spec, handler.as_ref(), &metrics, &shutdown).await {
            Ok(Stop::Shutdown) => break,
            Ok(Stop::InjectedCrash) => return,
            Err(error) => {
                tracing::warn!(consumer = %spec.durable_name, %error, retry_in = ?backoff, "consumer interrupted");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

enum Stop {
    Shutdown,
    InjectedCrash,
}

async fn consume<H: EventHandler>(
    pool: &PgPool,
    bus: &EventBus,
    spec: &ConsumerSpec,
    handler: &H,
    metrics: &MessagingMetrics,
    shutdown: &CancellationToken,
) -> Result<Stop, String> {
    bus.ensure_deadletter_stream()
        .await
        .map_err(|error| error.to_string())?;
    // Another service's stream is that service's to create (its NATS user alone may):
    // until it has started once, this consumer waits and retries.
    let stream = bus
        .jetstream()
        .get_stream(bus.stream_name(spec.source_service))
        .await
        .map_err(|error| {
            format!(
                "the {} stream is not there yet ({error}); it appears when that service starts",
                spec.source_service
            )
        })?;
    let consumer = stream
        .get_or_create_consumer(
            &spec.durable_name,
            pull::Config {
                durable_name: Some(spec.durable_name.clone()),
                filter_subject: bus.subject(spec.subject),
                ack_policy: AckPolicy::Explicit,
                ack_wait: spec.ack_wait,
                // The consumer dead-letters by itself after `max_deliver`
                // tries; the server must not give up first.
                max_deliver: -1,
                deliver_policy: if spec.deliver_from_start {
                    DeliverPolicy::All
                } else {
                    DeliverPolicy::New
                },
                max_ack_pending: 1000,
                ..Default::default()
            },
        )
        .await
        .map_err(|error| error.to_string())?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|error| error.to_string())?;
    let lag_labels = ConsumerLabels {
        consumer: spec.durable_name.clone(),
    };
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return Ok(Stop::Shutdown),
            next = messages.next() => next,
        };
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(error)) => return Err(error.to_string()),
            None => return Err("message stream ended".into()),
        };
        let (delivered, pending) = message
            .info()
            .map(|info| (info.delivered, info.pending))
            .unwrap_or((1, 0));
        metrics
            .consumer_lag
            .get_or_create(&lag_labels)
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        let canonical = bus
            .canonical(message.subject.as_str())
            .unwrap_or(message.subject.as_str());
        let envelope =
            match Envelope::parse(canonical, message.headers.as_ref(), message.payload.clone()) {
                Ok(envelope) => envelope,
                Err(error) => {
                    dead_letter(bus, spec, &message, &error.to_string(), delivered).await?;
                    metrics.count(&spec.durable_name, "dead_lettered");
                    continue;
                }
            };
        let span = tracing::info_span!(
            "consume",
            otel.kind = "consumer",
            messaging.system = "nats",
            messaging.destination = %envelope.subject,
            consumer = %spec.durable_name,
            event_id = %envelope.id,
            event_type = %envelope.event_type,
            delivered,
        );
        flatgov_telemetry::continue_trace(&span, |name| envelope.header(name));
        let mut outcome = apply(pool, &spec.durable_name, handler, &envelope)
            .instrument(span.clone())
            .await;
        // Infrastructure away: hold this message (keeping it ours with
        // progress acks, so the server neither redelivers it nor counts a
        // delivery) and take no other until it applies.
        let mut pause = Duration::from_millis(200);
        while let Outcome::Failed(HandlerError::Unavailable(reason)) = &outcome {
            tracing::warn!(parent: &span, %reason, retry_in = ?pause, "consumer paused: infrastructure unavailable, no delivery counted");
            metrics.count(&spec.durable_name, "paused");
            if let Err(error) = message.ack_with(AckKind::Progress).await {
                tracing::debug!(parent: &span, %error, "cannot extend the message's ack wait");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(Stop::Shutdown),
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(MAX_PAUSE).min(spec.ack_wait / 2);
            outcome = apply(pool, &spec.durable_name, handler, &envelope)
                .instrument(span.clone())
                .await;
        }
        let _entered = span.enter();
        match outcome {
            Outcome::Applied => {
                if spec.crash_after_commit {
                    tracing::warn!("consumer stopping after commit without ack (fault injection)");
                    return Ok(Stop::InjectedCrash);
                }
                message.ack().await.map_err(|error| error.to_string())?;
                metrics.count(&spec.durable_name, "applied");
            }
            Outcome::Duplicate => {
                tracing::debug!("duplicate event skipped");
                message.ack().await.map_err(|error| error.to_string())?;
                metrics.count(&spec.durable_name, "duplicate");
            }
            Outcome::Failed(HandlerError::Retry(reason)) if delivered < spec.max_deliver => {
                let delay = spec.backoff_after(delivered);
                tracing::warn!(%reason, retry_in = ?delay, "event handling failed, will retry");
                message
                    .ack_with(AckKind::Nak(Some(delay)))
                    .await
                    .map_err(|error| error.to_string())?;
                metrics.count(&spec.durable_name, "retried");
            }
            Outcome::Failed(error) => {
                tracing::error!(%error, "event handling failed for good, dead-lettering");
                dead_letter(bus, spec, &message, &error.to_string(), delivered).await?;
                metrics.count(&spec.durable_name, "dead_lettered");
            }
        }
    }
}

async fn apply<H: EventHandler>(
    pool: &PgPool,
    durable_name: &str,
    handler: &H,
    envelope: &Envelope,
) -> Outcome {
    let result: Result<bool, HandlerError> = async {
        let mut transaction = pool.begin().await?;
        let inserted = sqlx::query(
            "insert into flatgov_inbox (consumer, event_id, event_type) values ($1, $2, $3)
             on conflict do nothing",
        )
        .bind(durable_name)
        .bind(&envelope.id)
        .bind(&envelope.event_type)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        handler.handle(&mut transaction, envelope).await?;
        transaction.commit().await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(true) => Outcome::Applied,
        Ok(false) => Outcome::Duplicate,
        Err(error) => Outcome::Failed(error),
    }
}

/// Publishes the message, with the reason, to the consuming service's
/// dead-letter subject, then terminates it so the consumer moves on. The
/// dead letter's message id derives from the original, so a crash between
/// the two steps does not dead-letter it twice.
async fn dead_letter(
    bus: &EventBus,
    spec: &ConsumerSpec,
    message: &async_nats::jetstream::Message,
    reason: &str,
    delivered: i64,
) -> Result<(), String> {
    let mut headers = message.headers.clone().unwrap_or_default();
    let original_id = headers
        .get(header::ID)
        .map(|value| value.as_str().to_owned())
        .unwrap_or_else(|| {
            message
                .info()
                .map(|info| format!("seq-{}", info.stream_sequence))
                .unwrap_or_default()
        });
    headers.insert(header::DEADLETTER_REASON, truncate(reason, 1024).as_str());
    headers.insert(header::DEADLETTER_CONSUMER, spec.durable_name.as_str());
    headers.insert(header::DEADLETTER_SUBJECT, message.subject.as_str());
    headers.insert(header::DEADLETTER_ATTEMPTS, delivered.to_string().as_str());
    headers.insert(
        header::NATS_MSG_ID,
        format!("deadletter:{}:{original_id}", spec.durable_name).as_str(),
    );
    let publish = async_nats::jetstream::message::PublishMessage::build()
        .payload(message.payload.clone())
        .headers(headers);
    bus.jetstream()
        .send_publish(bus.deadletter_subject(spec.consuming_service), publish)
        .await
        .map_err(|error| error.to_string())?
        .await
        .map_err(|error| error.to_string())?;
    message
        .ack_with(AckKind::Term)
        .await
        .map_err(|error| error.to_string())
}

fn truncate(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// How long a consumer remembers an event it applied. A duplicate can come
/// back as long as the stream can deliver it — a relay republishing after a
/// long stop, a consumer recreated and replaying from the start — so the
/// window outlasts the stream's retention ([`crate::bus::STREAM_MAX_AGE`],
/// far beyond JetStream's duplicate window) by a week; older rows can never
/// match again and are pruned.
pub const INBOX_RETENTION: Duration =
    Duration::from_secs(crate::bus::STREAM_MAX_AGE.as_secs() + 7 * 24 * 3600);

/// Deletes `consumer`'s inbox rows processed before `older_than` ago, in
/// batches so no statement holds locks for long; returns how many.
pub async fn prune_inbox(
    pool: &PgPool,
    consumer: &str,
    older_than: Duration,
) -> Result<u64, sqlx::Error> {
    let cutoff = chrono::Utc::now()
        - chrono::TimeDelta::from_std(older_than).unwrap_or(chrono::TimeDelta::MAX);
    let mut pruned = 0;
    loop {
        let deleted = sqlx::query(
            "delete from flatgov_inbox where consumer = $1 and event_id in (
                 select event_id from flatgov_inbox
                 where consumer = $1 and processed_at < $2
                 limit 5000)",
        )
        .bind(consumer)
        .bind(cutoff)
        .execute(pool)
        .await?
        .rows_affected();
        pruned += deleted;
        if deleted < 5000 {
            return Ok(pruned);
        }
    }
}

/// Prunes `consumer`'s inbox hourly until `shutdown`.
pub async fn prune_inbox_worker(pool: PgPool, consumer: String, shutdown: CancellationToken) {
    loop {
        match prune_inbox(&pool, &consumer, INBOX_RETENTION).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(%consumer, pruned, "inbox pruned"),
            Err(error) => tracing::debug!(%consumer, %error, "cannot prune the inbox now"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

/// Refreshes the gauge of dead letters the consuming service's consumers
/// left in `FLATGOV_DEADLETTER` (alert when it is above 0).
pub async fn measure_dead_letters(bus: &EventBus, service: &str, metrics: &MessagingMetrics) {
    let Ok(stream) = bus
        .jetstream()
        .get_stream(bus.stream_name("deadletter"))
        .await
    else {
        return;
    };
    let Ok(mut subjects) = stream
        .info_with_subjects(bus.deadletter_subject(service))
        .await
    else {
        return;
    };
    let mut present: i64 = 0;
    while let Some(entry) = subjects.next().await {
        match entry {
            Ok((_, count)) => present += i64::try_from(count).unwrap_or(i64::MAX),
            Err(_) => return,
        }
    }
    metrics.dead_letters.set(present);
}

/// Refreshes the lag gauge of a consumer from the server (the per-message
/// `pending` figure only updates while messages flow).
pub async fn measure_lag(bus: &EventBus, spec: &ConsumerSpec, metrics: &MessagingMetrics) {
    let Ok(stream) = bus
        .jetstream()
        .get_stream(bus.stream_name(spec.source_service))
        .await
    else {
        return;
    };
    let Ok(mut consumer) = stream
        .get_consumer::<pull::Config>(&spec.durable_name)
        .await
    else {
        return;
    };
    if let Ok(info) = consumer.info().await {
        metrics
            .consumer_lag
            .get_or_create(&ConsumerLabels {
                consumer: spec.durable_name.clone(),
            })
            .set(i64::try_from(info.num_pending).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_per_try_up_to_the_cap() {
        let mut spec =
            ConsumerSpec::new("c", "cases", "flatgov.cases.case.escalated", "enforcement");
        spec.initial_backoff = Duration::from_secs(1);
        spec.max_backoff = Duration::from_secs(10);
        assert_eq!(spec.backoff_after(1), Duration::from_secs(1));
        assert_eq!(spec.backoff_after(2), Duration::from_secs(2));
        assert_eq!(spec.backoff_after(4), Duration::from_secs(8));
        assert_eq!(spec.backoff_after(5), Duration::from_secs(10));
        assert_eq!(spec.backoff_after(500), Duration::from_secs(10));
    }

    #[test]
    fn a_store_error_pauses_when_the_database_is_away_and_counts_otherwise() {
        use flatgov_db::store::StoreError;
        let away = StoreError::Database {
            context: "recording feedback due",
            source: sqlx::Error::PoolTimedOut,
        };
        assert!(matches!(
            HandlerError::from(away),
            HandlerError::Unavailable(reason) if reason.contains("recording feedback due")
        ));
        let wrong = StoreError::Database {
            context: "recording feedback due",
            source: sqlx::Error::RowNotFound,
        };
        assert!(matches!(HandlerError::from(wrong), HandlerError::Retry(_)));
        let corrupt = StoreError::Corrupt("a milestone no one knows".into());
        assert!(matches!(
            HandlerError::from(corrupt),
            HandlerError::Retry(_)
        ));
    }

    #[test]
    fn a_long_reason_is_cut_on_a_character_boundary() {
        let reason = "原因".repeat(400);
        let cut = truncate(&reason, 1024);
        assert!(cut.len() <= 1024);
        assert!(reason.starts_with(&cut));
    }
}
