//! `flatgov notice sink` as a user runs it: the real binary on a real
//! socket, spoken to over HTTP as the notices service (or WeCom's own
//! clients) would.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The running sink, stopped when dropped.
struct RunningSink {
    child: Child,
    address: String,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for RunningSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[&str]) -> RunningSink {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flatgov"))
        .args(["notice", "sink", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("flatgov runs");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let address = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("the first line names the address: {first:?}"))
        .to_owned();
    RunningSink {
        child,
        address,
        stdout,
    }
}

/// One HTTP/1.1 exchange: the status and the body.
fn http(address: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    (status, body.to_owned())
}

fn post(sink: &RunningSink, key: &str, message: &serde_json::Value) -> serde_json::Value {
    let path = if key.is_empty() {
        "/cgi-bin/webhook/send".to_owned()
    } else {
        format!("/cgi-bin/webhook/send?key={key}")
    };
    let (status, body) = http(&sink.address, "POST", &path, &message.to_string());
    assert_eq!(status, 200, "WeCom answers 200 with an errcode: {body}");
    serde_json::from_str(&body).unwrap()
}

fn text(content: &str) -> serde_json::Value {
    serde_json::json!({"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": ["13900001111"]}})
}

#[test]
fn the_sink_takes_a_robot_message_like_wecom_prints_it_and_shows_it_without_the_mentioned_phone() {
    let mut sink = start(&[]);
    let answer = post(
        &sink,
        "demo-430302001004017",
        &text("【防汛】暴雨红色预警\n请远离河道"),
    );
    assert_eq!(answer, serde_json::json!({"errcode": 0, "errmsg": "ok"}));

    let mut printed = String::new();
    sink.stdout.read_line(&mut printed).unwrap();
    assert!(
        printed.contains("key=demo-430302001004017") && printed.contains("【防汛】暴雨红色预警"),
        "{printed}"
    );

    let (status, page) = http(&sink.address, "GET", "/", "");
    assert_eq!(status, 200);
    assert!(page.contains("【防汛】暴雨红色预警") && page.contains("demo-430302001004017"));
    let (_, listed) = http(&sink.address, "GET", "/messages", "");
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["content"], "【防汛】暴雨红色预警\n请远离河道");
    assert_eq!(listed[0]["mentioned"], 1);
    assert!(!page.contains("13900001111") && !listed.to_string().contains("13900001111"));
}

#[test]
fn the_sink_refuses_what_wecom_refuses_with_wecoms_error_codes() {
    let sink = start(&[]);
    let errcode = |answer: serde_json::Value| answer["errcode"].as_u64().unwrap();
    assert_eq!(errcode(post(&sink, "", &text("没有 key"))), 93000);
    assert_eq!(
        errcode(post(
            &sink,
            "k",
            &serde_json::json!({"msgtype": "voice", "voice": {}})
        )),
        40008
    );
    assert_eq!(errcode(post(&sink, "k", &text("  "))), 44004);
    assert_eq!(errcode(post(&sink, "k", &text(&"字".repeat(683)))), 40058);
    let (_, not_json) = http(&sink.address, "POST", "/cgi-bin/webhook/send?key=k", "{");
    assert!(not_json.contains("40035"), "{not_json}");
    let (_, listed) = http(&sink.address, "GET", "/messages", "");
    assert_eq!(listed, "[]", "nothing refused is kept");
}

#[test]
fn a_key_past_twenty_messages_a_minute_is_rate_limited_and_only_the_last_ones_are_kept() {
    let sink = start(&["--keep", "3"]);
    for index in 0..20 {
        let answer = post(&sink, "busy", &text(&format!("第 {index} 条")));
        assert_eq!(answer["errcode"], 0, "message {index}: {answer}");
    }
    assert_eq!(post(&sink, "busy", &text("第 21 条"))["errcode"], 45009);
    assert_eq!(
        post(&sink, "quiet", &text("另一个群"))["errcode"],
        0,
        "the limit is per robot"
    );
    let (_, listed) = http(&sink.address, "GET", "/messages", "");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    let contents: Vec<&str> = listed
        .iter()
        .map(|message| message["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["另一个群", "第 19 条", "第 18 条"]);
}
