//! The joint operation's life and the rules that guard every step.
//!
//! ```text
//!   BlowWhistle ─┬─> resolving_agencies ──(agencies known)──┐
//!                └──────────────────────────────────────────┴─> open ──Conclude──> concluded
//!                                                                 │                  │  ▲
//!                                                              Cancel     overdue order│  │Conclude
//!                                                                 ▼                  ▼  │
//!                                                             cancelled           follow_up
//! ```
//!
//! Every refusal names the current state or the missing fact, so a caller
//! knows what to do next; a refused step changes nothing.

use std::fmt;

use super::codes::AgencyCode;

macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$variant_meta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }

            pub fn parse(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|value| value.as_str() == code)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }
    };
}

coded_enum!(
    /// Where an operation is in its life.
    OperationState {
        /// Recorded; waiting for the duty lists to say whom to summon.
        ResolvingAgencies = "resolving_agencies",
        Open = "open",
        Concluded = "concluded",
        /// Concluded, reopened by an overdue rectification order.
        FollowUp = "follow_up",
        Cancelled = "cancelled",
    }
);

impl OperationState {
    /// The state in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            OperationState::ResolvingAgencies => "still resolving its agencies",
            OperationState::Open => "open",
            OperationState::Concluded => "concluded",
            OperationState::FollowUp => "in follow-up",
            OperationState::Cancelled => "cancelled",
        }
    }
}

coded_enum!(
    /// How the lead agency concluded.
    Outcome {
        Resolved = "resolved",
        PartiallyResolved = "partially_resolved",
        Referred = "referred",
        NoViolation = "no_violation",
    }
);

coded_enum!(
    /// Where a whistle came from.
    WhistleSource {
        CaseEscalation = "case_escalation",
        Direct = "direct",
    }
);

coded_enum!(
    /// How the summoned agencies were chosen.
    AgencySelection {
        Requested = "requested",
        DutyLists = "duty_lists",
        DefaultSet = "default_set",
    }
);

/// What the rules need to know about one summoned agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummonsFacts {
    pub agency: AgencyCode,
    pub reported_in: bool,
    pub actions_recorded: u32,
}

/// Why a step is refused. Each is a FAILED_PRECONDITION for the caller,
/// but [`Refusal::NotLead`], a PERMISSION_DENIED. A refusal only reaches a
/// caller who sees the operation (whose summonses it may read), and names
/// no agency but the caller's own or the one it asked about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the operation is {}; {step} needs it to be {needed}", .state.describe())]
    WrongState {
        state: OperationState,
        step: &'static str,
        needed: &'static str,
    },
    #[error("agency {agency} is not summoned to this operation")]
    NotSummoned { agency: AgencyCode },
    #[error("agency {agency} is already summoned to this operation")]
    AlreadySummoned { agency: AgencyCode },
    #[error("agency {agency} already reported in with other officers; its report stands")]
    AlreadyReportedIn { agency: AgencyCode },
    #[error("agency {agency} must report in before recording actions")]
    NotReportedIn { agency: AgencyCode },
    #[error("only the lead agency may {step}; agency {caller} does not lead this operation")]
    NotLead {
        step: &'static str,
        caller: AgencyCode,
    },
    #[error("not every summoned agency has reported in: waiting for {}", list(.missing))]
    AgenciesNotReportedIn { missing: Vec<AgencyCode> },
    #[error("not every summoned agency has recorded an action: waiting for {}", list(.missing))]
    AgenciesWithoutActions { missing: Vec<AgencyCode> },
    #[error("rectification orders are overdue and unchecked: {}; record their checks first", .orders.join(", "))]
    OverdueOrdersUnchecked { orders: Vec<String> },
    #[error("agency {agency} was already rated in this operation")]
    AlreadyRated { agency: AgencyCode },
    #[error("rectification order {order} {why}")]
    OrderNotCheckable { order: String, why: String },
}

fn list(agencies: &[AgencyCode]) -> String {
    if agencies.is_empty() {
        return "none".into();
    }
    agencies
        .iter()
        .map(AgencyCode::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn require_state(
    state: OperationState,
    step: &'static str,
    allowed: &[OperationState],
    needed: &'static str,
) -> Result<(), Refusal> {
    if allowed.contains(&state) {
        Ok(())
    } else {
        Err(Refusal::WrongState {
            state,
            step,
            needed,
        })
    }
}

fn find<'a>(summons: &'a [SummonsFacts], agency: &AgencyCode) -> Result<&'a SummonsFacts, Refusal> {
    summons
        .iter()
        .find(|facts| &facts.agency == agency)
        .ok_or_else(|| Refusal::NotSummoned {
            agency: agency.clone(),
        })
}

