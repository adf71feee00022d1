//! The gateway in front of the real platform: five services as processes on
//! real PostgreSQL and NATS, the demo district loaded, `flatgov-gateway` as a
//! process on a real socket, and the operator's CLI on its registry.
//!
//! - A civic app using third-party Open311 GeoReport v2 libraries from PyPI
//!   lists services, reads a definition, posts a request with a photo URL and
//!   a phone number and reads its status; the request is a case with the
//!   right matter and block; walked to closed, the app sees `closed` with
//!   status notes. Every XML document has the shape of the spec's examples.
//! - API keys (required, revoked), jurisdiction limits, rate limits in the
//!   Open311 error format, HTTP/JSON and gRPC-Web with the caller's own token
//!   obeying the policy, the OpenAPI document against what is served.

#[path = "journeys/support.rs"]
mod support;

use std::collections::BTreeSet;

use flatgov_journeys::gateway::{Gateway, GatewayOptions, run_third_party_client};
use flatgov_journeys::{Platform, with_token};
use flatgov_proto::cases::v1 as cases;
use prost::Message as _;
use serde_json::{Value, json};

use crate::support::{case_until, state};

const SUBDISTRICT: &str = "430302001";
const STREET_LIGHT: &str = "broken_street_light";

// ---------------------------------------------------------------- XML shapes
//
// The GeoReport v2 specification's XML examples, element for element, with
// neutral values: a document validates when it has exactly the examples'
// elements at the same places (no element missing, none added).

const SPEC_DISCOVERY: &str = "<discovery><changeset>t</changeset><contact>c</contact>\
<key_service>k</key_service><endpoints><endpoint><specification>s</specification><url>u</url>\
<changeset>t</changeset><type>production</type><formats><format>text/xml</format></formats>\
</endpoint></endpoints></discovery>";

const SPEC_SERVICES: &str = "<services><service><service_code>001</service_code>\
<service_name>n</service_name><description>d</description><metadata>true</metadata>\
<type>realtime</type><keywords>k</keywords><group>g</group></service></services>";

const SPEC_SERVICE_DEFINITION: &str = "<service_definition><service_code>c</service_code>\
<attributes><attribute><variable>true</variable><code>c</code><datatype>singlevaluelist</datatype>\
<required>true</required><datatype_description></datatype_description><order>1</order>\
<description>d</description><values><value><key>k</key><name>n</name></value></values>\
</attribute></attributes></service_definition>";

const SPEC_POSTED: &str = "<service_requests><request><service_request_id>1</service_request_id>\
<service_notice>n</service_notice><account_id/></request></service_requests>";

const SPEC_TOKEN: &str = "<service_requests><request><service_request_id>1</service_request_id>\
<token>t</token></request></service_requests>";

const SPEC_REQUESTS: &str = "<service_requests><request><service_request_id>1</service_request_id>\
<status>closed</status><status_notes>n</status_notes><service_name>n</service_name>\
<service_code>c</service_code><description>d</description><agency_responsible>a</agency_responsible>\
<service_notice>n</service_notice><requested_datetime>t</requested_datetime>\
<updated_datetime>t</updated_datetime><expected_datetime>t</expected_datetime><address>a</address>\
<address_id>1</address_id><zipcode>z</zipcode><lat>1</lat><long>1</long><media_url>u</media_url>\
</request></service_requests>";

const SPEC_ERRORS: &str =
    "<errors><error><code>403</code><description>d</description></error></errors>";

/// Every element path of a document (`service_requests/request/status`).
fn element_paths(xml: &str) -> BTreeSet<String> {
    let document = roxmltree::Document::parse(xml)
        .unwrap_or_else(|error| panic!("not well-formed XML ({error}):\n{xml}"));
    let mut paths = BTreeSet::new();
    for node in document.descendants().filter(roxmltree::Node::is_element) {
        let mut names: Vec<&str> = node
            .ancestors()
            .filter(roxmltree::Node::is_element)
            .map(|element| element.tag_name().name())
            .collect();
        names.reverse();
        paths.insert(names.join("/"));
        // Leaves hold text only; containers hold elements only.
        let has_elements = node.children().any(|child| child.is_element());
        let has_text = node
            .children()
            .any(|child| child.is_text() && !child.text().unwrap_or_default().trim().is_empty());
        assert!(
            !(has_elements && has_text),
            "{} mixes text and elements",
            names.join("/")
        );
    }
    paths
}

