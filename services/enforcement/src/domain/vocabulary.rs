//! The words an operation is described with, each with the code stored in
//! the database and published in events.

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_outcomes_sources_and_selections_round_trip_through_their_codes() {
        for state in OperationState::ALL {
            assert_eq!(OperationState::parse(state.as_str()), Some(*state));
        }
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(*outcome));
        }
        for source in WhistleSource::ALL {
            assert_eq!(WhistleSource::parse(source.as_str()), Some(*source));
        }
        for selection in AgencySelection::ALL {
            assert_eq!(AgencySelection::parse(selection.as_str()), Some(*selection));
        }
        assert_eq!(OperationState::parse("closed"), None);
    }
}
