//! Dead letters, for operators: what a service's consumers gave up on, read
//! from `FLATGOV_DEADLETTER` (subject `flatgov.deadletter.<svc>`), and
//! redriven through the consumer's own handler.
//!
//! A redrive does not republish the event on its original subject: that
//! would need the source service's publish permission, hand the event to
//! every other consumer and integrator a second time, and (within the
//! stream's duplicate window) be dropped by JetStream as a duplicate. The
//! consuming service instead applies the dead letter through the handler of
//! the consumer named in it, in one transaction with that consumer's inbox
//! row — the very path a delivery takes — so it is applied exactly once
//! however often it is redriven, and then deletes it from the stream.
//!
//! Reading goes through a short-lived ephemeral consumer filtered on the
//! service's dead-letter subject, which a service's NATS user may create
//! (`$JS.API.CONSUMER.>`); deleting a redriven dead letter needs
//! `$JS.API.STREAM.MSG.DELETE.FLATGOV_DEADLETTER` (see [`crate::accounts`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use sqlx::PgPool;

use crate::consumer::{Redrive, Redriven};
use crate::envelope::header;
use crate::{Envelope, EventBus, HandlerError};

/// How long reading a page of dead letters may take.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// One dead letter as it sits in `FLATGOV_DEADLETTER`.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its sequence in the dead-letter stream: its name.
    pub sequence: u64,
    /// The durable consumer that gave up.
    pub consumer: String,
    /// The original subject, canonical (without any test prefix).
    pub subject: String,
    /// The handler's last error.
    pub reason: String,
    /// Deliveries tried; `None` for dead letters written before it was recorded.
    pub attempts: Option<i64>,
    pub dead_lettered_at: DateTime<Utc>,
    /// Every header, the CloudEvents ones of the original event included.
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
}

impl DeadLetter {
    /// A header's first value, empty when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .unwrap_or_default()
    }
}

/// Why dead letters could not be read or removed.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// NATS or JetStream did not answer as expected (away, refused).
    #[error("nats: {0}")]
    Nats(String),
}

fn nats(error: impl std::fmt::Display) -> DeadLetterError {
    DeadLetterError::Nats(error.to_string())
}

