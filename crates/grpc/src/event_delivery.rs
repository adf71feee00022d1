//! `flatgov.messaging.v1.EventDelivery`, served by every service about its
//! own undelivered events: the dead letters its consumers gave up on
//! (redriven through the consumer's own handler and inbox, see
//! [`flatgov_messaging::deadletters`]) and the outbox rows its relay parked
//! (released with [`flatgov_messaging::outbox::retry_parked`]). District
//! administrators only; redrives and retries are writes, so the authz layer
//! audits each with the dead letters or parked events it touched.

use crate::error::FieldViolation;
use flatgov_messaging::EventBus;
use flatgov_messaging::deadletters::{self, DeadLetter, RedriveOutcome, Redrivers};
use flatgov_messaging::envelope::header;
use flatgov_messaging::outbox::{self, Release, RetryError};
use flatgov_proto::messaging::v1 as proto;
use flatgov_proto::messaging::v1::event_delivery_server::EventDelivery;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::error::{self, Error};
use crate::paging::{ListQuery, PageRequest};
use crate::time::timestamp;

const DEAD_LETTERS: &str = "deadLetters/";
const PARKED_EVENTS: &str = "parkedEvents/";

/// The service's undelivered events over gRPC.
pub struct EventDeliveryService {
    pool: PgPool,
    bus: EventBus,
    /// The service's name, e.g. `cases`: whose dead letters these are.
    service: &'static str,
    /// The consumers the service runs, by durable name.
    redrivers: Redrivers,
}

impl EventDeliveryService {
    pub fn new(pool: PgPool, bus: EventBus, service: &'static str, redrivers: Redrivers) -> Self {
        Self {
            pool,
            bus,
            service,
            redrivers,
        }
    }
}

fn nats_unavailable(error: deadletters::DeadLetterError) -> Status {
    error::dependency_unavailable("nats", error)
}

/// `deadLetters/17` → 17, naming the field and the expected shape otherwise.
fn sequence_of(field: String, name: &str) -> Result<u64, FieldViolation> {
    name.strip_prefix(DEAD_LETTERS)
        .and_then(|number| number.parse::<u64>().ok())
        .filter(|sequence| *sequence > 0)
        .ok_or_else(|| {
            FieldViolation::new(
                field,
                format!("{name:?} is not a dead letter name (deadLetters/<number>)"),
            )
        })
}

/// `parkedEvents/17` → 17.
fn row_id_of(field: String, name: &str) -> Result<i64, FieldViolation> {
    name.strip_prefix(PARKED_EVENTS)
        .and_then(|number| number.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            FieldViolation::new(
                field,
                format!("{name:?} is not a parked event name (parkedEvents/<number>)"),
            )
        })
}

/// Every name parsed, or every bad one named; `all` and names exclude each other.
fn selection<K>(
    names: &[String],
    all: bool,
    parse: fn(String, &str) -> Result<K, FieldViolation>,
) -> Result<Option<Vec<K>>, Status> {
    if all && !names.is_empty() {
        return Err(error::invalid_field("names", "give names or all, not both"));
    }
    if all {
        return Ok(None);
    }
    if names.is_empty() {
        return Err(error::invalid_field(
            "names",
            "name at least one, or set all",
        ));
    }
    let mut keys = Vec::with_capacity(names.len());
    let mut violations = Vec::new();
    for (index, name) in names.iter().enumerate() {
        match parse(format!("names[{index}]"), name) {
            Ok(key) => keys.push(key),
            Err(violation) => violations.push(violation),
        }
    }
    if violations.is_empty() {
        Ok(Some(keys))
    } else {
        Err(error::invalid_argument(&violations))
    }
}

fn summary(letter: &DeadLetter) -> proto::DeadLetter {
    let event_time = chrono::DateTime::parse_from_rfc3339(letter.header(header::TIME))
        .ok()
        .map(|time| timestamp(time.with_timezone(&chrono::Utc)));
    proto::DeadLetter {
        name: format!("{DEAD_LETTERS}{}", letter.sequence),
        consumer: letter.consumer.clone(),
        subject: letter.subject.clone(),
        event_type: letter.header(header::TYPE).to_owned(),
        event_id: letter.header(header::ID).to_owned(),
        resource: letter.header(header::SUBJECT).to_owned(),
        reason: letter.reason.clone(),
        attempts: letter.attempts.unwrap_or_default(),
        dead_lettered_time: Some(timestamp(letter.dead_lettered_at)),
        event_time,
        headers: Default::default(),
        payload: Default::default(),
    }
}

fn parked_event(row: outbox::ParkedRow) -> proto::ParkedEvent {
    proto::ParkedEvent {
        name: format!("{PARKED_EVENTS}{}", row.id),
        event_id: row.event_id.to_string(),
        subject: row.subject,
        event_type: row.event_type,
        resource: row.resource,
        attempts: row.attempts,
        last_error: row.last_error,
        occurred_time: Some(timestamp(row.occurred_at)),
        parked_time: Some(timestamp(row.parked_at)),
        held_events: row.held,
    }
}

#[tonic::async_trait]
impl EventDelivery for EventDeliveryService {
    async fn list_dead_letters(
        &self,
        request: Request<proto::ListDeadLettersRequest>,
    ) -> Result<Response<proto::ListDeadLettersResponse>, Status> {
        let mut request = request.into_inner();
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let query = ListQuery::of_request("deadLetters", &request);
        let page = PageRequest::parse(page_size, &page_token, &query)
            .map_err(|violations| error::invalid_argument(&violations))?;
        let after = page
            .after_as::<u64>()
            .map_err(|violation| error::invalid_argument(&[violation]))?;
        let mut letters = deadletters::list(&self.bus, self.service, after, page.size.get() + 1)
            .await
            .map_err(nats_unavailable)?;
        let next_page_token = page
            .size
            .next_page_token(&mut letters, &query, |letter| letter.sequence.to_string());
        Ok(Response::new(proto::ListDeadLettersResponse {
            dead_letters: letters.iter().map(summary).collect(),
            next_page_token,
        }))
    }

