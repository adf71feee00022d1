//! Journey: timely feedback (及时反馈). The district registers a WeCom group
//! robot for reports from the resident app; a resident reports a broken
//! street light in the demo district, and once the case is dispatched the
//! notices service — told by the cases service's events, fetching the
//! contact through the cases claim check — posts the received message to
//! the robot, mentioning the resident by phone. Then the governor registers
//! the block group's robot and sends a flood notice with the `flatgov` CLI,
//! which prints the notice's name alone; the group gets it. The stand-in
//! robot is a local HTTP server answering like WeCom. No stream carries the
//! phone.

use std::sync::{Arc, Mutex};

use flatgov_journeys::events::{STREAMS, assert_nowhere};
use flatgov_journeys::{PATIENCE, Platform, eventually, with_token};
use flatgov_proto::notices::v1 as notices;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::support::*;

/// A local HTTP server answering every POST like a WeCom group robot
/// (`{"errcode":0,"errmsg":"ok"}`), keeping each request's body.
async fn wecom_robot() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/cgi-bin/webhook/send?key=journey-robot",
        listener.local_addr().unwrap()
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request);
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length = head
                        .lines()
                        .find_map(|line| {
                            let (name, value) = line.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() < length {
                        continue;
                    }
                    if let Ok(json) = serde_json::from_str(body) {
                        kept.lock().unwrap().push(json);
                    }
                    let answer = r#"{"errcode":0,"errmsg":"ok"}"#;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    return;
                }
            });
        }
    });
    (url, bodies)
}

#[tokio::test]
async fn journey_a_reporter_is_told_on_wecom_that_the_case_was_received_and_who_handles_it() {
    let platform = Platform::start().await;
    platform.load_demo();
    let block_code = platform
        .block_codes("subdistricts/430302001")
        .await
        .into_iter()
        .next()
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let (robot_url, received) = wecom_robot().await;
    platform
        .notices()
        .set_gateway(with_token(
            notices::SetGatewayRequest {
                name: "gateways/resident_app".into(),
                kind: notices::GatewayKind::WecomRobot as i32,
                url: robot_url,
                secret: String::new(),
                description: "居民群机器人".into(),
            },
            &platform.admin(),
        ))
        .await
        .expect("the gateway is set");

    let resident = Resident::new("resident-qian", "钱二", "13912345678");
    let case = report(
        &platform,
        &resident,
        app_report(&resident, "broken_street_light", block.inside, "路灯不亮"),
    )
    .await;
    let id = case.name.trim_start_matches("cases/").to_owned();
    let message = eventually("the received message on WeCom", PATIENCE, || async {
        received
            .lock()
            .unwrap()
            .iter()
            .find(|body| body.to_string().contains(&id))
            .cloned()
    })
    .await;
    assert_eq!(message["msgtype"], "text");
    let content = message["text"]["content"].as_str().unwrap();
    assert!(content.contains("已受理"), "{content}");
    assert!(
        content.contains(&format!("工号 {}", block.governor)),
        "the handler is named: {content}"
    );
    assert_eq!(
        message["text"]["mentioned_mobile_list"],
        serde_json::json!([resident.phone])
    );

    // The record says delivered; no stream carries the resident's phone.
    let feedback = platform
        .notices()
        .list_feedback(with_token(
            notices::ListFeedbackRequest {
                case: case.name.clone(),
            },
            &platform.admin(),
        ))
        .await
        .unwrap()
        .into_inner()
        .feedback;
    assert_eq!(feedback[0].state, notices::DeliveryState::Delivered as i32);
    for stream in STREAMS {
        let events = platform.events(stream).await;
        assert_nowhere(stream, &events, &resident.phone);
    }

    // The governor registers the block group's robot and sends a notice.
    let governor = platform.governor(&block);
    let (block_robot_url, block_group) = wecom_robot().await;
    platform.cli(
        &governor,
        &[
            "notice",
            "robots",
            "set",
            "--block",
            &block.name,
            "--url",
            &block_robot_url,
        ],
    );
    let printed = platform.cli(
        &governor,
        &[
            "notice",
            "send",
            "--block",
            &block.name,
            "--category",
            "flood",
            "--title",
            "暴雨预警",
            "--body",
            "今晚有暴雨，请远离河道。",
        ],
    );
    let notice = printed.trim_end();
    assert!(
        notice.starts_with("notices/") && !notice.contains('\n'),
        "the name alone: {printed:?}"
    );
    let posted = eventually("the notice in the block's group", PATIENCE, || async {
        block_group.lock().unwrap().first().cloned()
    })
    .await;
    assert_eq!(
        posted["text"]["content"],
        "【防汛】暴雨预警\n今晚有暴雨，请远离河道。"
    );
    let shown = platform.cli(&governor, &["notice", "show", notice]);
    assert!(shown.contains(&block.name), "{shown}");
}
