//! Open311 GeoReport v2 at `/open311/v2/`, in JSON and XML: discovery, the service
//! list and definitions (the matter catalogue), posting requests (cases reported
//! through the gateway with its own service token and the client's channel),
//! reading requests (cases as a public feed), tokens.
//!
//! Posting needs an `api_key` (a registered client); reading does not, but a key
//! given must be valid, and a client limited to a jurisdiction sees only it. Every
//! caller is rate-limited: a client by its own limit, anyone else by address.

pub mod catalogue;
pub mod document;
pub mod errors;
pub mod post;
pub mod requests;
pub mod service_definition;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flatgov_proto::cases::v1 as cases;
use futures::StreamExt as _;

use self::document::{Document, Format, Value};
use self::errors::Open311Error;
use crate::clients::Client;
use crate::{Gateway, PeerAddress};

type Answer = Result<Document, Open311Error>;

fn respond(format: Format, answer: Answer) -> Response {
    match answer {
        Ok(document) => (
            [(http::header::CONTENT_TYPE, format.content_type())],
            document.render(format),
        )
            .into_response(),
        Err(error) => error.into_response_as(format),
    }
}

/// `services.json` → its stem and format; anything else is answered in JSON.
fn split(file: &str) -> Result<(&str, Format), Box<Response>> {
    Format::split(file).ok_or_else(|| {
        Box::new(
            Open311Error::not_found(format!("{file:?}: documents end in .json or .xml"))
                .into_response_as(Format::Json),
        )
    })
}

/// Who is asking: a registered client (by its key) or an address.
enum Asker {
    Client(Client),
    Anonymous,
}

impl Asker {
    fn client(&self) -> Option<&Client> {
        match self {
            Asker::Client(client) => Some(client),
            Asker::Anonymous => None,
        }
    }
}

impl Gateway {
    /// Checks the jurisdiction, the key (when given) and the rate limit.
    async fn admit(
        &self,
        parameters: &HashMap<String, String>,
        address: SocketAddr,
        key_required: bool,
    ) -> Result<Asker, Open311Error> {
        if let Some(jurisdiction) = parameters.get("jurisdiction_id").filter(|j| !j.is_empty())
            && *jurisdiction != self.config.open311.jurisdiction_id
        {
            return Err(Open311Error::not_found(format!(
                "jurisdiction_id: {jurisdiction:?} is not served here; this endpoint serves {}",
                self.config.open311.jurisdiction_id
            )));
        }
        let key = parameters.get("api_key").filter(|key| !key.is_empty());
        let asker = match key {
            None if key_required => {
                return Err(Open311Error::forbidden(
                    "api_key: required to post a request; ask the district for a key",
                ));
            }
            None => Asker::Anonymous,
            Some(key) => match self.registry.authenticate(key).await {
                Ok(Some(client)) => Asker::Client(client),
                Ok(None) => {
                    return Err(Open311Error::forbidden(
                        "api_key: not a valid key (unknown or revoked)",
                    ));
                }
                Err(error) => {
                    tracing::error!(%error, "cannot check an api_key");
                    return Err(Open311Error::unavailable(
                        "the client registry is unavailable; try again later",
                    ));
                }
            },
        };
        let limited = match &asker {
            Asker::Client(client) => self.limiter.check(
                &format!("client:{}", client.id),
                client.rate_limit_per_minute,
            ),
            Asker::Anonymous => self.limiter.check(
                &format!("open311:{}", address.ip()),
                self.config.open311.anonymous_per_minute,
            ),
        };
        limited.map_err(Open311Error::rate_limited)?;
        Ok(asker)
    }
}

/// `GET /open311/v2/{file}`: discovery, services, requests.
pub async fn get_document(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(PeerAddress(address)): ConnectInfo<PeerAddress>,
    Path(file): Path<String>,
    Query(parameters): Query<HashMap<String, String>>,
) -> Response {
    let (stem, format) = match split(&file) {
        Ok(split) => split,
        Err(response) => return *response,
    };
    let answer = async {
        let asker = gateway.admit(&parameters, address, false).await?;
        match stem {
            "discovery" => Ok(discovery(&gateway)),
            "services" => services(&gateway).await,
            "requests" => list_requests(&gateway, &parameters, asker.client()).await,
            _ => Err(Open311Error::not_found(format!(
                "{file:?} is not an Open311 document"
            ))),
        }
    }
    .await;
    respond(format, answer)
}

