//! HTTP/JSON for systems that cannot speak gRPC: `POST /api/{service}/{method}`
//! with the request message in protobuf's JSON mapping, answered with the response
//! message in the same mapping.
//!
//! The caller's own `Authorization: Bearer …` goes to the service, whose policy
//! table decides — the gateway grants nothing and checks only what it owns: the
//! method exists and is unary, the body's size, the rate per address. A refusal
//! keeps the service's code (as HTTP: 400, 401, 403, 404, 409, 429, 503, …) and
//! message, with the field violations of a `google.rpc.BadRequest`.

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};

use crate::{Gateway, PeerAddress};

/// Every flatgov descriptor.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(flatgov_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|error| panic!("the compiled descriptors do not decode: {error}"))
    })
}

/// The unary methods of `grpc_service` the gateway relays.
pub fn unary_methods(grpc_service: &str) -> Vec<MethodDescriptor> {
    pool()
        .get_service_by_name(grpc_service)
        .map(|service| {
            service
                .methods()
                .filter(|method| !method.is_client_streaming() && !method.is_server_streaming())
                .collect()
        })
        .unwrap_or_default()
}

/// The HTTP status of a gRPC code (the mapping of google.rpc.Code).
pub fn http_status(code: tonic::Code) -> StatusCode {
    use tonic::Code;
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"error": {"code": 404, "status": "NOT_FOUND", "message": …, "field_violations": […]}}`.
fn error(status: StatusCode, code: tonic::Code, message: &str) -> Response {
    error_with(status, code, message, Vec::new())
}

fn error_with(
    status: StatusCode,
    code: tonic::Code,
    message: &str,
    violations: Vec<serde_json::Value>,
) -> Response {
    let mut body = serde_json::json!({
        "code": status.as_u16(),
        "status": grpc_code_name(code),
        "message": message,
    });
    if !violations.is_empty() {
        body["field_violations"] = serde_json::Value::Array(violations);
    }
    (status, Json(serde_json::json!({ "error": body }))).into_response()
}

fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The metadata passed on: the caller's token and trace context, nothing else.
fn forwarded(headers: &HeaderMap) -> tonic::metadata::MetadataMap {
    let mut metadata = tonic::metadata::MetadataMap::new();
    for name in ["authorization", "traceparent", "tracestate"] {
        if let Some(value) = headers.get(name)
            && let Ok(value) = tonic::metadata::MetadataValue::try_from(value.as_bytes())
        {
            metadata.insert(name, value);
        }
    }
    metadata
}

/// `POST /api/{service}/{method}`.
pub async fn call(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(PeerAddress(address)): ConnectInfo<PeerAddress>,
    Path((service, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(retry) = gateway.limiter.check(
        &format!("api:{}", address.ip()),
        gateway.config.api_per_minute,
    ) {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            tonic::Code::ResourceExhausted,
            &format!("too many requests; try again in {} s", retry.seconds()),
        );
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from(retry.seconds()),
        );
        return response;
    }
    let Some((_, channel)) = gateway.upstreams.by_grpc_service(&service) else {
        return error(
            StatusCode::NOT_FOUND,
            tonic::Code::NotFound,
            &format!("{service} is not a flatgov service"),
        );
    };
    let Some(descriptor) = unary_methods(&service)
        .into_iter()
        .find(|candidate| candidate.name() == method)
    else {
        return error(
            StatusCode::NOT_FOUND,
            tonic::Code::NotFound,
            &format!("{service} has no unary method {method}"),
        );
    };
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        &body[..]
    };
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let request = match DynamicMessage::deserialize(descriptor.input(), &mut deserializer)
        .and_then(|message| deserializer.end().map(|()| message))
    {
        Ok(request) => request,
        Err(problem) => {
            return error(
                StatusCode::BAD_REQUEST,
                tonic::Code::InvalidArgument,
                &format!(
                    "the body is not a {} in protobuf JSON: {problem}",
                    descriptor.input().full_name()
                ),
            );
        }
    };
    let path = format!("/{service}/{method}");
    let answer = crate::upstream::unary_bytes(
        channel,
        &path,
        Bytes::from(request.encode_to_vec()),
        forwarded(&headers),
    )
    .await;
    match answer {
        Ok(bytes) => match DynamicMessage::decode(descriptor.output(), bytes) {
            Ok(response) => match serde_json::to_value(&response) {
                Ok(json) => (StatusCode::OK, Json(json)).into_response(),
                Err(_) => error(
                    StatusCode::BAD_GATEWAY,
                    tonic::Code::Internal,
                    "the service's answer could not be rendered",
                ),
            },
            Err(_) => error(
                StatusCode::BAD_GATEWAY,
                tonic::Code::Internal,
                "the service's answer could not be read",
            ),
        },
        Err(status) => {
            let violations = tonic_types::StatusExt::get_error_details(&status)
                .bad_request()
                .map(|bad_request| {
                    bad_request
                        .field_violations
                        .iter()
                        .map(|violation| {
                            serde_json::json!({
                                "field": violation.field,
                                "description": violation.description,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut response = error_with(
                http_status(status.code()),
                status.code(),
                status.message(),
                violations,
            );
            if status.code() == tonic::Code::ResourceExhausted {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from(1_u64));
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_behind_the_gateway_has_unary_methods_in_the_descriptors() {
        for upstream in crate::config::UPSTREAMS {
            assert!(
                !unary_methods(upstream.grpc_service).is_empty(),
                "{}",
                upstream.grpc_service
            );
        }
    }

    #[test]
    fn refusals_keep_their_meaning_as_http_statuses() {
        assert_eq!(http_status(tonic::Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            http_status(tonic::Code::PermissionDenied),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            http_status(tonic::Code::Unauthenticated),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            http_status(tonic::Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
