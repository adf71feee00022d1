//! `flatgov notice …`: block notices to the blocks' WeCom groups, the
//! groups' robots, and the gateways feedback to reporters goes through.

mod sink;

use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::notices::v1 as api;

use crate::Output;
use crate::connect::{CallContext as _, Connection, Session};
use crate::render::{parse_enum, print_message, print_rows, to_json};

#[derive(Debug, clap::Args)]
pub struct NoticeArgs {
    #[command(subcommand)]
    command: NoticeCommand,
}

#[derive(Debug, clap::Subcommand)]
enum NoticeCommand {
    /// Send a notice to a block, a community's blocks or a subdistrict's
    /// blocks; prints the new notice's name alone on stdout.
    Send {
        /// `blocks/<code>`.
        #[arg(long, conflicts_with_all = ["community", "subdistrict"], required_unless_present_any = ["community", "subdistrict"])]
        block: Option<String>,
        /// `communities/<code>`.
        #[arg(long, conflicts_with = "subdistrict")]
        community: Option<String>,
        /// `subdistricts/<code>`.
        #[arg(long)]
        subdistrict: Option<String>,
        /// flood, drowning_prevention, epidemic, outage, activity or policy.
        #[arg(long)]
        category: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        body: String,
        #[arg(long, default_value = "")]
        request_id: String,
    },
    /// The notices sent to a block, newest first.
    List {
        /// `blocks/<code>`.
        #[arg(long)]
        block: String,
        #[arg(long, default_value_t = 50)]
        page_size: i32,
    },
    /// A notice with its delivery to each block, as a table.
    Show { name: String },
    /// Block groups' WeCom robots.
    Robots {
        #[command(subcommand)]
        command: RobotCommand,
    },
    /// The gateways feedback to reporters goes through.
    Gateways {
        #[command(subcommand)]
        command: GatewayCommand,
    },
    /// What a case's reporter was told: milestone, gateway, state, attempts.
    Feedback {
        /// `cases/<id>`.
        case: String,
    },
    /// A district's feedback templates: which milestones' messages its
    /// reporters receive, and in what words.
    Templates {
        #[command(subcommand)]
        command: TemplateCommand,
    },
    /// Run a local HTTP server that behaves like a WeCom group robot
    /// endpoint: answers errcode 0 (45009 past 20 messages a minute per
    /// key), prints each message it takes and shows the last ones at `/`.
    /// Register robots at http://<listen>/cgi-bin/webhook/send?key=<key>.
    Sink {
        /// The address to listen on (port 0: any free port, printed).
        #[arg(long, default_value = "127.0.0.1:8099")]
        listen: String,
        /// How many of the last messages `/` and `/messages` show.
        #[arg(long, default_value_t = 200)]
        keep: usize,
        /// Messages a key may send in any minute (WeCom's limit is 20).
        #[arg(long, default_value_t = sink::WECOM_LIMIT_PER_MINUTE)]
        per_minute: usize,
    },
}