/// Reporting in: the operation is open and the agency summoned. Returns
/// whether the agency has already reported (the caller then compares the
/// report: the same one is a harmless retry).
pub fn check_report_in(
    state: OperationState,
    summons: &[SummonsFacts],
    agency: &AgencyCode,
) -> Result<bool, Refusal> {
    // No agency is summoned yet while the agencies are being resolved.
    if state == OperationState::ResolvingAgencies {
        return Err(Refusal::WrongState {
            state,
            step: "reporting in",
            needed: "open",
        });
    }
    let facts = find(summons, agency)?;
    if facts.reported_in {
        return Ok(true);
    }
    require_state(state, "reporting in", &[OperationState::Open], "open")?;
    Ok(false)
}

/// Summoning another agency: the operation is open and the agency not yet
/// summoned.
pub fn check_summon(
    state: OperationState,
    summons: &[SummonsFacts],
    agency: &AgencyCode,
) -> Result<(), Refusal> {
    require_state(
        state,
        "summoning an agency",
        &[OperationState::Open],
        "open",
    )?;
    if summons.iter().any(|facts| &facts.agency == agency) {
        return Err(Refusal::AlreadySummoned {
            agency: agency.clone(),
        });
    }
    Ok(())
}

/// Recording an action: open or in follow-up, the agency summoned and
/// reported in.
pub fn check_action(
    state: OperationState,
    summons: &[SummonsFacts],
    agency: &AgencyCode,
) -> Result<(), Refusal> {
    require_state(
        state,
        "recording an action",
        &[OperationState::Open, OperationState::FollowUp],
        "open or in follow-up",
    )?;
    let facts = find(summons, agency)?;
    if !facts.reported_in {
        return Err(Refusal::NotReportedIn {
            agency: agency.clone(),
        });
    }
    Ok(())
}

/// What a conclusion does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConclusionKind {
    /// The first conclusion of an open operation: publishes
    /// `OperationConcluded`, which moves the case on.
    First,
    /// Closing a follow-up: the case has already moved on.
    FollowUpClosed,
}

/// Concluding: only the lead agency, only when every summoned agency has
/// reported in and recorded an action, and no rectification order is
/// overdue without a check.
pub fn check_conclusion(
    state: OperationState,
    lead: &AgencyCode,
    caller: &AgencyCode,
    summons: &[SummonsFacts],
    overdue_unchecked_orders: &[String],
) -> Result<ConclusionKind, Refusal> {
    require_state(
        state,
        "concluding",
        &[OperationState::Open, OperationState::FollowUp],
        "open or in follow-up",
    )?;
    if lead != caller {
        return Err(Refusal::NotLead {
            step: "conclude",
            caller: caller.clone(),
        });
    }
    let not_reported: Vec<AgencyCode> = summons
        .iter()
        .filter(|facts| !facts.reported_in)
        .map(|facts| facts.agency.clone())
        .collect();
    if !not_reported.is_empty() {
        return Err(Refusal::AgenciesNotReportedIn {
            missing: not_reported,
        });
    }
    let without_actions: Vec<AgencyCode> = summons
        .iter()
        .filter(|facts| facts.actions_recorded == 0)
        .map(|facts| facts.agency.clone())
        .collect();
    if !without_actions.is_empty() {
        return Err(Refusal::AgenciesWithoutActions {
            missing: without_actions,
        });
    }
    if !overdue_unchecked_orders.is_empty() {
        return Err(Refusal::OverdueOrdersUnchecked {
            orders: overdue_unchecked_orders.to_vec(),
        });
    }
    Ok(match state {
        OperationState::FollowUp => ConclusionKind::FollowUpClosed,
        _ => ConclusionKind::First,
    })
}

/// Cancelling: only before the operation concluded.
pub fn check_cancel(state: OperationState) -> Result<(), Refusal> {
    require_state(
        state,
        "cancelling",
        &[OperationState::ResolvingAgencies, OperationState::Open],
        "resolving its agencies or open",
    )
}

