//! `flatgov events asyncapi`: the AsyncAPI 3 document of every channel,
//! generated from the protos (the one source of truth), so it cannot drift.
//!
//! Each event message (a message with the `flatgov.events.v1.subject`
//! option) becomes a channel at its subject, a `send` operation of the
//! publishing service, and a message whose headers are the CloudEvents NATS
//! binding and whose payload is described by a JSON Schema of the protobuf
//! message in its canonical JSON mapping (what `flatgov events tail` and any
//! protobuf JSON printer show). On the wire the payload is protobuf
//! (`content-type: application/protobuf`), decoded with the published protos.

use std::collections::BTreeMap;

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Value,
};
use serde_json::{Map, Value as Json, json};

/// The document as JSON (AsyncAPI accepts JSON as well as YAML).
pub fn document(pool: &DescriptorPool) -> Json {
    let subject_option = pool.get_extension_by_name("flatgov.events.v1.subject");
    let mut events: Vec<(String, MessageDescriptor)> = Vec::new();
    if let Some(option) = &subject_option {
        // The testing package is the chassis' test fixture, not a platform service.
        for message in pool
            .all_messages()
            .filter(|message| !message.package_name().starts_with("flatgov.testing"))
        {
            let options = message.options();
            if options.has_extension(option)
                && let Value::String(subject) = options.get_extension(option).as_ref()
            {
                events.push((subject.clone(), message));
            }
        }
    }
    events.sort_by(|left, right| left.0.cmp(&right.0));

    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    let mut schemas: BTreeMap<String, Json> = BTreeMap::new();
    schemas.insert("CloudEventsHeaders".into(), headers_schema());

    for (subject, message) in &events {
        let service = subject.split('.').nth(1).unwrap_or_default().to_owned();
        let channel_id = camel_id(subject);
        let message_id = message.full_name().replace('.', "_");
        let description = comments(
            message.parent_file().file_descriptor_proto(),
            message.path(),
        );
        channels.insert(
            channel_id.clone(),
            json!({
                "address": subject,
                "title": message.name(),
                "description": format!(
                    "Published by the flatgov {service} service on stream FLATGOV_{}. {description}",
                    service.to_uppercase()
                ).trim().to_owned(),
                "messages": { message.name(): { "$ref": format!("#/components/messages/{message_id}") } },
            }),
        );
        operations.insert(
            format!("{}_send", channel_id),
            json!({
                "action": "send",
                "title": format!("{service} publishes {}", message.name()),
                "summary": format!("The {service} service publishes {} through its transactional outbox.", message.name()),
                "channel": { "$ref": format!("#/channels/{channel_id}") },
                "messages": [ { "$ref": format!("#/channels/{channel_id}/messages/{}", message.name()) } ],
                "x-flatgov-publisher": service,
            }),
        );
        collect_schema(message, &mut schemas);
        messages.insert(
            message_id,
            json!({
                "name": message.name(),
                "title": message.full_name(),
                "summary": first_sentence(&description),
                "description": description,
                "contentType": "application/protobuf",
                "headers": { "$ref": "#/components/schemas/CloudEventsHeaders" },
                "payload": { "$ref": format!("#/components/schemas/{}", schema_id(message.full_name())) },
                "x-protobuf-type": message.full_name(),
                "x-protobuf-file": message.parent_file().name(),
                "x-ce-type": message.full_name(),
                "x-ce-source": format!("flatgov/{service}"),
            }),
        );
    }

    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "flatgov events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every event the six flatgov services publish on NATS JetStream. \
                Each service has one stream, FLATGOV_<SVC>, capturing flatgov.<svc>.>; dead letters go to \
                flatgov.deadletter.<consuming svc> in FLATGOV_DEADLETTER. Messages use the CloudEvents NATS \
                binding in binary mode: the payload is the protobuf message named by ce-type, the attributes \
                are headers. Events never carry a resident's name, phone number or ID number. Generated from \
                the protos by `flatgov events asyncapi`; see docs/events/README.md for consuming, replaying \
                and decoding.",
            "license": { "name": "Apache-2.0" },
        },
        "defaultContentType": "application/protobuf",
        "servers": {
            "local": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "The NATS server `scripts/up` uses.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas.into_iter().collect::<Map<String, Json>>(),
        },
    })
}

fn headers_schema() -> Json {
    let string = |description: &str| json!({ "type": "string", "description": description });
    json!({
        "type": "object",
        "description": "CloudEvents attributes (NATS binding, binary mode) and W3C trace context.",
        "required": ["ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-subject", "content-type", "Nats-Msg-Id"],
        "properties": {
            "ce-specversion": { "type": "string", "const": "1.0", "description": "CloudEvents version." },
            "ce-id": string("Unique event id (UUID v7); consumers deduplicate on it."),
            "ce-source": string("flatgov/<service>, the publishing service."),
            "ce-type": string("Full protobuf name of the payload message."),
            "ce-time": { "type": "string", "format": "date-time", "description": "When the state change committed (RFC 3339, UTC)." },
            "ce-subject": string("Resource name the event is about, e.g. cases/0193…; also the ordering key: events of one resource arrive in order."),
            "content-type": { "type": "string", "const": "application/protobuf" },
            "Nats-Msg-Id": string("Equals ce-id; JetStream drops re-published duplicates within its duplicate window."),
            "traceparent": string("W3C trace context of the request that caused the event."),
            "tracestate": string("W3C trace state, when present."),
        },
    })
}

fn schema_id(full_name: &str) -> String {
    full_name.replace('.', "_")
}

