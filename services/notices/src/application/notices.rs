//! Block robots and block notices.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource};
use flatgov_grpc::idempotency::{self, Fingerprint, IdempotencyError};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::timestamp;
use flatgov_proto::notices::v1 as proto;
use flatgov_vocabulary::{BlockCode, DivisionCode};
use uuid::Uuid;

use super::{Notices, record_audit};
use crate::domain::notice::messages;
use crate::domain::{GatewayUrl, NoticeCategory};
use crate::error::Error;
use crate::store::notices::{DeliveryRow, NoticeRow, RobotRow};
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
    move |source| Error::Database { context, source }
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
                        .map_err(|error| Error::Corrupt(error.to_string()))?;
                    return self.get_notice(access, id).await;
                }
                Ok(None) => {}
                Err(IdempotencyError::Database(source)) => {
                    return Err(Error::Database {
                        context: "reading a request id",
                        source,
                    });
                }
                Err(reused) => {
                    return Err(Error::from(
                        reused.violation().into_iter().collect::<Vec<_>>(),
                    ));
                }
            }
        }
        let blocks: Vec<String> =
            store::notices::robots_under(&mut transaction, command.audience.as_str())
                .await?
                .into_iter()
                .map(|robot| robot.block_code)
                .collect();
        if blocks.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "no block under {} has a WeCom robot registered (SetBlockRobot)",
                command.audience.name()
            )));
        }
        let now = Utc::now();
        let notice = NoticeRow {
            id: Uuid::now_v7(),
            audience: command.audience.as_str().to_owned(),
            category: command.category,
            title: command.title,
            body: command.body,
            created_by: access
                .caller()
                .map(|caller| caller.subject.clone())
                .unwrap_or_default(),
            create_time: now,
            send_time: command.send_time.unwrap_or(now).max(now),
            expire_time: command.expire_time,
        };
        let name = format!("notices/{}", notice.id);
        access.audit().resource(name.clone());
        let parts = i32::try_from(messages(notice.category, &notice.title, &notice.body).len())
            .unwrap_or(i32::MAX);
        store::notices::insert_notice(&mut transaction, &notice, &blocks, parts).await?;
        let event = proto::NoticePublished {
            notice: name.clone(),
            audience: command.audience.name(),
            category: notice.category.to_proto() as i32,
            title: notice.title.clone(),
            blocks_targeted: u32::try_from(blocks.len()).unwrap_or(u32::MAX),
            published_at: Some(timestamp(notice.create_time)),
        };
        flatgov_messaging::outbox::enqueue(&mut transaction, &name, &event)
            .await
            .context("publishing a notice")?;
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
        tracing::info!(notice = %notice.id, audience = %command.audience.name(), blocks = blocks.len(), parts, "notice sent");
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
        let Some(notice) = store::notices::get_notice(&mut connection, id).await? else {
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
        for notice in notices {
            let deliveries = store::notices::deliveries_of(&mut connection, notice.id)
                .await?
                .into_iter()
                .filter(|delivery| reaches(access, &delivery.block_code))
                .collect();
            views.push(NoticeView { notice, deliveries });
        }
        Ok(views)
    }
}
