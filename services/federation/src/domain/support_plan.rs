//! The support plan aggregate: a person's plan, led by one member
//! organisation, in which member organisations each commit measures and
//! deliver them. A plan is opened by [`Plan::open`] and changed only by
//! [`Plan::apply`], which takes who acts ([`Actor`]) and what they ask
//! ([`Command`]), checks the guards, and returns the [`Record`]s the store
//! persists (and the use case announces). A refused command returns a
//! [`Refusal`] and changes nothing.
//!
//! ```text
//!   plan:     active ──close(completed)──▶ completed
//!                    └─close(ended)─────▶ ended
//!   measure:  committed ──delivery that completes it──▶ delivered
//!             committed ──its plan closes──────────────▶ withdrawn
//! ```
//!
//! # Guards
//!
//! - A plan opens with at least one measure: joint support means
//!   organisations commit.
//! - Every command needs an active plan (FAILED_PRECONDITION naming the
//!   state).
//! - A measure is committed by its own organisation, or by the plan's lead
//!   on another organisation's behalf.
//! - A delivery is recorded only for a measure of the plan, only by the
//!   organisation that committed it, and only while it is committed.
//! - Only the lead closes the plan, as completed (its goal met) or ended;
//!   measures still committed are withdrawn with it.
//! - Any organisation the plan reaches logs visits under it.
//!
//! Who may see the plan at all (the organisations the person's record
//! belongs to) is the use case's question, asked before the plan is loaded.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::kinds::{MeasureKind, MeasureState, SupportPlanState, VisitKind, require_state};

/// A plan as its guards need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub id: Uuid,
    /// The code of the organisation coordinating the plan.
    pub lead: String,
    pub state: SupportPlanState,
    /// In the order they were committed.
    pub measures: Vec<Measure>,
}

/// One organisation's commitment within a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub id: Uuid,
    /// The code of the organisation that commits and delivers it.
    pub organisation: String,
    pub kind: MeasureKind,
    pub state: MeasureState,
}

/// Who acts: a staff member of a member organisation.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// Their organisation's code.
    pub organisation: &'a str,
    /// Their token subject, recorded as who did it.
    pub subject: &'a str,
}

/// A measure to commit.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMeasure {
    pub id: Uuid,
    pub organisation: String,
    pub kind: MeasureKind,
    pub description: String,
    pub due_at: Option<DateTime<Utc>>,
}

/// What someone asks a plan to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Commit a further measure.
    AddMeasure(NewMeasure),
    /// Record a delivery of a measure, which may complete it.
    RecordDelivery {
        measure: Uuid,
        delivered_at: DateTime<Utc>,
        description: String,
        /// In fen, for cash assistance; 0 otherwise.
        amount_fen: i64,
        completes_measure: bool,
    },
    /// Log a visit (home visit, call, meeting).
    LogVisit {
        id: Uuid,
        kind: VisitKind,
        visited_at: DateTime<Utc>,
        notes: String,
    },
    /// Close the plan as completed or ended.
    Close {
        state: SupportPlanState,
        note: String,
        at: DateTime<Utc>,
    },
}

/// What a command did, for the store to persist in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    MeasureCommitted {
        measure: NewMeasure,
        committed_by: String,
    },
    Delivered {
        measure: Uuid,
        organisation: String,
        kind: MeasureKind,
        delivered_by: String,
        delivered_at: DateTime<Utc>,
        description: String,
        amount_fen: i64,
        completes_measure: bool,
    },
    MeasureCompleted {
        measure: Uuid,
        at: DateTime<Utc>,
    },
    VisitLogged {
        id: Uuid,
        organisation: String,
        visited_by: String,
        kind: VisitKind,
        visited_at: DateTime<Utc>,
        notes: String,
    },
    MeasureWithdrawn {
        measure: Uuid,
    },
    Closed {
        state: SupportPlanState,
        note: String,
        at: DateTime<Utc>,
        measures_delivered: usize,
        measures_withdrawn: usize,
    },
}

/// Why a command was refused; the plan is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A plan opens with at least one measure.
    #[error(
        "a support plan needs at least one measure: each organisation commits what it will deliver"
    )]
    NoMeasures,
    /// The plan or the measure is in a state that does not allow it.
    #[error("{0}")]
    State(String),
    /// An organisation other than the lead committed for another.
    #[error(
        "an organisation commits measures for itself; only the plan's lead commits on behalf of another"
    )]
    CommitsForAnother,
    /// Someone other than the committing organisation delivered.
    #[error("only the organisation that committed a measure records its deliveries")]
    NotTheCommitter,
    /// Someone other than the lead closed the plan.
    #[error("only the plan's lead organisation closes it")]
    NotTheLead,
    /// The command named a measure the plan does not have.
    #[error("the plan has no measure {0}")]
    NoSuchMeasure(Uuid),
    /// A plan closes as completed or ended, not active.
    #[error("a plan closes as completed or ended")]
    NotAClosingState,
}

