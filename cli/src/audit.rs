//! `flatgov audit`: the audit trail each service keeps of its own data, read and
//! verified through `flatgov.audit.v1.AuditTrail` on the service's port.

use flatgov_proto::audit::v1 as audit;

use crate::Output;
use crate::connect::{CallContext as _, Session};
use crate::render::{print_rows, to_json};

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Records newest first: who did what, when, with what outcome.
    List {
        /// blocks, duties, cases, enforcement or federation.
        #[arg(long)]
        service: String,
        /// Only records that touched this resource, e.g. cases/0193….
        #[arg(long, default_value = "")]
        resource: String,
        /// At most this many records (all pages are read up to it).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Recomputes the hash chains; exits non-zero naming the first record that was
    /// changed, removed or inserted by hand.
    Verify {
        #[arg(long)]
        service: String,
    },
}

pub async fn run(arguments: &AuditArgs, session: &Session, output: Output) -> anyhow::Result<()> {
    match &arguments.command {
        AuditCommand::List {
            service,
            resource,
            limit,
        } => list(session, service, resource, *limit, output).await,
        AuditCommand::Verify { service } => verify(session, service, output).await,
    }
}

async fn list(
    session: &Session,
    service: &str,
    resource: &str,
    limit: usize,
    output: Output,
) -> anyhow::Result<()> {
    let mut client = session.audit(service)?;
    let mut rows = Vec::new();
    let mut page_token = String::new();
    while rows.len() < limit {
        let page = client
            .list_audit_records(audit::ListAuditRecordsRequest {
                resource: resource.to_owned(),
                page_size: i32::try_from((limit - rows.len()).min(500)).unwrap_or(500),
                page_token: page_token.clone(),
            })
            .await
            .doing("listing audit records")?;
        rows.extend(
            page.records
                .iter()
                .map(|record| to_json(record, "flatgov.audit.v1.AuditRecord")),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    print_rows(
        &rows,
        &[
            "name",
            "time",
            "subject",
            "roles",
            "method",
            "resources",
            "outcome",
            "traceId",
        ],
        output,
    );
    Ok(())
}

async fn verify(session: &Session, service: &str, output: Output) -> anyhow::Result<()> {
    let verification = session
        .audit(service)?
        .verify_audit_trail(audit::VerifyAuditTrailRequest {})
        .await
        .doing("verifying the audit trail")?;
    match output {
        Output::Json => println!(
            "{}",
            to_json(&verification, "flatgov.audit.v1.VerifyAuditTrailResponse")
        ),
        Output::Table if verification.intact => println!(
            "the audit trail of {service} holds: {} records checked",
            verification.records_checked
        ),
        Output::Table => println!(
            "the audit trail of {service} is broken at {}: {}",
            verification.first_broken_record, verification.reason
        ),
    }
    if verification.intact {
        Ok(())
    } else {
        anyhow::bail!(
            "{service}: {} {}",
            verification.first_broken_record,
            verification.reason
        )
    }
}