/// Panics unless `xml` is a UTF-8 XML document with the spec example's shape.
fn assert_spec_shape(what: &str, xml: &str, example: &str) {
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        "{what}: the XML declaration with its encoding leads:\n{xml}"
    );
    assert_eq!(
        element_paths(xml),
        element_paths(example),
        "{what} differs from the spec's example:\n{xml}"
    );
}

// ---------------------------------------------------------------- HTTP helpers

async fn get(url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.expect("a body"), headers)
}

async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, String, reqwest::header::HeaderMap) {
    let body = form
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST {url}: {error}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.expect("a body"), headers)
}

/// application/x-www-form-urlencoded, byte by byte.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (byte as char).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}

/// Panics unless `body` is the spec's JSON error list with `code` for every error.
fn assert_open311_error(body: &str, code: u16) -> Vec<String> {
    let errors = json(body);
    let errors = errors.as_array().expect("errors are a JSON array");
    assert!(!errors.is_empty(), "{body}");
    errors
        .iter()
        .map(|error| {
            assert_eq!(error["code"], json!(code), "{body}");
            error["description"]
                .as_str()
                .expect("a description")
                .to_owned()
        })
        .collect()
}

// ---------------------------------------------------------------- the journeys

#[tokio::test]
async fn a_third_party_open311_client_reports_a_case_and_sees_it_closed_with_status_notes() {
    let platform = Platform::start().await;
    platform.load_demo();
    let gateway = platform.start_gateway(GatewayOptions::default()).await;
    let api_key = gateway.add_client("yuhu-civic-app", "resident_app", &[]);
    let block_code = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .next()
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let phone = "13912345678";
    let photo = "https://photos.civic-app.example/reports/street-light.jpg";
    let description = "小区门口的路灯坏了三天，晚上很黑";

    // The civic app, with libraries from PyPI, lists, reads, posts, reads back.
    let client_env = |extra: Vec<(&'static str, String)>| {
        let mut env = vec![
            ("OPEN311_ENDPOINT", gateway.open311_url()),
            ("OPEN311_JURISDICTION_ID", "430302".to_owned()),
            ("SERVICE_CODE", STREET_LIGHT.to_owned()),
        ];
        env.extend(extra);
        env
    };
    let reported = run_third_party_client(
        "report",
        &client_env(vec![
            ("OPEN311_API_KEY", api_key.clone()),
            ("REPORT_LAT", block.inside.latitude.to_string()),
            ("REPORT_LONG", block.inside.longitude.to_string()),
            ("REPORT_BLOCK", block.name.clone()),
            ("REPORT_DESCRIPTION", description.to_owned()),
            ("REPORT_MEDIA_URL", photo.to_owned()),
            ("REPORT_PHONE", phone.to_owned()),
            ("REPORT_FIRST_NAME", "一鸣".to_owned()),
            ("REPORT_LAST_NAME", "赵".to_owned()),
        ]),
    );

    let services = reported["services"].as_array().expect("a service list");
    let light = services
        .iter()
        .find(|service| service["service_code"] == STREET_LIGHT)
        .unwrap_or_else(|| panic!("the street light matter is a service: {services:?}"));
    assert!(
        light["service_name"]
            .as_str()
            .is_some_and(|name| name.contains("路灯")),
        "{light}"
    );
    assert_eq!(light["metadata"], json!(true));
    assert_eq!(light["type"], "realtime");
    assert!(
        light["group"]
            .as_str()
            .is_some_and(|group| !group.is_empty())
    );
    let codes: Vec<&Value> = reported["definition"]["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .map(|attribute| &attribute["code"])
        .collect();
    assert_eq!(
        codes,
        [&json!("urgent"), &json!("kind"), &json!("anonymous")]
    );

    let posted = &reported["posted"][0];
    let id = posted["service_request_id"]
        .as_str()
        .expect("a service_request_id")
        .to_owned();
    let request = &reported["request"];
    assert_eq!(request["service_request_id"], json!(id));
    assert_eq!(request["status"], "open");
    assert_eq!(request["service_code"], STREET_LIGHT);
    for time in ["requested_datetime", "updated_datetime"] {
        let text = request[time].as_str().expect("a time");
        let parsed = chrono::DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|error| panic!("{time} {text}: {error}"));
        assert_eq!(parsed.offset().local_minus_utc(), 8 * 3600, "{time} {text}");
    }
    // The public feed shows no one's words, photo or number.
    let public = request.to_string();
    for personal in [phone, description, photo, "一鸣"] {
        assert!(!public.contains(personal), "{personal} in {public}");
    }
    assert!(
        reported["open_requests"]
            .as_array()
            .expect("a request list")
            .iter()
            .any(|listed| listed["service_request_id"] == json!(id)),
        "the new request is among the open ones"
    );
    let refused = &reported["refused"];
    assert_eq!(refused["status"], json!(403), "{refused}");
    assert_eq!(refused["body"][0]["code"], json!(403), "{refused}");
    // The XML library reads the same documents.
    assert!(
        reported["xml_services"]
            .as_array()
            .expect("services in XML")
            .iter()
            .any(|service| service["service_code"] == STREET_LIGHT)
    );
    assert_eq!(
        reported["xml_definition"]["attributes"]["attribute"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(reported["xml_request"]["service_request_id"], json!(id));
    assert_eq!(reported["xml_request"]["status"], "open");

    // In flatgov the request is a case with the right matter, block, photo and phone.
    let name = format!("cases/{id}");
    let case = case_until(
        &platform,
        &name,
        "dispatch to the block's governor",
        |case| state(case) == cases::CaseState::Dispatched,
    )
    .await;
    assert_eq!(case.matter_code, STREET_LIGHT);
    assert_eq!(case.block, block.name);
    assert_eq!(case.channel, cases::Channel::ResidentApp as i32);
    assert_eq!(case.attachments, [photo]);
    assert_eq!(case.description, description);
    let reporter = case.reporter.clone().expect("the reporter's contact");
    assert_eq!(
        reporter
            .phone
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>(),
        phone
    );

    // Walked to closed: resolved, verified, closed unrated after the return visit failed.
    let mut client = platform.cases();
    let governor = platform.governor(&block);
    client
        .accept_case(with_token(
            cases::AcceptCaseRequest { name: name.clone() },
            &governor,
        ))
        .await
        .expect("the governor accepts");
    client
        .start_work(with_token(
            cases::StartWorkRequest { name: name.clone() },
            &governor,
        ))
        .await
        .expect("the governor starts work");
    client
        .resolve_case(with_token(
            cases::ResolveCaseRequest {
                name: name.clone(),
                resolution_note: "更换了灯头".into(),
            },
            &governor,
        ))
        .await
        .expect("the governor resolves");
    client
        .verify_case(with_token(
            cases::VerifyCaseRequest {
                name: name.clone(),
                passed: true,
                reason: String::new(),
            },
            &platform.supervisor(&block),
        ))
        .await
        .expect("the supervisor verifies");
    let closed = client
        .close_case(with_token(
            cases::CloseCaseRequest {
                name: name.clone(),
                reason: format!("路灯已修复；回访 {phone} 三次未接通，按未评价办结"),
            },
            &platform.dispatcher(SUBDISTRICT),
        ))
        .await
        .expect("the platform closes it unrated")
        .into_inner();
    assert_eq!(state(&closed), cases::CaseState::Closed);

    let status = run_third_party_client(
        "status",
        &client_env(vec![("SERVICE_REQUEST_ID", id.clone())]),
    );
    for (what, request) in [
        ("JSON", &status["request"]),
        ("JSON list", &status["closed_requests"][0]),
        ("XML", &status["xml_request"]),
    ] {
        assert_eq!(request["status"], "closed", "{what}: {request}");
        let notes = request["status_notes"].as_str().expect("status_notes");
        assert!(notes.contains("已办结"), "{what}: {notes}");
        assert!(notes.contains("路灯已修复"), "{what}: {notes}");
        assert!(
            !notes.contains("1234"),
            "{what}: a number in a reason is masked: {notes}"
        );
    }

    // Every document in XML has the shape of the spec's examples.
    let base = gateway.open311_url();
    let xml = |path: String| async move {
        let (status, body, headers) = get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with("text/xml"),
            "{path}"
        );
        body
    };
    assert_spec_shape(
        "discovery.xml",
        &xml(format!("{base}/discovery.xml")).await,
        SPEC_DISCOVERY,
    );
    assert_spec_shape(
        "services.xml",
        &xml(format!("{base}/services.xml")).await,
        SPEC_SERVICES,
    );
    assert_spec_shape(
        "a service definition",
        &xml(format!("{base}/services/{STREET_LIGHT}.xml")).await,
        SPEC_SERVICE_DEFINITION,
    );
    assert_spec_shape(
        "a request",
        &xml(format!("{base}/requests/{id}.xml")).await,
        SPEC_REQUESTS,
    );
    assert_spec_shape(
        "requests.xml",
        &xml(format!("{base}/requests.xml?service_request_id={id}")).await,
        SPEC_REQUESTS,
    );
    assert_spec_shape(
        "a token",
        &xml(format!("{base}/tokens/{id}.xml")).await,
        SPEC_TOKEN,
    );
    let (status, posted_xml, _) = post_form(
        &format!("{base}/requests.xml"),
        &[
            ("api_key", api_key.as_str()),
            ("service_code", STREET_LIGHT),
            ("address_id", block.name.as_str()),
            ("attribute[anonymous]", "true"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{posted_xml}");
    assert_spec_shape("a posted request", &posted_xml, SPEC_POSTED);
    let (status, error_xml, _) = post_form(
        &format!("{base}/requests.xml"),
        &[
            ("service_code", STREET_LIGHT),
            ("address_id", block.name.as_str()),
        ],
    )
    .await;
    assert_eq!(status, 403, "{error_xml}");
    assert_spec_shape("an error", &error_xml, SPEC_ERRORS);
}

/// A resident's report over HTTP/JSON, with their own token.
fn resident_report(block: &str) -> Value {
    json!({
        "requestId": format!("http-json-{block}"),
        "kind": "CASE_KIND_PROBLEM",
        "channel": "CHANNEL_RESIDENT_APP",
        "block": block,
        "matterCode": STREET_LIGHT,
        "description": "楼道灯不亮",
        "reporter": {"name": "钱二", "phone": "13800000002"},
    })
}

/// A gRPC-Web frame: flag, length, message.
fn grpc_web_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = vec![0_u8];
    frame.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// A gRPC-Web answer: its message (if any) and its trailers.
fn grpc_web_answer(body: &[u8]) -> (Option<Vec<u8>>, String) {
    let mut message = None;
    let mut trailers = String::new();
    let mut rest = body;
    while rest.len() >= 5 {
        let flag = rest[0];
        let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let payload = &rest[5..5 + length];
        if flag & 0x80 == 0 {
            message = Some(payload.to_vec());
        } else {
            trailers = String::from_utf8_lossy(payload).into_owned();
        }
        rest = &rest[5 + length..];
    }
    (message, trailers)
}

async fn grpc_web_get_case(
    gateway: &Gateway,
    name: &str,
    token: &str,
) -> (u16, Option<cases::Case>, String) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/flatgov.cases.v1.CaseDispatch/GetCase",
            gateway.url
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", format!("Bearer {token}"))
        .body(grpc_web_frame(
            &cases::GetCaseRequest {
                name: name.to_owned(),
            }
            .encode_to_vec(),
        ))
        .send()
        .await
        .expect("a gRPC-Web answer");
    let status = response.status().as_u16();
    // A refusal without a message may come as headers only.
    let header_status = response
        .headers()
        .get("grpc-status")
        .map(|value| format!("grpc-status:{}", value.to_str().unwrap_or_default()));
    let body = response.bytes().await.expect("a body");
    let (message, trailers) = grpc_web_answer(&body);
    let case = message.map(|bytes| cases::Case::decode(bytes.as_slice()).expect("a Case"));
    (status, case, header_status.unwrap_or(trailers))
}

#[tokio::test]
async fn the_gateway_guards_keys_places_and_rates_and_relays_http_json_and_grpc_web_under_the_policy()
 {
    let platform = Platform::start().await;
    platform.load_demo();
    let gateway = platform
        .start_gateway(
            GatewayOptions::default()
                .env("GATEWAY_CORS_ALLOWED_ORIGINS", "https://map.example.gov.cn")
                .env("GATEWAY_API_PER_MINUTE", "40"),
        )
        .await;
    let base = gateway.open311_url();
    let subdistricts: Vec<String> = {
        let mut codes = Vec::new();
        for code in platform.block_codes("districts/430302").await {
            let subdistrict = code[..9].to_owned();
            if !codes.contains(&subdistrict) {
                codes.push(subdistrict);
            }
        }
        codes
    };
    assert!(subdistricts.len() >= 2, "the demo has several subdistricts");
    let here = platform
        .block_codes(&format!("subdistricts/{}", subdistricts[0]))
        .await[0]
        .clone();
    let there = platform
        .block_codes(&format!("subdistricts/{}", subdistricts[1]))
        .await[0]
        .clone();

    // The CLI: add prints the key alone, names are unique, list never shows keys.
    let key = gateway.add_client("hotline-bridge", "hotline_12345", &[]);
    let again = gateway.clients_command(&[
        "add",
        "--name",
        "hotline-bridge",
        "--channel",
        "hotline_12345",
    ]);
    assert!(!again.status.success(), "an active name is taken");
    let limited_key = gateway.add_client(
        "street-app",
        "resident_app",
        &[
            "--jurisdiction",
            &format!("subdistricts/{}", subdistricts[0]),
        ],
    );
    let slow_key = gateway.add_client("slow-app", "resident_app", &["--rate-limit", "3"]);
    let listed = gateway.clients(&["list"]);
    for name in [
        "hotline-bridge",
        "street-app",
        "slow-app",
        "hotline_12345",
        subdistricts[0].as_str(),
    ] {
        assert!(listed.contains(name), "{name} in the list:\n{listed}");
    }
    for secret in [&key, &limited_key, &slow_key] {
        assert!(
            !listed.contains(secret.as_str()),
            "a key in the list:\n{listed}"
        );
    }

    // api_key: required to post, refused when unknown, refused once revoked.
    let post = |key: String, block: String| {
        let url = format!("{base}/requests.json");
        async move {
            post_form(
                &url,
                &[
                    ("api_key", key.as_str()),
                    ("service_code", STREET_LIGHT),
                    ("address_id", format!("blocks/{block}").as_str()),
                    ("attribute[anonymous]", "true"),
                ],
            )
            .await
        }
    };
    let (status, body, _) = post_form(
        &format!("{base}/requests.json"),
        &[
            ("service_code", STREET_LIGHT),
            ("address_id", format!("blocks/{here}").as_str()),
        ],
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        assert_open311_error(&body, 403)[0].starts_with("api_key"),
        "{body}"
    );
    let (status, body, _) = post("fg311_unknown".into(), here.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert_open311_error(&body, 403);
    let (status, body, _) = post(key.clone(), here.clone()).await;
    assert_eq!(status, 200, "{body}");
    let hotline_case = json(&body)[0]["service_request_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let case = support::get_case(&platform, &format!("cases/{hotline_case}")).await;
    assert_eq!(
        case.channel,
        cases::Channel::Hotline12345 as i32,
        "the client's channel"
    );
    gateway.clients(&["revoke", "--name", "hotline-bridge"]);
    let (status, body, _) = post(key.clone(), here.clone()).await;
    assert_eq!(status, 403, "a revoked key: {body}");
    assert!(gateway.clients(&["list"]).contains("revoked"));

    // Jurisdictions: the endpoint serves its district; a limited client its part.
    let (status, body, _) = get(&format!("{base}/services.json?jurisdiction_id=110101")).await;
    assert_eq!(status, 404);
    assert!(assert_open311_error(&body, 404)[0].starts_with("jurisdiction_id"));
    let (status, body, _) = post(limited_key.clone(), there.clone()).await;
    assert_eq!(status, 403, "outside the client's subdistrict: {body}");
    let (status, body, _) = post(limited_key.clone(), here.clone()).await;
    assert_eq!(status, 200, "inside: {body}");
    let (status, _, _) = get(&format!(
        "{base}/requests/{hotline_case}.json?api_key={limited_key}"
    ))
    .await;
    assert_eq!(status, 200, "the same subdistrict's request");
    let elsewhere_case = {
        let (status, body, _) = post(slow_key.clone(), there.clone()).await;
        assert_eq!(status, 200, "{body}");
        json(&body)[0]["service_request_id"]
            .as_str()
            .expect("an id")
            .to_owned()
    };
    let (status, body, _) = get(&format!(
        "{base}/requests/{elsewhere_case}.json?api_key={limited_key}"
    ))
    .await;
    assert_eq!(
        status, 404,
        "another subdistrict's request is not there: {body}"
    );
    let (status, body, _) = get(&format!(
        "{base}/requests.json?service_request_id={elsewhere_case},{hotline_case}&api_key={limited_key}"
    ))
    .await;
    assert_eq!(status, 200);
    let listed: Vec<Value> = json(&body).as_array().expect("a list").clone();
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0]["service_request_id"], json!(hotline_case));

    // Bad filters and the 90-day limit are refused, naming the field.
    let (status, body, _) = get(&format!("{base}/requests.json?status=pending")).await;
    assert_eq!(status, 400);
    assert!(
        assert_open311_error(&body, 400)[0].starts_with("status"),
        "{body}"
    );
    let (status, body, _) = get(&format!(
        "{base}/requests.json?start_date=2026-01-01T00:00:00%2B08:00&end_date=2026-06-01T00:00:00%2B08:00"
    ))
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        assert_open311_error(&body, 400)[0].contains("90 days"),
        "{body}"
    );

    // Rate limits: three a minute for this client (one used above), then 429.
    for _ in 0..2 {
        let (status, body, _) = get(&format!("{base}/services.json?api_key={slow_key}")).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body, headers) = get(&format!("{base}/services.json?api_key={slow_key}")).await;
    assert_eq!(status, 429, "{body}");
    assert_open311_error(&body, 429);
    assert!(headers.contains_key("retry-after"));
    let (status, body, _) = get(&format!("{base}/services.xml?api_key={slow_key}")).await;
    assert_eq!(status, 429);
    assert_spec_shape("a rate-limit error", &body, SPEC_ERRORS);

    // HTTP/JSON with the caller's own bearer token; the policy decides.
    let api = |method: &str| format!("{}/api/flatgov.cases.v1.CaseDispatch/{method}", gateway.url);
    let http = reqwest::Client::new();
    let qian = platform.resident("resident-qian");
    let sun = platform.resident("resident-sun");
    let answer = http
        .post(api("ReportCase"))
        .bearer_auth(&qian)
        .header("content-type", "application/json")
        .body(resident_report(&format!("blocks/{here}")).to_string())
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status().as_u16(), 200);
    let reported: Value = json(&answer.text().await.expect("a body"));
    let qian_case = reported["case"]["name"]
        .as_str()
        .expect("a case name")
        .to_owned();
    assert_eq!(reported["case"]["matterCode"], STREET_LIGHT, "{reported}");
    let own = http
        .post(api("GetCase"))
        .bearer_auth(&qian)
        .header("content-type", "application/json")
        .body(json!({"name": qian_case}).to_string())
        .send()
        .await
        .expect("an answer");
    assert_eq!(own.status().as_u16(), 200);
    let own: Value = json(&own.text().await.expect("a body"));
    assert_eq!(
        own["reporter"]["phone"], "13800000002",
        "the reporter sees their own contact"
    );
    let theirs = http
        .post(api("GetCase"))
        .bearer_auth(&sun)
        .header("content-type", "application/json")
        .body(json!({"name": qian_case}).to_string())
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        theirs.status().as_u16(),
        404,
        "another resident's case is not there"
    );
    let refusal: Value = json(&theirs.text().await.expect("a body"));
    assert_eq!(refusal["error"]["status"], "NOT_FOUND");
    assert!(!refusal.to_string().contains("钱二"));
    let anonymous = http
        .post(api("GetCase"))
        .header("content-type", "application/json")
        .body(json!({"name": qian_case}).to_string())
        .send()
        .await
        .expect("an answer");
    assert_eq!(anonymous.status().as_u16(), 401);
    let malformed = http
        .post(api("GetCase"))
        .bearer_auth(&qian)
        .body(r#"{"nmae": 1}"#)
        .send()
        .await
        .expect("an answer");
    assert_eq!(malformed.status().as_u16(), 400);

    // gRPC-Web, as a browser sends it.
    let (status, case, trailers) = grpc_web_get_case(&gateway, &qian_case, &qian).await;
    assert_eq!(status, 200);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    assert_eq!(case.expect("the case").name, qian_case);
    let (_, case, trailers) = grpc_web_get_case(&gateway, &qian_case, &sun).await;
    assert!(case.is_none());
    assert!(trailers.contains("grpc-status:5"), "NOT_FOUND: {trailers}");

    // CORS: only the configured origin.
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, api("GetCase"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("https://map.example.gov.cn")
        .await
        .expect("an answer");
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://map.example.gov.cn"
    );
    let other = preflight("https://elsewhere.example")
        .await
        .expect("an answer");
    assert!(!other.headers().contains_key("access-control-allow-origin"));

    // Bodies beyond the limit are refused before anything is read into a case.
    let (status, body, _) = post_form(
        &format!("{base}/requests.json"),
        &[
            ("api_key", slow_key.as_str()),
            ("description", "灯".repeat(40_000).as_str()),
        ],
    )
    .await;
    assert_eq!(status, 413);
    assert!(
        assert_open311_error(&body, 413)[0].contains("larger than"),
        "{body}"
    );

    // The OpenAPI document names exactly what is served.
    let (status, body, _) = get(&format!("{}/openapi.json", gateway.url)).await;
    assert_eq!(status, 200);
    let document = json(&body);
    let paths = document["paths"].as_object().expect("paths");
    let mut documented = BTreeSet::new();
    for (path, operations) in paths {
        for method in operations.as_object().expect("operations").keys() {
            documented.insert(format!("{method} {path}"));
        }
    }
    let required: BTreeSet<String> = [
        "get /healthz",
        "get /openapi.json",
        "get /open311/v2/discovery.{format}",
        "get /open311/v2/services.{format}",
        "get /open311/v2/services/{service_code}.{format}",
        "get /open311/v2/requests.{format}",
        "post /open311/v2/requests.{format}",
        "get /open311/v2/requests/{service_request_id}.{format}",
        "get /open311/v2/tokens/{token}.{format}",
        "post /api/{service}/{method}",
        "post /{service}/{method}",
        "get /command/",
        "get /command/session",
        "get /command/events",
        "get /command/oidc",
        "get /command/oidc/start",
        "get /command/oidc/callback",
        "post /command/oidc/session",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(documented, required, "the issue's surface, documented");
    for (path, operations) in paths {
        for method in operations.as_object().expect("operations").keys() {
            let concrete = path
                .replace("{format}", "json")
                .replace("{service_code}", STREET_LIGHT)
                .replace("{service_request_id}", &hotline_case)
                .replace("{token}", &hotline_case)
                .replace("{service}", "flatgov.duties.v1.DutyLists")
                .replace("{method}", "ListMatters");
            let url = format!("{}{concrete}", gateway.url);
            let response = match (method.as_str(), path.as_str()) {
                ("get", _) => http.get(&url).send().await,
                ("post", "/{service}/{method}") => {
                    http.post(&url)
                        .header("content-type", "application/grpc-web+proto")
                        .body(grpc_web_frame(&[]))
                        .send()
                        .await
                }
                ("post", "/api/{service}/{method}") => http.post(&url).body("{}").send().await,
                _ => {
                    http.post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("")
                        .send()
                        .await
                }
            }
            .expect("an answer");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            // Served: answered by its handler (a refusal in its own words), never
            // the router's bare 404 or 405.
            assert!(
                status != 405 && !(status == 404 && text.is_empty()),
                "{method} {path} is documented but not served ({status})"
            );
            let documented_answer = &operations[method]["responses"]["200"];
            if status == 200 && concrete.ends_with(".json") && concrete.contains("/open311/") {
                check_properties(
                    &document,
                    documented_answer,
                    &json(&text),
                    &format!("{method} {path}"),
                );
            }
        }
    }

    // HTTP/JSON and gRPC-Web share a budget per address (40 a minute here):
    // past it, gRPC-Web answers RESOURCE_EXHAUSTED.
    let mut exhausted = false;
    for _ in 0..45 {
        let (_, _, trailers) = grpc_web_get_case(&gateway, &qian_case, &qian).await;
        if trailers.contains("grpc-status:8") {
            exhausted = true;
            break;
        }
    }
    assert!(exhausted, "the per-address budget holds for gRPC-Web");
}

/// Panics unless every object in `answer` has exactly the properties the
/// documented schema lists.
fn check_properties(document: &Value, response: &Value, answer: &Value, what: &str) {
    let schema = &response["content"]["application/json"]["schema"];
    let (schema, items) = match schema.get("items") {
        Some(items) => (items, answer.as_array().cloned().unwrap_or_default()),
        None => (schema, vec![answer.clone()]),
    };
    let Some(reference) = schema["$ref"].as_str() else {
        return;
    };
    let name = reference.trim_start_matches("#/components/schemas/");
    let properties: BTreeSet<&String> = document["components"]["schemas"][name]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no schema {name}"))
        .keys()
        .collect();
    for item in items {
        let keys: BTreeSet<&String> = item.as_object().expect("an object").keys().collect();
        assert_eq!(
            keys, properties,
            "{what}: the answer's properties and schema {name}'s"
        );
    }
}