/// Up to `limit` dead letters of `service`'s consumers, oldest first, after
/// sequence `after` (the page token of the previous page).
pub async fn list(
    bus: &EventBus,
    service: &str,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<DeadLetter>, DeadLetterError> {
    let start = after.map(|sequence| sequence + 1);
    read(bus, service, start, limit).await
}

/// The dead letter at `sequence`, if it is one of `service`'s.
pub async fn get(
    bus: &EventBus,
    service: &str,
    sequence: u64,
) -> Result<Option<DeadLetter>, DeadLetterError> {
    let found = read(bus, service, Some(sequence), 1).await?;
    Ok(found
        .into_iter()
        .next()
        .filter(|letter| letter.sequence == sequence))
}

/// Deletes the dead letter at `sequence` (after a redrive applied it).
pub async fn remove(bus: &EventBus, sequence: u64) -> Result<(), DeadLetterError> {
    let stream = bus
        .jetstream()
        .get_stream(bus.stream_name("deadletter"))
        .await
        .map_err(nats)?;
    stream.delete_message(sequence).await.map_err(nats)?;
    Ok(())
}

async fn read(
    bus: &EventBus,
    service: &str,
    start: Option<u64>,
    limit: usize,
) -> Result<Vec<DeadLetter>, DeadLetterError> {
    let stream = match bus
        .jetstream()
        .get_stream(bus.stream_name("deadletter"))
        .await
    {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                async_nats::jetstream::context::GetStreamErrorKind::JetStream(api_error)
                    if api_error.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND
            ) =>
        {
            // No dead-letter stream yet: nothing was ever dead-lettered.
            return Ok(Vec::new());
        }
        Err(error) => return Err(nats(error)),
    };
    let mut consumer = stream
        .create_consumer(pull::Config {
            filter_subject: bus.deadletter_subject(service),
            deliver_policy: match start {
                Some(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
                None => DeliverPolicy::All,
            },
            ack_policy: AckPolicy::None,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .map_err(nats)?;
    let info = consumer.info().await.map_err(nats)?.clone();
    let wanted = usize::try_from(info.num_pending)
        .unwrap_or(usize::MAX)
        .min(limit);
    let mut letters = Vec::with_capacity(wanted);
    if wanted > 0 {
        let mut messages = consumer
            .batch()
            .max_messages(wanted)
            .expires(READ_TIMEOUT)
            .messages()
            .await
            .map_err(nats)?;
        while let Some(message) = messages.next().await {
            let message = message.map_err(nats)?;
            letters.push(dead_letter(bus, &message)?);
            if letters.len() >= wanted {
                break;
            }
        }
    }
    if let Err(error) = stream.delete_consumer(&info.name).await {
        tracing::debug!(%error, "cannot delete the dead-letter reading consumer; it expires by itself");
    }
    Ok(letters)
}

fn dead_letter(
    bus: &EventBus,
    message: &async_nats::jetstream::Message,
) -> Result<DeadLetter, DeadLetterError> {
    let info = message.info().map_err(nats)?;
    let mut headers = Vec::new();
    if let Some(map) = &message.headers {
        for (name, values) in map.iter() {
            if let Some(value) = values.first() {
                headers.push((name.to_string(), value.as_str().to_owned()));
            }
        }
    }
    headers.sort();
    let published = info.published;
    let dead_lettered_at =
        DateTime::from_timestamp(published.unix_timestamp(), published.nanosecond())
            .unwrap_or_default();
    let mut letter = DeadLetter {
        sequence: info.stream_sequence,
        consumer: String::new(),
        subject: String::new(),
        reason: String::new(),
        attempts: None,
        dead_lettered_at,
        headers,
        payload: message.payload.clone(),
    };
    letter.consumer = letter.header(header::DEADLETTER_CONSUMER).to_owned();
    let wire_subject = letter.header(header::DEADLETTER_SUBJECT).to_owned();
    letter.subject = bus
        .canonical(&wire_subject)
        .unwrap_or(&wire_subject)
        .to_owned();
    letter.reason = letter.header(header::DEADLETTER_REASON).to_owned();
    letter.attempts = letter.header(header::DEADLETTER_ATTEMPTS).parse().ok();
    Ok(letter)
}

/// What became of one redriven dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedriveOutcome {
    /// Applied now; removed from the stream.
    Applied,
    /// The consumer's inbox shows it applied already; removed from the stream.
    AlreadyApplied,
    /// Failed again; kept.
    Failed(String),
}

/// The consumers of one service, by durable name, through which its dead
/// letters are redriven.
#[derive(Clone, Default)]
pub struct Redrivers {
    by_consumer: HashMap<String, Arc<dyn Redrive>>,
}

impl Redrivers {
    pub fn insert(&mut self, consumer: String, redrive: Arc<dyn Redrive>) {
        self.by_consumer.insert(consumer, redrive);
    }

    /// Applies `letter` through its consumer's handler and inbox, and
    /// removes it from the stream once applied (or found applied before).
    /// `Err` only when the database or NATS is away: nothing was changed
    /// then, and the caller should try again later.
    pub async fn redrive(
        &self,
        pool: &PgPool,
        bus: &EventBus,
        letter: &DeadLetter,
    ) -> Result<RedriveOutcome, String> {
        let Some(redrive) = self.by_consumer.get(&letter.consumer) else {
            return Ok(RedriveOutcome::Failed(format!(
                "no consumer named {:?} runs in this service",
                letter.consumer
            )));
        };
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in &letter.headers {
            headers.insert(name.as_str(), value.as_str());
        }
        let envelope =
            match Envelope::parse(&letter.subject, Some(&headers), letter.payload.clone()) {
                Ok(envelope) => envelope,
                Err(error) => return Ok(RedriveOutcome::Failed(error.to_string())),
            };
        let outcome = match redrive.redrive(pool, &envelope).await {
            Ok(Redriven::Applied) => RedriveOutcome::Applied,
            Ok(Redriven::AlreadyApplied) => RedriveOutcome::AlreadyApplied,
            Err(HandlerError::Unavailable(reason)) => return Err(reason),
            Err(error) => return Ok(RedriveOutcome::Failed(error.to_string())),
        };
        remove(bus, letter.sequence).await.map_err(|error| {
            format!("applied, but the dead letter could not be removed: {error}")
        })?;
        Ok(outcome)
    }
}
