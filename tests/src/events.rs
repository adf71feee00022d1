//! The event streams as an integrator reads them: every message of a
//! service's stream from the beginning, with its CloudEvents headers.

use std::time::Duration;

use flatgov_messaging::Envelope;
use flatgov_testkit::events::{read_stream, stream_message_count};

use crate::{PATIENCE, Platform, eventually};

/// Every stream an integrator may read: one per service, and the dead
/// letters.
pub const STREAMS: [&str; 9] = [
    "blocks",
    "duties",
    "cases",
    "enforcement",
    "federation",
    "notices",
    "mediation",
    "errands",
    "deadletter",
];

impl Platform {
    /// Every message `service`'s stream holds now, oldest first.
    pub async fn events(&self, service: &str) -> Vec<Envelope> {
        let bus = self.integrator_bus().await;
        let count = stream_message_count(bus, service).await;
        if count == 0 {
            return Vec::new();
        }
        let expected = usize::try_from(count).expect("a stream fits in memory");
        let events = read_stream(bus, service, expected, Duration::from_secs(30)).await;
        assert_eq!(
            events.len(),
            expected,
            "the {service} stream holds {count} messages but only {} could be read",
            events.len()
        );
        events
    }

    /// Polls `service`'s stream until `check` holds for its messages, and
    /// returns them; panics after [`PATIENCE`] naming `what`.
    pub async fn events_until(
        &self,
        service: &str,
        what: &str,
        check: impl Fn(&[Envelope]) -> bool,
    ) -> Vec<Envelope> {
        eventually(what, PATIENCE, || async {
            let events = self.events(service).await;
            check(&events).then_some(events)
        })
        .await
    }
}

/// The message name of an event, e.g. `CaseDispatched` for
/// `flatgov.cases.v1.CaseDispatched`.
pub fn short_type(event: &Envelope) -> &str {
    event
        .event_type
        .rsplit('.')
        .next()
        .unwrap_or(&event.event_type)
}

/// The names of the events about `resource` (their `ce-subject`), in
/// stream order.
pub fn types_about<'a>(events: &'a [Envelope], resource: &str) -> Vec<&'a str> {
    about(events, resource)
        .into_iter()
        .map(short_type)
        .collect()
}

/// The events about `resource` (their `ce-subject`), in stream order.
pub fn about<'a>(events: &'a [Envelope], resource: &str) -> Vec<&'a Envelope> {
    events
        .iter()
        .filter(|event| event.resource == resource)
        .collect()
}

/// How many events of type `short_name` are about `resource`.
pub fn count_about(events: &[Envelope], resource: &str, short_name: &str) -> usize {
    about(events, resource)
        .into_iter()
        .filter(|event| short_type(event) == short_name)
        .count()
}

/// The trace id (32 hex digits) of an event's `traceparent` header.
pub fn trace_id(event: &Envelope) -> Option<String> {
    event
        .header("traceparent")
        .and_then(|traceparent| crate::traces::trace_id_of_traceparent(&traceparent))
}

/// Every header value of an event, with its name, for searching.
pub fn header_values(event: &Envelope) -> Vec<(String, String)> {
    event
        .headers
        .iter()
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |value| (name.to_string(), value.to_string()))
        })
        .collect()
}

/// Panics when `needle` occurs in any payload or header value of any of
/// `events` (read from `stream`).
pub fn assert_nowhere(stream: &str, events: &[Envelope], needle: &str) {
    let needle_bytes = needle.as_bytes();
    for event in events {
        let in_payload = event
            .payload
            .windows(needle_bytes.len())
            .any(|window| window == needle_bytes);
        assert!(
            !in_payload,
            "{needle:?} occurs in the payload of {} {} on the {stream} stream",
            event.event_type, event.id
        );
        for (name, value) in header_values(event) {
            assert!(
                !value.contains(needle),
                "{needle:?} occurs in header {name} of {} {} on the {stream} stream",
                event.event_type,
                event.id
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flatgov_messaging::envelope::{EventMetadata, headers_for};

    fn event(payload: &str, resource: &str) -> Envelope {
        let trace = vec![(
            "traceparent".to_owned(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
        )];
        let headers = headers_for(&EventMetadata {
            id: "0190a1b2-0000-7000-8000-000000000001",
            service: "cases",
            event_type: "flatgov.cases.v1.CaseReported",
            time: chrono::Utc::now(),
            resource,
            trace_headers: &trace,
        });
        Envelope::parse(
            "flatgov.cases.case.reported",
            Some(&headers),
            payload.as_bytes().to_vec().into(),
        )
        .unwrap()
    }

    #[test]
    fn an_event_is_named_by_its_message_and_traced_by_its_traceparent() {
        let reported = event("", "cases/1");
        assert_eq!(short_type(&reported), "CaseReported");
        assert_eq!(
            trace_id(&reported).as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        let events = [reported, event("", "cases/2")];
        assert_eq!(types_about(&events, "cases/2"), ["CaseReported"]);
        assert_eq!(count_about(&events, "cases/1", "CaseReported"), 1);
        assert_eq!(count_about(&events, "cases/3", "CaseReported"), 0);
    }

    #[test]
    #[should_panic(expected = "occurs in the payload")]
    fn a_name_in_a_payload_is_found() {
        assert_nowhere("cases", &[event("xx 赵一鸣 yy", "cases/1")], "赵一鸣");
    }

    #[test]
    #[should_panic(expected = "occurs in header ce-subject")]
    fn a_phone_number_in_a_header_is_found() {
        assert_nowhere("cases", &[event("", "people/13912345678")], "13912345678");
    }

    #[test]
    fn what_occurs_nowhere_passes() {
        assert_nowhere("cases", &[event("codes only", "cases/1")], "赵一鸣");
    }
}
