//! Journey: an office runs a case through the closed loop with the `flatgov` CLI alone —
//! report, list, show, accept, start, resolve, verify, rate, history — then reads the
//! indicators, the audit trail and the event stream with it, as its staff would on their
//! first day. Tables speak zh-CN by default and English on request; `--output json` is for
//! scripts. Each step runs the real binary against the eight services as processes.

use std::time::{Duration, Instant};

use flatgov_journeys::Platform;
use serde_json::Value;

use super::support::stationed_officer;
use super::whistle::record_actions;

/// The subdistrict the journey happens in (雨湖路街道 in the demo).
const SUBDISTRICT: &str = "430302001";

fn json(output: &str) -> Value {
    serde_json::from_str(output.trim())
        .unwrap_or_else(|error| panic!("not one JSON document ({error}):\n{output}"))
}

/// The case's state as `case show --output json` prints it to `token`'s holder; `None`
/// while they cannot see it (a dispatcher sees a case once triage has placed it in their
/// subdistrict).
fn case_state(platform: &Platform, token: &str, name: &str) -> Option<String> {
    let output = platform.cli_in(
        "en",
        token,
        &std::env::temp_dir(),
        &["--output", "json", "case", "show", name],
    );
    if !output.status.success() {
        return None;
    }
    let case = json(&String::from_utf8_lossy(&output.stdout));
    Some(case["state"].as_str().unwrap_or_default().to_owned())
}