#[derive(Debug, clap::Subcommand)]
enum TemplateCommand {
    /// Every milestone's template in a district.
    List {
        /// `districts/<code>`.
        #[arg(long, default_value = "districts/430302")]
        district: String,
    },
    /// Switch a milestone's message off or on, or give it the district's
    /// own text (placeholders {case_number}, {handler}, {closure}).
    Set {
        /// `districts/<code>/feedbackTemplates/<milestone>` (received,
        /// accepted, resolved, closed, reopened, return_visit).
        name: String,
        /// Do not send this message to the district's reporters.
        #[arg(long)]
        off: bool,
        /// The district's own text; without it, the built-in zh-CN text.
        #[arg(long, default_value = "")]
        text: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum RobotCommand {
    /// Register (or replace) a block group's robot; the URL holds its key
    /// and is never shown again. With --parent, every active block under
    /// it gets a robot, `{block}` in the URL standing for its code.
    Set {
        /// `blocks/<code>`.
        #[arg(long, conflicts_with = "parent", required_unless_present = "parent")]
        block: Option<String>,
        /// `districts/…`, `subdistricts/…` or `communities/…`: every block
        /// of the block registry's active generation under it.
        #[arg(long)]
        parent: Option<String>,
        /// The webhook as WeCom shows it, …/cgi-bin/webhook/send?key=…
        #[arg(long)]
        url: String,
    },
    /// The robots under a division.
    List {
        /// `blocks/…`, `communities/…`, `subdistricts/…` or `districts/…`.
        #[arg(long, default_value = "districts/430302")]
        parent: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum GatewayCommand {
    /// Register (or replace) a gateway: `gateways/default`, or one named
    /// after the case channel it serves (`gateways/hotline_12345`).
    Set {
        name: String,
        /// signed_webhook or wecom_robot.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        url: String,
        /// The Standard Webhooks secret (whsec_…), signed webhooks only.
        #[arg(
            long,
            default_value = "",
            env = "FLATGOV_GATEWAY_SECRET",
            hide_env_values = true
        )]
        secret: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Every gateway, without URLs' keys or secrets.
    List,
}

const NOTICE: &str = "flatgov.notices.v1.Notice";
const ROBOT: &str = "flatgov.notices.v1.BlockRobot";
const GATEWAY: &str = "flatgov.notices.v1.Gateway";
const DELIVERY: &str = "flatgov.notices.v1.BlockDelivery";
const FEEDBACK: &str = "flatgov.notices.v1.Feedback";
const TEMPLATE: &str = "flatgov.notices.v1.FeedbackTemplate";

/// Runs a `flatgov notice …` command: the sink needs no session.
pub async fn run_command(
    arguments: &NoticeArgs,
    connection: &Connection,
    output: Output,
) -> anyhow::Result<()> {
    if let NoticeCommand::Sink {
        listen,
        keep,
        per_minute,
    } = &arguments.command
    {
        return sink::run(listen, *keep, *per_minute, output).await;
    }
    let session = Session::open(connection)?;
    run(arguments, &session, output).await
}

async fn run(arguments: &NoticeArgs, session: &Session, output: Output) -> anyhow::Result<()> {
    let mut notices = session.notices()?;
    match &arguments.command {
        NoticeCommand::Send {
            block,
            community,
            subdistrict,
            category,
            title,
            body,
            request_id,
        } => {
            let audience = block
                .as_ref()
                .or(community.as_ref())
                .or(subdistrict.as_ref())
                .cloned()
                .unwrap_or_default();
            let category = parse_enum(
                "NOTICE_CATEGORY",
                category,
                api::NoticeCategory::from_str_name,
                &[
                    "flood",
                    "drowning_prevention",
                    "epidemic",
                    "outage",
                    "activity",
                    "policy",
                ],
            )
            .map_err(anyhow::Error::msg)?;
            let notice = notices
                .create_notice(api::CreateNoticeRequest {
                    request_id: request_id.clone(),
                    audience,
                    category: category as i32,
                    title: title.clone(),
                    body: body.clone(),
                    ..Default::default()
                })
                .await
                .doing("sending the notice")?;
            match output {
                Output::Table => println!("{}", notice.name),
                Output::Json => print_message(&notice, NOTICE, output),
            }
        }
        NoticeCommand::List { block, page_size } => {
            let response = notices
                .list_notices(api::ListNoticesRequest {
                    block: block.clone(),
                    page_size: *page_size,
                    page_token: String::new(),
                })
                .await
                .doing("listing notices")?;
            let rows: Vec<serde_json::Value> = response
                .notices
                .iter()
                .map(|notice| to_json(notice, NOTICE))
                .collect();
            print_rows(
                &rows,
                &["name", "category", "title", "audience", "createTime"],
                output,
            );
        }
        NoticeCommand::Show { name } => {
            let notice = notices
                .get_notice(api::GetNoticeRequest { name: name.clone() })
                .await
                .doing("reading the notice")?;
            match output {
                Output::Json => print_message(&notice, NOTICE, output),
                Output::Table => {
                    println!("{}  {}  {}", notice.name, notice.audience, notice.title);
                    let rows: Vec<serde_json::Value> = notice
                        .deliveries
                        .iter()
                        .map(|delivery| to_json(delivery, DELIVERY))
                        .collect();
                    print_rows(
                        &rows,
                        &[
                            "block",
                            "state",
                            "partsSent",
                            "parts",
                            "attempts",
                            "note",
                            "deliveredTime",
                        ],
                        output,
                    );
                }
            }
        }
        NoticeCommand::Robots { command } => match command {
            RobotCommand::Set {
                block: Some(block),
                url,
                ..
            } => {
                let robot = notices
                    .set_block_robot(api::SetBlockRobotRequest {
                        block: block.clone(),
                        webhook_url: url.clone(),
                    })
                    .await
                    .doing("setting the robot")?;
                print_message(&robot, ROBOT, output);
            }
            RobotCommand::Set {
                parent: Some(parent),
                url,
                ..
            } => {
                if !url.contains("{block}") {
                    anyhow::bail!(
                        "--url must hold {{block}} with --parent (each block's robot needs its own key)"
                    );
                }
                let codes = active_blocks(session, parent).await?;
                for code in &codes {
                    notices
                        .set_block_robot(api::SetBlockRobotRequest {
                            block: format!("blocks/{code}"),
                            webhook_url: url.replace("{block}", code),
                        })
                        .await
                        .doing("setting the robot")?;
                }
                match output {
                    Output::Table => println!("{} robots set under {parent}", codes.len()),
                    Output::Json => println!(
                        "{}",
                        serde_json::json!({"parent": parent, "robotsSet": codes.len()})
                    ),
                }
            }
            RobotCommand::Set { .. } => anyhow::bail!("give --block or --parent"),
            RobotCommand::List { parent } => {
                let response = notices
                    .list_block_robots(api::ListBlockRobotsRequest {
                        parent: parent.clone(),
                    })
                    .await
                    .doing("listing robots")?;
                let rows: Vec<serde_json::Value> = response
                    .robots
                    .iter()
                    .map(|robot| to_json(robot, ROBOT))
                    .collect();
                print_rows(
                    &rows,
                    &["block", "state", "urlHint", "brokenReason"],
                    output,
                );
            }
        },
        NoticeCommand::Gateways { command } => match command {
            GatewayCommand::Set {
                name,
                kind,
                url,
                secret,
                description,
            } => {
                let kind = parse_enum(
                    "GATEWAY_KIND",
                    kind,
                    api::GatewayKind::from_str_name,
                    &["signed_webhook", "wecom_robot"],
                )
                .map_err(anyhow::Error::msg)?;
                let gateway = notices
                    .set_gateway(api::SetGatewayRequest {
                        name: name.clone(),
                        kind: kind as i32,
                        url: url.clone(),
                        secret: secret.clone(),
                        description: description.clone(),
                    })
                    .await
                    .doing("setting the gateway")?;
                print_message(&gateway, GATEWAY, output);
            }
            GatewayCommand::List => {
                let response = notices
                    .list_gateways(api::ListGatewaysRequest {})
                    .await
                    .doing("listing gateways")?;
                let rows: Vec<serde_json::Value> = response
                    .gateways
                    .iter()
                    .map(|gateway| to_json(gateway, GATEWAY))
                    .collect();
                print_rows(&rows, &["name", "kind", "urlHint", "description"], output);
            }
        },
        NoticeCommand::Templates { command } => match command {
            TemplateCommand::List { district } => {
                let response = notices
                    .list_feedback_templates(api::ListFeedbackTemplatesRequest {
                        parent: district.clone(),
                    })
                    .await
                    .doing("listing the feedback templates")?;
                let rows: Vec<serde_json::Value> = response
                    .templates
                    .iter()
                    .map(|template| to_json(template, TEMPLATE))
                    .collect();
                print_rows(
                    &rows,
                    &["milestone", "enabled", "custom", "text", "updatedBy"],
                    output,
                );
            }
            TemplateCommand::Set { name, off, text } => {
                let template = notices
                    .set_feedback_template(api::SetFeedbackTemplateRequest {
                        name: name.clone(),
                        disabled: *off,
                        text: text.clone(),
                    })
                    .await
                    .doing("setting the feedback template")?;
                print_message(&template, TEMPLATE, output);
            }
        },
        NoticeCommand::Sink { .. } => {
            anyhow::bail!("the sink runs through run_command, without a session")
        }
        NoticeCommand::Feedback { case } => {
            let response = notices
                .list_feedback(api::ListFeedbackRequest { case: case.clone() })
                .await
                .doing("reading the case's feedback")?;
            let rows: Vec<serde_json::Value> = response
                .feedback
                .iter()
                .map(|feedback| to_json(feedback, FEEDBACK))
                .collect();
            print_rows(
                &rows,
                &[
                    "milestone",
                    "state",
                    "gateway",
                    "attempts",
                    "note",
                    "deliveredTime",
                ],
                output,
            );
        }
    }
    Ok(())
}

/// The codes of the active generation's blocks under `parent`.
async fn active_blocks(session: &Session, parent: &str) -> anyhow::Result<Vec<String>> {
    let mut registry = session.blocks()?;
    let mut codes = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = registry
            .list_blocks(blocks::ListBlocksRequest {
                parent: parent.to_owned(),
                page_size: 500,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .doing("listing the blocks")?;
        codes.extend(page.blocks.into_iter().map(|block| block.code));
        if page.next_page_token.is_empty() {
            return Ok(codes);
        }
        page_token = page.next_page_token;
    }
}
