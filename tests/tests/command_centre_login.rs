//! Logging in to the command centre through a real OpenID Connect provider
//! (node-oidc-provider as a process: its own login page, PKCE S256 required,
//! codes redeemed once), in front of the real platform — whose services
//! accept that provider's tokens — and the gateway:
//!
//! - in a real headless Chromium, a dispatcher presses the login button, signs
//!   in at the provider and lands on the map of 326 blocks, with no token in
//!   the address bar or in `localStorage`;
//! - a forged callback (a state this browser never started) is refused with
//!   its message, and so is a resident's login;
//! - over plain HTTP, as an attacker would try it: a replayed callback, a
//!   replayed code under a new login, and another login's code (whose PKCE
//!   verifier is not this login's) are each refused with their reason.
//!
//! Screenshots are kept under `target/command-centre/login-*.png`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flatgov_journeys::browser::Browser;
use flatgov_journeys::gateway::GatewayOptions;
use flatgov_journeys::oidc_provider::OidcProvider;
use flatgov_journeys::{PATIENCE, Platform, PlatformOptions};
use flatgov_testkit::free_port;
use serde_json::{Value, json};

const CLIENT_ID: &str = "flatgov-command";
const SUBDISTRICT: &str = "430302001";
const DEMO_BLOCKS: u64 = 326;

/// The provider's accounts: a subdistrict's dispatcher (a provider role the
/// realm maps onto flatgov's) and a resident.
fn accounts() -> Value {
    json!({
        "disp-001": {
            "realm_access": {"roles": ["offline_access", "dispatcher"]},
            "jurisdiction": [format!("subdistricts/{SUBDISTRICT}")],
        },
        "resident-01": {
            "realm_access": {"roles": ["resident"]},
        },
    })
}

/// Cookies by name, for one host, as a browser would keep them (paths and
/// expiry aside: a login lives for seconds here).
#[derive(Debug, Default, Clone)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take_from(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = header.to_str().expect("an ASCII cookie");
            let pair = text.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').expect("name=value");
            let expired = text.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            if expired {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// An HTTP client that follows no redirect, so each hop is seen.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(
        response.status(),
        reqwest::StatusCode::SEE_OTHER,
        "a redirect from {}",
        response.url()
    );
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .expect("a location")
        .to_owned()
}

fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query_pairs(query)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// `a=1&b=x%20y` → pairs, percent-decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (decode(key), decode(value)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// A login begun at the gateway: the browser's cookie for it and where the
/// gateway sent the browser.
struct Started {
    gateway_cookies: Jar,
    authorize_url: String,
}

async fn start_login(http: &reqwest::Client, gateway_url: &str) -> Started {
    let answer = http
        .get(format!("{gateway_url}/command/oidc/start"))
        .send()
        .await
        .expect("/command/oidc/start");
    let authorize_url = location(&answer);
    let mut gateway_cookies = Jar::default();
    gateway_cookies.take_from(&answer);
    assert!(
        gateway_cookies.get("flatgov-login").is_some(),
        "the pending login's cookie: {gateway_cookies:?}"
    );
    Started {
        gateway_cookies,
        authorize_url,
    }
}

/// Signs `login` in at the provider for a started login and returns the
/// callback URL the provider sends the browser to (not yet followed).
async fn sign_in_at_provider(http: &reqwest::Client, started: &Started, login: &str) -> String {
    let mut provider_cookies = Jar::default();
    let answer = http
        .get(&started.authorize_url)
        .send()
        .await
        .expect("the authorization endpoint");
    provider_cookies.take_from(&answer);
    let interaction = location(&answer);
    let base = started
        .authorize_url
        .split("/auth?")
        .next()
        .expect("the provider's origin")
        .to_owned();
    let interaction = if interaction.starts_with('/') {
        format!("{base}{interaction}")
    } else {
        interaction
    };
    let page = http
        .get(&interaction)
        .header(reqwest::header::COOKIE, provider_cookies.header())
        .send()
        .await
        .expect("the provider's login page");
    provider_cookies.take_from(&page);
    let html = page.text().await.expect("the login page");
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login form's action")
        .replace("&amp;", "&");
    let answer = http
        .post(&action)
        .header(reqwest::header::COOKIE, provider_cookies.header())
        .form(&[("prompt", "login"), ("login", login), ("password", "any")])
        .send()
        .await
        .expect("signing in");
    provider_cookies.take_from(&answer);
    let resume = location(&answer);
    let answer = http
        .get(&resume)
        .header(reqwest::header::COOKIE, provider_cookies.header())
        .send()
        .await
        .expect("resuming the authorization");
    let callback = location(&answer);
    assert!(
        callback.contains("/command/oidc/callback?") && callback.contains("code="),
        "the provider sends the browser back with a code: {callback}"
    );
    callback
}

