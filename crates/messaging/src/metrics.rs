//! Prometheus metrics of the outbox relay and the consumers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of a consumer's series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    pub consumer: String,
}

/// Labels of a consumer outcome series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub consumer: String,
    /// `applied`, `duplicate`, `retried`, `paused` (infrastructure away, not
    /// counted as a delivery) or `dead_lettered`.
    pub outcome: &'static str,
}

/// Shared handles to the messaging series; cheap to clone.
#[derive(Clone, Default)]
pub struct MessagingMetrics {
    /// Committed events not yet acknowledged by JetStream. Growing means the
    /// relay cannot keep up or NATS is away.
    pub outbox_backlog: Gauge,
    /// Events the relay published (acknowledged by JetStream).
    pub outbox_published: Counter,
    /// Failed publish attempts.
    pub outbox_publish_failures: Counter,
    /// Outbox rows parked after repeated publish failures of their own
    /// (poison rows): they and the later events of their resources wait for
    /// `flatgov outbox retry`. Any at all deserves an alert.
    pub outbox_parked: Gauge,
    /// Messages waiting for each consumer on the server (consumer lag).
    pub consumer_lag: Family<ConsumerLabels, Gauge>,
    /// Messages handled by each consumer, by outcome.
    pub consumer_messages: Family<OutcomeLabels, Counter>,
    /// 1 while the process is connected to NATS, 0 while it is not: the
    /// service keeps serving then (degraded), so this, not readiness, is
    /// what alerts on a NATS outage.
    pub nats_connected: Gauge,
    /// Messages this service's consumers dead-lettered that are still in
    /// `FLATGOV_DEADLETTER`: any at all deserves an alert and a look
    /// (`flatgov deadletters list|show|redrive` handles them).
    pub dead_letters: Gauge,
}

impl MessagingMetrics {
    /// Creates the series and registers them under `flatgov_`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "flatgov_outbox_backlog",
            "Committed events not yet acknowledged by JetStream",
            metrics.outbox_backlog.clone(),
        );
        registry.register(
            "flatgov_outbox_published",
            "Events published by the outbox relay",
            metrics.outbox_published.clone(),
        );
        registry.register(
            "flatgov_outbox_publish_failures",
            "Failed publish attempts of the outbox relay",
            metrics.outbox_publish_failures.clone(),
        );
        registry.register(
            "flatgov_outbox_parked",
            "Outbox rows parked after repeated publish failures; their resources' later events wait",
            metrics.outbox_parked.clone(),
        );
        registry.register(
            "flatgov_consumer_lag",
            "Messages pending for a durable consumer on the server",
            metrics.consumer_lag.clone(),
        );
        registry.register(
            "flatgov_consumer_messages",
            "Messages handled by a consumer, by outcome",
            metrics.consumer_messages.clone(),
        );
        registry.register(
            "flatgov_nats_connected",
            "1 while connected to NATS; 0 means degraded (events wait in the outbox)",
            metrics.nats_connected.clone(),
        );
        registry.register(
            "flatgov_dead_letters",
            "Messages this service's consumers dead-lettered, still in FLATGOV_DEADLETTER",
            metrics.dead_letters.clone(),
        );
        metrics
    }

    pub(crate) fn count(&self, consumer: &str, outcome: &'static str) {
        self.consumer_messages
            .get_or_create(&OutcomeLabels {
                consumer: consumer.to_owned(),
                outcome,
            })
            .inc();
    }
}
