//! ExportReporterData: everything the cases service holds under one phone,
//! for an access request under PIPL art. 45. Granted to district
//! administrators only (`crate::policy`); the audit trail records every
//! export with the cases it returned, never the phone asked with.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_proto::cases::v1 as proto;

use super::CaseService;
use crate::convert;
use crate::domain::lifecycle::{CaseState, Channel};
use crate::error::Error;
use crate::store::retention as store;

/// The phone's digits: 5 to 32 characters of digits, spaces, hyphens and a
/// leading `+`, as a contact's phone is accepted at intake.
fn phone_digits(phone: &str) -> Result<String, &'static str> {
    let text = phone.trim();
    if text.is_empty() {
        return Err("name the reporter by the phone they gave");
    }
    let allowed = text.chars().enumerate().all(|(position, character)| {
        character.is_ascii_digit()
            || matches!(character, ' ' | '-')
            || (character == '+' && position == 0)
    });
    if !allowed || !(5..=32).contains(&text.chars().count()) {
        return Err("must be 5 to 32 digits, spaces or hyphens, with an optional leading +");
    }
    Ok(text.chars().filter(char::is_ascii_digit).collect())
}

pub(super) async fn export_reporter_data(
    service: &CaseService,
    access: &Access,
    request: proto::ExportReporterDataRequest,
) -> Result<proto::ExportReporterDataResponse, Error> {
    let mut violations = Violations::new();
    let digits = violations.check("phone", phone_digits(&request.phone));
    violations.finish()?;
    let digits = digits.ok_or_else(|| Error::Internal("a parsed phone went missing".into()))?;
    let mut connection = service.shared.pool.acquire().await?;
    let rows = store::reported_with_phone(&mut connection, &digits).await?;
    let mut reports = Vec::with_capacity(rows.len());
    for row in rows {
        let case = format!("cases/{}", row.case_id);
        access.audit().resource(case.clone());
        let state: CaseState = row
            .state
            .parse()
            .map_err(|_| Error::Internal(format!("unknown stored case state {}", row.state)))?;
        let channel: Channel = row
            .channel
            .parse()
            .map_err(|_| Error::Internal(format!("unknown stored channel {}", row.channel)))?;
        reports.push(proto::ReportedWithContact {
            case,
            me_too: row.me_too,
            contact: Some(proto::Contact {
                name: row.contact_name,
                phone: row.contact_phone,
            }),
            description: row.description,
            report_time: Some(convert::timestamp(row.reported_at)),
            channel: convert::channel(channel) as i32,
            state: convert::case_state(state) as i32,
        });
    }
    tracing::info!(
        reports = reports.len(),
        "reporter data exported for an access request"
    );
    Ok(proto::ExportReporterDataResponse { reports })
}
