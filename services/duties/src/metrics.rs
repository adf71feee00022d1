//! The service's own Prometheus series, beside the chassis' ones.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of the refusal counter: who tried, and why it was refused.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// `department`, `subdistrict`, `community` or `block_team`.
    pub from_kind: String,
    /// The assigning unit's code (a department code, or a division code).
    pub from_code: String,
    /// `NEGATIVE_LIST`, `NOT_ON_SUBDISTRICT_LISTS`, …
    pub reason: String,
}

/// The service's own Prometheus series.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Refused assignments, so dashboards count push-down attempts per
    /// department as they happen (CountRefusals answers per month).
    pub assignments_refused: Family<RefusalLabels, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "flatgov_duties_assignments_refused",
            "Assignments refused by the duty lists gate, by assigning unit and reason",
            metrics.assignments_refused.clone(),
        );
        metrics
    }
}
