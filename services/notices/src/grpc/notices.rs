//! SetBlockRobot, ListBlockRobots, CreateNotice, GetNotice, ListNotices.

use chrono::Utc;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::{optional_instant, optional_timestamp, timestamp};
use flatgov_proto::notices::v1 as proto;
use flatgov_vocabulary::{BlockCode, DivisionCode};
use uuid::Uuid;

use super::NoticesService;
use crate::application::notices::{CreateNotice, NoticeView};
use crate::domain::notice::{MAX_ATTACHMENTS, MAX_BODY_CHARS, MAX_TITLE_CHARS};
use crate::domain::{GatewayUrl, NoticeCategory};
use crate::error::Error;
use crate::store::feedback::DeliveryState;
use crate::store::notices::{DeliveryRow, NoticeState, RobotRow};

fn missing() -> Error {
    Error::corrupt("a checked field went missing")
}

fn render_robot(row: &RobotRow) -> proto::BlockRobot {
    proto::BlockRobot {
        name: format!("blocks/{}/robot", row.block_code),
        block: format!("blocks/{}", row.block_code),
        url_hint: row.url.hint(),
        state: if row.broken {
            proto::RobotState::Broken
        } else {
            proto::RobotState::Active
        } as i32,
        broken_reason: row.broken_reason.clone(),
        update_time: Some(timestamp(row.update_time)),
    }
}

fn delivery_state(state: DeliveryState) -> proto::DeliveryState {
    match state {
        DeliveryState::Pending => proto::DeliveryState::Pending,
        DeliveryState::Delivered => proto::DeliveryState::Delivered,
        DeliveryState::GivenUp => proto::DeliveryState::GivenUp,
        DeliveryState::Skipped => proto::DeliveryState::Skipped,
    }
}

fn render_delivery(row: &DeliveryRow) -> proto::BlockDelivery {
    proto::BlockDelivery {
        block: format!("blocks/{}", row.block_code),
        state: delivery_state(row.state) as i32,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        parts: u32::try_from(row.parts).unwrap_or(0),
        parts_sent: u32::try_from(row.parts_sent).unwrap_or(0),
        note: row.note.clone(),
        delivered_time: row.delivered_time.map(timestamp),
        next_attempt_time: (row.state == DeliveryState::Pending)
            .then(|| timestamp(row.next_attempt_time)),
        households: u32::try_from(row.households).unwrap_or(0),
    }
}

fn render_notice(view: &NoticeView, with_deliveries: bool) -> proto::Notice {
    let count = |state: DeliveryState| {
        u32::try_from(
            view.deliveries
                .iter()
                .filter(|row| row.state == state)
                .count(),
        )
        .unwrap_or(u32::MAX)
    };
    let audience = DivisionCode::parse(&view.notice.audience)
        .map(|code| code.name())
        .unwrap_or_else(|_| view.notice.audience.clone());
    proto::Notice {
        name: format!("notices/{}", view.notice.id),
        audience,
        category: view.notice.category.to_proto() as i32,
        title: view.notice.title.clone(),
        body: view.notice.body.clone(),
        created_by: view.notice.created_by.clone(),
        summary: Some(proto::DeliverySummary {
            targeted: u32::try_from(view.deliveries.len()).unwrap_or(u32::MAX),
            delivered: count(DeliveryState::Delivered),
            pending: count(DeliveryState::Pending),
            given_up: count(DeliveryState::GivenUp),
            unreachable: count(DeliveryState::Skipped),
            households_targeted: households(&mut view.deliveries.iter()),
            households_reached: households(
                &mut view
                    .deliveries
                    .iter()
                    .filter(|row| row.state == DeliveryState::Delivered),
            ),
        }),
        deliveries: if with_deliveries {
            view.deliveries.iter().map(render_delivery).collect()
        } else {
            Vec::new()
        },
        create_time: Some(timestamp(view.notice.create_time)),
        send_time: Some(timestamp(view.notice.send_time)),
        expire_time: optional_timestamp(view.notice.expire_time),
        state: match view.notice.state {
            NoticeState::PendingApproval => proto::NoticeState::PendingApproval,
            NoticeState::Published => proto::NoticeState::Published,
        } as i32,
        approved_by: view.notice.approved_by.clone(),
        approve_time: optional_timestamp(view.notice.approve_time),
        attachments: view.notice.attachments.clone(),
    }
}

fn households(rows: &mut dyn Iterator<Item = &DeliveryRow>) -> u32 {
    rows.map(|row| u32::try_from(row.households).unwrap_or(0))
        .sum()
}

pub(super) async fn set_block_robot(
    service: &NoticesService,
    access: &Access,
    request: proto::SetBlockRobotRequest,
) -> Result<proto::BlockRobot, Error> {
    let mut violations = Violations::new();
    let block = violations.check("block", BlockCode::parse_name(&request.block));
    // The URL holds the robot's key: a refusal never repeats it.
    let url = violations.check("webhook_url", GatewayUrl::parse(&request.webhook_url));
    violations.finish()?;
    let (Some(block), Some(url)) = (block, url) else {
        return Err(missing());
    };
    let row = service.notices.set_block_robot(access, block, url).await?;
    Ok(render_robot(&row))
}

