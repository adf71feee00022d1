//! The closed sets of codes a case is described with. Each code is stable: it is what the
//! database stores, what events carry and what the proto enums are named after.

use crate::domain::values::code_enum;

code_enum! {
    /// Where a case stands in the closed loop.
    ///
    /// The main line is reported → triaged → dispatched → accepted → in_progress → resolved
    /// → verified → rated → closed. Side states: `awaiting_manual_location` (the reported
    /// point lies outside every block, a dispatcher must place it by hand) and `parked`
    /// (挂账: cannot be solved now; kept in the register with a review date).
    pub enum CaseState ("case state") {
        /// Received from a channel; triage has not run yet (or is waiting for the block
        /// registry or the duty lists to answer).
        Reported = "reported",
        /// The reported point lies outside every block: visible as such, waiting for a
        /// dispatcher to place it by hand. Never dropped.
        AwaitingManualLocation = "awaiting_manual_location",
        /// Block, matter and tier are known; waiting for a dispatch the duty-list gate accepts.
        Triaged = "triaged",
        /// Assigned to a handler, who has not accepted yet. The acceptance clock runs.
        Dispatched = "dispatched",
        /// The handler has accepted (签收). The resolution clock runs.
        Accepted = "accepted",
        /// The handler is working on it (also after rework).
        InProgress = "in_progress",
        /// The handler says it is solved; waiting for verification by someone else.
        Resolved = "resolved",
        /// Verification confirmed the solution; waiting for the resident's rating.
        Verified = "verified",
        /// The resident rated the result satisfied or basically satisfied; waiting for the
        /// feedback to be closed.
        Rated = "rated",
        /// In the 挂账 register: cannot be solved now, reviewed on a date. No clock runs.
        Parked = "parked",
        /// The loop is closed; nothing more happens to the case.
        Closed = "closed",
    }
}

impl CaseState {
    /// Whether the case is still open (anything but closed). Parked cases are open: they
    /// are unsolved and count in the indicators.
    pub fn is_open(self) -> bool {
        self != CaseState::Closed
    }

    /// Whether the case is with its handler (dispatched, accepted or in progress): the
    /// states in which the resolution deadline runs and an escalation or reassignment moves it.
    pub fn is_with_handler(self) -> bool {
        matches!(
            self,
            CaseState::Dispatched | CaseState::Accepted | CaseState::InProgress
        )
    }
}

code_enum! {
    /// What kind of matter a resident brings.
    pub enum CaseKind ("case kind") {
        /// A problem or complaint (问题/投诉): a broken street light, noise, litter.
        Problem = "problem",
        /// A safety hazard (风险隐患): a cracked wall, blocked fire escape, gas smell.
        SafetyHazard = "safety_hazard",
        /// A dispute between residents (矛盾纠纷) to mediate.
        Dispute = "dispute",
        /// An errand handled on a resident's behalf (帮代办): pension annual review,
        /// medical insurance payment, subsistence allowance application…
        Errand = "errand",
        /// Support for a needy person (困难群众帮扶), often referred to the federation.
        NeedyPersonSupport = "needy_person_support",
    }
}

code_enum! {
    /// How the report reached the service.
    pub enum Channel ("channel") {
        /// The resident app or the WeChat mini-program.
        ResidentApp = "resident_app",
        /// The 12345 government service hotline.
        Hotline12345 = "hotline_12345",
        /// A governor's or assistant's patrol (巡查).
        Patrol = "patrol",
        /// A video surveillance alert.
        VideoAlert = "video_alert",
        /// A walk-in at the service centre.
        WalkIn = "walk_in",
        /// A referral from a higher level of government.
        Referral = "referral",
    }
}

code_enum! {
    /// Who handles the case: the three tiers of the reform, in escalation order.
    pub enum Tier ("tier") {
        /// General problems: the block's team at the front line (区块服务平台).
        FrontLine = "front_line",
        /// Complex problems: the subdistrict's coordination meeting (综合协调平台).
        CoordinationMeeting = "coordination_meeting",
        /// Hard problems: blowing the whistle (吹哨) to summon urban management, market
        /// supervision and police.
        Whistle = "whistle",
    }
}

impl Tier {
    /// The tier an escalation moves to, or `None` from the whistle, the highest.
    pub fn next(self) -> Option<Tier> {
        match self {
            Tier::FrontLine => Some(Tier::CoordinationMeeting),
            Tier::CoordinationMeeting => Some(Tier::Whistle),
            Tier::Whistle => None,
        }
    }
}

code_enum! {
    /// The resident's rating of the result.
    pub enum Rating ("rating") {
        /// 满意.
        Satisfied = "satisfied",
        /// 基本满意.
        BasicallySatisfied = "basically_satisfied",
        /// 不满意: reopens the case once for rework.
        Unsatisfied = "unsatisfied",
    }
}

impl Rating {
    /// Whether the rating counts towards the satisfaction rate (满意率): satisfied and
    /// basically satisfied do.
    pub fn counts_as_satisfied(self) -> bool {
        self != Rating::Unsatisfied
    }
}

code_enum! {
    /// The two time limits a handler has.
    pub enum DeadlineKind ("deadline") {
        /// Accept the case (签收) after dispatch.
        Acceptance = "acceptance",
        /// Resolve it (办结).
        Resolution = "resolution",
    }
}

