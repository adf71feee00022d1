//! `flatgov notice sink`: a local HTTP server that behaves like a WeCom
//! group robot endpoint (企业微信群机器人), so a platform on one machine can
//! deliver notices and feedback somewhere a person can watch.
//!
//! - `POST /cgi-bin/webhook/send?key={key}` takes `msgtype: text` (content
//!   at most 2,048 bytes) or `msgtype: markdown` (at most 4,096 bytes) and
//!   answers as WeCom does: `{"errcode":0,"errmsg":"ok"}`; 93000 without a
//!   key, 40008 for another message type, 44004 for empty content, 40058
//!   for content too long, 40035 for a body that is not JSON, and 45009
//!   once a key sent more than its limit in the last minute (WeCom's 20).
//! - Every message taken is printed on stdout, one line each (a JSON object
//!   each with `--output json`), and the last `--keep` are shown newest
//!   first at `GET /` (a page that refreshes itself) and `GET /messages`
//!   (JSON). The phones a message mentions are counted, never shown.
//!
//! It keeps nothing on disk and calls nothing.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Json};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::Output;

/// WeCom's limit per robot and minute.
pub const WECOM_LIMIT_PER_MINUTE: usize = 20;

/// One message the sink took.
#[derive(Debug, Clone, Serialize)]
pub struct Taken {
    /// When it arrived.
    pub time: String,
    /// The robot's key (the demo's are `demo-{block}`).
    pub key: String,
    pub msgtype: String,
    pub content: String,
    /// How many phones the message mentions (never which).
    pub mentioned: usize,
}

/// What the sink holds between requests.
struct Sink {
    /// The last `keep` messages taken, oldest first.
    taken: Mutex<VecDeque<Taken>>,
    keep: usize,
    /// Messages a key may send in any minute.
    per_minute: usize,
    /// When each key's messages of the last minute arrived.
    recent: Mutex<HashMap<String, VecDeque<Instant>>>,
    output: Output,
}

/// A WeCom answer.
fn answer(errcode: u32, errmsg: &str) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "errcode": errcode, "errmsg": errmsg }))
}

/// Whether `key` may send one more message now; counts it if so.
fn within_limit(sink: &Sink, key: &str, now: Instant) -> bool {
    let mut recent = sink
        .recent
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    let times = recent.entry(key.to_owned()).or_default();
    while times
        .front()
        .is_some_and(|sent| now.duration_since(*sent) >= Duration::from_secs(60))
    {
        times.pop_front();
    }
    if times.len() >= sink.per_minute {
        return false;
    }
    times.push_back(now);
    true
}

async fn send(
    State(sink): State<Arc<Sink>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Json<serde_json::Value> {
    let key = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="))
        .unwrap_or_default()
        .to_owned();
    if key.is_empty() {
        return answer(93000, "invalid webhook url: no key");
    }
    let Ok(message) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return answer(40035, "invalid parameter: the body is not JSON");
    };
    let msgtype = message["msgtype"].as_str().unwrap_or_default().to_owned();
    let limit = match msgtype.as_str() {
        "text" => 2048,
        "markdown" => 4096,
        _ => return answer(40008, "invalid message type"),
    };
    let content = message[&msgtype]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if content.trim().is_empty() {
        return answer(44004, "empty content");
    }
    if content.len() > limit {
        return answer(40058, "content exceed max length");
    }
    if !within_limit(&sink, &key, Instant::now()) {
        return answer(45009, "api freq out of limit");
    }
    let mentioned = message[&msgtype]["mentioned_mobile_list"]
        .as_array()
        .map_or(0, Vec::len);
    let taken = Taken {
        time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        key,
        msgtype,
        content,
        mentioned,
    };
    print_taken(&taken, sink.output);
    let mut kept = sink
        .taken
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    kept.push_back(taken);
    while kept.len() > sink.keep {
        kept.pop_front();
    }
    answer(0, "ok")
}