/// `GET /open311/v2/{collection}/{file}`: a service definition, a request, a token.
pub async fn get_item(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(PeerAddress(address)): ConnectInfo<PeerAddress>,
    Path((collection, file)): Path<(String, String)>,
    Query(parameters): Query<HashMap<String, String>>,
) -> Response {
    let (id, format) = match split(&file) {
        Ok(split) => split,
        Err(response) => return *response,
    };
    let answer = async {
        let asker = gateway.admit(&parameters, address, false).await?;
        match collection.as_str() {
            "services" => service_definition(&gateway, id).await,
            "requests" => one_request(&gateway, id, asker.client()).await,
            "tokens" => token(&gateway, id, asker.client()).await,
            _ => Err(Open311Error::not_found(format!(
                "{collection:?} is not an Open311 collection"
            ))),
        }
    }
    .await;
    respond(format, answer)
}

/// `POST /open311/v2/requests.{json,xml}`.
pub async fn post_document(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(PeerAddress(address)): ConnectInfo<PeerAddress>,
    Path(file): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (stem, format) = match split(&file) {
        Ok(split) => split,
        Err(response) => return *response,
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return Open311Error::new(
                rejection.status(),
                if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                    format!(
                        "the request body is larger than {} bytes",
                        gateway.config.open311.max_request_bytes
                    )
                } else {
                    "the request body could not be read".to_owned()
                },
            )
            .into_response_as(format);
        }
    };
    if stem != "requests" {
        return Open311Error::new(
            http::StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{file:?} cannot be posted to; post to requests.{}",
                if format == Format::Xml { "xml" } else { "json" }
            ),
        )
        .into_response_as(format);
    }
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !body.is_empty() && !content_type.starts_with("application/x-www-form-urlencoded") {
        return Open311Error::new(
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be application/x-www-form-urlencoded",
        )
        .into_response_as(format);
    }
    let mut pairs = query;
    match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
        Ok(body_pairs) => pairs.extend(body_pairs),
        Err(_) => {
            return Open311Error::bad_request("the form could not be read")
                .into_response_as(format);
        }
    }
    let form = post::Form::new(pairs);
    let parameters: HashMap<String, String> = ["jurisdiction_id", "api_key"]
        .into_iter()
        .filter_map(|name| {
            form.get(name)
                .map(|value| (name.to_owned(), value.to_owned()))
        })
        .collect();
    let answer = async {
        let asker = gateway.admit(&parameters, address, true).await?;
        let client = asker.client().ok_or_else(Open311Error::internal)?;
        post_request(&gateway, &form, client).await
    }
    .await;
    respond(format, answer)
}

fn discovery(gateway: &Gateway) -> Document {
    let config = &gateway.config.open311;
    Document {
        root: "discovery",
        value: Value::Object(vec![
            ("changeset", Value::text(crate::CHANGESET)),
            ("contact", Value::text(config.contact.clone())),
            ("key_service", Value::text(config.key_service.clone())),
            (
                "endpoints",
                Value::List {
                    item: "endpoint",
                    items: vec![Value::Object(vec![
                        (
                            "specification",
                            Value::text("http://wiki.open311.org/GeoReport_v2"),
                        ),
                        ("url", Value::text(config.public_url.clone())),
                        ("changeset", Value::text(crate::CHANGESET)),
                        ("type", Value::text("production")),
                        (
                            "formats",
                            Value::List {
                                item: "format",
                                items: vec![
                                    Value::text("application/json"),
                                    Value::text("text/xml"),
                                ],
                            },
                        ),
                    ])],
                },
            ),
        ]),
    }
}

async fn catalogue(gateway: &Gateway) -> Result<Arc<catalogue::Catalogue>, Open311Error> {
    gateway.catalogue.get().await.map_err(|error| {
        tracing::warn!(%error, "no matter catalogue");
        Open311Error::unavailable("the service list is unavailable; try again later")
    })
}

async fn services(gateway: &Gateway) -> Answer {
    let catalogue = catalogue(gateway).await?;
    Ok(Document {
        root: "services",
        value: Value::List {
            item: "service",
            items: catalogue
                .matters
                .iter()
                .map(service_definition::service)
                .collect(),
        },
    })
}

