//! The moments in a case's life a reporter is told about, and the case
//! events that mark them.

use flatgov_proto::notices::v1 as proto;

/// A milestone of a case a resident cares about. Each is sent at most once
/// per case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Milestone {
    /// The first dispatch: the case number and who handles it.
    Received,
    /// The handler accepted it (签收).
    Accepted,
    /// Verified as solved: the reporter is asked to rate.
    Resolved,
    /// The loop closed.
    Closed,
    /// Reopened for rework after an unsatisfied rating.
    Reopened,
    /// The return visit (回访): verified and still unrated after N working days.
    ReturnVisit,
}

impl Milestone {
    pub const ALL: [Milestone; 6] = [
        Milestone::Received,
        Milestone::Accepted,
        Milestone::Resolved,
        Milestone::Closed,
        Milestone::Reopened,
        Milestone::ReturnVisit,
    ];

    /// As stored and as the gateways' JSON names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Milestone::Received => "received",
            Milestone::Accepted => "accepted",
            Milestone::Resolved => "resolved",
            Milestone::Closed => "closed",
            Milestone::Reopened => "reopened",
            Milestone::ReturnVisit => "return_visit",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|milestone| milestone.as_str() == text)
    }

    pub fn to_proto(self) -> proto::Milestone {
        match self {
            Milestone::Received => proto::Milestone::Received,
            Milestone::Accepted => proto::Milestone::Accepted,
            Milestone::Resolved => proto::Milestone::Resolved,
            Milestone::Closed => proto::Milestone::Closed,
            Milestone::Reopened => proto::Milestone::Reopened,
            Milestone::ReturnVisit => proto::Milestone::ReturnVisit,
        }
    }
}

impl std::fmt::Display for Milestone {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_milestone_reads_back_from_its_stored_word() {
        for milestone in Milestone::ALL {
            assert_eq!(Milestone::parse(milestone.as_str()), Some(milestone));
        }
        assert_eq!(Milestone::parse("rated"), None);
    }
}
