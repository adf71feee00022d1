//! The register of people in difficulty.

use chrono::{DateTime, Duration, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, finish};
use super::words::{self, ProtoWord};
use crate::application::people::{
    self as app, Consent, ListPeople, NewPerson, People, Person, UpdatePerson,
};
use crate::domain::codes::{Collection, organisation_name};
use crate::domain::identity::ResidentIdNumber;
use crate::domain::kinds::{ConsentMethod, DifficultyCategory, Gender};
use crate::domain::{Invalid, text};
use crate::error::{Error, Result};
use crate::store::people::{PersonChanges, PersonRegistrationRow, PersonRow};
use flatgov_grpc::clock::Received;

/// A consent as the protos carry it.
pub fn render_consent(
    method: &str,
    given_at: DateTime<Utc>,
    document_reference: &str,
    guardian_name: &str,
) -> Result<proto::Consent> {
    Ok(proto::Consent {
        method: ConsentMethod::from_stored(method)?.to_proto(),
        give_time: Some(timestamp(given_at)),
        document_reference: document_reference.to_owned(),
        guardian_name: guardian_name.to_owned(),
    })
}

pub(super) fn render(
    row: PersonRow,
    registrations: &[PersonRegistrationRow],
) -> Result<proto::Person> {
    let registrations = registrations
        .iter()
        .filter(|registration| registration.person == row.id)
        .map(|registration| {
            Ok(proto::PersonRegistration {
                organisation: organisation_name(&registration.organisation),
                registered_by: registration.registered_by.clone(),
                register_time: Some(timestamp(registration.registered_at)),
                consent: Some(render_consent(
                    &registration.consent_method,
                    registration.consent_given_at,
                    &registration.consent_document_reference,
                    &registration.consent_guardian_name,
                )?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(proto::Person {
        name: Collection::People.name(row.id),
        full_name: row.full_name,
        id_number_masked: row.id_number_masked,
        gender: match &row.gender {
            Some(gender) => Gender::from_stored(gender)?.to_proto(),
            None => proto::Gender::Unspecified as i32,
        },
        birth_date: row
            .birth_date
            .map(|date| date.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        phone: row.phone,
        address: row.address,
        block_code: row.block_code.unwrap_or_default(),
        categories: words::stored(&row.categories, DifficultyCategory::from_stored)?,
        circumstances: row.circumstances,
        registrations,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
        consent_withdraw_time: row.consent_withdrawn_at.map(timestamp),
        erase_time: row.erased_at.map(timestamp),
        erasure_reason: match row.erasure_reason.as_deref() {
            None => proto::ErasureReason::Unspecified as i32,
            Some("consent_withdrawn") => proto::ErasureReason::ConsentWithdrawn as i32,
            Some("retention_expired") => proto::ErasureReason::RetentionExpired as i32,
            Some(other) => {
                return Err(Error::Corrupt(format!("unknown erasure reason {other}")));
            }
        },
    })
}

fn render_one((row, registrations): Person) -> Result<proto::Person> {
    render(row, &registrations)
}

/// A resident ID number, checked against a birth date no later than
/// tomorrow (a birth today in China is tomorrow in UTC for part of the
/// day).
pub fn parse_id_number(
    value: &str,
    now: DateTime<Utc>,
) -> std::result::Result<ResidentIdNumber, Invalid> {
    ResidentIdNumber::parse(value, (now + Duration::days(1)).date_naive())
}

/// The consent under `field`: required, since the register holds people
/// only with their consent.
pub fn parse_consent(
    violations: &mut Violations,
    field: &str,
    consent: Option<&proto::Consent>,
    now: DateTime<Utc>,
) -> Option<Consent> {
    let Some(consent) = consent else {
        violations.add(
            field,
            "must be recorded: a person's data is held only with their consent",
        );
        return None;
    };
    let method: Option<ConsentMethod> =
        violations.check(format!("{field}.method"), words::required(consent.method));
    let given_at = violations.check(
        format!("{field}.give_time"),
        parse::past_time(consent.give_time.as_ref(), now),
    );
    let document_reference = violations.check(
        format!("{field}.document_reference"),
        text::optional(&consent.document_reference, 200),
    );
    let guardian_name = violations.check(
        format!("{field}.guardian_name"),
        text::optional(&consent.guardian_name, 100),
    );
    if method == Some(ConsentMethod::Written) && document_reference.as_deref() == Some("") {
        violations.add(
            format!("{field}.document_reference"),
            "must name the signed consent form",
        );
    }
    if method == Some(ConsentMethod::Guardian) && guardian_name.as_deref() == Some("") {
        violations.add(
            format!("{field}.guardian_name"),
            "must name the guardian who consented",
        );
    }
    Some(Consent {
        method: method?,
        given_at: given_at?,
        document_reference: document_reference?,
        guardian_name: guardian_name?,
    })
}

fn parse_categories(values: &[i32]) -> std::result::Result<Vec<DifficultyCategory>, Invalid> {
    words::list(values)
}

impl TryFrom<Received<proto::RegisterPersonRequest>> for NewPerson {
    type Error = Error;

    fn try_from(received: Received<proto::RegisterPersonRequest>) -> Result<Self> {
        let Received { request, at: now } = received;
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let full_name = violations.check("full_name", text::required(&request.full_name, 100));
        let id_number = violations.check("id_number", parse_id_number(&request.id_number, now));
        let phone = violations.check("phone", text::phone(&request.phone));
        let address = violations.check("address", text::optional(&request.address, 300));
        let block_code = violations.check("block_code", parse::optional_block(&request.block_code));
        let categories = violations.check("categories", parse_categories(&request.categories));
        let circumstances = violations.check(
            "circumstances",
            text::optional(&request.circumstances, 4000),
        );
        let consent = parse_consent(&mut violations, "consent", request.consent.as_ref(), now);
        finish(violations, || {
            Some(NewPerson {
                full_name: full_name?,
                id_number: id_number?,
                phone: phone?,
                address: address?,
                block_code: block_code?,
                categories: categories?,
                circumstances: circumstances?,
                consent: consent?,
                retry,
            })
        })
    }
}

impl TryFrom<proto::UpdatePersonRequest> for UpdatePerson {
    type Error = Error;

    fn try_from(request: proto::UpdatePersonRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let person = violations.check("name", Collection::People.parse(&request.name));
        let full_name = request
            .full_name
            .as_deref()
            .and_then(|value| violations.check("full_name", text::required(value, 100)));
        let phone = request
            .phone
            .as_deref()
            .and_then(|value| violations.check("phone", text::phone(value)));
        let address = request
            .address
            .as_deref()
            .and_then(|value| violations.check("address", text::optional(value, 300)));
        let block_code = request.block_code.as_deref().and_then(|value| {
            violations
                .check("block_code", parse::optional_block(value))
                .map(|block| block.map(|block| block.as_str().to_owned()))
        });
        let categories = if request.categories.is_empty() {
            None
        } else {
            violations
                .check("categories", parse_categories(&request.categories))
                .map(|categories| {
                    categories
                        .iter()
                        .map(|category| category.as_str().to_owned())
                        .collect()
                })
        };
        let circumstances = request
            .circumstances
            .as_deref()
            .and_then(|value| violations.check("circumstances", text::optional(value, 4000)));
        finish(violations, || {
            Some(UpdatePerson {
                person: person?,
                changes: PersonChanges {
                    full_name,
                    phone,
                    address,
                    block_code,
                    categories,
                    circumstances,
                },
            })
        })
    }
}

impl TryFrom<proto::ListPeopleRequest> for Listing<ListPeople> {
    type Error = Error;

    fn try_from(mut request: proto::ListPeopleRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("people", &request),
            page_size,
            &page_token,
        );
        let registered_by = violations.check(
            "registered_by",
            parse::optional_organisation(&request.registered_by),
        );
        let category = violations.check("category", words::optional(request.category));
        let division = violations.check(
            "division_code",
            parse::optional_division(&request.division_code),
        );
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListPeople {
                    registered_by: registered_by?,
                    category: category?,
                    division: division?,
                    page,
                },
                paging,
            })
        })
    }
}

pub async fn register_person(
    service: &FederationService,
    access: &Access,
    request: proto::RegisterPersonRequest,
) -> Result<proto::Person> {
    let person = NewPerson::try_from(Received::at(request, service.app.now()))?;
    render_one(app::register(&service.app, access, person).await?)
}

pub async fn update_person(
    service: &FederationService,
    access: &Access,
    request: proto::UpdatePersonRequest,
) -> Result<proto::Person> {
    let update = UpdatePerson::try_from(request)?;
    render_one(app::update(&service.app, access, update).await?)
}

pub async fn get_person(
    service: &FederationService,
    access: &Access,
    request: proto::GetPersonRequest,
) -> Result<proto::Person> {
    let mut violations = Violations::new();
    let person = violations.check("name", Collection::People.parse(&request.name));
    let person = finish(violations, || person)?;
    render_one(app::get(&service.app, access, person).await?)
}

pub async fn list_people(
    service: &FederationService,
    access: &Access,
    request: proto::ListPeopleRequest,
) -> Result<proto::ListPeopleResponse> {
    let listing = Listing::<ListPeople>::try_from(request)?;
    let People {
        mut rows,
        registrations,
    } = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| row.id.to_string());
    Ok(proto::ListPeopleResponse {
        people: rows
            .into_iter()
            .map(|row| render(row, &registrations))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
