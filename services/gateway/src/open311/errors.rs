//! Refusals in the GeoReport v2 error format (`[{"code": 403, "description": …}]`,
//! `<errors><error>…`), the HTTP status and the `code` field agreeing.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::document::{Document, Format, Value};
use crate::limits::RetryAfter;

/// A refusal, rendered in the request's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open311Error {
    pub status: StatusCode,
    /// One description per problem, each naming the field.
    pub descriptions: Vec<String>,
    /// Seconds until a rate-limited client may try again.
    pub retry_after: Option<u64>,
}

impl Open311Error {
    pub fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            descriptions: vec![description.into()],
            retry_after: None,
        }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    /// Every problem of a request at once.
    pub fn bad_fields(descriptions: Vec<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            descriptions,
            retry_after: None,
        }
    }

    pub fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, description)
    }

    pub fn unavailable(description: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, description)
    }

    /// Something the caller cannot fix; the details are logged, not shown.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request could not be completed; try again later",
        )
    }

    pub fn rate_limited(retry: RetryAfter) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            descriptions: vec![format!(
                "too many requests from this client; try again in {} s",
                retry.seconds()
            )],
            retry_after: Some(retry.seconds()),
        }
    }

    pub fn document(&self) -> Document {
        let code = i64::from(self.status.as_u16());
        Document {
            root: "errors",
            value: Value::List {
                item: "error",
                items: self
                    .descriptions
                    .iter()
                    .map(|description| {
                        Value::Object(vec![
                            ("code", Value::Integer(code)),
                            ("description", Value::text(description.clone())),
                        ])
                    })
                    .collect(),
            },
        }
    }

    pub fn into_response_as(self, format: Format) -> Response {
        let mut response = (
            self.status,
            [(http::header::CONTENT_TYPE, format.content_type())],
            self.document().render(format),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        response
    }
}

/// A status from a service, as an Open311 refusal (for the case service's reads).
pub fn from_status(status: &tonic::Status, not_found: &str) -> Open311Error {
    match status.code() {
        tonic::Code::NotFound => Open311Error::not_found(not_found),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
            Open311Error::unavailable("the case service is unavailable; try again later")
        }
        tonic::Code::ResourceExhausted => {
            Open311Error::unavailable("the case service is busy; try again later")
        }
        _ => {
            tracing::error!(code = ?status.code(), message = status.message(), "a service refused the gateway");
            Open311Error::internal()
        }
    }
}
