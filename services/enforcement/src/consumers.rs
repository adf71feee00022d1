//! The one list of what the service consumes, and the handlers.
//!
//! Consumed: `flatgov.cases.case.escalated` (durable consumer
//! `enforcement-on-case-escalated`): an escalation to the whistle tier opens
//! a joint operation, once per case however often the case escalates.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flatgov_grpc::clock::Clock;
use flatgov_grpc::time;
use flatgov_messaging::{ConsumerSpec, Envelope, EventHandler, HandlerError};
use flatgov_proto::cases::v1::CaseEscalated;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;
use sqlx::PgConnection;

use crate::application::whistle::{self, Agencies, Whistle};
use crate::config::Settings;
use crate::domain::selection;
use crate::domain::{AgencyCode, BlockCode, CaseName, MatterCode, SubdistrictCode, WhistleSource};
use crate::store::{self, StoreError};

/// A database out of reach pauses the consumer (no delivery counted); any
/// other database failure is worth retrying.
impl From<StoreError> for HandlerError {
    fn from(error: StoreError) -> Self {
        let reason = format!("database failure while {}: {}", error.context, error.source);
        if flatgov_grpc::error::is_connection_loss(&error.source) {
            HandlerError::Unavailable(reason)
        } else {
            HandlerError::Retry(reason)
        }
    }
}

/// The consumer of case escalations.
pub fn case_escalated_consumer() -> ConsumerSpec {
    ConsumerSpec::new(
        "enforcement-on-case-escalated",
        "cases",
        "flatgov.cases.case.escalated",
        "enforcement",
    )
}

/// Opens a joint operation when a case escalates to the whistle tier.
pub struct CaseEscalatedHandler {
    pub settings: Arc<Settings>,
    /// When the whistle is blown.
    pub clock: Clock,
}

impl EventHandler for CaseEscalatedHandler {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let escalated: CaseEscalated = event.decode()?;
        // Only the case's newest escalation counts: an older one delivered late (a
        // retry overtaken, a redriven dead letter) describes a moment the case left.
        let sequence = escalated
            .transition
            .as_ref()
            .map_or(0, |transition| transition.sequence);
        if sequence > 0
            && !store::record_escalation_applied(&mut *connection, &escalated.case, sequence)
                .await?
        {
            tracing::info!(case = %escalated.case, sequence, "an escalation older than one applied; nothing to do");
            return Ok(());
        }
        if escalated.to_tier != HandlingTier::Whistle as i32 {
            return Ok(());
        }
        let now = self.clock.now();
        let (whistle, requested) = whistle_of(&escalated, now)?;
        let agencies = choose(&mut *connection, &whistle, requested, now).await?;
        let recorded =
            whistle::record(connection, &whistle, &agencies, &self.settings, now).await?;
        tracing::info!(case = %escalated.case, ?recorded, "case escalated to the whistle");
        Ok(())
    }
}

/// The whistle an escalation blows, and the agencies it names. An event
/// that cannot be placed (no case, no subdistrict) is rejected and goes to
/// the dead letters; a malformed optional field is left out and noted.
fn whistle_of(
    escalated: &CaseEscalated,
    now: DateTime<Utc>,
) -> Result<(Whistle, Vec<String>), HandlerError> {
    let case = CaseName::parse(&escalated.case)
        .map_err(|error| HandlerError::Reject(format!("case escalation: {error}")))?;
    let block = if escalated.block_code.is_empty() {
        None
    } else {
        BlockCode::parse(&escalated.block_code).ok()
    };
    let subdistrict = match SubdistrictCode::parse(&escalated.subdistrict_code) {
        Ok(subdistrict) => subdistrict,
        Err(error) => match &block {
            Some(block) => block.subdistrict(),
            None => {
                return Err(HandlerError::Reject(format!(
                    "case escalation of {case}: {error}"
                )));
            }
        },
    };
    let block = block.filter(|block| block.subdistrict() == subdistrict);
    let matter = MatterCode::parse(&escalated.matter_code).ok();
    let location = escalated
        .location
        .as_ref()
        .filter(|point| {
            (-180.0..=180.0).contains(&point.longitude) && (-90.0..=90.0).contains(&point.latitude)
        })
        .map(|point| (point.longitude, point.latitude));
    let blown_at = escalated
        .escalated_at
        .as_ref()
        .and_then(|escalated_at| time::instant(escalated_at).ok())
        .filter(|at| *at <= now)
        .unwrap_or(now);
    let whistle = Whistle {
        case: Some(case),
        source: WhistleSource::CaseEscalation,
        subdistrict,
        block,
        location,
        matter,
        description: String::new(),
        urgent: escalated.urgent,
        requested_lead: None,
        blown_by: "cases".into(),
        blown_at,
    };
    Ok((whistle, escalated.agencies.clone()))
}

