//! Delivery: the worker that sends each message due to a reporter, through
//! the gateway serving the case's channel, with retries, and records every
//! attempt.
//!
//! A worker claims a batch of messages due (up to [`FEEDBACK_BATCH`])
//! with `FOR UPDATE SKIP LOCKED`, so replicas and the other workers never
//! take one of them meanwhile; it reads the gateways and the districts'
//! templates once for the batch, sends the batch's messages concurrently
//! (each: the claim check, then the gateway), and commits every outcome,
//! its attempt's record and (when delivered) `FeedbackSent` in the one
//! transaction that claimed them. A process killed between the gateways'
//! answers and that commit sends the batch again on restart: signed
//! webhooks carry the same `webhook-id` every time, so the gateway
//! recognises the retry.
//!
//! A worker that finds nothing to claim waits for the consumers' wake-up or
//! the next message's due time (at most the poll interval). A message due
//! but locked is another worker's: the worker does not spin on it.

pub mod notices;
pub mod webhook;
pub mod wecom;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flatgov_grpc::time::timestamp;
use flatgov_proto::notices::v1 as proto;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::cases::{CasesClient, ContactError, Reporter};
use crate::domain::{FeedbackMessage, GatewayKind, Milestone};
use crate::store::feedback::{AttemptOutcome, FeedbackRow};
use crate::store::gateways::GatewayRow;
use crate::store::templates::TemplateRow;
use crate::store::{self, StoreError};

