//! ListFeedback: what a case's reporter was told, without the contact or
//! the text.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::time::timestamp;
use flatgov_proto::notices::v1 as proto;
use uuid::Uuid;

use super::NoticesService;
use crate::error::Error;
use crate::store::feedback::{DeliveryState, FeedbackRow};

fn state(state: DeliveryState) -> proto::DeliveryState {
    match state {
        DeliveryState::Pending => proto::DeliveryState::Pending,
        DeliveryState::Delivered => proto::DeliveryState::Delivered,
        DeliveryState::GivenUp => proto::DeliveryState::GivenUp,
        DeliveryState::Skipped => proto::DeliveryState::Skipped,
    }
}

fn render(row: &FeedbackRow) -> proto::Feedback {
    let pending = row.state == DeliveryState::Pending;
    proto::Feedback {
        case: format!("cases/{}", row.case_id),
        milestone: row.milestone.to_proto() as i32,
        state: state(row.state) as i32,
        gateway: if row.gateway.is_empty() {
            String::new()
        } else {
            format!("gateways/{}", row.gateway)
        },
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        note: row.note.clone(),
        occurred_time: Some(timestamp(row.occurred_time)),
        delivered_time: row.delivered_time.map(timestamp),
        next_attempt_time: pending.then(|| timestamp(row.next_attempt_time)),
    }
}

pub(super) async fn list_feedback(
    service: &NoticesService,
    access: &Access,
    request: proto::ListFeedbackRequest,
) -> Result<proto::ListFeedbackResponse, Error> {
    let mut violations = Violations::new();
    let case_id = violations.check(
        "case",
        flatgov_vocabulary::parse_id::<Uuid>(&request.case, "cases"),
    );
    violations.finish()?;
    let case_id = case_id.ok_or_else(|| Error::corrupt("a checked field went missing"))?;
    let rows = service.notices.list_feedback(access, case_id).await?;
    Ok(proto::ListFeedbackResponse {
        feedback: rows.iter().map(render).collect(),
    })
}
