//! The CloudEvents binary-mode envelope for NATS (headers + protobuf body).

use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use flatgov_proto::Event;

/// Header names, as integrators see them.
pub mod header {
    pub const SPEC_VERSION: &str = "ce-specversion";
    pub const ID: &str = "ce-id";
    pub const SOURCE: &str = "ce-source";
    pub const TYPE: &str = "ce-type";
    pub const TIME: &str = "ce-time";
    pub const SUBJECT: &str = "ce-subject";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const NATS_MSG_ID: &str = "Nats-Msg-Id";
    pub const TRACEPARENT: &str = "traceparent";
    pub const TRACESTATE: &str = "tracestate";
    /// Added to dead letters: why the consumer gave up.
    pub const DEADLETTER_REASON: &str = "flatgov-deadletter-reason";
    /// Added to dead letters: the consumer that gave up.
    pub const DEADLETTER_CONSUMER: &str = "flatgov-deadletter-consumer";
    /// Added to dead letters: where the message was originally published.
    pub const DEADLETTER_SUBJECT: &str = "flatgov-deadletter-subject";
    /// Added to dead letters: deliveries tried before giving up.
    pub const DEADLETTER_ATTEMPTS: &str = "flatgov-deadletter-attempts";
}

pub const SPEC_VERSION: &str = "1.0";
pub const CONTENT_TYPE: &str = "application/protobuf";

/// What an outgoing event's headers say.
#[derive(Debug, Clone)]
pub struct EventMetadata<'a> {
    pub id: &'a str,
    /// The publishing service, e.g. `cases` (becomes `flatgov/cases`).
    pub service: &'a str,
    pub event_type: &'a str,
    pub time: DateTime<Utc>,
    /// The resource the event is about, e.g. `cases/01J…`.
    pub resource: &'a str,
    /// W3C trace context of the transaction that produced the event.
    pub trace_headers: &'a [(String, String)],
}

/// Builds the NATS headers for an event.
pub fn headers_for(metadata: &EventMetadata<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::SPEC_VERSION, SPEC_VERSION);
    headers.insert(header::ID, metadata.id);
    headers.insert(
        header::SOURCE,
        format!("flatgov/{}", metadata.service).as_str(),
    );
    headers.insert(header::TYPE, metadata.event_type);
    headers.insert(
        header::TIME,
        metadata
            .time
            .to_rfc3339_opts(SecondsFormat::Micros, true)
            .as_str(),
    );
    headers.insert(header::SUBJECT, metadata.resource);
    headers.insert(header::CONTENT_TYPE, CONTENT_TYPE);
    headers.insert(header::NATS_MSG_ID, metadata.id);
    for (name, value) in metadata.trace_headers {
        if name == header::TRACEPARENT || name == header::TRACESTATE {
            headers.insert(name.as_str(), value.as_str());
        }
    }
    headers
}

/// Why a message is not a usable flatgov event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("message on {subject} has no headers")]
    NoHeaders { subject: String },
    #[error("message on {subject} lacks header {header}")]
    MissingHeader {
        subject: String,
        header: &'static str,
    },
    #[error("message on {subject} has content-type {found:?}, expected application/protobuf")]
    ContentType { subject: String, found: String },
    #[error("event {id} is a {found}, not a {expected}")]
    WrongType {
        id: String,
        found: String,
        expected: &'static str,
    },
    #[error("event {id} ({event_type}) does not decode: {reason}")]
    Decode {
        id: String,
        event_type: String,
        reason: String,
    },
}

/// A received event: CloudEvents attributes plus the protobuf payload.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `ce-id`: unique per event, the inbox key.
    pub id: String,
    /// `ce-source`, e.g. `flatgov/cases`.
    pub source: String,
    /// `ce-type`, the payload's protobuf full name.
    pub event_type: String,
    /// `ce-time`, when the state change committed.
    pub time: Option<DateTime<Utc>>,
    /// `ce-subject`: the resource the event is about.
    pub resource: String,
    /// The canonical NATS subject (without any test prefix).
    pub subject: String,
    pub payload: Bytes,
    /// All headers, including trace context.
    pub headers: HeaderMap,
}