pub(super) async fn list_block_robots(
    service: &NoticesService,
    access: &Access,
    request: proto::ListBlockRobotsRequest,
) -> Result<proto::ListBlockRobotsResponse, Error> {
    let mut violations = Violations::new();
    let parent = violations.check("parent", DivisionCode::parse_name(&request.parent));
    violations.finish()?;
    let parent = parent.ok_or_else(missing)?;
    let robots = service.notices.list_block_robots(access, parent).await?;
    Ok(proto::ListBlockRobotsResponse {
        robots: robots.iter().map(render_robot).collect(),
    })
}

impl TryFrom<proto::CreateNoticeRequest> for CreateNotice {
    type Error = Error;

    fn try_from(request: proto::CreateNoticeRequest) -> Result<Self, Error> {
        let fingerprint = Fingerprint::of(&request);
        let mut violations = Violations::new();
        let request_id =
            violations.check("request_id", RequestId::parse_optional(&request.request_id));
        let audience = violations.check("audience", DivisionCode::parse_name(&request.audience));
        let category = violations.check(
            "category",
            NoticeCategory::from_proto(request.category).ok_or(
                "must be one of flood, drowning prevention, epidemic, outage, activity, policy",
            ),
        );
        let title = request.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            violations.add("title", "must be 1 to 100 characters");
        }
        let body = request.body.trim().to_owned();
        if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
            violations.add("body", "must be 1 to 2,000 characters");
        }
        let send_time = violations
            .check(
                "send_time",
                optional_instant(request.send_time.as_ref()).map_err(|error| error.to_string()),
            )
            .flatten();
        let expire_time = violations
            .check(
                "expire_time",
                optional_instant(request.expire_time.as_ref())
                    .map_err(|error| error.to_string())
                    .and_then(|expiry| match expiry {
                        Some(expiry) if expiry <= send_time.unwrap_or_else(Utc::now) => {
                            Err("must be after the send time (or now)".to_owned())
                        }
                        expiry => Ok(expiry),
                    }),
            )
            .flatten();
        if request.attachments.len() > MAX_ATTACHMENTS {
            violations.add(
                "attachments",
                format!(
                    "at most {MAX_ATTACHMENTS} are allowed; {} were given",
                    request.attachments.len()
                ),
            );
        }
        let mut attachments = Vec::new();
        for (index, reference) in request.attachments.iter().enumerate().take(MAX_ATTACHMENTS) {
            if let Some(reference) = violations.check(
                format!("attachments[{index}]"),
                flatgov_vocabulary::attachment_reference(reference),
            ) {
                attachments.push(reference);
            }
        }
        violations.finish()?;
        let (Some(request_id), Some(audience), Some(category)) = (request_id, audience, category)
        else {
            return Err(missing());
        };
        Ok(Self {
            request_id,
            fingerprint,
            audience,
            category,
            title,
            body,
            send_time,
            expire_time,
            attachments,
        })
    }
}

pub(super) async fn create_notice(
    service: &NoticesService,
    access: &Access,
    request: proto::CreateNoticeRequest,
) -> Result<proto::Notice, Error> {
    let command = CreateNotice::try_from(request)?;
    let view = service.notices.create_notice(access, command).await?;
    Ok(render_notice(&view, true))
}

pub(super) async fn get_notice(
    service: &NoticesService,
    access: &Access,
    request: proto::GetNoticeRequest,
) -> Result<proto::Notice, Error> {
    let mut violations = Violations::new();
    let id = violations.check(
        "name",
        flatgov_vocabulary::parse_id::<Uuid>(&request.name, "notices"),
    );
    violations.finish()?;
    let view = service
        .notices
        .get_notice(access, id.ok_or_else(missing)?)
        .await?;
    Ok(render_notice(&view, true))
}

pub(super) async fn list_notices(
    service: &NoticesService,
    access: &Access,
    mut request: proto::ListNoticesRequest,
) -> Result<proto::ListNoticesResponse, Error> {
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("notices", &request);
    let mut violations = Violations::new();
    let block = violations.check("block", BlockCode::parse_name(&request.block));
    let page = match PageRequest::parse(page_size, &page_token, &query) {
        Ok(page) => Some(page),
        Err(found) => {
            violations.extend(found);
            None
        }
    };
    let after = match page.as_ref().map(PageRequest::after_as::<Uuid>) {
        Some(Ok(after)) => after,
        Some(Err(violation)) => {
            violations.extend([violation]);
            None
        }
        None => None,
    };
    violations.finish()?;
    let (Some(block), Some(page)) = (block, page) else {
        return Err(missing());
    };
    let mut views = service
        .notices
        .list_notices(access, block, after, page.size.fetch_limit())
        .await?;
    let next_page_token = page
        .size
        .next_page_token(&mut views, &query, |view| view.notice.id.to_string());
    Ok(proto::ListNoticesResponse {
        notices: views
            .iter()
            .map(|view| render_notice(view, false))
            .collect(),
        next_page_token,
    })
}

pub(super) async fn approve_notice(
    service: &NoticesService,
    access: &Access,
    request: proto::ApproveNoticeRequest,
) -> Result<proto::Notice, Error> {
    let mut violations = Violations::new();
    let id = violations.check(
        "name",
        flatgov_vocabulary::parse_id::<Uuid>(&request.name, "notices"),
    );
    violations.finish()?;
    let view = service
        .notices
        .approve_notice(access, id.ok_or_else(missing)?)
        .await?;
    Ok(render_notice(&view, true))
}
