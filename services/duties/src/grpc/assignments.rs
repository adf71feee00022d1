//! CheckAssignment: parse, ask the gate, render its answer.

use chrono::Utc;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::request_id::RequestId;
use flatgov_proto::duties::v1 as proto;
use flatgov_vocabulary::MatterCode;

use super::DutyListsService;
use super::fields::{bounded_text, case_reference, instant, place_location, unit_from_proto};
use crate::application::assignments::{self, Answer, CheckAssignment};
use crate::application::refusals::Refusal;
use crate::application::retries::Retry;
use crate::contract::unit_from_text;
use crate::domain::names::refusal_name;
use crate::error::Error;

/// Longest `attempted_by` accepted.
const MAX_ID_CHARS: usize = 200;

impl TryFrom<proto::CheckAssignmentRequest> for CheckAssignment {
    type Error = Error;

    fn try_from(request: proto::CheckAssignmentRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let matter = violations.check("matter_code", MatterCode::parse(&request.matter_code));
        let from = unit_from_proto("from", request.from.as_ref(), &mut violations);
        let to = unit_from_proto("to", request.to.as_ref(), &mut violations);
        let at = violations.check("at", instant(request.at.as_ref()));
        let place = match request.place.as_ref() {
            Some(place) => place_location("place", Some(place), &mut violations).map(Some),
            None => Some(None),
        };
        let case = violations.check("case", case_reference(&request.case));
        let request_id =
            violations.check("request_id", RequestId::parse_optional(&request.request_id));
        let attempted_by = violations.check(
            "attempted_by",
            bounded_text(&request.attempted_by, MAX_ID_CHARS),
        );
        let (
            Some(matter),
            Some(from),
            Some(to),
            Some(at),
            Some(place),
            Some(case),
            Some(request_id),
            Some(attempted_by),
        ) = (matter, from, to, at, place, case, request_id, attempted_by)
        else {
            return Err(Error::from(violations));
        };
        Ok(Self {
            retry: Retry::of(request_id, &request),
            matter,
            from,
            to,
            at: at.unwrap_or_else(Utc::now),
            place,
            case,
            attempted_by,
        })
    }
}

pub(super) async fn check_assignment(
    service: &DutyListsService,
    access: &Access,
    request: proto::CheckAssignmentRequest,
) -> Result<proto::CheckAssignmentResponse, Error> {
    let command = CheckAssignment::try_from(request)?;
    let answer = assignments::check(&service.duties, access, command).await?;
    Ok(render(answer))
}

fn render(answer: Answer) -> proto::CheckAssignmentResponse {
    match answer {
        Answer::Allowed {
            item,
            version_in_effect,
        } => proto::CheckAssignmentResponse {
            allowed: true,
            list_item_code: item.to_string(),
            list_version: version_in_effect.unwrap_or_default(),
            ..Default::default()
        },
        Answer::Refused(refusal) => {
            let Refusal(row) = *refusal;
            proto::CheckAssignmentResponse {
                allowed: false,
                reason_code: row.reason_code.clone(),
                reason: row.reason.clone(),
                responsible_instead: Some(unit_from_text(
                    &row.responsible_kind,
                    &row.responsible_code,
                )),
                refusal: refusal_name(row.id),
                list_item_code: row.item_code.clone(),
                list_version: super::refusals::version_of(&row),
            }
        }
    }
}
