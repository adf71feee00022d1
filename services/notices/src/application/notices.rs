//! Block robots and block notices.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource};
use flatgov_grpc::idempotency::{self, Fingerprint, IdempotencyError};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::timestamp;
use flatgov_proto::notices::v1 as proto;
use flatgov_vocabulary::{BlockCode, DivisionCode, DivisionLevel};
use uuid::Uuid;

use super::{Notices, record_audit};
use crate::blocks::RegistryError;
use crate::domain::notice::messages;
use crate::domain::{GatewayUrl, NoticeCategory};
use crate::error::Error;
use crate::store::notices::{DeliveryRow, NoticeRow, NoticeState, RobotRow, TargetRow};
use crate::store::{self, DatabaseContext as _};

/// A notice to send, fully checked.
#[derive(Debug)]
pub struct CreateNotice {
    pub request_id: Option<RequestId>,
    pub fingerprint: Fingerprint,
    pub audience: DivisionCode,
    pub category: NoticeCategory,
    pub title: String,
    pub body: String,
    /// Not sent before; `None`: at once.
    pub send_time: Option<DateTime<Utc>>,
    pub expire_time: Option<DateTime<Utc>>,
    /// References, checked.
    pub attachments: Vec<String>,
}

/// A notice with the deliveries the caller may see.
pub struct NoticeView {
    pub notice: NoticeRow,
    pub deliveries: Vec<DeliveryRow>,
}

fn reaches(access: &Access, division: &str) -> bool {
    access.reaches(&Resource::in_division(division))
}

fn database(context: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |source| Error::database(context, source)
}

/// Whether the caller may see `notice` at all: one waiting for approval
/// only by those who reach its whole audience (the district), since nothing
/// was sent to any block yet.
fn may_see(access: &Access, notice: &NoticeRow) -> bool {
    notice.state == NoticeState::Published || reaches(access, &notice.audience)
}

fn caller_id(access: &Access) -> String {
    access
        .caller()
        .map(|caller| caller.subject.clone())
        .unwrap_or_default()
}

/// `NoticePublished` for a notice and its deliveries (blocks and
/// households counted, never a name).
fn published_event(
    notice: &NoticeRow,
    deliveries: &[DeliveryRow],
    at: DateTime<Utc>,
) -> proto::NoticePublished {
    let count = |rows: usize| u32::try_from(rows).unwrap_or(u32::MAX);
    proto::NoticePublished {
        notice: format!("notices/{}", notice.id),
        audience: DivisionCode::parse(&notice.audience)
            .map(|code| code.name())
            .unwrap_or_else(|_| notice.audience.clone()),
        category: notice.category.to_proto() as i32,
        title: notice.title.clone(),
        blocks_targeted: count(deliveries.len()),
        published_at: Some(timestamp(at)),
        blocks_unreachable: count(
            deliveries
                .iter()
                .filter(|row| row.state == store::feedback::DeliveryState::Skipped)
                .count(),
        ),
        households_targeted: deliveries
            .iter()
            .map(|row| u32::try_from(row.households).unwrap_or(0))
            .sum(),
    }
}

impl Notices {
    /// Registers or replaces a block's robot. NOT_FOUND for a block the
    /// caller does not reach, as for one that does not exist.
    pub async fn set_block_robot(
        &self,
        access: &Access,
        block: BlockCode,
        url: GatewayUrl,
    ) -> Result<RobotRow, Error> {
        access.audit().resource(format!("{}/robot", block.name()));
        if !reaches(access, block.as_str()) {
            return Err(Error::NotFound(block.name()));
        }
        let mut transaction = store::begin(&self.pool, "saving a block robot").await?;
        let row = store::notices::set_robot(&mut transaction, block.as_str(), &url).await?;
        record_audit(&mut transaction, access, "saving a block robot").await?;
        store::commit(transaction, "saving a block robot").await?;
        tracing::info!(block = %block, url = %url.hint(), "block robot set");
        Ok(row)
    }

