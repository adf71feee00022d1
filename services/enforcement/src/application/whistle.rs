//! Recording whistles and choosing whom they summon: shared by the
//! `BlowWhistle` call, the consumer of the cases service's escalations, and
//! the deadline worker that resolves agencies later.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::selection::{self, Selection};
use crate::domain::{
    AgencyCode, BlockCode, CaseName, Command, Facts, MatterCode, Operation, SubdistrictCode,
    WhistleSource,
};
use crate::duties::{Responsibility, Unavailable};
use crate::events;
use crate::store::{self, NewOperation, Recorded, StoreError};

/// Everything a whistle says, validated.
#[derive(Debug, Clone)]
pub struct Whistle {
    /// `cases/{id}` the whistle comes from, if any.
    pub case: Option<CaseName>,
    /// A case escalation or a direct whistle.
    pub source: WhistleSource,
    /// Where.
    pub subdistrict: SubdistrictCode,
    /// The block, when known.
    pub block: Option<BlockCode>,
    /// Longitude, latitude.
    pub location: Option<(f64, f64)>,
    /// The matter, used to ask the duty lists whom to summon.
    pub matter: Option<MatterCode>,
    /// What the problem is (no personal data).
    pub description: String,
    /// Urgent whistles get the short report-in limit.
    pub urgent: bool,
    /// A lead the caller named, kept while the agencies are resolved.
    pub requested_lead: Option<AgencyCode>,
    /// Who blew it (token subject, or `cases` for an escalation).
    pub blown_by: String,
    /// When.
    pub blown_at: DateTime<Utc>,
}

/// Whom to summon, or that it must be resolved first.
#[derive(Debug, Clone)]
pub enum Agencies {
    Chosen(Selection),
    /// Record the whistle in `resolving_agencies`; the deadline worker
    /// resolves from `retry_at` on.
    Resolve {
        retry_at: DateTime<Utc>,
        note: String,
    },
}

