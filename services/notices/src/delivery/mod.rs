//! Delivery: the worker that sends each message due to a reporter, through
//! the gateway serving the case's channel, with retries, and records every
//! attempt.
//!
//! A message is claimed with `FOR UPDATE SKIP LOCKED` and stays locked
//! while it is sent, so replicas never send it twice; the outcome, the
//! attempt's record and (when delivered) `FeedbackSent` commit together.
//! A process killed between the gateway's answer and that commit sends the
//! message again on restart: signed webhooks carry the same `webhook-id`
//! every time, so the gateway recognises the retry.

pub mod notices;
pub mod webhook;
pub mod wecom;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flatgov_grpc::time::timestamp;
use flatgov_proto::notices::v1 as proto;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::cases::{CasesClient, ContactError, Reporter};
use crate::domain::{FeedbackMessage, GatewayKind};
use crate::store::feedback::{AttemptOutcome, FeedbackRow};
use crate::store::gateways::GatewayRow;
use crate::store::{self, StoreError};

/// What a gateway said about one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// It took the message.
    Delivered,
    /// Worth trying again: after `after` when the gateway said how long
    /// (a rate limit), else after the usual backoff.
    Retry {
        note: String,
        after: Option<Duration>,
    },
    /// It will never take this message (an invalid key, a refusal).
    Refused(String),
}

/// How the worker retries.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Attempts (the first included) before a message is given up.
    pub max_attempts: i32,
    /// The delay before the first retry; doubles per attempt up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a rate-limited gateway is left alone (WeCom allows 20
    /// messages a minute per robot).
    pub rate_limit_pause: Duration,
    /// The longest the worker sleeps between looks at what is due.
    pub poll: Duration,
    /// Messages sent at once.
    pub concurrency: usize,
    /// How long one gateway call may take.
    pub request_timeout: Duration,
}

impl DeliveryConfig {
    pub(crate) fn backoff_after(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
        self.initial_backoff
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.max_backoff)
    }
}

/// What the worker sends with.
#[derive(Clone)]
pub struct Deliverer {
    pub pool: PgPool,
    pub cases: CasesClient,
    pub http: reqwest::Client,
    /// Shared with the notice worker: a robot serving both counts both.
    pub robots: Arc<wecom::RobotThrottle>,
    pub config: Arc<DeliveryConfig>,
}

