//! The command centre in a real headless Chromium, in front of the real
//! platform (five services as processes, the demo district's 326 blocks) and
//! the gateway serving the page:
//!
//! - a resident's token is refused with a clear message;
//! - a dispatcher's map shows all 326 blocks (first render time printed);
//! - a case reported through the API appears on the map and in the list,
//!   pushed by the live stream (the page does not poll);
//! - clicking a block shows its 1+N+1 team;
//! - the dispatcher escalates the case twice from the page and the whistle
//!   appears; the case is at the whistle tier in the cases service too;
//! - indicators by department, six monthly trend charts and the 三升三降
//!   panel, which counts a safety hazard reported this month;
//! - a configured tile layer is drawn under the polygons (and loaded from
//!   the tile server the CSP allows), none without one;
//! - on a phone-sized window nothing overflows sideways.
//!
//! Screenshots are kept under `target/command-centre/`.

#[path = "journeys/support.rs"]
mod support;

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flatgov_journeys::browser::Browser;
use flatgov_journeys::gateway::GatewayOptions;
use flatgov_journeys::{PATIENCE, Platform};
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;
use serde_json::{Value, json};

use crate::support::get_case;

const SUBDISTRICT: &str = "430302001";
const DEMO_BLOCKS: u64 = 326;

/// A 1×1 grey PNG: every tile the test's tile server serves.
const TILE_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x7e, 0x9b,
    0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xb8, 0x0f, 0x00, 0x00,
    0xf9, 0x00, 0xf8, 0x9d, 0x5c, 0x74, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// A tile server on a free local port, as a city's own would be: answers
/// `GET /tiles/{z}/{x}/{y}.png` with a PNG and counts the tiles asked for.
fn start_tile_server() -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!(
        "http://127.0.0.1:{}/tiles/{{z}}/{{x}}/{{y}}.png",
        listener.local_addr().expect("an address").port()
    );
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0_u8; 2048];
            let read = stream.read(&mut request).unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..read]);
            let is_tile = line.starts_with("GET /tiles/") && line.contains(".png ");
            let answer = if is_tile {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    TILE_PNG.len()
                )
                .into_bytes();
                answer.extend_from_slice(TILE_PNG);
                answer
            } else {
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
            };
            let _ = stream.write_all(&answer);
        }
    });
    (url, served)
}