async fn state_until(platform: &Platform, token: &str, name: &str, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = case_state(platform, token, name);
        if state.as_deref() == Some(wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed {state:?}, never {wanted}\n{}",
            platform.log_tail("cases", 40)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs the CLI with table output in `language`, failing on a non-zero exit.
fn table(platform: &Platform, language: &str, token: &str, arguments: &[&str]) -> String {
    let directory = std::env::temp_dir();
    let output = platform.cli_in(language, token, &directory, arguments);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "flatgov {arguments:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn journey_an_office_runs_the_closed_loop_and_reads_indicators_audit_and_events_with_the_cli()
{
    let platform = Platform::start().await;
    platform.load_demo();
    let block_code = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .next()
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let resident = platform.resident("resident-cli");
    let governor = platform.governor(&block);
    let supervisor = platform.supervisor(&block);
    let dispatcher = platform.dispatcher(SUBDISTRICT);
    let admin = platform.admin();

    // A resident reports from the app, at a point inside the block.
    let longitude = block.inside.longitude.to_string();
    let latitude = block.inside.latitude.to_string();
    let reported = json(&platform.cli(
        &resident,
        &[
            "--output",
            "json",
            "case",
            "report",
            "--kind",
            "problem",
            "--channel",
            "resident_app",
            "--lon",
            &longitude,
            "--lat",
            &latitude,
            "--matter",
            "broken_street_light",
            "--description",
            "楼下路灯不亮, 晚上很黑",
        ],
    ));
    let name = reported["case"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("the report names its case: {reported}"))
        .to_owned();
    state_until(&platform, &dispatcher, &name, "CASE_STATE_DISPATCHED").await;

    // The subdistrict's dispatcher finds it in the list, labelled for people.
    let chinese = table(
        &platform,
        "zh-CN",
        &dispatcher,
        &["case", "list", "--subdistrict", SUBDISTRICT],
    );
    let case_id = name.trim_start_matches("cases/");
    assert!(
        chinese.contains(case_id) && chinese.contains("已派单"),
        "the list shows the case as 已派单:\n{chinese}"
    );
    assert!(
        !chinese.contains("CASE_STATE_"),
        "no enum names:\n{chinese}"
    );
    let english = table(
        &platform,
        "en",
        &dispatcher,
        &["case", "list", "--subdistrict", SUBDISTRICT],
    );
    assert!(
        english.contains("dispatched"),
        "English on request:\n{english}"
    );

    // The block's team works it through the loop; the resident rates it.
    platform.cli(&governor, &["case", "accept", &name]);
    platform.cli(&governor, &["case", "start", &name]);
    platform.cli(&governor, &["case", "resolve", &name, "--note", "换了灯泡"]);
    state_until(&platform, &dispatcher, &name, "CASE_STATE_RESOLVED").await;
    platform.cli(&supervisor, &["case", "verify", &name]);
    state_until(&platform, &dispatcher, &name, "CASE_STATE_VERIFIED").await;
    platform.cli(&resident, &["case", "rate", &name, "--rating", "satisfied"]);
    let rated = case_state(&platform, &dispatcher, &name).unwrap_or_default();
    assert!(
        rated == "CASE_STATE_RATED" || rated == "CASE_STATE_CLOSED",
        "a satisfied rating ends the loop, found {rated}"
    );

    // Its history names every step, who took it and when.
    let history = json(&platform.cli(&dispatcher, &["--output", "json", "case", "history", &name]));
    let steps: Vec<&str> = history
        .as_array()
        .expect("the history is a list of records")
        .iter()
        .filter_map(|record| record["action"].as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "reported",
            "triaged",
            "dispatched",
            "accepted",
            "work_started",
            "resolved",
            "verified",
            "rated",
            "closed"
        ],
        "the history records every step of the loop: {history}"
    );

    // The indicators count the case for its subdistrict this month (China Standard Time).
    let month = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"))
        .format("%Y-%m")
        .to_string();
    let indicators = platform.cli(
        &admin,
        &[
            "--output",
            "json",
            "indicators",
            "--period",
            &month,
            "--subdistrict",
            SUBDISTRICT,
        ],
    );
    let received: u64 = indicators
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .flat_map(|value| match value {
            Value::Array(rows) => rows,
            row => vec![row],
        })
        .filter_map(|row| {
            row["received"]
                .as_u64()
                .or_else(|| row["received"].as_str()?.parse().ok())
        })
        .sum();
    assert!(
        received >= 1,
        "the indicators count the report:\n{indicators}"
    );

    // The audit trail shows the report and the rating, and its chains verify.
    let audit = table(
        &platform,
        "en",
        &admin,
        &["audit", "list", "--service", "cases", "--limit", "50"],
    );
    assert!(
        audit.contains("ReportCase") && audit.contains("RateCase"),
        "the audit trail lists the calls:\n{audit}"
    );
    platform.cli(&admin, &["audit", "verify", "--service", "cases"]);

    // An integrator's tail replays the case's events from the stream.
    let events = platform.cli(
        &platform.integrator(),
        &[
            "--output",
            "json",
            "events",
            "tail",
            "--service",
            "cases",
            "--from-start",
            "--idle-timeout",
            "5",
            "--nats-url",
            &platform.nats_url,
            "--subject-prefix",
            &platform.prefix,
        ],
    );
    let about_the_case: Vec<&str> = events
        .lines()
        .filter(|line| line.contains(case_id))
        .collect();
    assert!(
        about_the_case.iter().any(|line| line.contains("eported"))
            && about_the_case.iter().any(|line| line.contains("ispatched")),
        "the tail shows the case reported and dispatched:\n{events}"
    );
    whistle_with_the_cli(&platform, &block_code, &dispatcher).await;
}

/// The dispatcher blows the whistle on street vending in the block with `flatgov whistle`;
/// the duty lists decide who is summoned; each agency's stationed officer reports in with
/// the CLI; only the lead may conclude; the list and the operation read in both languages.
async fn whistle_with_the_cli(platform: &Platform, block_code: &str, dispatcher: &str) {
    let blow = [
        "--output",
        "json",
        "whistle",
        "blow",
        "--subdistrict",
        SUBDISTRICT,
        "--block",
        block_code,
        "--matter",
        "illegal_street_vending",
        "--description",
        "路口流动摊贩占道经营",
        "--request-id",
        "operator-cli-whistle",
    ];
    let blown = json(&platform.cli(dispatcher, &blow));
    let operation = blown["name"]
        .as_str()
        .unwrap_or_else(|| panic!("the whistle names its operation: {blown}"))
        .to_owned();
    let again = json(&platform.cli(dispatcher, &blow));
    assert_eq!(
        again["name"], blown["name"],
        "a retried whistle is the same operation"
    );

    // The duty lists name urban management first (it leads) and market supervision.
    let deadline = Instant::now() + Duration::from_secs(30);
    let summoned = loop {
        let shown = json(&platform.cli(
            dispatcher,
            &["--output", "json", "whistle", "show", &operation],
        ));
        let agencies: Vec<String> = shown["summons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|summons| summons["agency"].as_str().map(str::to_owned))
            .collect();
        if !agencies.is_empty() {
            assert_eq!(shown["leadAgency"], "agencies/urban_management", "{shown}");
            break agencies;
        }
        assert!(
            Instant::now() < deadline,
            "nobody was summoned: {shown}\n{}",
            platform.log_tail("enforcement", 40)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        summoned,
        ["agencies/urban_management", "agencies/market_supervision"]
    );

    for agency in ["urban_management", "market_supervision"] {
        let (officer, _unit) = stationed_officer(platform, agency, SUBDISTRICT).await;
        platform.cli(
            &platform.officer(agency),
            &[
                "whistle",
                "report-in",
                &operation,
                "--agency",
                agency,
                "--officer",
                &officer.name,
                "--note",
                "已到现场",
            ],
        );
    }
    let reported = json(&platform.cli(
        dispatcher,
        &["--output", "json", "whistle", "show", &operation],
    ));
    let states: Vec<&str> = reported["summons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|summons| summons["state"].as_str())
        .collect();
    assert_eq!(
        states,
        ["SUMMONS_STATE_REPORTED_IN", "SUMMONS_STATE_REPORTED_IN"],
        "both agencies reported in: {reported}"
    );

    // What each agency did is recorded from its own systems (the CLI has no command for
    // it); then only the lead concludes: the other agency's attempt fails and says so.
    record_actions(platform, &operation).await;
    let conclude = [
        "whistle",
        "conclude",
        &operation,
        "--outcome",
        "resolved",
        "--summary",
        "摊贩已劝离",
    ];
    let refused = platform.cli_in(
        "en",
        &platform.officer("market_supervision"),
        &std::env::temp_dir(),
        &conclude,
    );
    assert!(!refused.status.success(), "only the lead agency concludes");
    let refusal = String::from_utf8_lossy(&refused.stderr);
    assert!(
        refusal.contains("concluding"),
        "the refusal says what was refused: {refusal}"
    );
    platform.cli(&platform.officer("urban_management"), &conclude);

    let listed = table(
        platform,
        "en",
        dispatcher,
        &["whistle", "list", "--subdistrict", SUBDISTRICT],
    );
    let row = listed
        .lines()
        .find(|line| line.contains(&operation))
        .unwrap_or_else(|| panic!("the list shows the operation:\n{listed}"));
    assert!(row.contains("concluded"), "{listed}");
    assert!(
        !listed.contains("OPERATION_STATE_"),
        "labels, not enum names:\n{listed}"
    );
    let chinese = table(
        platform,
        "zh-CN",
        dispatcher,
        &["whistle", "list", "--subdistrict", SUBDISTRICT],
    );
    let chinese_row = chinese
        .lines()
        .find(|line| line.contains(&operation))
        .unwrap_or_else(|| panic!("the zh-CN list shows the operation:\n{chinese}"));
    assert!(
        chinese.contains("状态") && chinese_row.contains("已办结"),
        "zh-CN headers and states:\n{chinese}"
    );
}
