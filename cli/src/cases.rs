//! `flatgov case …`: report, follow and move cases through the loop.

use flatgov_proto::cases::v1 as api;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;

use crate::Output;
use crate::connect::{CallContext as _, Session};
use crate::render::{parse_enum, print_message, print_rows, to_json};

#[derive(Debug, clap::Args)]
pub struct CaseArgs {
    #[command(subcommand)]
    command: CaseCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CaseCommand {
    /// Report a case (as a resident, a governor on patrol, the hotline, …).
    Report(ReportArgs),
    /// Show one case.
    Show { name: String },
    /// List cases, newest first.
    List(ListArgs),
    /// Every recorded transition of a case: who, when, why.
    History { name: String },
    /// Accept a dispatched case (its assignee).
    Accept { name: String },
    /// Start work on an accepted case.
    Start { name: String },
    /// Mark a case resolved.
    Resolve {
        name: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Verify a resolved case (the block's supervisor or the platform, not the resolver).
    Verify {
        name: String,
        /// Verification failed: send the case back for rework.
        #[arg(long)]
        fail: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Rate the result as the resident: satisfied, basically_satisfied or unsatisfied.
    Rate {
        name: String,
        #[arg(long)]
        rating: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Escalate a case one tier (front line → meeting → whistle).
    Escalate {
        name: String,
        #[arg(long)]
        reason: String,
        /// Agencies to summon when escalating to the whistle (department codes).
        #[arg(long = "agency")]
        agencies: Vec<String>,
    },
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// problem, hazard, dispute, errand or needy_support.
    #[arg(long, default_value = "problem")]
    kind: String,
    /// resident_app, hotline_12345, patrol, video_alert, walk_in or referral.
    #[arg(long, default_value = "resident_app")]
    channel: String,
    /// Where: longitude (WGS84).
    #[arg(long, requires = "lat", allow_hyphen_values = true)]
    lon: Option<f64>,
    /// Where: latitude (WGS84).
    #[arg(long, requires = "lon", allow_hyphen_values = true)]
    lat: Option<f64>,
    /// Or the block, e.g. blocks/430302001001017.
    #[arg(long, default_value = "")]
    block: String,
    /// A matter code from the catalogue, e.g. broken_street_light; empty for triage to classify.
    #[arg(long, default_value = "")]
    matter: String,
    #[arg(long)]
    description: String,
    #[arg(long)]
    reporter_name: Option<String>,
    #[arg(long)]
    reporter_phone: Option<String>,
    #[arg(long)]
    anonymous: bool,
    #[arg(long)]
    urgent: bool,
    /// Makes a retried report return the first case.
    #[arg(long, default_value = "")]
    request_id: String,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// e.g. dispatched, in_progress, closed.
    #[arg(long)]
    state: Option<String>,
    #[arg(long, default_value = "")]
    subdistrict: String,
    #[arg(long, default_value = "")]
    block: String,
    #[arg(long, default_value = "")]
    assignee: String,
    #[arg(long)]
    overdue: bool,
    #[arg(long, default_value_t = 50)]
    page_size: i32,
    #[arg(long, default_value = "")]
    page_token: String,
}

const CASE: &str = "flatgov.cases.v1.Case";

pub async fn run(arguments: &CaseArgs, session: &Session, output: Output) -> anyhow::Result<()> {
    let mut cases = session.cases()?;
    match &arguments.command {
        CaseCommand::Report(report) => {
            let kind = parse_enum(
                "CASE_KIND",
                &report.kind,
                api::CaseKind::from_str_name,
                &["problem", "hazard", "dispute", "errand", "needy_support"],
            )
            .map_err(anyhow::Error::msg)?;
            let channel = parse_enum(
                "CHANNEL",
                &report.channel,
                api::Channel::from_str_name,
                &[
                    "resident_app",
                    "hotline_12345",
                    "patrol",
                    "video_alert",
                    "walk_in",
                    "referral",
                ],
            )
            .map_err(anyhow::Error::msg)?;
            let reporter = (report.reporter_name.is_some() || report.reporter_phone.is_some())
                .then(|| api::Contact {
                    name: report.reporter_name.clone().unwrap_or_default(),
                    phone: report.reporter_phone.clone().unwrap_or_default(),
                });
            let response = cases
                .report_case(api::ReportCaseRequest {
                    request_id: report.request_id.clone(),
                    kind: kind as i32,
                    channel: channel as i32,
                    location: report
                        .lon
                        .zip(report.lat)
                        .map(|(longitude, latitude)| GeoPoint {
                            longitude,
                            latitude,
                            ..Default::default()
                        }),
                    block: report.block.clone(),
                    matter_code: report.matter.clone(),
                    description: report.description.clone(),
                    attachments: Vec::new(),
                    reporter,
                    anonymous: report.anonymous,
                    urgent: report.urgent,
                })
                .await
                .doing("reporting the case")?;
            if response.me_too && output == Output::Table {
                eprintln!("linked as a \"me too\" report to an open case");
            }
            match &response.case {
                Some(case) if output == Output::Table => print_message(case, CASE, output),
                _ => print_message(&response, "flatgov.cases.v1.ReportCaseResponse", output),
            }
        }
        CaseCommand::Show { name } => {
            let case = cases
                .get_case(api::GetCaseRequest { name: name.clone() })
                .await
                .doing("reading the case")?;
            print_message(&case, CASE, output);
        }
        CaseCommand::List(list) => {
            let state = match &list.state {
                Some(state) => parse_enum(
                    "CASE_STATE",
                    state,
                    api::CaseState::from_str_name,
                    &[
                        "reported",
                        "triaged",
                        "dispatched",
                        "accepted",
                        "in_progress",
                        "resolved",
                        "verified",
                        "rated",
                        "parked",
                        "closed",
                    ],
                )
                .map_err(anyhow::Error::msg)? as i32,
                None => 0,
            };
            let response = cases
                .list_cases(api::ListCasesRequest {
                    page_size: list.page_size,
                    page_token: list.page_token.clone(),
                    state,
                    subdistrict_code: list.subdistrict.clone(),
                    block: list.block.clone(),
                    assignee: list.assignee.clone(),
                    overdue_only: list.overdue,
                    ..Default::default()
                })
                .await
                .doing("listing cases")?;
            let rows: Vec<serde_json::Value> = response
                .cases
                .iter()
                .map(|case| to_json(case, CASE))
                .collect();
            print_rows(
                &rows,
                &[
                    "name",
                    "state",
                    "tier",
                    "matterCode",
                    "block",
                    "assignee",
                    "overdue",
                ],
                output,
            );
            if !response.next_page_token.is_empty() && output == Output::Table {
                eprintln!("more: --page-token {}", response.next_page_token);
            }
        }
        CaseCommand::History { name } => {
            let history = cases
                .get_case_history(api::GetCaseHistoryRequest { name: name.clone() })
                .await
                .doing("reading the history")?;
            let rows: Vec<serde_json::Value> = history
                .records
                .iter()
                .map(|record| to_json(record, "flatgov.cases.v1.CaseRecord"))
                .collect();
            print_rows(
                &rows,
                &[
                    "sequence",
                    "occurredAt",
                    "fromState",
                    "toState",
                    "action",
                    "actor",
                    "reason",
                ],
                output,
            );
        }
        CaseCommand::Accept { name } => {
            let case = cases
                .accept_case(api::AcceptCaseRequest { name: name.clone() })
                .await
                .doing("accepting")?;
            print_message(&case, CASE, output);
        }
        CaseCommand::Start { name } => {
            let case = cases
                .start_work(api::StartWorkRequest { name: name.clone() })
                .await
                .doing("starting work")?;
            print_message(&case, CASE, output);
        }
        CaseCommand::Resolve { name, note } => {
            let case = cases
                .resolve_case(api::ResolveCaseRequest {
                    name: name.clone(),
                    resolution_note: note.clone(),
                })
                .await
                .doing("resolving")?;
            print_message(&case, CASE, output);
        }
        CaseCommand::Verify { name, fail, reason } => {
            let case = cases
                .verify_case(api::VerifyCaseRequest {
                    name: name.clone(),
                    passed: !fail,
                    reason: reason.clone(),
                })
                .await
                .doing("verifying")?;
            print_message(&case, CASE, output);
        }
        CaseCommand::Rate {
            name,
            rating,
            comment,
        } => {
            let rating = parse_enum(
                "RATING",
                rating,
                api::Rating::from_str_name,
                &["satisfied", "basically_satisfied", "unsatisfied"],
            )
            .map_err(anyhow::Error::msg)?;
            let case = cases
                .rate_case(api::RateCaseRequest {
                    name: name.clone(),
                    rating: rating as i32,
                    comment: comment.clone(),
                })
                .await
                .doing("rating")?;
            print_message(&case, CASE, output);
        }
        CaseCommand::Escalate {
            name,
            reason,
            agencies,
        } => {
            let case = cases
                .escalate_case(api::EscalateCaseRequest {
                    name: name.clone(),
                    reason: reason.clone(),
                    agencies: agencies.clone(),
                })
                .await
                .doing("escalating")?;
            print_message(&case, CASE, output);
        }
    }
    Ok(())
}