/// Pastes `token` into the login form and submits it.
async fn log_in(browser: &Browser, token: &str) {
    let field = browser.find("#token").await;
    browser.clear(&field).await;
    browser.type_into(&field, token).await;
    browser.click(&browser.find("#login-button").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_watches_a_case_arrive_on_the_map_and_blows_the_whistle_from_the_page() {
    let platform = Platform::start().await;
    platform.load_demo();
    let (tile_url, tiles_served) = start_tile_server();
    let gateway = platform
        .start_gateway(
            GatewayOptions::default()
                .env("COMMAND_TILE_URL", &tile_url)
                .env("COMMAND_TILE_ATTRIBUTION", "测试瓦片"),
        )
        .await;
    let browser = Browser::start().await;
    let page = format!("{}/command/", gateway.url);

    // A resident's token opens nothing.
    browser.goto(&page).await;
    log_in(&browser, &platform.resident("resident-command")).await;
    let refusal = browser
        .until(
            "the resident is refused",
            Duration::from_secs(10),
            "const text = document.getElementById('login-error').textContent; return text || null;",
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
    browser.screenshot("01-resident-refused").await;

    // The dispatcher's map: every block of the active generation.
    log_in(&browser, &platform.dispatcher(SUBDISTRICT)).await;
    let polygons = browser
        .until(
            "the map shows the blocks",
            PATIENCE,
            "return window.commandCentre.firstRenderMs !== undefined \
             && document.querySelectorAll('#map path.block').length;",
        )
        .await;
    assert_eq!(polygons, json!(DEMO_BLOCKS));
    let outlines = browser
        .script(
            "return document.querySelectorAll('#map path.subdistrict').length;",
            vec![],
        )
        .await;
    assert!(
        outlines.as_u64().is_some_and(|count| count > 0),
        "{outlines}"
    );
    let first_render = browser
        .script("return window.commandCentre.firstRenderMs;", vec![])
        .await;
    println!("first render of the map with {DEMO_BLOCKS} blocks: {first_render} ms");
    // The configured tiles lie under the polygons, loaded from the tile
    // server (the page's CSP allows that origin for images).
    let tiles = browser
        .script(
            "const first = document.querySelector('#map > *'); \
             return [document.querySelectorAll('#map image.tile').length, \
                     first && first.getAttribute('class'), \
                     document.getElementById('map-attribution').textContent];",
            vec![],
        )
        .await;
    assert!(tiles[0].as_u64().is_some_and(|count| count > 0), "{tiles}");
    assert_eq!(
        tiles[1],
        json!("tiles"),
        "the tiles are drawn first, under the blocks"
    );
    assert_eq!(tiles[2], json!("测试瓦片"));
    flatgov_journeys::eventually(
        "the browser loads the tiles",
        Duration::from_secs(10),
        || {
            let served = tiles_served.load(Ordering::SeqCst);
            async move { (served > 0).then_some(()) }
        },
    )
    .await;
    browser
        .until(
            "the live stream is connected",
            Duration::from_secs(10),
            "return document.getElementById('live-status').textContent === '实时更新已连接';",
        )
        .await;
    browser.screenshot("02-map-1366x768").await;

    // A resident reports through the gateway's API; the page hears of it.
    let block_code = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .nth(3)
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let http = reqwest::Client::new();
    let reported = Instant::now();
    let report = json!({
            "requestId": "command-centre-vending",
            "kind": "CASE_KIND_PROBLEM",
            "channel": "CHANNEL_RESIDENT_APP",
            "location": {
                "latitude": block.inside.latitude,
                "longitude": block.inside.longitude,
            },
            "matterCode": "illegal_street_vending",
            "description": "夜市摊贩堵住消防通道",
            "reporter": {"name": "吴秀兰", "phone": "13600001111"},
    });
    let answer = http
        .post(format!(
            "{}/api/flatgov.cases.v1.CaseDispatch/ReportCase",
            gateway.url
        ))
        .bearer_auth(platform.resident("resident-command"))
        .header("content-type", "application/json")
        .body(report.to_string())
        .send()
        .await
        .expect("reporting through the gateway")
        .text()
        .await
        .expect("an answer");
    let answer: Value =
        serde_json::from_str(&answer).unwrap_or_else(|error| panic!("{error}: {answer}"));
    let name = answer["case"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("a case: {answer}"))
        .to_owned();
    browser
        .until(
            "the new case is in the list and its block is coloured",
            Duration::from_secs(20),
            &format!(
                "return !!document.querySelector('#cases tr[data-case=\"{name}\"]') \
                 && document.querySelector('#map path.block[data-code=\"{block_code}\"]')\
                 .classList.contains('has-open');"
            ),
        )
        .await;
    println!(
        "the reported case was on the map and in the list {} ms after ReportCase returned",
        reported.elapsed().as_millis()
    );
    browser.screenshot("03-case-arrived").await;

    // Clicking the block shows its team.
    browser
        .click(
            &browser
                .find(&format!("#map path.block[data-code=\"{block_code}\"]"))
                .await,
        )
        .await;
    let staff = browser
        .until(
            "the block's team is shown",
            Duration::from_secs(10),
            "const members = [...document.querySelectorAll('#team li.member')]; \
             return members.length >= 3 ? members.map((m) => m.dataset.staff + ' ' + m.textContent) : null;",
        )
        .await;
    let staff = staff.to_string();
    let governor = block.governor.trim_start_matches("staff/");
    assert!(staff.contains(governor), "{governor} in {staff}");
    assert!(
        staff.contains("治理员") && staff.contains("监督员"),
        "{staff}"
    );
    assert!(
        browser
            .script(
                "return document.getElementById('block-cases').textContent;",
                vec![]
            )
            .await
            .to_string()
            .contains(name.trim_start_matches("cases/")),
        "the block's open cases list the new one"
    );
    let received = browser
        .until(
            "the block's indicators count the new case",
            Duration::from_secs(10),
            "const table = document.getElementById('block-indicators'); \
             return table.hidden ? null : table.tBodies[0].rows[0].cells[0].textContent;",
        )
        .await;
    assert_eq!(
        received,
        json!("1"),
        "the block received one case this month"
    );
    browser.screenshot("04-block-team").await;

    // Indicators: by department, the monthly trends and 三升三降. A safety
    // hazard reported now counts in this month's hazards.
    let hazard = json!({
            "requestId": "command-centre-fire-escape",
            "kind": "CASE_KIND_HAZARD",
            "channel": "CHANNEL_RESIDENT_APP",
            "location": {
                "latitude": block.inside.latitude,
                "longitude": block.inside.longitude,
            },
            "matterCode": "blocked_fire_escape",
            "description": "楼道消防通道堆满杂物",
            "reporter": {"name": "吴秀兰", "phone": "13600001111"},
    });
    let reported_hazard = http
        .post(format!(
            "{}/api/flatgov.cases.v1.CaseDispatch/ReportCase",
            gateway.url
        ))
        .bearer_auth(platform.resident("resident-command"))
        .header("content-type", "application/json")
        .body(hazard.to_string())
        .send()
        .await
        .expect("reporting a hazard through the gateway");
    assert!(reported_hazard.status().is_success(), "{reported_hazard:?}");
    let panel = browser
        .until(
            "三升三降 counts the hazard",
            Duration::from_secs(20),
            "const card = (key) => document.querySelector(`#ups-downs [data-indicator=\"${key}\"]`); \
             const hazards = card('hazards'); \
             return hazards && hazards.dataset.thisMonth === '1' \
               ? ['satisfaction', 'disputes', 'hazards'].map((key) => card(key).textContent) : null;",
        )
        .await;
    println!("三升三降: {panel}");
    assert!(
        panel[1].as_str().is_some_and(|text| text.contains("本月")),
        "the dispatcher sees the disputes this month: {panel}"
    );
    let trends = browser
        .script(
            "return [...document.querySelectorAll('#trends figure.trend')].map((figure) => \
               [figure.dataset.trend, figure.querySelectorAll('svg text:not(.value)').length, \
                figure.querySelectorAll('circle.dot').length]);",
            vec![],
        )
        .await;
    let trends = trends.as_array().expect("a list").clone();
    assert_eq!(trends.len(), 6, "{trends:?}");
    for trend in &trends {
        assert_eq!(trend[1], json!(6), "six months on each chart: {trend}");
    }
    let hazards_chart = trends
        .iter()
        .find(|trend| trend[0] == json!("hazards"))
        .expect("a hazards chart");
    assert_eq!(
        hazards_chart[2],
        json!(6),
        "a count has a point every month (zero included)"
    );
    let departments = browser
        .script(
            "return document.querySelectorAll('#department-indicators tbody tr').length;",
            vec![],
        )
        .await;
    assert!(
        departments.as_u64().is_some_and(|rows| rows >= 1),
        "{departments}"
    );
    browser
        .script(
            "document.getElementById('indicators-section').scrollIntoView();",
            vec![],
        )
        .await;
    browser.screenshot("04b-indicators-trends").await;

    // Keyboard: a block focused and Enter pressed opens it too.
    let other = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .nth(7)
        .expect("the subdistrict has blocks");
    let other_block = platform.demo_block(&other).await;
    browser
        .type_into(
            &browser
                .find(&format!("#map path.block[data-code=\"{other}\"]"))
                .await,
            "\u{E007}",
        )
        .await;
    browser
        .until(
            "Enter on a focused block opens it",
            Duration::from_secs(10),
            &format!(
                "return [...document.querySelectorAll('#team li.member')]\
                 .some((m) => m.dataset.staff.endsWith('{}'));",
                other_block.governor.trim_start_matches("staff/")
            ),
        )
        .await;

    // The list's filters narrow the list, not the map.
    let overdue_only = browser.find("#filter-overdue").await;
    browser.click(&overdue_only).await;
    browser
        .until(
            "the fresh case leaves the overdue-only list",
            Duration::from_secs(10),
            &format!(
                "return !document.querySelector('#cases tr[data-case=\"{name}\"]') \
                 && document.querySelector('#map path.block[data-code=\"{block_code}\"]')\
                 .classList.contains('has-open');"
            ),
        )
        .await;
    browser.click(&overdue_only).await;
    browser
        .until(
            "the case is back in the list",
            Duration::from_secs(10),
            &format!("return !!document.querySelector('#cases a[data-case=\"{name}\"]');"),
        )
        .await;

    // The dispatcher escalates from the case page: a meeting, then the whistle.
    browser
        .click(
            &browser
                .find(&format!("#cases a[data-case=\"{name}\"]"))
                .await,
        )
        .await;
    browser
        .until(
            "the case page opens",
            Duration::from_secs(10),
            &format!(
                "return !document.getElementById('case-panel').hidden \
                 && document.getElementById('case-title').textContent.includes('{}');",
                name.trim_start_matches("cases/")
            ),
        )
        .await;
    for (reason, tier) in [
        (
            "摊贩不听劝导, 提交协调会",
            "HANDLING_TIER_COORDINATION_MEETING",
        ),
        ("协调会决定吹哨, 联合执法", "HANDLING_TIER_WHISTLE"),
    ] {
        let field = browser.find("#action-reason").await;
        browser.clear(&field).await;
        browser.type_into(&field, reason).await;
        browser.click(&browser.find("#escalate").await).await;
        browser
            .until(
                &format!("the case reaches {tier}"),
                Duration::from_secs(15),
                &format!("return document.getElementById('case-tier').dataset.tier === '{tier}';"),
            )
            .await;
    }
    browser
        .until(
            "the whistle shows on the case and in the list",
            Duration::from_secs(10),
            &format!(
                "return !!document.querySelector('#case-tier.whistle') \
                 && !!document.querySelector('#cases tr[data-case=\"{name}\"] .badge.whistle');"
            ),
        )
        .await;
    // Each summoned agency's report-in clock counts down.
    let clocks = browser
        .until(
            "the summoned agencies' report-in clocks",
            Duration::from_secs(20),
            "const clocks = [...document.querySelectorAll('#summons .clock')]; \
             return clocks.length > 0 && clocks.every((c) => /\\d\\d:\\d\\d:\\d\\d/.test(c.textContent)) \
               ? clocks.map((c) => c.textContent) : null;",
        )
        .await;
    println!("report-in clocks: {clocks}");
    let whistled = get_case(&platform, &name).await;
    assert_eq!(whistled.tier, HandlingTier::Whistle as i32);
    assert_ne!(whistled.state, cases::CaseState::Closed as i32);
    let timeline = browser
        .script(
            "return document.querySelectorAll('#timeline li').length;",
            vec![],
        )
        .await;
    assert!(
        timeline.as_u64().is_some_and(|records| records >= 4),
        "{timeline}"
    );
    browser.screenshot("05-whistle").await;

    // English on request.
    browser.click(&browser.find("#lang").await).await;
    assert_eq!(
        browser
            .script(
                "return document.getElementById('cases-title').textContent;",
                vec![]
            )
            .await,
        json!("Cases")
    );

    // A phone: one column, nothing wider than the screen.
    browser.resize(390, 844).await;
    let overflow = browser
        .until(
            "the layout settles at phone width",
            Duration::from_secs(5),
            "return window.innerWidth <= 420 ? document.documentElement.scrollWidth - window.innerWidth : null;",
        )
        .await;
    assert!(
        overflow.as_i64().is_some_and(|extra| extra <= 0),
        "{overflow} px overflow"
    );
    browser.screenshot("06-phone").await;
    println!("screenshots in {}", browser.artefacts.display());
    browser.quit().await;
}

/// Front-line matters of the reference catalogue that dispatch without help.
const MATTERS: [&str; 4] = [
    "broken_street_light",
    "damaged_manhole_cover",
    "damaged_road_surface",
    "blocked_drain",
];
const OPEN_CASES: usize = 1000;

/// Dispatched cases `token` sees, counting up to `enough`.
async fn dispatched(platform: &Platform, token: &str, enough: usize) -> usize {
    let mut client = platform.cases();
    let mut count = 0;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_cases(flatgov_journeys::with_token(
                cases::ListCasesRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    state: cases::CaseState::Dispatched as i32,
                    ..Default::default()
                },
                token,
            ))
            .await
            .expect("listing cases")
            .into_inner();
        count += page.cases.len();
        page_token = page.next_page_token;
        if page_token.is_empty() || count >= enough {
            return count;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_renders_with_a_thousand_open_cases() {
    let platform = Platform::start().await;
    platform.load_demo();
    let gateway = platform.start_gateway(GatewayOptions::default()).await;
    let admin = platform.admin();

    // A thousand reports: four matters in each of 250 blocks (one matter per
    // point, so none is linked to another as "me too").
    let codes = platform
        .block_codes(&format!("districts/{}", flatgov_journeys::DISTRICT))
        .await;
    let mut points = Vec::new();
    for code in codes.iter().take(OPEN_CASES / MATTERS.len()) {
        points.push(platform.demo_block(code).await.inside);
    }
    let reports: Vec<(usize, cases::ReportCaseRequest)> = points
        .iter()
        .flat_map(|point| MATTERS.iter().map(move |matter| (*point, *matter)))
        .enumerate()
        .map(|(number, (point, matter))| {
            (
                number,
                cases::ReportCaseRequest {
                    request_id: format!("command-centre-load-{number}"),
                    kind: cases::CaseKind::Problem as i32,
                    channel: cases::Channel::ResidentApp as i32,
                    location: Some(point),
                    matter_code: matter.to_owned(),
                    description: "压力测试上报".to_owned(),
                    ..Default::default()
                },
            )
        })
        .collect();
    let reporting = Instant::now();
    for chunk in reports.chunks(16) {
        let mut batch = tokio::task::JoinSet::new();
        for (number, request) in chunk {
            let (number, request) = (*number, request.clone());
            let mut client = platform.cases();
            let token = platform.resident(&format!("resident-load-{number}"));
            // A busy machine may shed a report; the request_id makes the retry
            // the same report.
            batch.spawn(async move {
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match client
                        .report_case(flatgov_journeys::with_token(request.clone(), &token))
                        .await
                    {
                        Ok(_) => return,
                        Err(status)
                            if attempts < 5
                                && matches!(
                                    status.code(),
                                    tonic::Code::Unavailable
                                        | tonic::Code::ResourceExhausted
                                        | tonic::Code::DeadlineExceeded
                                ) =>
                        {
                            tokio::time::sleep(Duration::from_millis(200 * attempts)).await;
                        }
                        Err(status) => panic!("report {number} refused: {status:?}"),
                    }
                }
            });
        }
        while let Some(done) = batch.join_next().await {
            done.expect("a report task");
        }
    }
    flatgov_journeys::eventually(
        "a thousand cases dispatched",
        Duration::from_secs(300),
        || async { (dispatched(&platform, &admin, OPEN_CASES).await >= OPEN_CASES).then_some(()) },
    )
    .await;
    println!(
        "{OPEN_CASES} cases reported and dispatched in {} ms",
        reporting.elapsed().as_millis()
    );

    // The district administrator's first screen.
    let browser = Browser::start().await;
    browser.goto(&format!("{}/command/", gateway.url)).await;
    log_in(&browser, &admin).await;
    let ready = browser
        .until(
            "the coloured map is on screen",
            PATIENCE,
            "return window.commandCentre.mapReadyMs ?? null;",
        )
        .await;
    let polygons = browser
        .script(
            "return document.querySelectorAll('#map path.block').length;",
            vec![],
        )
        .await;
    assert_eq!(polygons, json!(DEMO_BLOCKS));
    let coloured = browser
        .script(
            "return document.querySelectorAll('#map path.block.has-open').length;",
            vec![],
        )
        .await;
    assert_eq!(coloured, json!(OPEN_CASES / MATTERS.len()));
    let tiles = browser
        .script(
            "return document.querySelectorAll('#map image').length;",
            vec![],
        )
        .await;
    assert_eq!(tiles, json!(0), "no tile layer unless one is configured");
    let polygons_only = browser
        .script("return window.commandCentre.firstRenderMs;", vec![])
        .await;
    println!(
        "first render with {DEMO_BLOCKS} blocks and {OPEN_CASES} open cases: {ready} ms from login \
         to the coloured map ({polygons_only} ms for the polygons)"
    );
    browser.screenshot("07-thousand-open-cases").await;
    browser.quit().await;
}
