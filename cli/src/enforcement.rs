//! `flatgov whistle …`: blow the whistle and follow joint operations.

use flatgov_proto::enforcement::v1 as api;

use crate::Output;
use crate::connect::{CallContext as _, Session};
use crate::render::{parse_enum, print_message, print_rows, to_json};

#[derive(Debug, clap::Args)]
pub struct WhistleArgs {
    #[command(subcommand)]
    command: WhistleCommand,
}

#[derive(Debug, clap::Subcommand)]
enum WhistleCommand {
    /// Blow the whistle: open a joint operation and summon agencies.
    Blow {
        #[arg(long)]
        subdistrict: String,
        #[arg(long, default_value = "")]
        block: String,
        #[arg(long)]
        matter: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Agencies to summon (department codes); the duty lists decide when omitted.
        #[arg(long = "agency")]
        agencies: Vec<String>,
        #[arg(long, default_value = "")]
        lead: String,
        #[arg(long)]
        urgent: bool,
        /// The case the whistle is for, e.g. cases/…
        #[arg(long = "case", default_value = "")]
        case_name: String,
        #[arg(long, default_value = "")]
        request_id: String,
    },
    /// Show one operation.
    Show { name: String },
    /// List operations.
    List {
        #[arg(long, default_value = "")]
        agency: String,
        #[arg(long, default_value = "")]
        subdistrict: String,
        #[arg(long)]
        overdue: bool,
        #[arg(long, default_value_t = 50)]
        page_size: i32,
    },
    /// Report in for an agency (报到), naming the officers sent.
    ReportIn {
        operation: String,
        #[arg(long)]
        agency: String,
        #[arg(long = "officer")]
        officers: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Conclude an operation as its lead agency: resolved, partially_resolved, referred or no_violation.
    Conclude {
        operation: String,
        #[arg(long)]
        outcome: String,
        #[arg(long, default_value = "")]
        summary: String,
    },
}

const OPERATION: &str = "flatgov.enforcement.v1.Operation";

pub async fn run(arguments: &WhistleArgs, session: &Session, output: Output) -> anyhow::Result<()> {
    let mut enforcement = session.enforcement()?;
    match &arguments.command {
        WhistleCommand::Blow {
            subdistrict,
            block,
            matter,
            description,
            agencies,
            lead,
            urgent,
            case_name,
            request_id,
        } => {
            let operation = enforcement
                .blow_whistle(api::BlowWhistleRequest {
                    request_id: request_id.clone(),
                    case: case_name.clone(),
                    subdistrict_code: subdistrict.clone(),
                    block_code: block.clone(),
                    location: None,
                    matter_code: matter.clone(),
                    description: description.clone(),
                    agencies: agencies.clone(),
                    lead_agency: lead.clone(),
                    urgent: *urgent,
                })
                .await
                .doing("blowing the whistle")?;
            print_message(&operation, OPERATION, output);
        }
        WhistleCommand::Show { name } => {
            let operation = enforcement
                .get_operation(api::GetOperationRequest { name: name.clone() })
                .await
                .doing("reading the operation")?;
            print_message(&operation, OPERATION, output);
        }
        WhistleCommand::List {
            agency,
            subdistrict,
            overdue,
            page_size,
        } => {
            let response = enforcement
                .list_operations(api::ListOperationsRequest {
                    page_size: *page_size,
                    agency: agency.clone(),
                    subdistrict_code: subdistrict.clone(),
                    overdue_only: *overdue,
                    ..Default::default()
                })
                .await
                .doing("listing operations")?;
            let rows: Vec<serde_json::Value> = response
                .operations
                .iter()
                .map(|operation| to_json(operation, OPERATION))
                .collect();
            print_rows(
                &rows,
                &[
                    "name",
                    "state",
                    "subdistrictCode",
                    "matterCode",
                    "leadAgency",
                    "case",
                ],
                output,
            );
        }
        WhistleCommand::ReportIn {
            operation,
            agency,
            officers,
            note,
        } => {
            let operation = enforcement
                .report_in(api::ReportInRequest {
                    operation: operation.clone(),
                    agency: agency.clone(),
                    officers: officers.clone(),
                    unit: String::new(),
                    note: note.clone(),
                })
                .await
                .doing("reporting in")?;
            print_message(&operation, OPERATION, output);
        }
        WhistleCommand::Conclude {
            operation,
            outcome,
            summary,
        } => {
            let outcome = parse_enum(
                "OPERATION_OUTCOME",
                outcome,
                api::OperationOutcome::from_str_name,
                &["resolved", "partially_resolved", "referred", "no_violation"],
            )
            .map_err(anyhow::Error::msg)?;
            let operation = enforcement
                .conclude_operation(api::ConcludeOperationRequest {
                    operation: operation.clone(),
                    outcome: outcome as i32,
                    summary: summary.clone(),
                })
                .await
                .doing("concluding")?;
            print_message(&operation, OPERATION, output);
        }
    }
    Ok(())
}