/// Messages a feedback worker claims, sends concurrently and records in one
/// transaction. A batch commits once, so a process killed mid-batch sends
/// at most this many messages again on restart; a smaller batch costs a
/// transaction (and a commit's flush) per fewer messages.
pub const FEEDBACK_BATCH: i64 = 32;

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
    /// Feedback workers (and notice workers) per process; each feedback
    /// worker sends a batch of up to [`FEEDBACK_BATCH`] messages at once.
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
            let sleep_for = match self.send_batch().await {
                Ok(0) => self.until_next_due().await,
                Ok(_) => continue,
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
        wait_before_next(next.await, Utc::now(), self.config.poll)
    }

    /// Claims up to a batch of the messages due, sends them concurrently
    /// and records every outcome in the transaction that claimed them:
    /// answers how many it claimed.
    async fn send_batch(&self) -> Result<usize, StoreError> {
        let mut transaction = store::begin(&self.pool, "sending feedback").await?;
        let claimed = store::feedback::claim_due_batch(&mut transaction, FEEDBACK_BATCH).await?;
        if claimed.is_empty() {
            store::commit(transaction, "sending feedback").await?;
            return Ok(0);
        }
        let routes = Routes::load(&mut transaction, &claimed).await?;
        let decisions =
            futures::future::join_all(claimed.iter().map(|message| self.attempt(&routes, message)))
                .await;
        let now = Utc::now();
        for (message, decision) in claimed.iter().zip(decisions) {
            self.record(&mut transaction, message, decision, now)
                .await?;
        }
        store::commit(transaction, "sending feedback").await?;
        Ok(claimed.len())
    }

    /// Records what became of one claimed message, in the batch's transaction.
    async fn record(
        &self,
        transaction: &mut store::Transaction,
        claimed: &FeedbackRow,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (gateway_code, recorded, note) = match &decision {
            Decision::Postponed { note, after } => {
                let wait = after.unwrap_or_else(|| self.config.backoff_after(1));
                let retry_at = now + chrono_duration(wait);
                store::feedback::postpone(transaction, claimed, retry_at, note).await?;
                tracing::info!(case = %claimed.case_id, milestone = %claimed.milestone, %note, "feedback postponed");
                return Ok(());
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
        store::feedback::record_attempt(transaction, claimed, &gateway_code, &recorded, &note)
            .await?;
        if let (AttemptOutcome::Delivered, Decision::Sent { gateway, .. }) = (&recorded, &decision)
        {
            feedback_sent(transaction, claimed, gateway, now).await?;
        }
        tracing::info!(
            case = %claimed.case_id,
            milestone = %claimed.milestone,
            gateway = %gateway_code,
            outcome = ?recorded,
            %note,
            "feedback attempt recorded"
        );
        Ok(())
    }

    /// Fetches the contact and sends through the gateway serving the case,
    /// unless the case's district switched the milestone's message off.
    async fn attempt(&self, routes: &Routes, claimed: &FeedbackRow) -> Decision {
        // The district's template first: a message switched off is not
        // sent, and nobody's contact is fetched for it.
        let template = routes.template(claimed);
        if let Some(switched_off) = template.filter(|template| !template.enabled) {
            return Decision::Skipped {
                note: format!(
                    "the {} message is switched off in district {}",
                    claimed.milestone, switched_off.district_code
                ),
            };
        }
        let reporter = match self.cases.reporter(claimed.case_id).await {
            Ok(reporter) => reporter,
            Err(ContactError::UnknownCase) => {
                return Decision::Skipped {
                    note: ContactError::UnknownCase.to_string(),
                };
            }
            Err(error @ ContactError::Unavailable(_)) => {
                return Decision::Postponed {
                    note: error.to_string(),
                    after: None,
                };
            }
        };
        let (channel, name, phone) = match reporter {
            Reporter::Anonymous => {
                return Decision::Skipped {
                    note: "anonymous report".into(),
                };
            }
            Reporter::NoContact => {
                return Decision::Skipped {
                    note: "the report left no contact".into(),
                };
            }
            Reporter::Contact {
                channel,
                name,
                phone,
            } => (channel, name, phone),
        };
        let Some(gateway) = routes.gateway(&channel) else {
            return Decision::Skipped {
                note: format!("no gateway for channel {channel} and no default gateway"),
            };
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
                // The batch is not held up for a robot's turn: the message
                // waits for it without counting an attempt.
                if let Err(wait) = self.robots.try_turn(&gateway.url) {
                    return Decision::Postponed {
                        note: "waiting for the robot's turn (20 messages a minute)".into(),
                        after: Some(wait),
                    };
                }
                wecom::post_text(
                    &self.http,
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
        Decision::Sent {
            gateway: gateway.clone(),
            outcome,
        }
    }
}

/// How long a worker that claimed nothing sleeps (unless woken): until the
/// next message falls due, at most `poll`. A message already due that it
/// could not claim is locked by another worker or replica sending it, so
/// it waits the poll rather than looking again at once (which would spin).
pub(crate) fn wait_before_next(
    next_due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    poll: Duration,
) -> Duration {
    match next_due.map(|due| (due - now).to_std()) {
        Some(Ok(wait)) if !wait.is_zero() => wait.min(poll),
        _ => poll,
    }
}

/// What a batch's messages go through, read once per batch: the gateways,
/// and the templates of the cases' districts.
struct Routes {
    gateways: Vec<GatewayRow>,
    templates: HashMap<(String, Milestone), TemplateRow>,
}

impl Routes {
    async fn load(
        connection: &mut sqlx::PgConnection,
        claimed: &[FeedbackRow],
    ) -> Result<Self, StoreError> {
        let gateways = store::gateways::list(connection).await?;
        let mut districts: Vec<String> = claimed.iter().filter_map(district_of).collect();
        districts.sort();
        districts.dedup();
        let templates = store::templates::for_districts(connection, &districts)
            .await?
            .into_iter()
            .map(|row| ((row.district_code.clone(), row.milestone), row))
            .collect();
        Ok(Self {
            gateways,
            templates,
        })
    }

    /// The template the case's district set for the message's milestone.
    fn template(&self, claimed: &FeedbackRow) -> Option<&TemplateRow> {
        let district = district_of(claimed)?;
        self.templates.get(&(district, claimed.milestone))
    }

    /// The gateway serving `channel`, else the default one.
    fn gateway(&self, channel: &str) -> Option<&GatewayRow> {
        self.gateways
            .iter()
            .find(|gateway| gateway.code.as_str() == channel)
            .or_else(|| {
                self.gateways.iter().find(|gateway| {
                    gateway.code.as_str() == crate::domain::gateway::DEFAULT_GATEWAY
                })
            })
    }
}

/// The district of a message's case (its block's, or before triage its
/// subdistrict's), whose templates apply.
fn district_of(claimed: &FeedbackRow) -> Option<String> {
    use flatgov_vocabulary::DivisionCode;
    let place = if claimed.block_code.is_empty() {
        &claimed.subdistrict_code
    } else {
        &claimed.block_code
    };
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
    /// Nothing could be done now (the cases service is away, the robot has
    /// no turn left this minute): try again after `after` (else the first
    /// backoff) without counting an attempt.
    Postponed {
        note: String,
        after: Option<Duration>,
    },
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

    #[test]
    fn a_worker_that_claimed_nothing_waits_for_what_falls_due_and_never_spins_on_a_locked_message()
    {
        let now = Utc::now();
        let poll = Duration::from_millis(500);
        assert_eq!(
            wait_before_next(Some(now + chrono::TimeDelta::milliseconds(200)), now, poll),
            Duration::from_millis(200)
        );
        assert_eq!(
            wait_before_next(Some(now + chrono::TimeDelta::seconds(30)), now, poll),
            poll
        );
        // Due already, yet not claimable: another worker holds it.
        assert_eq!(
            wait_before_next(Some(now - chrono::TimeDelta::seconds(1)), now, poll),
            poll
        );
        assert_eq!(wait_before_next(Some(now), now, poll), poll);
        assert_eq!(wait_before_next(None, now, poll), poll);
    }
}
