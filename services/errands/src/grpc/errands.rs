//! Errands: parse, call the use case, render. Violations name the field and
//! what is wrong with it, never the value: a resident's name, phone, ID
//! number or a document's reference is not echoed back.

use flatgov_auth::Role;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::{ListQuery, PageRequest, TimeKey};
use flatgov_grpc::request_id::RequestId;
use flatgov_proto::errands::v1 as proto;
use flatgov_vocabulary::{BlockCode, DivisionCode, IdNumber, MatterCode, PhoneNumber};
use uuid::Uuid;

use super::ErrandsService;
use super::render;
use crate::application::errands::{
    self, ListErrands, NewDocument, NewResident, Outcome, RequestErrand,
};
use crate::contract;
use crate::domain::DecisionResult;
use crate::error::Error;
use crate::store::ErrandFilter;

const MAX_NAME_CHARS: usize = 100;
const MAX_REFERENCE_CHARS: usize = 500;
const MAX_REASON_CHARS: usize = 2000;
const MAX_DOCUMENTS: usize = 50;

/// A text that must be there and at most `max_chars` long, trimmed. The
/// refusal describes the rule, never the text.
fn required_text(value: &str, max_chars: usize) -> Result<String, String> {
    let text = value.trim();
    if text.is_empty() || text.chars().count() > max_chars {
        return Err(format!("must have 1-{max_chars} characters"));
    }
    Ok(text.to_owned())
}

/// `errands/{uuid}`; a name that cannot be one is answered as one that does
/// not exist.
fn errand_id(name: &str) -> Result<Uuid, Error> {
    flatgov_vocabulary::parse_id::<Uuid>(name, "errands").map_err(|_| Error::not_found(name))
}

fn is_resident(access: &Access) -> bool {
    access
        .caller()
        .is_some_and(|caller| caller.has_role(Role::Resident))
}

fn parse_request(
    access: &Access,
    request: &proto::RequestErrandRequest,
) -> Result<RequestErrand, Error> {
    let mut violations = Violations::new();
    let matter = violations.check("matter", MatterCode::parse(request.matter.trim()));
    let block = violations.check("block_code", BlockCode::parse(request.block_code.trim()));
    let channel = violations.check(
        "channel",
        contract::channel_from(request.channel)
            .ok_or("must be CHANNEL_CENTRE, CHANNEL_BLOCK_TEAM or CHANNEL_APP"),
    );
    let resident = match request.resident.as_ref() {
        None => {
            violations.add("resident", "the resident is required");
            None
        }
        Some(resident) => {
            let name = violations.check(
                "resident.name",
                required_text(&resident.name, MAX_NAME_CHARS),
            );
            let phone = violations.check("resident.phone", PhoneNumber::parse(&resident.phone));
            let id_number = violations.check(
                "resident.id_number",
                IdNumber::parse_optional(&resident.id_number),
            );
            // A resident asking in the app asks for themselves: the account
            // is theirs whatever the request says.
            let account = if is_resident(access) {
                access.caller().map(|caller| caller.subject.clone())
            } else {
                match resident.account.trim() {
                    "" => None,
                    account if account.chars().count() <= MAX_NAME_CHARS => {
                        Some(account.to_owned())
                    }
                    _ => {
                        violations.add(
                            "resident.account",
                            format!("must have at most {MAX_NAME_CHARS} characters"),
                        );
                        None
                    }
                }
            };
            match (name, phone, id_number) {
                (Some(name), Some(phone), Some(id_number)) => Some(NewResident {
                    name,
                    phone: phone.as_str().to_owned(),
                    id_number: id_number.map(|number| number.as_str().to_owned()),
                    account,
                }),
                _ => None,
            }
        }
    };
    let request_id = violations.check("request_id", RequestId::parse_optional(&request.request_id));
    let (Some(matter), Some(block), Some(channel), Some(resident), Some(request_id)) =
        (matter, block, channel, resident, request_id)
    else {
        return Err(Error::from(violations));
    };
    violations.finish()?;
    Ok(RequestErrand {
        matter: matter.to_string(),
        block,
        channel,
        proxy: request.proxy,
        resident,
        retry: request_id.map(|id| (id, Fingerprint::of(request))),
    })
}

pub(super) async fn request_errand(
    service: &ErrandsService,
    access: &Access,
    request: proto::RequestErrandRequest,
) -> Result<proto::Errand, Error> {
    let command = parse_request(access, &request)?;
    let stored = errands::request(&service.errands, access, command).await?;
    render::full(&stored)
}

pub(super) async fn get_errand(
    service: &ErrandsService,
    access: &Access,
    request: proto::GetErrandRequest,
) -> Result<proto::Errand, Error> {
    let stored = errands::get(&service.errands, access, request.name.trim()).await?;
    render::full(&stored)
}

