//! The OpenAPI document of the HTTP surface, built from the same route table the
//! router is built from ([`ROUTES`]) and served at `/openapi.json`.
//! `docs/openapi.yaml` is this document written out; the gateway's tests check that
//! the file matches, that every documented route answers, and that the JSON the
//! Open311 routes answer has exactly the documented properties.

use serde_json::{Value, json};

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// The OpenAPI path template.
    pub path: &'static str,
    pub summary: &'static str,
    /// The schema of a 200 answer in JSON (under `components/schemas`), if any.
    pub answer: Option<&'static str>,
    /// The answer is a JSON array of `answer`.
    pub array: bool,
}

const fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    answer: Option<&'static str>,
    array: bool,
) -> Route {
    Route {
        method,
        path,
        summary,
        answer,
        array,
    }
}

/// Every route the gateway serves.
pub const ROUTES: [Route; 18] = [
    route(
        "get",
        "/healthz",
        "Whether the gateway and its registry answer",
        Some("Health"),
        false,
    ),
    route("get", "/openapi.json", "This document", None, false),
    route(
        "get",
        "/open311/v2/discovery.{format}",
        "Open311 discovery",
        Some("Discovery"),
        false,
    ),
    route(
        "get",
        "/open311/v2/services.{format}",
        "The services: the matter catalogue",
        Some("Service"),
        true,
    ),
    route(
        "get",
        "/open311/v2/services/{service_code}.{format}",
        "A service definition: the attributes a report may carry",
        Some("ServiceDefinition"),
        false,
    ),
    route(
        "post",
        "/open311/v2/requests.{format}",
        "Report a service request (api_key required)",
        Some("PostedRequest"),
        true,
    ),
    route(
        "get",
        "/open311/v2/requests.{format}",
        "Public service requests: problems and safety hazards, last 90 days, at most 1,000",
        Some("ServiceRequest"),
        true,
    ),
    route(
        "get",
        "/open311/v2/requests/{service_request_id}.{format}",
        "One public service request",
        Some("ServiceRequest"),
        true,
    ),
    route(
        "get",
        "/open311/v2/tokens/{token}.{format}",
        "The request a token stands for",
        Some("Token"),
        true,
    ),
    route(
        "post",
        "/api/{service}/{method}",
        "HTTP/JSON: a unary RPC of a flatgov service, protobuf JSON in and out, with the caller's bearer token",
        None,
        false,
    ),
    route(
        "get",
        "/command/",
        "The command centre: the page for staff (its scripts and styles beside it)",
        None,
        false,
    ),
    route(
        "get",
        "/command/session",
        "Who the bearer token is; 403 unless staff",
        None,
        false,
    ),
    route(
        "get",
        "/command/events",
        "Server-sent events: case events in the bearer's jurisdiction (staff only)",
        None,
        false,
    ),
    route(
        "get",
        "/command/oidc",
        "Whether the command centre offers login through the identity provider",
        None,
        false,
    ),
    route(
        "get",
        "/command/oidc/start",
        "Starts a login through the identity provider (authorization code with PKCE): 303 to it",
        None,
        false,
    ),
    route(
        "get",
        "/command/oidc/callback",
        "Where the identity provider sends the browser back: 303 to the command centre",
        None,
        false,
    ),
    route(
        "post",
        "/command/oidc/session",
        "The token of the login just completed, collected once by the page",
        None,
        false,
    ),
    route(
        "post",
        "/{service}/{method}",
        "gRPC-Web: an RPC of a flatgov service (application/grpc-web+proto or -text)",
        None,
        false,
    ),
];

fn text() -> Value {
    json!({"type": ["string", "null"]})
}

fn properties(names: &[(&str, Value)]) -> Value {
    let mut map = serde_json::Map::new();
    for (name, schema) in names {
        map.insert((*name).to_owned(), schema.clone());
    }
    Value::Object(map)
}

