//! `flatgov privacy export`: everything the platform holds about one
//! person, for an access request under the Personal Information Protection
//! Law (art. 45). It asks each service that keeps personal data through its
//! own export RPC (granted to district administrators only, and audited by
//! each service with the records it returned):
//!
//! - federation: the needy register's records found by the ID number or
//!   the phone, with their assessments, support plans and visits;
//! - cases: every report whose contact has the phone — the one given, and
//!   those on the federation records found, since the cases service keeps
//!   no ID numbers.
//!
//! A phone on a needy record may be a relative's or a guardian's, and the
//! reports found through it then are that person's words. The document
//! lists those reports under `review.found_through_recorded_phones` (and
//! says so on stderr), so the officer answering the request checks them
//! before they are released.
//!
//! The mediation service is not asked yet (its parties are not exported).

use std::collections::BTreeSet;

use flatgov_proto::cases::v1 as cases;
use flatgov_proto::federation::v1 as federation;

use crate::Output;
use crate::connect::{CallContext as _, Session};
use crate::render::to_json;

#[derive(Debug, clap::Args)]
pub struct PrivacyArgs {
    #[command(subcommand)]
    command: PrivacyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PrivacyCommand {
    /// Everything held about one person, as one JSON document on stdout:
    /// `{"person": {...asked with...}, "federation": {...}, "cases": {...}}`.
    Export {
        /// The person's 18-character resident ID number.
        #[arg(long, required_unless_present = "phone")]
        id_number: Option<String>,
        /// A phone number the person gave.
        #[arg(long)]
        phone: Option<String>,
    },
}

pub async fn run(arguments: &PrivacyArgs, session: &Session, output: Output) -> anyhow::Result<()> {
    match &arguments.command {
        PrivacyCommand::Export { id_number, phone } => {
            export(session, id_number.as_deref(), phone.as_deref(), output).await
        }
    }
}

async fn export(
    session: &Session,
    id_number: Option<&str>,
    phone: Option<&str>,
    output: Output,
) -> anyhow::Result<()> {
    let held = session
        .federation()?
        .export_personal_data(federation::ExportPersonalDataRequest {
            id_number: id_number.unwrap_or_default().to_owned(),
            phone: phone.unwrap_or_default().to_owned(),
        })
        .await
        .doing("exporting the federation's records")?;
    let given: BTreeSet<String> = phone.map(str::to_owned).into_iter().collect();
    let recorded: BTreeSet<String> = held
        .people
        .iter()
        .map(|person| person.phone.clone())
        .filter(|phone| !phone.is_empty() && !given.contains(phone))
        .collect();
    let phones: BTreeSet<String> = given.union(&recorded).cloned().collect();
    let mut reports = Vec::new();
    let mut to_review = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut cases_client = session.cases()?;
    for phone in &phones {
        let found = cases_client
            .export_reporter_data(cases::ExportReporterDataRequest {
                phone: phone.clone(),
            })
            .await
            .doing("exporting the cases service's reports")?;
        for report in found.reports {
            let key = (
                report.case.clone(),
                report.me_too,
                report.report_time.map(|time| time.seconds),
            );
            if recorded.contains(phone) {
                to_review.insert(report.case.clone());
            }
            if seen.insert(key) {
                reports.push(report);
            }
        }
    }
    if !to_review.is_empty() {
        eprintln!(
            "{} report(s) were found through a phone on a needy record, not one the person gave: \
             check it is their own before releasing them (review.found_through_recorded_phones)",
            to_review.len()
        );
    }
    let document = serde_json::json!({
        "person": {
            "id_number": id_number.unwrap_or_default(),
            "phones": phones,
        },
        "review": {
            "found_through_recorded_phones": to_review,
        },
        "federation": to_json(&held, "flatgov.federation.v1.ExportPersonalDataResponse"),
        "cases": to_json(
            &cases::ExportReporterDataResponse { reports },
            "flatgov.cases.v1.ExportReporterDataResponse"
        ),
    });
    match output {
        Output::Json => println!("{document}"),
        Output::Table => println!("{}", serde_json::to_string_pretty(&document)?),
    }
    Ok(())
}