    /// The robots under `parent` the caller reaches.
    pub async fn list_block_robots(
        &self,
        access: &Access,
        parent: DivisionCode,
    ) -> Result<Vec<RobotRow>, Error> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(database("listing block robots"))?;
        let robots = store::notices::robots_under(&mut connection, parent.as_str()).await?;
        Ok(robots
            .into_iter()
            .filter(|robot| reaches(access, &robot.block_code))
            .collect())
    }

    /// Sends a notice to every block with a robot under its audience.
    pub async fn create_notice(
        &self,
        access: &Access,
        command: CreateNotice,
    ) -> Result<NoticeView, Error> {
        if !reaches(access, command.audience.as_str()) {
            return Err(Error::NotFound(command.audience.name()));
        }
        let mut transaction = store::begin(&self.pool, "sending a notice").await?;
        if let Some(request_id) = &command.request_id {
            match idempotency::recall(&mut transaction, access, request_id, command.fingerprint)
                .await
            {
                Ok(Some(name)) => {
                    drop(transaction);
                    let id = flatgov_vocabulary::parse_id::<Uuid>(&name, "notices")
                        .map_err(|error| Error::corrupt(error.to_string()))?;
                    return self.get_notice(access, id).await;
                }
                Ok(None) => {}
                Err(IdempotencyError::Database(source)) => {
                    return Err(Error::database("reading a request id", source));
                }
                Err(reused) => {
                    return Err(Error::from(
                        reused.violation().into_iter().collect::<Vec<_>>(),
                    ));
                }
            }
        }
        let audience = match self.blocks.audience(&command.audience).await {
            Ok(audience) => audience,
            Err(RegistryError::Unknown(_)) => return Err(Error::NotFound(command.audience.name())),
            Err(RegistryError::Unavailable(reason)) => {
                tracing::warn!(%reason, "cannot count a notice's audience");
                return Err(Error::DependencyUnavailable {
                    dependency: "the block registry".into(),
                    detail: reason,
                });
            }
        };
        if audience.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "the block registry has no block under {}",
                command.audience.name()
            )));
        }
        let robots: std::collections::HashSet<String> =
            store::notices::robots_under(&mut transaction, command.audience.as_str())
                .await?
                .into_iter()
                .map(|robot| robot.block_code)
                .collect();
        let targets: Vec<TargetRow> = audience
            .into_iter()
            .map(|block| TargetRow {
                unreachable: !robots.contains(&block.code),
                households: i32::try_from(block.households).unwrap_or(i32::MAX),
                block_code: block.code,
            })
            .collect();
        if targets.iter().all(|target| target.unreachable) {
            return Err(Error::FailedPrecondition(format!(
                "no block under {} has a WeCom robot registered (SetBlockRobot)",
                command.audience.name()
            )));
        }
        let now = Utc::now();
        // A district-wide notice reaches every group at once: a second
        // person approves it before anything is sent.
        let state = if command.audience.level() == DivisionLevel::District {
            NoticeState::PendingApproval
        } else {
            NoticeState::Published
        };
        let notice = NoticeRow {
            id: Uuid::now_v7(),
            audience: command.audience.as_str().to_owned(),
            category: command.category,
            title: command.title,
            body: command.body,
            created_by: caller_id(access),
            create_time: now,
            send_time: command.send_time.unwrap_or(now).max(now),
            expire_time: command.expire_time,
            state,
            approved_by: String::new(),
            approve_time: None,
            attachments: command.attachments,
        };
        let name = format!("notices/{}", notice.id);
        access.audit().resource(name.clone());
        let parts = i32::try_from(
            messages(
                notice.category,
                &notice.title,
                &notice.body,
                &notice.attachments,
            )
            .len(),
        )
        .unwrap_or(i32::MAX);
        store::notices::insert_notice(&mut transaction, &notice, &targets, parts).await?;
        if state == NoticeState::Published {
            let deliveries = store::notices::deliveries_of(&mut transaction, notice.id).await?;
            let event = published_event(&notice, &deliveries, now);
            flatgov_messaging::outbox::enqueue(&mut transaction, &name, &event)
                .await
                .context("publishing a notice")?;
        }
        if let Some(request_id) = &command.request_id {
            idempotency::remember(
                &mut transaction,
                access,
                request_id,
                command.fingerprint,
                &name,
            )
            .await
            .context("remembering a request id")?;
        }
        record_audit(&mut transaction, access, "sending a notice").await?;
        store::commit(transaction, "sending a notice").await?;
        self.notice_wake.notify_waiters();
        tracing::info!(
            notice = %notice.id,
            audience = %command.audience.name(),
            blocks = targets.len(),
            unreachable = targets.iter().filter(|target| target.unreachable).count(),
            state = state.as_str(),
            parts,
            "notice created"
        );
        self.get_notice(access, notice.id).await
    }

    /// A notice with its deliveries to the blocks the caller reaches;
    /// NOT_FOUND when it reaches none of them.
    pub async fn get_notice(&self, access: &Access, id: Uuid) -> Result<NoticeView, Error> {
        let name = format!("notices/{id}");
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(database("reading a notice"))?;
        let Some(notice) = store::notices::get_notice(&mut connection, id)
            .await?
            .filter(|notice| may_see(access, notice))
        else {
            return Err(Error::NotFound(name));
        };
        let deliveries: Vec<DeliveryRow> = store::notices::deliveries_of(&mut connection, id)
            .await?
            .into_iter()
            .filter(|delivery| reaches(access, &delivery.block_code))
            .collect();
        if deliveries.is_empty() {
            return Err(Error::NotFound(name));
        }
        Ok(NoticeView { notice, deliveries })
    }

    /// The notices to a block the caller reaches, newest first.
    pub async fn list_notices(
        &self,
        access: &Access,
        block: BlockCode,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<NoticeView>, Error> {
        if !reaches(access, block.as_str()) {
            return Err(Error::NotFound(block.name()));
        }
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(database("listing notices"))?;
        let notices =
            store::notices::notices_to_block(&mut connection, block.as_str(), after, limit).await?;
        let mut views = Vec::with_capacity(notices.len());
        for notice in notices.into_iter().filter(|notice| may_see(access, notice)) {
            let deliveries = store::notices::deliveries_of(&mut connection, notice.id)
                .await?
                .into_iter()
                .filter(|delivery| reaches(access, &delivery.block_code))
                .collect();
            views.push(NoticeView { notice, deliveries });
        }
        Ok(views)
    }

    /// Approves a district-wide notice waiting for a second person: a
    /// district administrator other than its author.
    pub async fn approve_notice(&self, access: &Access, id: Uuid) -> Result<NoticeView, Error> {
        let name = format!("notices/{id}");
        access.audit().resource(name.clone());
        let approver = caller_id(access);
        let mut transaction = store::begin(&self.pool, "approving a notice").await?;
        let Some(notice) = store::notices::get_notice(&mut transaction, id)
            .await?
            .filter(|notice| reaches(access, &notice.audience))
        else {
            return Err(Error::NotFound(name));
        };
        match notice.state {
            NoticeState::Published if notice.approved_by.is_empty() => {
                return Err(Error::FailedPrecondition(format!(
                    "{name} needs no approval: only district-wide notices do"
                )));
            }
            // A retry of the approval answers the notice as it stands.
            NoticeState::Published if notice.approved_by == approver => {
                drop(transaction);
                return self.get_notice(access, id).await;
            }
            NoticeState::Published => {
                return Err(Error::FailedPrecondition(format!(
                    "{name} was already approved by someone else"
                )));
            }
            NoticeState::PendingApproval if notice.created_by == approver => {
                return Err(Error::PermissionDenied(
                    "the author of a district-wide notice may not approve it: a second district administrator does".into(),
                ));
            }
            NoticeState::PendingApproval => {}
        }
        let now = Utc::now();
        if !store::notices::approve_notice(&mut transaction, id, &approver, now).await? {
            return Err(Error::FailedPrecondition(format!(
                "{name} was approved meanwhile"
            )));
        }
        let deliveries = store::notices::deliveries_of(&mut transaction, id).await?;
        let event = published_event(&notice, &deliveries, now);
        flatgov_messaging::outbox::enqueue(&mut transaction, &name, &event)
            .await
            .context("publishing a notice")?;
        record_audit(&mut transaction, access, "approving a notice").await?;
        store::commit(transaction, "approving a notice").await?;
        self.notice_wake.notify_waiters();
        tracing::info!(notice = %id, approved_by = %approver, "district-wide notice approved");
        self.get_notice(access, id).await
    }
}