/// Records a whistle (unless the case's live operation exists) and, when
/// the agencies are chosen, opens it. Runs inside the caller's transaction.
pub async fn record(
    connection: &mut PgConnection,
    whistle: &Whistle,
    agencies: &Agencies,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Recorded, StoreError> {
    let facts = Facts {
        id: Uuid::now_v7(),
        case: whistle.case.as_ref().map(ToString::to_string),
        subdistrict: whistle.subdistrict.to_string(),
        block: whistle.block.as_ref().map(ToString::to_string),
        matter: whistle.matter.as_ref().map(ToString::to_string),
        urgent: whistle.urgent,
        blown_at: whistle.blown_at,
    };
    let (resolving, note) = match agencies {
        Agencies::Chosen(selection) => (None, selection.note.as_str()),
        Agencies::Resolve { retry_at, note } => (
            Some((
                *retry_at,
                whistle.blown_at + settings.resolution_patience.as_delta(),
            )),
            note.as_str(),
        ),
    };
    let recorded = store::insert_operation(
        &mut *connection,
        &NewOperation {
            facts: &facts,
            source: whistle.source.as_str(),
            location: whistle.location,
            description: &whistle.description,
            requested_lead: whistle.requested_lead.as_ref().map(AgencyCode::as_str),
            selection_note: note,
            blown_by: &whistle.blown_by,
            resolving,
        },
    )
    .await?;
    if let Recorded::Created(_) = recorded {
        match agencies {
            Agencies::Chosen(selection) => {
                open(
                    &mut *connection,
                    Operation::blow(facts),
                    selection.clone(),
                    settings,
                    now,
                )
                .await?;
            }
            Agencies::Resolve { .. } => {
                tracing::info!(operation = %facts.id, "whistle recorded; agencies to be resolved");
                store::notify_deadline_workers(connection).await?;
            }
        }
    }
    Ok(recorded)
}

/// Opens an operation whose agencies are chosen: the whistle and the
/// summonses it causes are saved and published (`WhistleBlown` first).
pub async fn open(
    connection: &mut PgConnection,
    mut operation: Operation,
    selection: Selection,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let agencies: Vec<String> = selection.agencies.iter().map(ToString::to_string).collect();
    let how = selection.how;
    // Each agency's summons goes to its unit on duty in the subdistrict at
    // the moment of the summons (or its duty desk, the gap flagged).
    let assignments = super::duty::assignments(
        &mut *connection,
        &selection.agencies,
        &operation.facts().subdistrict,
        now,
    )
    .await?;
    for (agency, assignment) in &assignments {
        if let Some(gap) = assignment.gap {
            tracing::warn!(
                operation = %operation.facts().id,
                %agency,
                gap = gap.as_str(),
                to_duty_desk = assignment.unit.is_some(),
                "no unit on duty in the subdistrict"
            );
        }
    }
    let command = Command::Open {
        selection,
        limits: settings.report_in,
        assignments,
    };
    let records = match operation.apply("enforcement", command, now) {
        Ok(records) => records,
        Err(refusal) => {
            // Only a whistle still resolving opens; another replica or a
            // cancellation got there first.
            tracing::info!(operation = %operation.facts().id, %refusal, "not opened");
            return Ok(());
        }
    };
    store::save(&mut *connection, operation.facts(), now, &records).await?;
    events::publish(connection, operation.facts(), now, &records).await?;
    tracing::info!(
        operation = %operation.facts().id,
        ?agencies,
        selection = how.as_str(),
        "agencies summoned"
    );
    Ok(())
}

/// What to do after asking (or not asking) the duty lists.
#[derive(Debug, Clone)]
pub enum Decision {
    Summon(Selection),
    /// Try again later; the reason is recorded.
    Retry(String),
}

/// The duty lists' answer, if they were asked.
pub enum Answer {
    /// Not asked: no matter, or no duty lists service configured.
    NotAsked(&'static str),
    Asked(Result<Responsibility, Unavailable>),
}

/// Chooses the agencies from the duty lists' answer, falling back to the
/// default set when the answer cannot help — or, when the duty lists are
/// unreachable, once `give_up` says the patience ran out.
pub fn decide(
    answer: Answer,
    matter: Option<&MatterCode>,
    active: &[AgencyCode],
    settings: &Settings,
    requested_lead: Option<&AgencyCode>,
    give_up: bool,
) -> Decision {
    let fallback = |reason: String| match selection::default_set(
        &settings.default_agencies,
        active,
        requested_lead,
        &reason,
    ) {
        Some(selection) => Decision::Summon(selection),
        None => Decision::Retry("no agency is active to be summoned".into()),
    };
    match answer {
        Answer::NotAsked(reason) => fallback(reason.to_owned()),
        Answer::Asked(Ok(Responsibility::Unknown(reason))) => fallback(reason),
        Answer::Asked(Ok(Responsibility::Departments { lead, cooperating })) => {
            match selection::from_duty_lists(lead.as_deref(), &cooperating, active, requested_lead)
            {
                Some(selection) => Decision::Summon(selection),
                None => fallback(format!(
                    "the duty lists name no registered enforcement agency for matter {}",
                    matter.map(MatterCode::as_str).unwrap_or("-")
                )),
            }
        }
        Answer::Asked(Err(unavailable)) if give_up => fallback(format!(
            "the duty lists stayed unreachable for {} ({})",
            settings.resolution_patience, unavailable.0
        )),
        Answer::Asked(Err(unavailable)) => Decision::Retry(unavailable.0),
    }
}

/// Delay before the next attempt after `attempts` failed ones: 1 s doubling
/// to at most 60 s.
pub fn retry_delay(attempts: i32) -> TimeDelta {
    let exponent = u32::try_from(attempts.clamp(0, 6)).unwrap_or(6);
    TimeDelta::seconds(2_i64.pow(exponent).min(60))
}

/// Parses agency codes from strings, leaving malformed ones out.
pub fn agency_codes(codes: &[String]) -> Vec<AgencyCode> {
    codes
        .iter()
        .filter_map(|code| AgencyCode::parse(code).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgencySelection, LimitDuration, ReportInLimits};

    fn settings() -> Settings {
        Settings {
            report_in: ReportInLimits::default(),
            default_agencies: agency_codes(&[
                "urban_management".into(),
                "market_supervision".into(),
                "public_security".into(),
            ]),
            resolution_patience: LimitDuration::from_secs(120),
        }
    }

    fn active() -> Vec<AgencyCode> {
        settings().default_agencies
    }

    #[test]
    fn unreachable_duty_lists_mean_retry_until_the_patience_runs_out() {
        let matter = MatterCode::parse("illegal_construction").unwrap();
        let down = || Answer::Asked(Err(Unavailable("connection refused".into())));
        assert!(matches!(
            decide(down(), Some(&matter), &active(), &settings(), None, false),
            Decision::Retry(reason) if reason == "connection refused"
        ));
        let Decision::Summon(selection) =
            decide(down(), Some(&matter), &active(), &settings(), None, true)
        else {
            panic!("the default set is summoned once the patience runs out");
        };
        assert_eq!(selection.how, AgencySelection::DefaultSet);
        assert!(
            selection.note.contains("unreachable for 2m"),
            "{}",
            selection.note
        );
    }

    #[test]
    fn the_duty_lists_answer_decides_when_it_names_agencies() {
        let answer = Answer::Asked(Ok(Responsibility::Departments {
            lead: Some("market_supervision".into()),
            cooperating: vec!["urban_management".into()],
        }));
        let Decision::Summon(selection) = decide(answer, None, &active(), &settings(), None, false)
        else {
            panic!("summoned");
        };
        assert_eq!(selection.lead().as_str(), "market_supervision");
        assert_eq!(selection.how, AgencySelection::DutyLists);
    }

    #[test]
    fn an_unknown_matter_or_no_matter_summons_the_default_set_at_once() {
        for answer in [
            Answer::Asked(Ok(Responsibility::Unknown("unknown matter".into()))),
            Answer::NotAsked("no matter was given"),
            Answer::Asked(Ok(Responsibility::Departments {
                lead: Some("civil_affairs".into()),
                cooperating: Vec::new(),
            })),
        ] {
            let Decision::Summon(selection) =
                decide(answer, None, &active(), &settings(), None, false)
            else {
                panic!("summoned");
            };
            assert_eq!(selection.how, AgencySelection::DefaultSet);
            assert_eq!(selection.agencies.len(), 3);
        }
    }

    #[test]
    fn with_no_active_agency_the_whistle_waits_rather_than_summoning_nobody() {
        assert!(matches!(
            decide(
                Answer::NotAsked("no matter"),
                None,
                &[],
                &settings(),
                None,
                true
            ),
            Decision::Retry(_)
        ));
    }

    #[test]
    fn retries_back_off_from_one_second_to_a_minute() {
        assert_eq!(retry_delay(0), TimeDelta::seconds(1));
        assert_eq!(retry_delay(3), TimeDelta::seconds(8));
        assert_eq!(retry_delay(50), TimeDelta::seconds(60));
        assert_eq!(retry_delay(-1), TimeDelta::seconds(1));
    }
}