async fn service_definition(gateway: &Gateway, code: &str) -> Answer {
    let catalogue = catalogue(gateway).await?;
    let matter = catalogue.matter(code).ok_or_else(|| {
        Open311Error::not_found(format!("service_code: {code:?} is not a service here"))
    })?;
    Ok(Document {
        root: "service_definition",
        value: service_definition::definition(matter),
    })
}

async fn post_request(gateway: &Gateway, form: &post::Form, client: &Client) -> Answer {
    let code = form
        .get("service_code")
        .ok_or_else(|| Open311Error::bad_request("service_code: required"))?;
    let catalogue = catalogue(gateway).await?;
    let matter = catalogue.matter(code).ok_or_else(|| {
        Open311Error::not_found(format!("service_code: {code:?} is not a service here"))
    })?;
    let report = post::read(form, matter, client).map_err(Open311Error::bad_fields)?;
    if client.jurisdiction.is_some() {
        check_place(gateway, &report.location, client).await?;
    }
    let response = gateway
        .upstreams
        .cases()
        .report_case(report.request)
        .await
        .map_err(|status| refused_report(&status))?
        .into_inner();
    let case = response.case.unwrap_or_default();
    let notice = if response.me_too {
        Value::text(
            "已有同一地点同类问题的工单，本次报告已并入 / Merged into an open request about the same matter nearby",
        )
    } else {
        Value::null()
    };
    tracing::info!(client = %client.name, case = %case.name, me_too = response.me_too, "open311 request reported");
    Ok(Document {
        root: "service_requests",
        value: Value::List {
            item: "request",
            items: vec![Value::Object(vec![
                (
                    "service_request_id",
                    Value::text(requests::request_id(&case.name).to_owned()),
                ),
                ("service_notice", notice),
                ("account_id", Value::null()),
            ])],
        },
    })
}

/// A jurisdiction-limited client reports only inside it: the block, or the block the
/// point lies in (asked of the block registry).
async fn check_place(
    gateway: &Gateway,
    location: &post::Location,
    client: &Client,
) -> Result<(), Open311Error> {
    let outside =
        || Open311Error::forbidden("the location lies outside this client's jurisdiction");
    let block = match (&location.block, location.point) {
        (Some(block), _) => block.clone(),
        (None, Some(point)) => {
            let located = gateway
                .upstreams
                .blocks()
                .locate_point(flatgov_proto::blocks::v1::LocatePointRequest {
                    point: Some(point),
                    ..Default::default()
                })
                .await;
            match located {
                Ok(answer) => answer
                    .into_inner()
                    .block
                    .map(|block| block.name.trim_start_matches("blocks/").to_owned())
                    .ok_or_else(outside)?,
                Err(status) if status.code() == tonic::Code::NotFound => return Err(outside()),
                Err(status) => return Err(errors::from_status(&status, "")),
            }
        }
        (None, None) => return Err(outside()),
    };
    if client.reaches(&block) {
        Ok(())
    } else {
        Err(outside())
    }
}

/// The case service's refusal of a report, in the form's words.
fn refused_report(status: &tonic::Status) -> Open311Error {
    if status.code() == tonic::Code::InvalidArgument {
        let violations = tonic_types::StatusExt::get_error_details(status)
            .bad_request()
            .map(|bad_request| bad_request.field_violations.clone())
            .unwrap_or_default();
        if violations.is_empty() {
            return Open311Error::bad_request(format!("request: {}", status.message()));
        }
        return Open311Error::bad_fields(
            violations
                .iter()
                .map(|violation| {
                    format!(
                        "{}: {}",
                        post::form_field(&violation.field),
                        violation.description
                    )
                })
                .collect(),
        );
    }
    errors::from_status(status, "")
}

/// Whether a limited client sees the case (unlocated cases only by unlimited ones).
fn visible_to(case: &cases::Case, client: Option<&Client>) -> bool {
    let Some(client) = client else {
        return true;
    };
    match case.block.strip_prefix("blocks/") {
        Some(block) => client.reaches(block),
        None => client.jurisdiction.is_none(),
    }
}

async fn history_of(
    gateway: &Gateway,
    name: Option<String>,
) -> Option<cases::GetCaseHistoryResponse> {
    let name = name?;
    gateway
        .upstreams
        .cases()
        .get_case_history(cases::GetCaseHistoryRequest { name })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| tracing::warn!(code = ?status.code(), "no history for status notes"))
        .ok()
}