/// The agencies the event names that are registered and active (the first
/// leads); when none is, the agencies are resolved by the deadline worker.
async fn choose(
    connection: &mut PgConnection,
    whistle: &Whistle,
    named: Vec<String>,
    now: DateTime<Utc>,
) -> Result<Agencies, HandlerError> {
    let status = store::agencies_status(&mut *connection, &named).await?;
    let usable: Vec<AgencyCode> = whistle::agency_codes(&named)
        .into_iter()
        .filter(|code| {
            status
                .iter()
                .any(|(known, active)| known == code.as_str() && *active)
        })
        .collect();
    let left_out: Vec<&str> = named
        .iter()
        .map(String::as_str)
        .filter(|code| !usable.iter().any(|agency| agency.as_str() == *code))
        .collect();
    let mut note = String::from("named by the case escalation");
    if !left_out.is_empty() {
        note.push_str(&format!(
            "; not registered or inactive, left out: {}",
            left_out.join(", ")
        ));
    }
    match selection::requested(usable, None, note.clone()) {
        Ok(Some(selection)) => Ok(Agencies::Chosen(selection)),
        Ok(None) => Ok(Agencies::Resolve {
            retry_at: now,
            note: if named.is_empty() {
                String::new()
            } else {
                note
            },
        }),
        Err(error) => {
            tracing::warn!(case = ?whistle.case, %error, "escalation names agencies that cannot be summoned as named");
            Ok(Agencies::Resolve {
                retry_at: now,
                note: error.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flatgov_proto::flatgov::r#type::v1::GeoPoint;

    fn escalation() -> CaseEscalated {
        CaseEscalated {
            case: "cases/0193a1b2-0000-7000-8000-000000000001".into(),
            from_tier: HandlingTier::CoordinationMeeting as i32,
            to_tier: HandlingTier::Whistle as i32,
            reason: 1,
            matter_code: "illegal_construction".into(),
            block_code: "430302001004017".into(),
            subdistrict_code: "430302001".into(),
            location: Some(GeoPoint {
                longitude: 112.9,
                latitude: 27.8,
                ..Default::default()
            }),
            agencies: vec!["urban_management".into()],
            urgent: true,
            escalated_at: None,
            ..Default::default()
        }
    }

    /// The instant the tests handle events at: the consumer takes the time
    /// from its clock, so the tests hand it one.
    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a valid instant")
    }

    #[test]
    fn an_escalation_blows_a_whistle_for_its_case_and_place() {
        let handled_at = now();
        let (whistle, named) = whistle_of(&escalation(), handled_at).unwrap();
        assert_eq!(
            whistle.case.unwrap().as_str(),
            "cases/0193a1b2-0000-7000-8000-000000000001"
        );
        assert_eq!(whistle.subdistrict.as_str(), "430302001");
        assert_eq!(whistle.block.unwrap().as_str(), "430302001004017");
        assert!(whistle.urgent);
        assert_eq!(whistle.blown_at, handled_at);
        assert_eq!(named, vec!["urban_management".to_owned()]);
    }

    #[test]
    fn an_escalation_without_a_case_or_a_place_is_rejected() {
        let mut no_case = escalation();
        no_case.case = String::new();
        assert!(matches!(
            whistle_of(&no_case, now()),
            Err(HandlerError::Reject(_))
        ));
        let mut nowhere = escalation();
        nowhere.subdistrict_code = String::new();
        nowhere.block_code = String::new();
        assert!(matches!(
            whistle_of(&nowhere, now()),
            Err(HandlerError::Reject(_))
        ));
    }

    #[test]
    fn a_missing_subdistrict_is_taken_from_the_block_and_a_foreign_block_is_dropped() {
        let mut from_block = escalation();
        from_block.subdistrict_code = String::new();
        let (whistle, _) = whistle_of(&from_block, now()).unwrap();
        assert_eq!(whistle.subdistrict.as_str(), "430302001");

        let mut foreign = escalation();
        foreign.block_code = "430302002001001".into();
        let (whistle, _) = whistle_of(&foreign, now()).unwrap();
        assert!(whistle.block.is_none());
    }
}
