//! Delivering block notices to the blocks' WeCom groups, one part per
//! transaction: a delivery is claimed with `FOR UPDATE SKIP LOCKED`, its
//! next part is posted to the block's robot, and the part's outcome, its
//! row in `notice_attempts` and (after the last part) `NoticeDelivered`
//! commit together. A process killed mid-notice resumes with the parts and
//! blocks not yet recorded: a block already delivered is never sent again.
//! Each robot is kept to 20 messages a minute by [`wecom::RobotThrottle`]
//! (a worker waits for the robot's token holding the claimed delivery);
//! WeCom's rate limit (errcode 45009) still pauses the robot and retries; an
//! invalid key (93000) marks the robot broken and gives the block up.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flatgov_grpc::time::timestamp;
use flatgov_proto::notices::v1 as proto;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{DeliveryConfig, SendOutcome, wecom};
use crate::domain::notice::messages;
use crate::store::notices::{DeliveryRow, PartOutcome};
use crate::store::{self, DatabaseContext as _, StoreError};

/// Why a block was not sent a notice that stopped being current.
const EXPIRED_NOTE: &str = "the notice expired before it reached the block";

/// What the notice worker sends with.
#[derive(Clone)]
pub struct NoticeDeliverer {
    pub pool: PgPool,
    pub http: reqwest::Client,
    pub robots: Arc<wecom::RobotThrottle>,
    pub config: Arc<DeliveryConfig>,
}

impl NoticeDeliverer {
    /// Sends due parts until `shutdown`, waking on `wake` (a notice was
    /// created) or when the next part falls due.
    pub async fn run(self, wake: Arc<Notify>, shutdown: CancellationToken) {
        loop {
            let sleep_for = match self.send_one().await {
                Ok(true) => continue,
                Ok(false) => {
                    let next = async {
                        let mut connection = self.pool.acquire().await.ok()?;
                        store::notices::next_due(&mut connection)
                            .await
                            .ok()
                            .flatten()
                    };
                    // A delivery due but not claimable is another
                    // worker's (perhaps waiting for its robot's turn).
                    super::wait_before_next(next.await, Utc::now(), self.config.poll)
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot deliver notices now");
                    self.config.poll
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(sleep_for) => {}
            }
        }
    }

    /// Sends the next part of the delivery due first: answers whether there was one.
    async fn send_one(&self) -> Result<bool, StoreError> {
        let mut transaction = store::begin(&self.pool, "delivering a notice").await?;
        let Some(claimed) = store::notices::claim_due(&mut transaction).await? else {
            store::commit(transaction, "delivering a notice").await?;
            return Ok(false);
        };
        let notice = store::notices::get_notice(&mut transaction, claimed.notice_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a delivery of no notice".into()))?;
        let robot = store::notices::robot_of(&mut transaction, &claimed.block_code).await?;
        let parts = messages(
            notice.category,
            &notice.title,
            &notice.body,
            &notice.attachments,
        );
        let part = usize::try_from(claimed.parts_sent).unwrap_or(usize::MAX);
        let expired = notice
            .expire_time
            .is_some_and(|expiry| expiry <= Utc::now());
        let outcome = match (&robot, parts.get(part)) {
            _ if expired => SendOutcome::Refused(EXPIRED_NOTE.into()),
            (None, _) => SendOutcome::Refused("the block has no robot".into()),
            (Some(robot), _) if robot.broken => {
                SendOutcome::Refused(format!("the robot is broken: {}", robot.broken_reason))
            }
            (_, None) => SendOutcome::Refused("the notice has no such part".into()),
            (Some(robot), Some(content)) => {
                wecom::send_text(
                    &self.http,
                    &self.robots,
                    &robot.url,
                    content,
                    &[],
                    self.config.rate_limit_pause,
                )
                .await
            }
        };
        let now = Utc::now();
        let failures = claimed.attempts - claimed.parts_sent + 1;
        let (recorded, note) = match &outcome {
            SendOutcome::Delivered => (PartOutcome::Sent, String::new()),
            SendOutcome::Refused(note) => (PartOutcome::GivenUp, note.clone()),
            SendOutcome::Retry { note, after } => {
                let wait = after.unwrap_or_else(|| self.config.backoff_after(failures));
                let retry_at =
                    now + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX);
                // A retry the notice would no longer be current for is not
                // made: the block is told nothing late, and the record says why.
                if notice.expire_time.is_some_and(|expiry| retry_at >= expiry) {
                    (PartOutcome::GivenUp, EXPIRED_NOTE.to_owned())
                } else if failures >= self.config.max_attempts {
                    (PartOutcome::GivenUp, note.clone())
                } else {
                    (PartOutcome::Failed { retry_at }, note.clone())
                }
            }
        };
        if note.starts_with(wecom::INVALID_WEBHOOK_NOTE) {
            store::notices::break_robot(&mut transaction, &claimed.block_code, &note).await?;
        }
        let after =
            store::notices::record_part(&mut transaction, &claimed, &recorded, &note).await?;
        if after.state == store::feedback::DeliveryState::Delivered {
            notice_delivered(&mut transaction, &after, now).await?;
        }
        store::commit(transaction, "delivering a notice").await?;
        tracing::info!(
            notice = %claimed.notice_id,
            block = %claimed.block_code,
            part = claimed.parts_sent + 1,
            parts = claimed.parts,
            outcome = ?recorded,
            %note,
            "notice part attempted"
        );
        Ok(true)
    }
}

/// Publishes, in the caller's transaction, that a block's group has the
/// whole notice.
async fn notice_delivered(
    connection: &mut sqlx::PgConnection,
    delivery: &DeliveryRow,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let notice = format!("notices/{}", delivery.notice_id);
    let event = proto::NoticeDelivered {
        notice: notice.clone(),
        block_code: delivery.block_code.clone(),
        attempts: u32::try_from(delivery.attempts).unwrap_or(0),
        parts: u32::try_from(delivery.parts).unwrap_or(0),
        delivered_at: Some(timestamp(at)),
    };
    flatgov_messaging::outbox::enqueue(connection, &notice, &event)
        .await
        .context("publishing a notice delivery")?;
    Ok(())
}