async fn render_requests(gateway: &Gateway, found: Vec<cases::Case>) -> Answer {
    let catalogue = catalogue(gateway).await?;
    let wanted: Vec<Option<String>> = found
        .iter()
        .map(|case| requests::needs_history(case).then(|| case.name.clone()))
        .collect();
    let histories: Vec<Option<cases::GetCaseHistoryResponse>> = futures::stream::iter(wanted)
        .map(|name| history_of(gateway, name))
        .buffered(8)
        .collect()
        .await;
    Ok(Document {
        root: "service_requests",
        value: Value::List {
            item: "request",
            items: found
                .iter()
                .zip(histories.iter())
                .map(|(case, history)| requests::request(case, history.as_ref(), &catalogue))
                .collect(),
        },
    })
}

const NOT_FOUND: &str = "service_request_id: no such request";

async fn get_case(gateway: &Gateway, id: &str) -> Result<Option<cases::Case>, Open311Error> {
    if uuid::Uuid::try_parse(id).is_err() {
        return Ok(None);
    }
    match gateway
        .upstreams
        .cases()
        .get_case(cases::GetCaseRequest {
            name: format!("cases/{id}"),
        })
        .await
    {
        Ok(case) => Ok(Some(case.into_inner())),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(errors::from_status(&status, NOT_FOUND)),
    }
}

async fn one_request(gateway: &Gateway, id: &str, client: Option<&Client>) -> Answer {
    let case = get_case(gateway, id)
        .await?
        .filter(|case| requests::is_public(case) && visible_to(case, client))
        .ok_or_else(|| Open311Error::not_found(NOT_FOUND))?;
    render_requests(gateway, vec![case]).await
}

/// Request ids come back at once, so a token is the id it stands for.
async fn token(gateway: &Gateway, token: &str, client: Option<&Client>) -> Answer {
    let case = get_case(gateway, token)
        .await?
        .filter(|case| requests::is_public(case) && visible_to(case, client))
        .ok_or_else(|| Open311Error::not_found("token: no such token"))?;
    Ok(Document {
        root: "service_requests",
        value: Value::List {
            item: "request",
            items: vec![Value::Object(vec![
                (
                    "service_request_id",
                    Value::text(requests::request_id(&case.name).to_owned()),
                ),
                ("token", Value::text(token.to_owned())),
            ])],
        },
    })
}

/// How many pages of cases one GET requests may read before it stops.
const MAX_PAGES: usize = 40;

async fn list_requests(
    gateway: &Gateway,
    parameters: &HashMap<String, String>,
    client: Option<&Client>,
) -> Answer {
    let query = requests::Query::read(|name| parameters.get(name).cloned(), chrono::Utc::now())
        .map_err(Open311Error::bad_fields)?;
    let mut found = Vec::new();
    if !query.ids.is_empty() {
        for id in &query.ids {
            if let Some(case) = get_case(gateway, id).await?
                && query.admits(&case)
                && visible_to(&case, client)
            {
                found.push(case);
            }
        }
        return render_requests(gateway, found).await;
    }
    let mut cases_client = gateway.upstreams.cases();
    let mut page_token = String::new();
    let subdistrict = client
        .and_then(|client| client.jurisdiction.as_deref())
        .filter(|code| code.len() >= 9)
        .map(|code| code[..9].to_owned())
        .unwrap_or_default();
    'pages: for _ in 0..MAX_PAGES {
        let page = cases_client
            .list_cases(cases::ListCasesRequest {
                page_size: 500,
                page_token: page_token.clone(),
                state: if query.only_closed() {
                    cases::CaseState::Closed as i32
                } else {
                    0
                },
                subdistrict_code: subdistrict.clone(),
                ..Default::default()
            })
            .await
            .map_err(|status| errors::from_status(&status, NOT_FOUND))?
            .into_inner();
        for case in page.cases {
            let reported = case
                .report_time
                .as_ref()
                .map(|time| time.seconds)
                .unwrap_or(0);
            // Newest first: once past the period's start nothing older can match.
            if reported < query.start.timestamp() {
                break 'pages;
            }
            if query.admits(&case) && visible_to(&case, client) {
                found.push(case);
                if found.len() == requests::MAX_RESULTS {
                    break 'pages;
                }
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    render_requests(gateway, found).await
}