    async fn get_dead_letter(
        &self,
        request: Request<proto::GetDeadLetterRequest>,
    ) -> Result<Response<proto::DeadLetter>, Status> {
        let name = request.into_inner().name;
        let sequence = sequence_of("name".to_owned(), &name)
            .map_err(|violation| error::invalid_argument(&[violation]))?;
        let letter = deadletters::get(&self.bus, self.service, sequence)
            .await
            .map_err(nats_unavailable)?
            .ok_or_else(|| Status::from(Error::NotFound(format!("{name} not found"))))?;
        let mut shown = summary(&letter);
        shown.headers = letter.headers.iter().cloned().collect();
        shown.payload = letter.payload.to_vec();
        Ok(Response::new(shown))
    }

    async fn redrive_dead_letters(
        &self,
        request: Request<proto::RedriveDeadLettersRequest>,
    ) -> Result<Response<proto::RedriveDeadLettersResponse>, Status> {
        let access = crate::access(&request)?.clone();
        let request = request.into_inner();
        let chosen = selection(&request.names, request.all, sequence_of)?;
        // Every named dead letter is found before any is touched.
        let letters: Vec<DeadLetter> = match chosen {
            None => {
                let mut all = Vec::new();
                let mut after = None;
                loop {
                    let page = deadletters::list(&self.bus, self.service, after, 500)
                        .await
                        .map_err(nats_unavailable)?;
                    let Some(last) = page.last() else { break };
                    after = Some(last.sequence);
                    all.extend(page);
                }
                all
            }
            Some(sequences) => {
                let mut found = Vec::with_capacity(sequences.len());
                for (sequence, name) in sequences.iter().zip(&request.names) {
                    let letter = deadletters::get(&self.bus, self.service, *sequence)
                        .await
                        .map_err(nats_unavailable)?
                        .ok_or_else(|| {
                            Status::from(Error::NotFound(format!("{name} not found")))
                        })?;
                    found.push(letter);
                }
                found
            }
        };
        let mut outcomes = Vec::with_capacity(letters.len());
        for letter in &letters {
            let name = format!("{DEAD_LETTERS}{}", letter.sequence);
            access.audit().resource(name.clone());
            let outcome = self
                .redrivers
                .redrive(&self.pool, &self.bus, letter)
                .await
                .map_err(|reason| error::dependency_unavailable("the database or nats", reason))?;
            let (result, error) = match outcome {
                RedriveOutcome::Applied => (proto::RedriveResult::Applied, String::new()),
                RedriveOutcome::AlreadyApplied => {
                    (proto::RedriveResult::AlreadyApplied, String::new())
                }
                RedriveOutcome::Failed(reason) => (proto::RedriveResult::Failed, reason),
            };
            tracing::info!(dead_letter = %name, consumer = %letter.consumer, result = result.as_str_name(), "dead letter redriven");
            outcomes.push(proto::RedriveOutcome {
                name,
                result: result.into(),
                error,
            });
        }
        Ok(Response::new(proto::RedriveDeadLettersResponse {
            outcomes,
        }))
    }

    async fn list_parked_events(
        &self,
        request: Request<proto::ListParkedEventsRequest>,
    ) -> Result<Response<proto::ListParkedEventsResponse>, Status> {
        let mut request = request.into_inner();
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let query = ListQuery::of_request("parkedEvents", &request);
        let page = PageRequest::parse(page_size, &page_token, &query)
            .map_err(|violations| error::invalid_argument(&violations))?;
        let after = page
            .after_as::<i64>()
            .map_err(|violation| error::invalid_argument(&[violation]))?;
        let mut rows = outbox::parked(&self.pool, after, page.size.fetch_limit())
            .await
            .map_err(|error| error::database("listing parked events", error))?;
        let next_page_token = page
            .size
            .next_page_token(&mut rows, &query, |row| row.id.to_string());
        Ok(Response::new(proto::ListParkedEventsResponse {
            parked_events: rows.into_iter().map(parked_event).collect(),
            next_page_token,
        }))
    }

    async fn retry_parked_events(
        &self,
        request: Request<proto::RetryParkedEventsRequest>,
    ) -> Result<Response<proto::RetryParkedEventsResponse>, Status> {
        let access = crate::access(&request)?.clone();
        let request = request.into_inner();
        let release = match selection(&request.names, request.all, row_id_of)? {
            None => Release::All,
            Some(ids) => Release::Rows(ids),
        };
        let released = outbox::retry_parked(&self.pool, &release)
            .await
            .map_err(|failure| match failure {
                RetryError::NotParked(id) => {
                    Status::from(Error::NotFound(format!("{PARKED_EVENTS}{id} not found")))
                }
                RetryError::Database(error) => error::database("releasing parked events", error),
            })?;
        let released: Vec<String> = released
            .into_iter()
            .map(|id| format!("{PARKED_EVENTS}{id}"))
            .collect();
        for name in &released {
            access.audit().resource(name.clone());
        }
        tracing::info!(released = released.len(), "parked outbox rows released");
        Ok(Response::new(proto::RetryParkedEventsResponse { released }))
    }
}
