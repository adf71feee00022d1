//! Personal data (PIPL): a person's withdrawal of consent, and the export
//! of everything held about one person for an access request.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_proto::federation::v1 as proto;

use super::FederationService;
use super::parse::{self, finish};
use super::people::parse_id_number;
use super::words;
use crate::application::privacy::{self as app, Export, ExportQuery, WithdrawConsent};
use crate::application::support_plans::Plans;
use crate::domain::codes::Collection;
use crate::domain::text;
use crate::error::Result;
use flatgov_grpc::clock::Received;

impl TryFrom<Received<proto::WithdrawConsentRequest>> for WithdrawConsent {
    type Error = crate::error::Error;

    fn try_from(received: Received<proto::WithdrawConsentRequest>) -> Result<Self> {
        let Received { request, at: now } = received;
        let mut violations = Violations::new();
        let person = violations.check("name", Collection::People.parse(&request.name));
        let method = violations.check("method", words::required(request.method));
        let withdrawn_at = violations.check(
            "withdraw_time",
            parse::past_time(request.withdraw_time.as_ref(), now),
        );
        let document_reference = violations.check(
            "document_reference",
            text::optional(&request.document_reference, 200),
        );
        finish(violations, || {
            Some(WithdrawConsent {
                person: person?,
                method: method?,
                withdrawn_at: withdrawn_at?,
                document_reference: document_reference?,
            })
        })
    }
}

impl TryFrom<Received<proto::ExportPersonalDataRequest>> for ExportQuery {
    type Error = crate::error::Error;

    fn try_from(received: Received<proto::ExportPersonalDataRequest>) -> Result<Self> {
        let Received { request, at: now } = received;
        let mut violations = Violations::new();
        let id_number = if request.id_number.trim().is_empty() {
            Some(None)
        } else {
            violations
                .check("id_number", parse_id_number(&request.id_number, now))
                .map(Some)
        };
        let phone = violations
            .check("phone", text::phone(&request.phone))
            .map(|phone| {
                let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
                (!digits.is_empty()).then_some(digits)
            });
        if request.id_number.trim().is_empty() && request.phone.trim().is_empty() {
            violations.add(
                "id_number",
                "name the person by their ID number or phone (at least one)",
            );
        }
        finish(violations, || {
            Some(ExportQuery {
                id_number: id_number?,
                phone: phone?,
            })
        })
    }
}

pub async fn withdraw_consent(
    service: &FederationService,
    access: &Access,
    request: proto::WithdrawConsentRequest,
) -> Result<proto::Person> {
    let withdrawal = WithdrawConsent::try_from(Received::at(request, service.app.now()))?;
    let (row, registrations) = app::withdraw_consent(&service.app, access, withdrawal).await?;
    super::people::render(row, &registrations)
}

pub async fn export_personal_data(
    service: &FederationService,
    access: &Access,
    request: proto::ExportPersonalDataRequest,
) -> Result<proto::ExportPersonalDataResponse> {
    let query = ExportQuery::try_from(Received::at(request, service.app.now()))?;
    let Export {
        people,
        registrations,
        assessments,
        plans,
        measures,
        deliveries,
        visits,
    } = app::export(&service.app, access, &query).await?;
    Ok(proto::ExportPersonalDataResponse {
        people: people
            .into_iter()
            .map(|row| super::people::render(row, &registrations))
            .collect::<Result<_>>()?,
        assessments: assessments
            .into_iter()
            .map(super::assessments::render)
            .collect::<Result<_>>()?,
        support_plans: super::support_plans::render(Plans {
            rows: plans,
            measures,
            deliveries,
        })?,
        visits: visits
            .into_iter()
            .map(super::support_plans::render_visit)
            .collect::<Result<_>>()?,
    })
}