code_enum! {
    /// How a case was closed.
    pub enum Closure ("closure") {
        /// After a satisfied or basically satisfied rating.
        Rated = "rated",
        /// After a second unsatisfied rating: the reopening has been used.
        Unsatisfied = "unsatisfied",
        /// Verified, but no rating came (an anonymous report, or the resident did not answer).
        Unrated = "unrated",
        /// Dismissed before dispatch: not a matter for this service (a duplicate, a test,
        /// abuse). Does not count as received work in the indicators' rates.
        Dismissed = "dismissed",
    }
}

code_enum! {
    /// How a rework (返工) came about.
    pub enum ReworkTrigger ("rework trigger") {
        /// Verification found the problem not solved.
        FailedVerification = "failed_verification",
        /// The resident rated the result unsatisfied (the one reopening).
        UnsatisfiedRating = "unsatisfied_rating",
    }
}

code_enum! {
    /// Every command a case accepts, named in errors ("cannot rate a case that is resolved").
    pub enum CommandKind ("command") {
        /// [`super::Command::Triage`].
        Triage = "triage",
        /// [`super::Command::FlagLocationOutsideBlocks`].
        FlagLocationOutsideBlocks = "flag_location_outside_blocks",
        /// [`super::Command::Dispatch`].
        Dispatch = "dispatch",
        /// [`super::Command::RefuseDispatch`].
        RefuseDispatch = "refuse_dispatch",
        /// [`super::Command::Reclassify`].
        Reclassify = "reclassify",
        /// [`super::Command::Accept`].
        Accept = "accept",
        /// [`super::Command::StartWork`].
        StartWork = "start_work",
        /// [`super::Command::Resolve`].
        Resolve = "resolve",
        /// [`super::Command::PassVerification`].
        PassVerification = "pass_verification",
        /// [`super::Command::FailVerification`].
        FailVerification = "fail_verification",
        /// [`super::Command::Rate`].
        Rate = "rate",
        /// [`super::Command::Close`].
        Close = "close",
        /// [`super::Command::CloseUnrated`].
        CloseUnrated = "close_unrated",
        /// [`super::Command::Dismiss`].
        Dismiss = "dismiss",
        /// [`super::Command::RequestExtension`].
        RequestExtension = "request_extension",
        /// [`super::Command::ApproveExtension`].
        ApproveExtension = "approve_extension",
        /// [`super::Command::DenyExtension`].
        DenyExtension = "deny_extension",
        /// [`super::Command::ExtendByDecision`].
        ExtendByDecision = "extend_by_decision",
        /// [`super::Command::Park`].
        Park = "park",
        /// [`super::Command::Unpark`].
        Unpark = "unpark",
        /// [`super::Command::Escalate`].
        Escalate = "escalate",
        /// [`super::Command::Reassign`].
        Reassign = "reassign",
        /// [`super::Command::Rehome`].
        Rehome = "rehome",
        /// [`super::Command::MarkOverdue`].
        MarkOverdue = "mark_overdue",
        /// [`super::Command::RecordMeToo`].
        RecordMeToo = "record_me_too",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_the_same_member() {
        fn round_trip<T>(all: &[T])
        where
            T: Copy + std::fmt::Display + std::str::FromStr + PartialEq + std::fmt::Debug,
            T::Err: std::fmt::Debug,
        {
            for member in all {
                assert_eq!(member.to_string().parse::<T>().unwrap(), *member);
            }
        }
        round_trip(CaseState::ALL);
        round_trip(CaseKind::ALL);
        round_trip(Channel::ALL);
        round_trip(Tier::ALL);
        round_trip(Rating::ALL);
        round_trip(DeadlineKind::ALL);
        round_trip(Closure::ALL);
        round_trip(ReworkTrigger::ALL);
        round_trip(CommandKind::ALL);
    }

    #[test]
    fn an_unknown_code_lists_the_accepted_ones() {
        let error = "complaint".parse::<CaseKind>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown case kind `complaint`: expected one of problem, safety_hazard, dispute, errand, needy_person_support"
        );
    }

    #[test]
    fn serde_uses_the_same_codes_as_the_database() {
        assert_eq!(
            serde_json::to_string(&CaseState::InProgress).unwrap(),
            "\"in_progress\""
        );
        assert_eq!(
            serde_json::from_str::<Channel>("\"hotline_12345\"").unwrap(),
            Channel::Hotline12345
        );
    }

    #[test]
    fn escalation_climbs_front_line_then_meeting_then_whistle_and_stops() {
        assert_eq!(Tier::FrontLine.next(), Some(Tier::CoordinationMeeting));
        assert_eq!(Tier::CoordinationMeeting.next(), Some(Tier::Whistle));
        assert_eq!(Tier::Whistle.next(), None);
    }

    #[test]
    fn satisfied_and_basically_satisfied_count_as_satisfied() {
        assert!(Rating::Satisfied.counts_as_satisfied());
        assert!(Rating::BasicallySatisfied.counts_as_satisfied());
        assert!(!Rating::Unsatisfied.counts_as_satisfied());
    }

    #[test]
    fn only_a_closed_case_is_not_open() {
        for state in CaseState::ALL {
            assert_eq!(state.is_open(), *state != CaseState::Closed, "{state}");
        }
    }
}
