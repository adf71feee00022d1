//! Reading streams the way an integrator does, to assert on what services
//! published.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use flatgov_messaging::envelope::{EventMetadata, headers_for};
use flatgov_messaging::{Envelope, Event, EventBus};
use futures::StreamExt as _;

/// Every message on `service`'s stream so far plus those arriving within
/// `timeout`, until `expected` have been read. Reads with an ephemeral
/// consumer from the start of the stream, so it sees exactly what an
/// integrator replaying the stream sees (duplicates included, if any).
pub async fn read_stream(
    bus: &EventBus,
    service: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<Envelope> {
    bus.ensure_stream(service).await.expect("stream");
    let stream = bus
        .jetstream()
        .get_stream(bus.stream_name(service))
        .await
        .expect("stream exists");
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("ephemeral consumer");
    let mut messages = consumer.messages().await.expect("message stream");
    let mut envelopes = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while envelopes.len() < expected {
        let next = tokio::time::timeout_at(deadline, messages.next()).await;
        let Ok(Some(Ok(message))) = next else { break };
        let canonical = bus
            .canonical(message.subject.as_str())
            .unwrap_or(message.subject.as_str())
            .to_owned();
        let envelope = Envelope::parse(
            &canonical,
            message.headers.as_ref(),
            message.payload.clone(),
        )
        .expect("every published message is a valid envelope");
        envelopes.push(envelope);
    }
    envelopes
}

/// The events of type `E` among `envelopes`, decoded, in stream order.
pub fn decoded<E: Event>(envelopes: &[Envelope]) -> Vec<E> {
    envelopes
        .iter()
        .filter(|envelope| envelope.is::<E>())
        .map(|envelope| {
            envelope
                .decode::<E>()
                .expect("an event of its own type decodes")
        })
        .collect()
}

/// The events of type `E` on `service`'s stream, each with its envelope,
/// as soon as `done` holds for them; panics after `patience`. For events a
/// service publishes asynchronously (through its outbox relay).
pub async fn events_once<E: Event>(
    bus: &EventBus,
    service: &str,
    patience: Duration,
    done: impl Fn(&[(Envelope, E)]) -> bool,
) -> Vec<(Envelope, E)> {
    crate::eventually(&format!("{} events", E::TYPE), patience, || async {
        let events: Vec<(Envelope, E)> =
            read_stream(bus, service, usize::MAX, Duration::from_millis(300))
                .await
                .into_iter()
                .filter(|envelope| envelope.is::<E>())
                .map(|envelope| {
                    let event = envelope
                        .decode::<E>()
                        .expect("an event of its own type decodes");
                    (envelope, event)
                })
                .collect();
        done(&events).then_some(events)
    })
    .await
}

/// Publishes `event` on `service`'s stream as that service's relay would:
/// CloudEvents headers naming `resource`, message id `event_id` (reuse one
/// to replay a delivery), protobuf payload; returns once JetStream has it.
/// For testing a consumer without running the service that publishes.
pub async fn publish_as<E: Event>(
    bus: &EventBus,
    service: &str,
    event_id: &str,
    resource: &str,
    event: &E,
) {
    bus.ensure_stream(service).await.expect("stream");
    let headers = headers_for(&EventMetadata {
        id: event_id,
        service,
        event_type: E::TYPE,
        time: chrono::Utc::now(),
        resource,
        trace_headers: &[],
    });
    bus.jetstream()
        .publish_with_headers(
            bus.subject(E::SUBJECT),
            headers,
            event.encode_to_vec().into(),
        )
        .await
        .expect("published")
        .await
        .expect("acknowledged");
}

/// How many messages `service`'s stream holds.
pub async fn stream_message_count(bus: &EventBus, service: &str) -> u64 {
    let Ok(mut stream) = bus.jetstream().get_stream(bus.stream_name(service)).await else {
        return 0;
    };
    stream
        .info()
        .await
        .map(|info| info.state.messages)
        .unwrap_or(0)
}

/// How many events the service owning `pool` has committed so far, counted
/// once its relay has published them all: waits (up to `patience`) until the
/// outbox is empty, then counts `service`'s stream. The relay deletes a row
/// when JetStream acknowledges it, so the stream — what integrators see — is
/// the record of what was written. For "a refused call wrote no event": take
/// it before and after; they must be equal.
pub async fn events_committed(
    pool: &sqlx::PgPool,
    bus: &EventBus,
    service: &str,
    patience: Duration,
) -> u64 {
    crate::eventually("the outbox to drain", patience, || async {
        let unpublished: i64 = sqlx::query_scalar("select count(*) from flatgov_outbox")
            .fetch_one(pool)
            .await
            .expect("outbox count");
        (unpublished == 0).then_some(())
    })
    .await;
    stream_message_count(bus, service).await
}

/// Every event the service owning `pool` has committed so far, in order,
/// once its relay has published them all (see [`events_committed`]).
pub async fn committed_envelopes(
    pool: &sqlx::PgPool,
    bus: &EventBus,
    service: &str,
    patience: Duration,
) -> Vec<Envelope> {
    let count = events_committed(pool, bus, service, patience).await;
    let all = usize::try_from(count).expect("a stream's length fits in usize");
    let envelopes = read_stream(bus, service, all, patience).await;
    assert_eq!(envelopes.len(), all, "the stream's messages could be read");
    envelopes
}

/// The events of type `E` among [`committed_envelopes`], decoded.
pub async fn committed<E: Event>(
    pool: &sqlx::PgPool,
    bus: &EventBus,
    service: &str,
    patience: Duration,
) -> Vec<E> {
    decoded(&committed_envelopes(pool, bus, service, patience).await)
}