/// The JSON schemas of the answers.
pub fn schemas() -> Value {
    let string = json!({"type": "string"});
    let number = json!({"type": ["number", "null"]});
    json!({
        "Health": {"type": "object", "properties": properties(&[("status", string.clone()), ("registry", string.clone())])},
        "Discovery": {"type": "object", "properties": properties(&[
            ("changeset", string.clone()), ("contact", string.clone()), ("key_service", string.clone()),
            ("endpoints", json!({"type": "array", "items": {"type": "object", "properties": properties(&[
                ("specification", string.clone()), ("url", string.clone()), ("changeset", string.clone()),
                ("type", string.clone()), ("formats", json!({"type": "array", "items": {"type": "string"}})),
            ])}})),
        ])},
        "Service": {"type": "object", "properties": properties(&[
            ("service_code", string.clone()), ("service_name", string.clone()), ("description", text()),
            ("metadata", json!({"type": "boolean"})), ("type", json!({"type": "string", "enum": ["realtime", "batch", "blackbox"]})),
            ("keywords", text()), ("group", text()),
        ])},
        "ServiceDefinition": {"type": "object", "properties": properties(&[
            ("service_code", string.clone()),
            ("attributes", json!({"type": "array", "items": {"type": "object", "properties": properties(&[
                ("variable", json!({"type": "boolean"})), ("code", string.clone()), ("datatype", string.clone()),
                ("required", json!({"type": "boolean"})), ("datatype_description", text()),
                ("order", json!({"type": "integer"})), ("description", string.clone()),
                ("values", json!({"type": "array", "items": {"type": "object", "properties": properties(&[
                    ("key", string.clone()), ("name", string.clone()),
                ])}})),
            ])}})),
        ])},
        "PostedRequest": {"type": "object", "properties": properties(&[
            ("service_request_id", string.clone()), ("service_notice", text()), ("account_id", text()),
        ])},
        "ServiceRequest": {"type": "object", "properties": properties(&[
            ("service_request_id", string.clone()), ("status", json!({"type": "string", "enum": ["open", "closed"]})),
            ("status_notes", text()), ("service_name", text()), ("service_code", text()),
            ("description", json!({"type": "null", "description": "never published: residents' words may name people"})),
            ("agency_responsible", text()), ("service_notice", text()),
            ("requested_datetime", text()), ("updated_datetime", text()), ("expected_datetime", text()),
            ("address", json!({"type": "null"})), ("address_id", text()), ("zipcode", json!({"type": "null"})),
            ("lat", number.clone()), ("long", number.clone()),
            ("media_url", json!({"type": "null", "description": "never published: photos may show faces and plates"})),
        ])},
        "Token": {"type": "object", "properties": properties(&[("service_request_id", string.clone()), ("token", string.clone())])},
        "Error": {"type": "object", "properties": properties(&[("code", json!({"type": "integer"})), ("description", string.clone())])},
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for route in ROUTES {
        let mut parameters: Vec<Value> = Vec::new();
        let mut rest = route.path;
        while let Some(start) = rest.find('{') {
            let end = rest[start..]
                .find('}')
                .map(|end| start + end)
                .unwrap_or(rest.len());
            let name = &rest[start + 1..end];
            let mut parameter =
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}});
            if name == "format" {
                parameter["schema"] = json!({"type": "string", "enum": ["json", "xml"]});
            }
            parameters.push(parameter);
            rest = &rest[end..];
        }
        let mut responses = serde_json::Map::new();
        let ok = match (route.answer, route.array) {
            (Some(schema), true) => {
                json!({"description": "OK (XML: the GeoReport v2 elements)", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": format!("#/components/schemas/{schema}")}}}}})
            }
            (Some(schema), false) => {
                json!({"description": "OK (XML: the GeoReport v2 elements)", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
            }
            (None, _) => json!({"description": "OK"}),
        };
        responses.insert("200".to_owned(), ok);
        if route.path.starts_with("/open311/") {
            responses.insert(
                "default".to_owned(),
                json!({"description": "A refusal in the GeoReport v2 error format; the HTTP status is the code (400, 403, 404, 413, 415, 429, 503)",
                       "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Error"}}}}}),
            );
        }
        let mut operation = json!({"summary": route.summary, "responses": responses});
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "flatgov gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Open311 GeoReport v2 for civic apps, HTTP/JSON and gRPC-Web for the services' RPCs. Generated from services/gateway/src/openapi.rs; do not edit by hand.",
        },
        "paths": paths,
        "components": {"schemas": schemas()},
    })
}

/// The document as YAML (strings quoted as JSON, which YAML reads the same).
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(value, 0, &mut out);
    out
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("null".to_owned()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) => Some(Value::String(text.clone()).to_string()),
        Value::Array(items) if items.is_empty() => Some("[]".to_owned()),
        Value::Object(map) if map.is_empty() => Some("{}".to_owned()),
        _ => None,
    }
}

fn write_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let key = Value::String(key.clone()).to_string();
                match scalar(item) {
                    Some(text) => out.push_str(&format!("{pad}{key}: {text}\n")),
                    None => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        write_yaml(item, indent + 2, out);
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match scalar(item) {
                    Some(text) => out.push_str(&format!("{pad}- {text}\n")),
                    None => {
                        out.push_str(&format!("{pad}-\n"));
                        write_yaml(item, indent + 2, out);
                    }
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other).unwrap_or_default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/openapi.yaml`, the document integrators read without a running gateway.
    const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");

    #[test]
    fn the_checked_in_document_is_the_one_the_gateway_serves() {
        let served = yaml(&document());
        if std::env::var_os("FLATGOV_UPDATE_DOCS").is_some() {
            std::fs::write(CHECKED_IN, &served).expect("writing docs/openapi.yaml");
            return;
        }
        let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
        assert!(
            checked_in == served,
            "docs/openapi.yaml differs from what the gateway serves; regenerate it with \
             FLATGOV_UPDATE_DOCS=1 cargo test -p flatgov-gateway openapi"
        );
    }

    #[test]
    fn every_route_has_one_operation_and_every_answer_schema_exists() {
        let document = document();
        let schemas = document["components"]["schemas"]
            .as_object()
            .expect("schemas");
        let mut operations = 0;
        for route in ROUTES {
            assert!(
                document["paths"][route.path][route.method].is_object(),
                "{} {}",
                route.method,
                route.path
            );
            operations += 1;
            if let Some(schema) = route.answer {
                assert!(schemas.contains_key(schema), "{schema}");
            }
        }
        let documented: usize = document["paths"]
            .as_object()
            .expect("paths")
            .values()
            .map(|operations| operations.as_object().map_or(0, serde_json::Map::len))
            .sum();
        assert_eq!(documented, operations);
    }
}
