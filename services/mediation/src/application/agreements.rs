//! Agreements (调解协议) and what follows them: the parties' acceptances, the
//! follow-up visit on performance, and judicial confirmation (司法确认)
//! within its window.

use chrono::{DateTime, TimeDelta, Utc};
use flatgov_auth::policy::Access;
use uuid::Uuid;

use super::Mediation;
use super::disputes::{NextStage, close, end_stage, finish, open, start_stage};
use crate::domain::track::check_acceptances;
use crate::domain::{Outcome, Resolution, Trigger};
use crate::error::Error;
use crate::events;
use crate::store::{self, AcceptanceRow, AgreementRow, StoredDispute};

/// The window for applying for judicial confirmation of an agreement
/// (司法确认): 30 days from the agreement, calendar days as the law counts
/// them (人民调解法 第三十三条), not working days.
pub const CONFIRMATION_WINDOW: TimeDelta = TimeDelta::days(30);

#[derive(Debug, Clone)]
pub struct SignAgreement {
    pub terms: String,
    /// Party numbers with their acceptance times.
    pub acceptances: Vec<(u32, DateTime<Utc>)>,
    pub performance_deadline: DateTime<Utc>,
}

pub async fn sign(
    mediation: &Mediation,
    access: &Access,
    id: Uuid,
    command: SignAgreement,
) -> Result<StoredDispute, Error> {
    const CONTEXT: &str = "signing an agreement";
    let (mut transaction, mut stored) = open(mediation, access, id, CONTEXT).await?;
    let conclusion = stored.track()?.sign()?;
    let party_count = u32::try_from(stored.dispute.party_count).unwrap_or_default();
    let accepted: Vec<u32> = command
        .acceptances
        .iter()
        .map(|(party, _)| *party)
        .collect();
    if let Err(problem) = check_acceptances(party_count, &accepted) {
        let mut violations = flatgov_grpc::error::Violations::new();
        if !problem.missing.is_empty() {
            violations.add(
                "acceptances",
                format!("every party accepts: parties {:?} did not", problem.missing),
            );
        }
        if !problem.unknown_or_repeated.is_empty() {
            violations.add(
                "acceptances",
                format!(
                    "parties {:?} are not parties of the dispute or accept twice",
                    problem.unknown_or_repeated
                ),
            );
        }
        return Err(Error::from(violations));
    }
    let now = mediation.clock.now();
    if command.performance_deadline <= now {
        return Err(Error::invalid(
            "performance_deadline",
            "must be after the signing",
        ));
    }
    let stage = stored.current()?.clone();
    let agreement = AgreementRow {
        stage_number: stage.number,
        terms: command.terms,
        performance_deadline: command.performance_deadline,
        confirmation_window_closes: now + CONFIRMATION_WINDOW,
        sign_time: now,
        state: "awaiting_performance".to_owned(),
        follow_up_notes: None,
        follow_up_time: None,
        confirmation: None,
        confirmation_court: None,
        confirmation_time: None,
    };
    let acceptances: Vec<AcceptanceRow> = command
        .acceptances
        .iter()
        .map(|(party, time)| AcceptanceRow {
            stage_number: stage.number,
            party_number: i32::try_from(*party).unwrap_or_default(),
            accept_time: *time,
        })
        .collect();
    store::insert_agreement(&mut transaction, id, &agreement, &acceptances).await?;
    end_stage(
        &mut transaction,
        &mut stored,
        Outcome::Agreement,
        conclusion,
        now,
    )
    .await?;
    events::agreement_signed(
        &mut transaction,
        &stored.dispute,
        &stage,
        &agreement,
        party_count,
    )
    .await?;
    finish(mediation, access, transaction, id, CONTEXT).await
}

#[derive(Debug, Clone)]
pub struct FollowUp {
    pub performed: bool,
    pub notes: String,
}

pub async fn follow_up(
    mediation: &Mediation,
    access: &Access,
    id: Uuid,
    command: FollowUp,
) -> Result<StoredDispute, Error> {
    const CONTEXT: &str = "recording a follow-up visit";
    let (mut transaction, mut stored) = open(mediation, access, id, CONTEXT).await?;
    stored.track()?.follow_up()?;
    let now = mediation.clock.now();
    let mut agreement = stored
        .current_agreement()
        .cloned()
        .ok_or_else(|| Error::corrupt(format!("performing dispute {id} has no agreement")))?;
    agreement.state = if command.performed {
        "performed"
    } else {
        "breached"
    }
    .to_owned();
    agreement.follow_up_notes = Some(command.notes);
    agreement.follow_up_time = Some(now);
    store::update_agreement(&mut transaction, id, &agreement).await?;
    events::agreement_followed_up(
        &mut transaction,
        &stored.dispute,
        &agreement,
        command.performed,
        now,
    )
    .await?;
    if command.performed {
        close(&mut transaction, &mut stored, Resolution::Performed, now).await?;
    } else {
        // Not performed: the dispute reopens where it was agreed.
        let stage = stored.current()?.clone();
        let level = store::parse_level(&stage.level)?;
        start_stage(
            mediation,
            &mut transaction,
            &mut stored,
            NextStage {
                level,
                organisation: stage.organisation,
                trigger: Trigger::Reopened,
                reason: None,
            },
            now,
        )
        .await?;
    }
    finish(mediation, access, transaction, id, CONTEXT).await
}

#[derive(Debug, Clone)]
pub struct RecordConfirmation {
    /// The court's code.
    pub court: String,
    pub confirmed: bool,
}

/// Records the court's decision on the dispute's latest agreement.
pub async fn record_confirmation(
    mediation: &Mediation,
    access: &Access,
    id: Uuid,
    command: RecordConfirmation,
) -> Result<StoredDispute, Error> {
    const CONTEXT: &str = "recording a judicial confirmation";
    let (mut transaction, stored) = open(mediation, access, id, CONTEXT).await?;
    let agreement = stored.agreements.last().cloned().ok_or_else(|| {
        Error::FailedPrecondition("the dispute has no agreement to confirm".into())
    })?;
    let now = mediation.clock.now();
    if agreement.confirmation.is_some() {
        return Err(Error::FailedPrecondition(
            "the agreement's judicial confirmation was already decided or lapsed".into(),
        ));
    }
    if now > agreement.confirmation_window_closes {
        return Err(Error::FailedPrecondition(
            "the 30-day window for judicial confirmation has closed".into(),
        ));
    }
    let decision = if command.confirmed {
        "confirmed"
    } else {
        "refused"
    };
    let decided = store::decide_confirmation(
        &mut transaction,
        id,
        agreement.stage_number,
        decision,
        &command.court,
        now,
    )
    .await?;
    if !decided {
        return Err(Error::FailedPrecondition(
            "the agreement's judicial confirmation was already decided or lapsed".into(),
        ));
    }
    events::agreement_confirmed(
        &mut transaction,
        &stored.dispute,
        agreement.stage_number,
        &command.court,
        command.confirmed,
        now,
    )
    .await?;
    finish(mediation, access, transaction, id, CONTEXT).await
}