impl Plan {
    /// A new active plan led by `actor`'s organisation, with its measures.
    pub fn open(
        id: Uuid,
        actor: Actor<'_>,
        measures: Vec<NewMeasure>,
    ) -> Result<(Plan, Vec<Record>), Refusal> {
        if measures.is_empty() {
            return Err(Refusal::NoMeasures);
        }
        let plan = Plan {
            id,
            lead: actor.organisation.to_owned(),
            state: SupportPlanState::Active,
            measures: measures
                .iter()
                .map(|measure| Measure {
                    id: measure.id,
                    organisation: measure.organisation.clone(),
                    kind: measure.kind,
                    state: MeasureState::Committed,
                })
                .collect(),
        };
        let records = measures
            .into_iter()
            .map(|measure| Record::MeasureCommitted {
                measure,
                committed_by: actor.subject.to_owned(),
            })
            .collect();
        Ok((plan, records))
    }

    /// Checks `command` against the guards; the records of what it does.
    pub fn apply(&self, actor: Actor<'_>, command: Command) -> Result<Vec<Record>, Refusal> {
        let action = match &command {
            Command::AddMeasure(_) => "given more measures",
            Command::RecordDelivery { .. } => "delivered on",
            Command::LogVisit { .. } => "visited under",
            Command::Close { .. } => "closed",
        };
        require_state(
            "support plan",
            self.state,
            &[SupportPlanState::Active],
            action,
        )
        .map_err(Refusal::State)?;
        match command {
            Command::AddMeasure(measure) => {
                if measure.organisation != actor.organisation && self.lead != actor.organisation {
                    return Err(Refusal::CommitsForAnother);
                }
                Ok(vec![Record::MeasureCommitted {
                    measure,
                    committed_by: actor.subject.to_owned(),
                }])
            }
            Command::RecordDelivery {
                measure,
                delivered_at,
                description,
                amount_fen,
                completes_measure,
            } => {
                let committed = self
                    .measures
                    .iter()
                    .find(|candidate| candidate.id == measure)
                    .ok_or(Refusal::NoSuchMeasure(measure))?;
                if committed.organisation != actor.organisation {
                    return Err(Refusal::NotTheCommitter);
                }
                require_state(
                    "measure",
                    committed.state,
                    &[MeasureState::Committed],
                    "delivered on",
                )
                .map_err(Refusal::State)?;
                let mut records = vec![Record::Delivered {
                    measure,
                    organisation: committed.organisation.clone(),
                    kind: committed.kind,
                    delivered_by: actor.subject.to_owned(),
                    delivered_at,
                    description,
                    amount_fen,
                    completes_measure,
                }];
                if completes_measure {
                    records.push(Record::MeasureCompleted {
                        measure,
                        at: delivered_at,
                    });
                }
                Ok(records)
            }
            Command::LogVisit {
                id,
                kind,
                visited_at,
                notes,
            } => Ok(vec![Record::VisitLogged {
                id,
                organisation: actor.organisation.to_owned(),
                visited_by: actor.subject.to_owned(),
                kind,
                visited_at,
                notes,
            }]),
            Command::Close { state, note, at } => {
                if self.lead != actor.organisation {
                    return Err(Refusal::NotTheLead);
                }
                if state == SupportPlanState::Active {
                    return Err(Refusal::NotAClosingState);
                }
                let withdrawn: Vec<Record> = self
                    .measures
                    .iter()
                    .filter(|measure| measure.state == MeasureState::Committed)
                    .map(|measure| Record::MeasureWithdrawn {
                        measure: measure.id,
                    })
                    .collect();
                let measures_delivered = self
                    .measures
                    .iter()
                    .filter(|measure| measure.state == MeasureState::Delivered)
                    .count();
                let measures_withdrawn = withdrawn.len();
                let mut records = withdrawn;
                records.push(Record::Closed {
                    state,
                    note,
                    at,
                    measures_delivered,
                    measures_withdrawn,
                });
                Ok(records)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed instant: the rules never read a clock, they are handed one.
    fn an_instant() -> DateTime<Utc> {
        "2026-03-02T09:00:00Z".parse().expect("a valid instant")
    }

    const LEAD: Actor<'static> = Actor {
        organisation: "womens_federation",
        subject: "wf-1",
    };
    const PARTNER: Actor<'static> = Actor {
        organisation: "red_cross",
        subject: "rc-1",
    };

    fn measure(organisation: &str, kind: MeasureKind) -> NewMeasure {
        NewMeasure {
            id: Uuid::now_v7(),
            organisation: organisation.into(),
            kind,
            description: "米面油".into(),
            due_at: None,
        }
    }

    fn opened() -> Plan {
        Plan::open(
            Uuid::now_v7(),
            LEAD,
            vec![
                measure("red_cross", MeasureKind::MaterialAid),
                measure("womens_federation", MeasureKind::Companionship),
            ],
        )
        .unwrap()
        .0
    }

    fn delivery(measure: Uuid, completes_measure: bool) -> Command {
        Command::RecordDelivery {
            measure,
            delivered_at: an_instant(),
            description: "一袋米".into(),
            amount_fen: 0,
            completes_measure,
        }
    }

    #[test]
    fn a_plan_opens_only_with_measures_each_committed_by_the_lead_staff_member() {
        assert_eq!(
            Plan::open(Uuid::now_v7(), LEAD, vec![]).unwrap_err(),
            Refusal::NoMeasures
        );
        let (plan, records) = Plan::open(
            Uuid::now_v7(),
            LEAD,
            vec![measure("red_cross", MeasureKind::LegalAid)],
        )
        .unwrap();
        assert_eq!(plan.state, SupportPlanState::Active);
        assert_eq!(plan.lead, "womens_federation");
        assert!(matches!(
            &records[..],
            [Record::MeasureCommitted { committed_by, .. }] if committed_by == "wf-1"
        ));
    }

    #[test]
    fn an_organisation_commits_for_itself_and_only_the_lead_for_others() {
        let plan = opened();
        let own = Command::AddMeasure(measure("red_cross", MeasureKind::CareService));
        assert!(plan.apply(PARTNER, own).is_ok());
        let for_another = Command::AddMeasure(measure(
            "federation_of_trade_unions",
            MeasureKind::JobPlacement,
        ));
        assert_eq!(
            plan.apply(PARTNER, for_another.clone()).unwrap_err(),
            Refusal::CommitsForAnother
        );
        assert!(plan.apply(LEAD, for_another).is_ok());
    }

    #[test]
    fn only_the_committer_delivers_a_committed_measure_and_a_completing_delivery_completes_it() {
        let mut plan = opened();
        let red_cross_measure = plan.measures[0].id;
        assert_eq!(
            plan.apply(LEAD, delivery(red_cross_measure, true))
                .unwrap_err(),
            Refusal::NotTheCommitter
        );
        let records = plan
            .apply(PARTNER, delivery(red_cross_measure, true))
            .unwrap();
        assert!(
            matches!(records[1], Record::MeasureCompleted { measure, .. } if measure == red_cross_measure)
        );
        let unknown = Uuid::now_v7();
        assert_eq!(
            plan.apply(PARTNER, delivery(unknown, false)).unwrap_err(),
            Refusal::NoSuchMeasure(unknown)
        );
        plan.measures[0].state = MeasureState::Delivered;
        let again = plan
            .apply(PARTNER, delivery(red_cross_measure, false))
            .unwrap_err();
        assert_eq!(
            again,
            Refusal::State(
                "measure is delivered; it can be delivered on only when committed".into()
            )
        );
    }

    #[test]
    fn only_the_lead_closes_withdrawing_what_was_not_delivered_and_a_closed_plan_takes_nothing() {
        let mut plan = opened();
        plan.measures[0].state = MeasureState::Delivered;
        let close = Command::Close {
            state: SupportPlanState::Completed,
            note: "已渡过难关".into(),
            at: an_instant(),
        };
        assert_eq!(
            plan.apply(PARTNER, close.clone()).unwrap_err(),
            Refusal::NotTheLead
        );
        let records = plan.apply(LEAD, close).unwrap();
        assert_eq!(records.len(), 2);
        assert!(matches!(
            records[1],
            Record::Closed {
                measures_delivered: 1,
                measures_withdrawn: 1,
                ..
            }
        ));
        plan.state = SupportPlanState::Completed;
        let visit = Command::LogVisit {
            id: Uuid::now_v7(),
            kind: VisitKind::PhoneCall,
            visited_at: an_instant(),
            notes: String::new(),
        };
        assert_eq!(
            plan.apply(LEAD, visit).unwrap_err(),
            Refusal::State(
                "support plan is completed; it can be visited under only when active".into()
            )
        );
    }
}
