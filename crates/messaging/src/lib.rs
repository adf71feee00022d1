//! Events between flatgov services: CloudEvents over NATS JetStream.
//!
//! * [`EventBus`] connects to NATS and provisions the streams: one per
//!   service, `FLATGOV_<SVC>` capturing `flatgov.<svc>.>`, and
//!   `FLATGOV_DEADLETTER` capturing `flatgov.deadletter.>`.
//! * [`outbox::enqueue`] writes an event into the service's own database in
//!   the caller's transaction, so the state change and the event commit
//!   together or not at all.
//! * [`relay::Relay`] publishes committed outbox rows (woken by
//!   `LISTEN/NOTIFY` on commit), in per-entity order, with the event id as
//!   `Nats-Msg-Id`, deleting each only after JetStream's PubAck. Several
//!   replicas may run it: rows are claimed with `FOR UPDATE SKIP LOCKED`.
//! * [`consumer::run`] drives a durable pull consumer: the handler's writes
//!   and an inbox row keyed by the CloudEvents id commit in one transaction,
//!   then the message is acked; duplicates are acked and skipped; a message
//!   that keeps failing is retried with backoff and, after `max_deliver`
//!   tries, published to `flatgov.deadletter.<svc>` so the consumer moves on.
//! * [`deadletters`] lists dead letters and redrives them through the
//!   consumer's own handler and inbox (`flatgov deadletters`).

pub mod accounts;
pub mod bus;
pub mod consumer;
pub mod deadletters;
pub mod envelope;
pub mod metrics;
pub mod outbox;
pub mod relay;

pub use bus::{BusConfig, BusError, EventBus};
pub use consumer::{ConsumerSpec, EventHandler, HandlerError};
pub use envelope::{Envelope, EnvelopeError};
pub use flatgov_proto::Event;
pub use metrics::MessagingMetrics;
pub use relay::{Relay, RelayConfig};

/// The chassis' own tables (outbox, inbox). They keep their own migration
/// history table so services number their migrations independently.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name("_flatgov_messaging_migrations");
    migrator
}