impl Envelope {
    /// Reads the envelope of a message received on `canonical_subject`.
    pub fn parse(
        canonical_subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> Result<Self, EnvelopeError> {
        let subject = canonical_subject.to_owned();
        let headers = headers.ok_or_else(|| EnvelopeError::NoHeaders {
            subject: subject.clone(),
        })?;
        let required = |name: &'static str| {
            headers
                .get(name)
                .map(|value| value.as_str().to_owned())
                .ok_or_else(|| EnvelopeError::MissingHeader {
                    subject: subject.clone(),
                    header: name,
                })
        };
        let content_type = required(header::CONTENT_TYPE)?;
        if content_type != CONTENT_TYPE {
            return Err(EnvelopeError::ContentType {
                subject: subject.clone(),
                found: content_type,
            });
        }
        Ok(Self {
            id: required(header::ID)?,
            source: required(header::SOURCE)?,
            event_type: required(header::TYPE)?,
            time: headers
                .get(header::TIME)
                .and_then(|value| DateTime::parse_from_rfc3339(value.as_str()).ok())
                .map(|time| time.with_timezone(&Utc)),
            resource: headers
                .get(header::SUBJECT)
                .map(|value| value.as_str().to_owned())
                .unwrap_or_default(),
            subject,
            payload,
            headers: headers.clone(),
        })
    }

    /// True when the payload is an `E`.
    pub fn is<E: Event>(&self) -> bool {
        self.event_type == E::TYPE
    }

    /// Decodes the payload as an `E`, checking the CloudEvents type first.
    pub fn decode<E: Event>(&self) -> Result<E, EnvelopeError> {
        if !self.is::<E>() {
            return Err(EnvelopeError::WrongType {
                id: self.id.clone(),
                found: self.event_type.clone(),
                expected: E::TYPE,
            });
        }
        E::decode(self.payload.clone()).map_err(|error| EnvelopeError::Decode {
            id: self.id.clone(),
            event_type: self.event_type.clone(),
            reason: error.to_string(),
        })
    }

    /// A header's value, for trace-context extraction.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|value| value.as_str().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flatgov_proto::testing::v1::Echoed;
    use prost::Message as _;

    fn metadata<'a>(trace: &'a [(String, String)]) -> EventMetadata<'a> {
        EventMetadata {
            id: "0190a1b2-0000-7000-8000-000000000001",
            service: "testing",
            event_type: "flatgov.testing.v1.Echoed",
            time: DateTime::parse_from_rfc3339("2026-11-28T01:02:03Z")
                .unwrap()
                .with_timezone(&Utc),
            resource: "echoes/1",
            trace_headers: trace,
        }
    }

    #[test]
    fn headers_follow_the_cloudevents_nats_binding() {
        let trace = vec![(
            "traceparent".to_owned(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
        )];
        let headers = headers_for(&metadata(&trace));
        assert_eq!(headers.get("ce-specversion").unwrap().as_str(), "1.0");
        assert_eq!(
            headers.get("ce-source").unwrap().as_str(),
            "flatgov/testing"
        );
        assert_eq!(
            headers.get("ce-type").unwrap().as_str(),
            "flatgov.testing.v1.Echoed"
        );
        assert_eq!(
            headers.get("ce-time").unwrap().as_str(),
            "2026-11-28T01:02:03.000000Z"
        );
        assert_eq!(headers.get("ce-subject").unwrap().as_str(), "echoes/1");
        assert_eq!(
            headers.get("content-type").unwrap().as_str(),
            "application/protobuf"
        );
        assert_eq!(
            headers.get("Nats-Msg-Id").unwrap().as_str(),
            headers.get("ce-id").unwrap().as_str()
        );
        assert!(headers.get("traceparent").is_some());
    }

    #[test]
    fn an_envelope_decodes_its_payload_and_refuses_another_type() {
        let headers = headers_for(&metadata(&[]));
        let payload = Echoed {
            id: "1".into(),
            message: "hello".into(),
        }
        .encode_to_vec();
        let envelope = Envelope::parse(
            "flatgov.testing.echo.echoed",
            Some(&headers),
            payload.into(),
        )
        .unwrap();
        assert_eq!(envelope.decode::<Echoed>().unwrap().message, "hello");
        assert_eq!(envelope.resource, "echoes/1");
        assert!(envelope.time.is_some());
    }

    #[test]
    fn a_message_without_an_id_is_refused_naming_the_header() {
        let headers = headers_for(&metadata(&[]));
        let mut stripped = HeaderMap::new();
        for (name, values) in headers.iter() {
            let name: &str = name.as_ref();
            if name != header::ID {
                for value in values {
                    stripped.append(name, value.as_str());
                }
            }
        }
        let error = Envelope::parse("flatgov.testing.echo.echoed", Some(&stripped), Bytes::new())
            .unwrap_err();
        assert_eq!(
            error,
            EnvelopeError::MissingHeader {
                subject: "flatgov.testing.echo.echoed".into(),
                header: "ce-id"
            }
        );
    }
}