pub(super) async fn list_errands(
    service: &ErrandsService,
    access: &Access,
    request: proto::ListErrandsRequest,
) -> Result<proto::ListErrandsResponse, Error> {
    let mut violations = Violations::new();
    let division_prefix = match request.division_code.trim() {
        "" => Some(None),
        code => violations
            .check("division_code", DivisionCode::parse(code))
            .map(|code| Some(code.to_string())),
    };
    let state = match request.state {
        0 => Some(None),
        value => violations
            .check(
                "state",
                contract::state_from(value).ok_or("must be an ERRAND_STATE"),
            )
            .map(Some),
    };
    let query = ListQuery::new(&format!(
        "errands division={} state={}",
        request.division_code.trim(),
        request.state
    ));
    let page = violations.absorb(PageRequest::parse_keyed::<TimeKey>(
        request.page_size,
        &request.page_token,
        &query,
    ));
    let (Some(division_prefix), Some(state), Some((page, after))) = (division_prefix, state, page)
    else {
        return Err(Error::from(violations));
    };
    let command = ListErrands {
        filter: ErrandFilter {
            division_prefix,
            state,
            requested_between: None,
        },
        after: after.map(TimeKey::pair),
        fetch_limit: page.size.fetch_limit(),
    };
    let mut rows = errands::list(&service.errands, access, &command).await?;
    let next_page_token = page.size.next_page_token(&mut rows, &query, |row| {
        TimeKey {
            time: row.request_time,
            id: row.id,
        }
        .to_string()
    });
    Ok(proto::ListErrandsResponse {
        errands: rows
            .iter()
            .map(render::summary)
            .collect::<Result<_, Error>>()?,
        next_page_token,
    })
}

pub(super) async fn collect_materials(
    service: &ErrandsService,
    access: &Access,
    request: proto::CollectMaterialsRequest,
) -> Result<proto::Errand, Error> {
    let mut violations = Violations::new();
    if request.documents.is_empty() || request.documents.len() > MAX_DOCUMENTS {
        violations.add(
            "documents",
            format!("1-{MAX_DOCUMENTS} documents are collected at a time"),
        );
    }
    let documents: Vec<NewDocument> = request
        .documents
        .iter()
        .enumerate()
        .filter_map(|(index, document)| {
            let material = violations.check(
                format!("documents[{index}].material"),
                required_text(&document.material, MAX_NAME_CHARS),
            );
            let reference = violations.check(
                format!("documents[{index}].reference"),
                required_text(&document.reference, MAX_REFERENCE_CHARS),
            );
            Some(NewDocument {
                material: material?,
                reference: reference?,
            })
        })
        .collect();
    violations.finish()?;
    let id = errand_id(request.errand.trim())?;
    let stored = errands::collect(
        &service.errands,
        access,
        id,
        documents,
        request.resident_trip,
    )
    .await?;
    render::full(&stored)
}

pub(super) async fn notify_missing_materials(
    service: &ErrandsService,
    access: &Access,
    request: proto::NotifyMissingMaterialsRequest,
) -> Result<proto::Errand, Error> {
    let id = errand_id(request.errand.trim())?;
    let stored = errands::notify_missing(&service.errands, access, id).await?;
    render::full(&stored)
}

pub(super) async fn submit_errand(
    service: &ErrandsService,
    access: &Access,
    request: proto::SubmitErrandRequest,
) -> Result<proto::Errand, Error> {
    let id = errand_id(request.errand.trim())?;
    let stored = errands::submit(&service.errands, access, id, request.resident_trip).await?;
    render::full(&stored)
}

pub(super) async fn record_result(
    service: &ErrandsService,
    access: &Access,
    request: proto::RecordResultRequest,
) -> Result<proto::Errand, Error> {
    let mut violations = Violations::new();
    let outcome = match contract::result_from(request.result) {
        None => {
            violations.add(
                "result",
                "must be RESULT_APPROVED, RESULT_REFUSED or RESULT_RETURNED",
            );
            None
        }
        Some(DecisionResult::Approved) => Some(Outcome::Approved),
        Some(DecisionResult::Refused) => violations
            .check("reason", required_text(&request.reason, MAX_REASON_CHARS))
            .map(|reason| Outcome::Refused { reason }),
        Some(DecisionResult::Returned) => {
            if request.materials.is_empty() || request.materials.len() > MAX_DOCUMENTS {
                violations.add(
                    "materials",
                    "a return names the 1-50 checklist items to provide anew",
                );
            }
            let materials: Vec<String> = request
                .materials
                .iter()
                .map(|code| code.trim().to_owned())
                .collect();
            Some(Outcome::Returned { materials })
        }
    };
    let Some(outcome) = outcome else {
        return Err(Error::from(violations));
    };
    violations.finish()?;
    let id = errand_id(request.errand.trim())?;
    let stored = errands::record_result(&service.errands, access, id, outcome).await?;
    render::full(&stored)
}

pub(super) async fn record_resident_told(
    service: &ErrandsService,
    access: &Access,
    request: proto::RecordResidentToldRequest,
) -> Result<proto::Errand, Error> {
    let channel = contract::telling_channel_from(request.channel).ok_or_else(|| {
        Error::invalid(
            "channel",
            "must be TELLING_CHANNEL_CALL, TELLING_CHANNEL_VISIT or TELLING_CHANNEL_MESSAGE",
        )
    })?;
    let id = errand_id(request.errand.trim())?;
    let stored =
        errands::tell_resident(&service.errands, access, id, channel, request.resident_trip)
            .await?;
    render::full(&stored)
}