/// `flatgov.cases.case.escalated` → `flatgovCasesCaseEscalated`.
fn camel_id(subject: &str) -> String {
    let mut id = String::new();
    for (index, token) in subject.split(['.', '_']).enumerate() {
        let mut characters = token.chars();
        if let Some(first) = characters.next() {
            if index == 0 {
                id.push(first);
            } else {
                id.extend(first.to_uppercase());
            }
            id.extend(characters);
        }
    }
    id
}

fn collect_schema(message: &MessageDescriptor, schemas: &mut BTreeMap<String, Json>) {
    let id = schema_id(message.full_name());
    if schemas.contains_key(&id) {
        return;
    }
    // Reserve the id first: messages may refer to themselves.
    schemas.insert(id.clone(), Json::Null);
    let file = message.parent_file();
    let mut properties = Map::new();
    for field in message.fields() {
        let mut schema = field_schema(&field, schemas);
        let description = comments(file.file_descriptor_proto(), field.path());
        if !description.is_empty()
            && let Json::Object(object) = &mut schema
        {
            object.insert("description".into(), Json::String(description));
        }
        properties.insert(field.json_name().to_owned(), schema);
    }
    let mut schema = json!({
        "type": "object",
        "title": message.full_name(),
        "properties": properties,
    });
    let description = comments(file.file_descriptor_proto(), message.path());
    if !description.is_empty() {
        schema["description"] = Json::String(description);
    }
    schemas.insert(id, schema);
}

fn field_schema(field: &FieldDescriptor, schemas: &mut BTreeMap<String, Json>) -> Json {
    let single = kind_schema(&field.kind(), schemas);
    if field.is_map() {
        let value_kind = match field.kind() {
            Kind::Message(entry) => entry.map_entry_value_field().kind(),
            other => other,
        };
        return json!({ "type": "object", "additionalProperties": kind_schema(&value_kind, schemas) });
    }
    if field.is_list() {
        return json!({ "type": "array", "items": single });
    }
    single
}

fn kind_schema(kind: &Kind, schemas: &mut BTreeMap<String, Json>) -> Json {
    match kind {
        Kind::Double | Kind::Float => json!({ "type": "number" }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({ "type": "integer", "format": "int32" })
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({ "type": "integer", "format": "int32", "minimum": 0 })
        }
        // The protobuf JSON mapping writes 64-bit integers as strings.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            json!({ "type": "string", "pattern": "^-?[0-9]+$", "description": "64-bit integer" })
        }
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::String => json!({ "type": "string" }),
        Kind::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
        Kind::Enum(enumeration) => enum_schema(enumeration),
        Kind::Message(message) => match message.full_name() {
            "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
            "google.protobuf.Duration" => {
                json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$" })
            }
            _ => {
                collect_schema(message, schemas);
                json!({ "$ref": format!("#/components/schemas/{}", schema_id(message.full_name())) })
            }
        },
    }
}

fn enum_schema(enumeration: &EnumDescriptor) -> Json {
    let names: Vec<Json> = enumeration
        .values()
        .map(|value| Json::String(value.name().to_owned()))
        .collect();
    json!({ "type": "string", "enum": names, "title": enumeration.full_name() })
}

/// The leading (or trailing) comment of the element at `path`, joined into
/// one paragraph.
fn comments(file: &prost_reflect::prost_types::FileDescriptorProto, path: &[i32]) -> String {
    let Some(info) = &file.source_code_info else {
        return String::new();
    };
    info.location
        .iter()
        .find(|location| location.path == path)
        .map(|location| {
            let text = location
                .leading_comments
                .as_deref()
                .or(location.trailing_comments.as_deref())
                .unwrap_or_default();
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .unwrap_or_default()
}

fn first_sentence(text: &str) -> String {
    match text.find(". ") {
        Some(end) => text[..=end].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> Json {
        let pool = DescriptorPool::decode(flatgov_proto::FILE_DESCRIPTOR_SET).unwrap();
        document(&pool)
    }

    #[test]
    fn every_event_message_is_a_channel_at_its_subject_with_a_send_operation() {
        let document = generated();
        let channel = &document["channels"]["flatgovCasesCaseEscalated"];
        assert_eq!(channel["address"], "flatgov.cases.case.escalated");
        assert!(
            channel["description"]
                .as_str()
                .unwrap()
                .contains("cases service")
        );
        let operation = &document["operations"]["flatgovCasesCaseEscalated_send"];
        assert_eq!(operation["action"], "send");
        assert_eq!(operation["x-flatgov-publisher"], "cases");
        let message = &document["components"]["messages"]["flatgov_cases_v1_CaseEscalated"];
        assert_eq!(message["contentType"], "application/protobuf");
        let payload = &document["components"]["schemas"]["flatgov_cases_v1_CaseEscalated"];
        assert_eq!(payload["properties"]["toTier"]["type"], "string");
        assert_eq!(payload["properties"]["escalatedAt"]["format"], "date-time");
        assert_eq!(payload["properties"]["agencies"]["type"], "array");
    }

    #[test]
    fn the_committed_document_matches_the_protos() {
        let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events/asyncapi.json");
        let committed = std::fs::read_to_string(committed_path).unwrap_or_default();
        let expected = serde_json::to_string_pretty(&generated()).unwrap() + "\n";
        assert!(
            committed == expected,
            "docs/events/asyncapi.json is out of date with the protos; regenerate it with\n  \
             cargo run -q -p flatgov-cli -- events asyncapi > docs/events/asyncapi.json"
        );
    }
}