impl Deliverer {
    /// Sends due messages until `shutdown`, waking on `wake` (a consumer
    /// recorded a message) or when the next one falls due.
    pub async fn run(self, wake: Arc<Notify>, shutdown: CancellationToken) {
        loop {
            let sleep_for = match self.send_one().await {
                Ok(true) => continue,
                Ok(false) => self.until_next_due().await,
                Err(error) => {
                    tracing::warn!(%error, "cannot send feedback now");
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

    async fn until_next_due(&self) -> Duration {
        let next = async {
            let mut connection = self.pool.acquire().await.ok()?;
            store::feedback::next_due(&mut connection)
                .await
                .ok()
                .flatten()
        };
        next.await
            .map(|due| (due - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(self.config.poll)
            .min(self.config.poll)
    }

    /// Sends the message due first, if any: answers whether there was one.
    async fn send_one(&self) -> Result<bool, StoreError> {
        let mut transaction = store::begin(&self.pool, "sending feedback").await?;
        let Some(claimed) = store::feedback::claim_due(&mut transaction).await? else {
            store::commit(transaction, "sending feedback").await?;
            return Ok(false);
        };
        let decision = self.attempt(&mut transaction, &claimed).await?;
        let now = Utc::now();
        let outcome = match &decision {
            Decision::Postponed { note } => {
                let retry_at = now + chrono_duration(self.config.backoff_after(1));
                store::feedback::postpone(&mut transaction, &claimed, retry_at, note).await?;
                store::commit(transaction, "sending feedback").await?;
                tracing::info!(case = %claimed.case_id, milestone = %claimed.milestone, %note, "feedback postponed");
                return Ok(true);
            }
            Decision::Skipped { note } => (String::new(), AttemptOutcome::Skipped, note.clone()),
            Decision::Sent { gateway, outcome } => {
                let attempts = claimed.attempts + 1;
                let recorded = match outcome {
                    SendOutcome::Delivered => AttemptOutcome::Delivered,
                    SendOutcome::Refused(_) => AttemptOutcome::GivenUp,
                    SendOutcome::Retry { .. } if attempts >= self.config.max_attempts => {
                        AttemptOutcome::GivenUp
                    }
                    SendOutcome::Retry { after, .. } => AttemptOutcome::Failed {
                        retry_at: now
                            + chrono_duration(
                                after.unwrap_or_else(|| self.config.backoff_after(attempts)),
                            ),
                    },
                };
                let note = match outcome {
                    SendOutcome::Delivered => String::new(),
                    SendOutcome::Retry { note, .. } | SendOutcome::Refused(note) => note.clone(),
                };
                (gateway.code.to_string(), recorded, note)
            }
        };
        let (gateway_code, recorded, note) = outcome;
        store::feedback::record_attempt(
            &mut transaction,
            &claimed,
            &gateway_code,
            &recorded,
            &note,
        )
        .await?;
        if let (AttemptOutcome::Delivered, Decision::Sent { gateway, .. }) = (&recorded, &decision)
        {
            feedback_sent(&mut transaction, &claimed, gateway, now).await?;
        }
        store::commit(transaction, "sending feedback").await?;
        tracing::info!(
            case = %claimed.case_id,
            milestone = %claimed.milestone,
            gateway = %gateway_code,
            outcome = ?recorded,
            %note,
            "feedback attempt recorded"
        );
        Ok(true)
    }

    /// Fetches the contact and sends through the gateway serving the case.
    async fn attempt(
        &self,
        transaction: &mut store::Transaction,
        claimed: &FeedbackRow,
    ) -> Result<Decision, StoreError> {
        // The district's template first: a message switched off is not
        // sent, and nobody's contact is fetched for it.
        let template = match district_of(claimed) {
            Some(district) => {
                store::templates::get(transaction, &district, claimed.milestone).await?
            }
            None => None,
        };
        if let Some(switched_off) = template.as_ref().filter(|template| !template.enabled) {
            return Ok(Decision::Skipped {
                note: format!(
                    "the {} message is switched off in district {}",
                    claimed.milestone, switched_off.district_code
                ),
            });
        }
        let reporter = match self.cases.reporter(claimed.case_id).await {
            Ok(reporter) => reporter,
            Err(ContactError::UnknownCase) => {
                return Ok(Decision::Skipped {
                    note: ContactError::UnknownCase.to_string(),
                });
            }
            Err(error @ ContactError::Unavailable(_)) => {
                return Ok(Decision::Postponed {
                    note: error.to_string(),
                });
            }
        };
        let (channel, name, phone) = match reporter {
            Reporter::Anonymous => {
                return Ok(Decision::Skipped {
                    note: "anonymous report".into(),
                });
            }
            Reporter::NoContact => {
                return Ok(Decision::Skipped {
                    note: "the report left no contact".into(),
                });
            }
            Reporter::Contact {
                channel,
                name,
                phone,
            } => (channel, name, phone),
        };
        let Some(gateway) = store::gateways::for_channel(transaction, &channel).await? else {
            return Ok(Decision::Skipped {
                note: format!("no gateway for channel {channel} and no default gateway"),
            });
        };
        let message = FeedbackMessage {
            milestone: claimed.milestone,
            case_number: claimed.case_id.to_string(),
            handler: claimed.handler.clone(),
            closure: claimed.closure,
        };
        let text = match template.filter(|template| !template.text.is_empty()) {
            Some(custom) => message.text_from(&custom.text),
            None => message.text(),
        };
        let outcome = match (gateway.kind, &gateway.secret) {
            (GatewayKind::WecomRobot, _) => {
                wecom::send_text(
                    &self.http,
                    &self.robots,
                    &gateway.url,
                    &text,
                    &[phone.as_str()],
                    self.config.rate_limit_pause,
                )
                .await
            }
            (GatewayKind::SignedWebhook, Some(secret)) => {
                let body = webhook::FeedbackPayload {
                    r#type: "flatgov.notices.feedback",
                    case: format!("cases/{}", claimed.case_id),
                    milestone: claimed.milestone.as_str(),
                    recipient: webhook::Recipient {
                        name: &name,
                        phone: &phone,
                    },
                    text: &text,
                };
                webhook::send(
                    &self.http,
                    &gateway.url,
                    secret,
                    &claimed.delivery_id.to_string(),
                    &body,
                    self.config.rate_limit_pause,
                )
                .await
            }
            (GatewayKind::SignedWebhook, None) => {
                SendOutcome::Refused("the gateway has no signing secret".into())
            }
        };
        Ok(Decision::Sent { gateway, outcome })
    }
}

/// The district of a message's case (its block's, or before triage its
/// subdistrict's), whose templates apply.
fn district_of(claimed: &FeedbackRow) -> Option<String> {
    let place = if claimed.block_code.is_empty() {
        &claimed.subdistrict_code
    } else {
        &claimed.block_code
    };
    use flatgov_vocabulary::DivisionCode;
    let district = match DivisionCode::parse(place).ok()? {
        DivisionCode::District(district) => district,
        DivisionCode::Subdistrict(subdistrict) => subdistrict.district(),
        DivisionCode::Community(community) => community.district(),
        DivisionCode::Block(block) => block.district(),
    };
    Some(district.as_str().to_owned())
}

/// What became of a claimed message.
enum Decision {
    /// Nothing could be asked now (the cases service is away): try again
    /// later without counting an attempt.
    Postponed { note: String },
    /// Nothing to send, for good.
    Skipped { note: String },
    /// A gateway was called.
    Sent {
        gateway: GatewayRow,
        outcome: SendOutcome,
    },
}

fn chrono_duration(duration: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX)
}

/// Publishes, in the caller's transaction, that the reporter was told.
async fn feedback_sent(
    connection: &mut sqlx::PgConnection,
    claimed: &FeedbackRow,
    gateway: &GatewayRow,
    sent_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use crate::store::DatabaseContext as _;
    let case = format!("cases/{}", claimed.case_id);
    let event = proto::FeedbackSent {
        case: case.clone(),
        milestone: claimed.milestone.to_proto() as i32,
        gateway: format!("gateways/{}", gateway.code),
        gateway_kind: gateway.kind.to_proto() as i32,
        attempts: u32::try_from(claimed.attempts + 1).unwrap_or(u32::MAX),
        occurred_at: Some(timestamp(claimed.occurred_time)),
        sent_at: Some(timestamp(sent_at)),
    };
    flatgov_messaging::outbox::enqueue(connection, &case, &event)
        .await
        .context("publishing that feedback was sent")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_up_to_the_ceiling() {
        let config = DeliveryConfig {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
            rate_limit_pause: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            concurrency: 1,
            request_timeout: Duration::from_secs(10),
        };
        assert_eq!(config.backoff_after(1), Duration::from_secs(5));
        assert_eq!(config.backoff_after(2), Duration::from_secs(10));
        assert_eq!(config.backoff_after(4), Duration::from_secs(40));
        assert_eq!(config.backoff_after(7), Duration::from_secs(60));
    }
}