/// Follows a callback URL as the browser holding `cookies` would; returns the
/// gateway's redirect and the cookies after it.
async fn follow_callback(http: &reqwest::Client, callback: &str, cookies: &Jar) -> (String, Jar) {
    let answer = http
        .get(callback)
        .header(reqwest::header::COOKIE, cookies.header())
        .send()
        .await
        .expect("the callback");
    let mut after = cookies.clone();
    after.take_from(&answer);
    (location(&answer), after)
}

fn with_state(callback: &str, state: &str) -> String {
    let (path, query) = callback.split_once('?').expect("a query");
    let kept: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.starts_with("state="))
        .map(str::to_owned)
        .collect();
    format!("{path}?{}&state={state}", kept.join("&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_log_in_through_the_identity_provider_and_forged_callbacks_replayed_codes_and_residents_are_refused()
 {
    let gateway_port = free_port();
    let gateway_url = format!("http://127.0.0.1:{gateway_port}");
    let redirect_url = format!("{gateway_url}/command/oidc/callback");
    let provider = OidcProvider::start(CLIENT_ID, &redirect_url, &accounts()).await;
    let mut platform_options = PlatformOptions::default();
    let mut gateway_options = GatewayOptions::default()
        .port(gateway_port)
        .env("COMMAND_OIDC_CLIENT_ID", CLIENT_ID)
        .env("COMMAND_OIDC_REDIRECT_URL", &redirect_url);
    for (name, value) in provider.verifier_env() {
        platform_options = platform_options.env(&name, &value);
        gateway_options = gateway_options.env(&name, &value);
    }
    let platform = Platform::start_with(platform_options).await;
    platform.load_demo();
    let gateway = platform.start_gateway(gateway_options).await;
    assert_eq!(gateway.url, gateway_url);
    let http = client();

    // --- over HTTP, step by step ------------------------------------------------
    // The authorization request carries a state, a nonce and an S256 challenge.
    let first = start_login(&http, &gateway_url).await;
    for parameter in ["state", "nonce", "code_challenge"] {
        assert!(
            query_value(&first.authorize_url, parameter).is_some_and(|value| value.len() >= 43),
            "{parameter} in {}",
            first.authorize_url
        );
    }
    assert_eq!(
        query_value(&first.authorize_url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_value(&first.authorize_url, "client_id").as_deref(),
        Some(CLIENT_ID)
    );
    let callback = sign_in_at_provider(&http, &first, "disp-001").await;

    // A tampered state is refused (and the code is not spent on it).
    let (refused, _) = follow_callback(
        &http,
        &with_state(&callback, "tampered-state-0000000000000000000000000000000"),
        &first.gateway_cookies,
    )
    .await;
    assert_eq!(refused, "/command/?login_error=state_mismatch");

    // The real callback completes the login: the token waits in an HttpOnly
    // cookie for the page, which collects it once.
    let (landed, after) = follow_callback(&http, &callback, &first.gateway_cookies).await;
    assert_eq!(landed, "/command/?login=oidc");
    assert_eq!(after.get("flatgov-login"), None, "the login is used up");
    let collected = http
        .post(format!("{gateway_url}/command/oidc/session"))
        .header(reqwest::header::COOKIE, after.header())
        .send()
        .await
        .expect("collecting the token");
    assert_eq!(collected.status(), reqwest::StatusCode::OK);
    let mut collected_cookies = after.clone();
    collected_cookies.take_from(&collected);
    assert_eq!(
        collected_cookies.get("flatgov-handoff"),
        None,
        "collected once"
    );
    let handed_over: Value =
        serde_json::from_str(&collected.text().await.expect("an answer")).expect("json");
    let token = handed_over["token"].as_str().expect("a token").to_owned();
    let session: Value = serde_json::from_str(
        &http
            .get(format!("{gateway_url}/command/session"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("/command/session")
            .text()
            .await
            .expect("an answer"),
    )
    .expect("json");
    assert_eq!(session["subject"], json!("disp-001"), "{session}");
    assert_eq!(
        session["roles"],
        json!(["subdistrict_dispatcher"]),
        "{session}"
    );
    let again = http
        .post(format!("{gateway_url}/command/oidc/session"))
        .header(reqwest::header::COOKIE, collected_cookies.header())
        .send()
        .await
        .expect("collecting again");
    assert_eq!(again.status(), reqwest::StatusCode::UNAUTHORIZED);

    // Replaying the callback (the browser's back button, or a copied URL):
    // no login is pending any more.
    let (replayed, _) = follow_callback(&http, &callback, &collected_cookies).await;
    assert_eq!(replayed, "/command/?login_error=not_pending");

    // Replaying the spent code under a login of one's own: the provider
    // refuses it.
    let attacker = start_login(&http, &gateway_url).await;
    let attacker_state = query_value(&attacker.authorize_url, "state").expect("a state");
    let (refused, _) = follow_callback(
        &http,
        &with_state(&callback, &attacker_state),
        &attacker.gateway_cookies,
    )
    .await;
    assert_eq!(refused, "/command/?login_error=code_refused");

    // Another login's unspent code (stolen on its way back) under one's own
    // login: its PKCE verifier is not this login's, so the provider refuses
    // it — and the rightful browser still completes its login with it.
    let victim = start_login(&http, &gateway_url).await;
    let victim_callback = sign_in_at_provider(&http, &victim, "disp-001").await;
    let thief = start_login(&http, &gateway_url).await;
    let thief_state = query_value(&thief.authorize_url, "state").expect("a state");
    let (refused, _) = follow_callback(
        &http,
        &with_state(&victim_callback, &thief_state),
        &thief.gateway_cookies,
    )
    .await;
    assert_eq!(refused, "/command/?login_error=code_refused");
    let (landed, _) = follow_callback(&http, &victim_callback, &victim.gateway_cookies).await;
    assert_eq!(landed, "/command/?login=oidc");

    // --- in the browser -------------------------------------------------------
    let page = format!("{gateway_url}/command/");
    let browser = Browser::start().await;
    browser.goto(&page).await;
    browser
        .until(
            "the login button is offered",
            Duration::from_secs(10),
            "return !document.getElementById('oidc').hidden;",
        )
        .await;
    browser.screenshot("login-01-button").await;

    // A forged callback reaching a browser with a login pending is refused.
    browser.click(&browser.find("#oidc-login").await).await;
    browser
        .until(
            "the provider's login page",
            Duration::from_secs(20),
            "return !!document.querySelector('input[name=login]');",
        )
        .await;
    browser
        .goto(&format!(
            "{gateway_url}/command/oidc/callback?code=forged-code&state=forged-state"
        ))
        .await;
    let refusal = browser
        .until(
            "the forged callback is refused",
            Duration::from_secs(10),
            "return document.getElementById('login-error').textContent || null;",
        )
        .await;
    assert!(
        refusal
            .as_str()
            .is_some_and(|text| text.contains("state") && text.contains("伪造或篡改")),
        "{refusal}"
    );
    let after_refusal = browser
        .script(
            "return [document.getElementById('app').hidden, location.search, \
             sessionStorage.getItem('flatgov.command.token')];",
            vec![],
        )
        .await;
    assert_eq!(after_refusal, json!([true, "", null]));
    browser.screenshot("login-02-forged-state-refused").await;

    // A resident signs in at the provider and is refused the view.
    browser.click(&browser.find("#oidc-login").await).await;
    let field = browser.find("input[name=login]").await;
    browser.type_into(&field, "resident-01").await;
    browser
        .type_into(&browser.find("input[name=password]").await, "any")
        .await;
    browser
        .click(&browser.find("button[type=submit]").await)
        .await;
    let refusal = browser
        .until(
            "the resident is refused",
            Duration::from_secs(20),
            "return document.getElementById('login-error').textContent || null;",
        )
        .await;
    assert!(
        refusal
            .as_str()
            .is_some_and(|text| text.contains("不是工作人员")),
        "{refusal}"
    );
    assert_eq!(
        browser
            .script("return document.getElementById('app').hidden;", vec![])
            .await,
        json!(true)
    );
    browser.screenshot("login-03-resident-refused").await;
    browser.quit().await;

    // The dispatcher, in a browser of their own, lands on the map.
    let browser = Browser::start().await;
    browser.goto(&page).await;
    browser
        .until(
            "the login button is offered",
            Duration::from_secs(10),
            "return !document.getElementById('oidc').hidden;",
        )
        .await;
    let pressed = Instant::now();
    browser.click(&browser.find("#oidc-login").await).await;
    let field = browser.find("input[name=login]").await;
    browser.type_into(&field, "disp-001").await;
    browser
        .type_into(&browser.find("input[name=password]").await, "any")
        .await;
    browser
        .click(&browser.find("button[type=submit]").await)
        .await;
    let polygons = browser
        .until(
            "the map after the provider's login",
            PATIENCE,
            "return window.commandCentre.firstRenderMs !== undefined \
             && document.querySelectorAll('#map path.block').length;",
        )
        .await;
    assert_eq!(polygons, json!(DEMO_BLOCKS));
    println!(
        "from the login button to the map of {DEMO_BLOCKS} blocks (provider's form included): {} ms",
        pressed.elapsed().as_millis()
    );
    let landed = browser
        .script(
            "return [location.pathname + location.search, localStorage.length, \
             (sessionStorage.getItem('flatgov.command.token') || '').split('.').length, \
             document.getElementById('viewer').textContent];",
            vec![],
        )
        .await;
    assert_eq!(landed[0], json!("/command/"), "no code or token in the URL");
    assert_eq!(landed[1], json!(0), "nothing in localStorage");
    assert_eq!(landed[2], json!(3), "the provider's JWT, kept for this tab");
    assert!(
        landed[3]
            .as_str()
            .is_some_and(|viewer| viewer.starts_with("disp-001 · subdistrict_dispatcher")),
        "{landed}"
    );
    browser
        .until(
            "the live stream is connected",
            Duration::from_secs(10),
            "return document.getElementById('live-status').textContent === '实时更新已连接';",
        )
        .await;
    browser
        .screenshot("login-04-map-after-provider-login")
        .await;
    browser.quit().await;
    drop(provider);
}