fn print_taken(taken: &Taken, output: Output) {
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string(taken).unwrap_or_else(|_| "{}".into())
        ),
        Output::Table => {
            let first_line = taken.content.lines().next().unwrap_or_default();
            let parts = if taken.content.lines().count() > 1 {
                " …"
            } else {
                ""
            };
            println!(
                "{}  key={}  {}  {} bytes  {first_line}{parts}",
                taken.time,
                taken.key,
                taken.msgtype,
                taken.content.len()
            );
        }
    }
}

/// The last messages, newest first.
fn newest_first(sink: &Sink) -> Vec<Taken> {
    let kept = sink
        .taken
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    kept.iter().rev().cloned().collect()
}

async fn messages(State(sink): State<Arc<Sink>>) -> Json<Vec<Taken>> {
    Json(newest_first(&sink))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn page(State(sink): State<Arc<Sink>>) -> impl IntoResponse {
    let taken = newest_first(&sink);
    let mut html = String::from(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\"><title>企业微信群机器人（本地）</title>\
         <style>body{font-family:sans-serif;margin:2em}article{border-bottom:1px solid #ccc;padding:.5em 0}\
         pre{white-space:pre-wrap;margin:.3em 0}small{color:#666}</style></head><body>\
         <h1>企业微信群机器人（本地）</h1>",
    );
    html.push_str(&format!(
        "<p>最近收到的 {} 条消息，最新的在前（每 5 秒刷新）。</p>",
        taken.len()
    ));
    for message in &taken {
        html.push_str(&format!(
            "<article><small>{} · key={} · {}{}</small><pre>{}</pre></article>",
            escape(&message.time),
            escape(&message.key),
            escape(&message.msgtype),
            if message.mentioned > 0 {
                format!(" · @{}", message.mentioned)
            } else {
                String::new()
            },
            escape(&message.content)
        ));
    }
    html.push_str("</body></html>");
    Html(html)
}

/// Serves until Ctrl-C (or SIGTERM).
pub async fn run(
    listen: &str,
    keep: usize,
    per_minute: usize,
    output: Output,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr().context("the sink's address")?;
    let sink = Arc::new(Sink {
        taken: Mutex::new(VecDeque::with_capacity(keep.min(10_000))),
        keep,
        per_minute,
        recent: Mutex::default(),
        output,
    });
    let app = Router::new()
        .route("/cgi-bin/webhook/send", post(send))
        .route("/messages", get(messages))
        .route("/", get(page))
        .with_state(sink);
    let started: DateTime<Utc> = Utc::now();
    eprintln!(
        "WeCom robot sink since {}: POST http://{address}/cgi-bin/webhook/send?key=<key>; \
         the last {keep} messages at http://{address}/",
        started.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    println!("listening on http://{address}");
    axum::serve(listener, app)
        .with_graceful_shutdown(stopped())
        .await
        .context("the sink stopped")?;
    Ok(())
}

async fn stopped() {
    let interrupted = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupted.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupted => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupted.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(per_minute: usize) -> Sink {
        Sink {
            taken: Mutex::default(),
            keep: 10,
            per_minute,
            recent: Mutex::default(),
            output: Output::Table,
        }
    }

    #[test]
    fn a_key_gets_its_limit_in_any_minute_and_more_once_the_minute_passed() {
        let sink = sink(2);
        let start = Instant::now();
        assert!(within_limit(&sink, "a", start));
        assert!(within_limit(&sink, "a", start + Duration::from_secs(1)));
        assert!(!within_limit(&sink, "a", start + Duration::from_secs(59)));
        assert!(within_limit(&sink, "b", start + Duration::from_secs(59)));
        assert!(within_limit(&sink, "a", start + Duration::from_secs(60)));
    }

    #[test]
    fn the_page_escapes_what_it_shows() {
        assert_eq!(escape("<b>&\""), "&lt;b&gt;&amp;&quot;");
    }
}