/// Rating: after the conclusion, a summoned agency, once.
pub fn check_rating(
    state: OperationState,
    summons: &[SummonsFacts],
    agency: &AgencyCode,
    already_rated: bool,
) -> Result<(), Refusal> {
    require_state(
        state,
        "rating an agency",
        &[OperationState::Concluded, OperationState::FollowUp],
        "concluded",
    )?;
    find(summons, agency)?;
    if already_rated {
        return Err(Refusal::AlreadyRated {
            agency: agency.clone(),
        });
    }
    Ok(())
}

/// The facts about an earlier rectification order a check refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub name: String,
    pub agency: AgencyCode,
    pub is_rectification_order: bool,
    pub already_checked: bool,
}

/// A rectification check must refer to an unchecked order the same agency
/// issued in this operation.
pub fn check_rectification_check(
    order: Option<&OrderFacts>,
    order_name: &str,
    agency: &AgencyCode,
) -> Result<(), Refusal> {
    let refuse = |why: String| Refusal::OrderNotCheckable {
        order: order_name.to_owned(),
        why,
    };
    let order = order.ok_or_else(|| refuse("is not an action of this operation".into()))?;
    if !order.is_rectification_order {
        return Err(refuse("is not a rectification order".into()));
    }
    if &order.agency != agency {
        return Err(refuse(
            "was issued by another agency; only that agency checks it".into(),
        ));
    }
    if order.already_checked {
        return Err(refuse("has already been checked".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(code: &str) -> AgencyCode {
        AgencyCode::parse(code).unwrap()
    }

    fn facts(code: &str, reported_in: bool, actions_recorded: u32) -> SummonsFacts {
        SummonsFacts {
            agency: agency(code),
            reported_in,
            actions_recorded,
        }
    }

    #[test]
    fn states_and_outcomes_round_trip_through_their_codes() {
        for state in OperationState::ALL {
            assert_eq!(OperationState::parse(state.as_str()), Some(*state));
        }
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(*outcome));
        }
        assert_eq!(OperationState::parse("closed"), None);
    }

    #[test]
    fn an_agency_that_was_not_summoned_cannot_report_in_and_hears_nothing_of_the_others() {
        let summons = [
            facts("urban_management", false, 0),
            facts("market_supervision", false, 0),
        ];
        let refusal = check_report_in(OperationState::Open, &summons, &agency("public_security"))
            .unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "agency public_security is not summoned to this operation"
        );
    }

    #[test]
    fn reporting_in_needs_an_open_operation_but_a_repeat_is_recognised() {
        let summons = [
            facts("urban_management", false, 0),
            facts("market_supervision", true, 0),
        ];
        assert_eq!(
            check_report_in(OperationState::Open, &summons, &agency("urban_management")),
            Ok(false)
        );
        assert_eq!(
            check_report_in(
                OperationState::Open,
                &summons,
                &agency("market_supervision")
            ),
            Ok(true)
        );
        let refusal = check_report_in(
            OperationState::Cancelled,
            &summons,
            &agency("urban_management"),
        )
        .unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "the operation is cancelled; reporting in needs it to be open"
        );
        let refusal = check_report_in(
            OperationState::ResolvingAgencies,
            &[],
            &agency("urban_management"),
        )
        .unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "the operation is still resolving its agencies; reporting in needs it to be open"
        );
    }

    #[test]
    fn actions_need_a_report_in_and_an_operation_that_has_not_concluded() {
        let summons = [
            facts("urban_management", true, 0),
            facts("market_supervision", false, 0),
        ];
        assert!(check_action(OperationState::Open, &summons, &agency("urban_management")).is_ok());
        assert!(
            check_action(
                OperationState::FollowUp,
                &summons,
                &agency("urban_management")
            )
            .is_ok()
        );
        assert_eq!(
            check_action(
                OperationState::Open,
                &summons,
                &agency("market_supervision")
            ),
            Err(Refusal::NotReportedIn {
                agency: agency("market_supervision")
            })
        );
        let refusal = check_action(
            OperationState::Concluded,
            &summons,
            &agency("urban_management"),
        )
        .unwrap_err();
        assert!(
            refusal.to_string().contains("the operation is concluded"),
            "{refusal}"
        );
    }

    #[test]
    fn only_the_lead_concludes_and_only_once_everyone_reported_and_acted() {
        let lead = agency("urban_management");
        let waiting = [
            facts("urban_management", true, 1),
            facts("market_supervision", false, 0),
        ];
        assert_eq!(
            check_conclusion(
                OperationState::Open,
                &lead,
                &agency("market_supervision"),
                &waiting,
                &[]
            ),
            Err(Refusal::NotLead {
                step: "conclude",
                caller: agency("market_supervision")
            })
        );
        let refusal =
            check_conclusion(OperationState::Open, &lead, &lead, &waiting, &[]).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "not every summoned agency has reported in: waiting for market_supervision"
        );
        let silent = [
            facts("urban_management", true, 1),
            facts("market_supervision", true, 0),
        ];
        assert_eq!(
            check_conclusion(OperationState::Open, &lead, &lead, &silent, &[]),
            Err(Refusal::AgenciesWithoutActions {
                missing: vec![agency("market_supervision")]
            })
        );
        let done = [
            facts("urban_management", true, 1),
            facts("market_supervision", true, 2),
        ];
        assert_eq!(
            check_conclusion(OperationState::Open, &lead, &lead, &done, &[]),
            Ok(ConclusionKind::First)
        );
        assert_eq!(
            check_conclusion(OperationState::FollowUp, &lead, &lead, &done, &[]),
            Ok(ConclusionKind::FollowUpClosed)
        );
        assert!(matches!(
            check_conclusion(
                OperationState::Open,
                &lead,
                &lead,
                &done,
                &["operations/x/actions/y".into()]
            ),
            Err(Refusal::OverdueOrdersUnchecked { .. })
        ));
        assert!(matches!(
            check_conclusion(OperationState::Concluded, &lead, &lead, &done, &[]),
            Err(Refusal::WrongState {
                state: OperationState::Concluded,
                ..
            })
        ));
    }

    #[test]
    fn only_operations_that_have_not_concluded_can_be_cancelled() {
        assert!(check_cancel(OperationState::ResolvingAgencies).is_ok());
        assert!(check_cancel(OperationState::Open).is_ok());
        for state in [
            OperationState::Concluded,
            OperationState::FollowUp,
            OperationState::Cancelled,
        ] {
            assert!(check_cancel(state).is_err(), "{state}");
        }
    }

    #[test]
    fn a_summoned_agency_is_rated_once_after_the_conclusion() {
        let summons = [facts("urban_management", true, 1)];
        let urban = agency("urban_management");
        assert!(check_rating(OperationState::Concluded, &summons, &urban, false).is_ok());
        assert!(check_rating(OperationState::Open, &summons, &urban, false).is_err());
        assert_eq!(
            check_rating(OperationState::Concluded, &summons, &urban, true),
            Err(Refusal::AlreadyRated {
                agency: urban.clone()
            })
        );
        assert!(matches!(
            check_rating(
                OperationState::Concluded,
                &summons,
                &agency("public_security"),
                false
            ),
            Err(Refusal::NotSummoned { .. })
        ));
    }

    #[test]
    fn summoning_twice_or_after_the_end_is_refused() {
        let summons = [facts("urban_management", false, 0)];
        assert!(check_summon(OperationState::Open, &summons, &agency("public_security")).is_ok());
        assert_eq!(
            check_summon(OperationState::Open, &summons, &agency("urban_management")),
            Err(Refusal::AlreadySummoned {
                agency: agency("urban_management")
            })
        );
        assert!(
            check_summon(
                OperationState::Concluded,
                &summons,
                &agency("public_security")
            )
            .is_err()
        );
    }

    #[test]
    fn a_check_refers_to_an_unchecked_order_of_the_same_agency() {
        let urban = agency("urban_management");
        let order = OrderFacts {
            name: "operations/o/actions/a".into(),
            agency: urban.clone(),
            is_rectification_order: true,
            already_checked: false,
        };
        assert!(check_rectification_check(Some(&order), &order.name, &urban).is_ok());
        assert!(
            check_rectification_check(None, &order.name, &urban)
                .unwrap_err()
                .to_string()
                .contains("is not an action of this operation")
        );
        let other = agency("market_supervision");
        assert!(
            check_rectification_check(Some(&order), &order.name, &other)
                .unwrap_err()
                .to_string()
                .contains("only that agency checks it")
        );
        let checked = OrderFacts {
            already_checked: true,
            ..order.clone()
        };
        assert!(check_rectification_check(Some(&checked), &order.name, &urban).is_err());
        let inspection = OrderFacts {
            is_rectification_order: false,
            ..order
        };
        assert!(check_rectification_check(Some(&inspection), "x", &urban).is_err());
    }
}
