//! Closed sets of words: states, kinds, categories. Each member has one
//! lower-snake-case spelling used in the database, in events and (upper
//! cased, after the enum's prefix) in the proto enums.

use std::fmt;

/// Declares an enum whose members have stable words.
macro_rules! word_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$variant_meta:meta])* $variant:ident = $word:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// What the set is called in error messages.
            pub const WHAT: &'static str = $what;

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word ),+
                }
            }

            /// The member spelled `word`, if any.
            pub fn parse(word: &str) -> Option<Self> {
                match word {
                    $( $word => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// Reads a stored word; a word the code does not know means the
            /// database holds something this version cannot interpret.
            pub fn from_stored(word: &str) -> Result<Self, UnknownWord> {
                Self::parse(word).ok_or_else(|| UnknownWord {
                    what: $what,
                    word: word.to_owned(),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }
    };
}

/// A stored word that names no member of its set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored {what} `{word}` is unknown to this version")]
pub struct UnknownWord {
    pub what: &'static str,
    pub word: String,
}

word_enum! {
    /// What a staff member may do beyond the `federation_staff` role.
    pub enum StaffPermission ("staff permission") {
        PeopleRegister = "people_register",
        PeopleRegisterAll = "people_register_all",
        ManageStaff = "manage_staff",
    }
}

word_enum! {
    pub enum Audience ("audience") {
        AllResidents = "all_residents",
        Youth = "youth",
        Children = "children",
        Women = "women",
        Families = "families",
        Elderly = "elderly",
        PeopleWithDisabilities = "people_with_disabilities",
        Workers = "workers",
        Entrepreneurs = "entrepreneurs",
        Volunteers = "volunteers",
    }
}

word_enum! {
    pub enum ActivityState ("activity state") {
        Draft = "draft",
        Published = "published",
        Held = "held",
        Cancelled = "cancelled",
    }
}

word_enum! {
    pub enum RegistrationStatus ("registration status") {
        Confirmed = "confirmed",
        Waitlisted = "waitlisted",
        Cancelled = "cancelled",
        Attended = "attended",
    }
}

word_enum! {
    pub enum DifficultyCategory ("difficulty category") {
        SubsistenceAllowance = "subsistence_allowance",
        ExtremePoverty = "extreme_poverty",
        LowIncome = "low_income",
        Disability = "disability",
        SeriousIllness = "serious_illness",
        ElderlyAlone = "elderly_alone",
        ChildInDifficulty = "child_in_difficulty",
        SingleParent = "single_parent",
        Unemployed = "unemployed",
        SuddenHardship = "sudden_hardship",
        Other = "other",
    }
}

word_enum! {
    pub enum ConsentMethod ("consent method") {
        Written = "written",
        Oral = "oral",
        Electronic = "electronic",
        Guardian = "guardian",
    }
}

word_enum! {
    pub enum Gender ("gender") {
        Female = "female",
        Male = "male",
    }
}

word_enum! {
    pub enum NeedArea ("need area") {
        Income = "income",
        Health = "health",
        Housing = "housing",
        Employment = "employment",
        Education = "education",
        DailyCare = "daily_care",
        Legal = "legal",
        Psychological = "psychological",
        Other = "other",
    }
}

word_enum! {
    pub enum Severity ("severity") {
        Low = "low",
        Medium = "medium",
        High = "high",
        Urgent = "urgent",
    }
}

word_enum! {
    pub enum MeasureKind ("measure kind") {
        CashAssistance = "cash_assistance",
        MaterialAid = "material_aid",
        MedicalAssistance = "medical_assistance",
        JobPlacement = "job_placement",
        SkillsTraining = "skills_training",
        EducationSupport = "education_support",
        LegalAid = "legal_aid",
        PsychologicalCounselling = "psychological_counselling",
        Companionship = "companionship",
        CareService = "care_service",
        BenefitApplication = "benefit_application",
        Other = "other",
    }
}

word_enum! {
    pub enum MeasureState ("measure state") {
        Committed = "committed",
        Delivered = "delivered",
        Withdrawn = "withdrawn",
    }
}

word_enum! {
    pub enum SupportPlanState ("support plan state") {
        Active = "active",
        Completed = "completed",
        Ended = "ended",
    }
}

word_enum! {
    pub enum VisitKind ("visit kind") {
        HomeVisit = "home_visit",
        PhoneCall = "phone_call",
        OfficeMeeting = "office_meeting",
        VideoCall = "video_call",
    }
}

word_enum! {
    /// Where a request to share a person's record stands.
    pub enum SharingRequestState ("sharing request state") {
        Pending = "pending",
        Approved = "approved",
        Declined = "declined",
    }
}

word_enum! {
    pub enum ReferralState ("referral state") {
        Pending = "pending",
        Accepted = "accepted",
        Declined = "declined",
    }
}

word_enum! {
    pub enum RightsCategory ("rights category") {
        Women = "women",
        Children = "children",
        Youth = "youth",
        PeopleWithDisabilities = "people_with_disabilities",
        Workers = "workers",
        ReturnedOverseasChinese = "returned_overseas_chinese",
        PrivateEnterprises = "private_enterprises",
        Other = "other",
    }
}

word_enum! {
    pub enum RightsChannel ("rights channel") {
        Hotline = "hotline",
        WalkIn = "walk_in",
        Online = "online",
        Referral = "referral",
    }
}

word_enum! {
    pub enum RightsRequestState ("rights request state") {
        Received = "received",
        InProgress = "in_progress",
        Resolved = "resolved",
    }
}

word_enum! {
    pub enum RightsOutcome ("rights outcome") {
        Mediated = "mediated",
        LegalAid = "legal_aid",
        ReferredToAuthority = "referred_to_authority",
        AdviceGiven = "advice_given",
        Withdrawn = "withdrawn",
        Unresolved = "unresolved",
    }
}

impl RightsOutcome {
    /// Whether the outcome counts as the request being resolved in the
    /// indicators (a withdrawal or a failure closes it without resolving).
    pub fn is_resolution(self) -> bool {
        !matches!(self, RightsOutcome::Withdrawn | RightsOutcome::Unresolved)
    }
}

word_enum! {
    pub enum RightsActionKind ("rights action kind") {
        Note = "note",
        Contact = "contact",
        Mediation = "mediation",
        LegalConsultation = "legal_consultation",
        Transfer = "transfer",
        CaseLinked = "case_linked",
        Resolution = "resolution",
    }
}

impl RightsActionKind {
    /// Kinds staff record by hand; the others the service records itself.
    pub fn is_recordable(self) -> bool {
        matches!(
            self,
            RightsActionKind::Note
                | RightsActionKind::Contact
                | RightsActionKind::Mediation
                | RightsActionKind::LegalConsultation
        )
    }
}

word_enum! {
    pub enum ProgrammeKind ("programme kind") {
        Incubation = "incubation",
        Training = "training",
        Competition = "competition",
        Funding = "funding",
        Mentoring = "mentoring",
    }
}

word_enum! {
    pub enum ProgrammeState ("programme state") {
        Open = "open",
        Closed = "closed",
    }
}

word_enum! {
    pub enum ApplicationState ("application state") {
        Submitted = "submitted",
        Accepted = "accepted",
        Rejected = "rejected",
        Completed = "completed",
    }
}

word_enum! {
    pub enum Addressee ("addressee") {
        PeoplesCongress = "peoples_congress",
        Cppcc = "cppcc",
        Government = "government",
        PartyCommittee = "party_committee",
    }
}

word_enum! {
    pub enum ProposalState ("proposal state") {
        Draft = "draft",
        Submitted = "submitted",
        Answered = "answered",
    }
}

word_enum! {
    pub enum ResponseKind ("response kind") {
        Adopted = "adopted",
        PartiallyAdopted = "partially_adopted",
        UnderConsideration = "under_consideration",
        NotAdopted = "not_adopted",
    }
}

/// Which member states allow an action, for FAILED_PRECONDITION messages
/// that name the current state: "activity is held; it can be cancelled only
/// when draft or published".
pub fn require_state<S>(what: &str, current: S, allowed: &[S], action: &str) -> Result<(), String>
where
    S: Copy + PartialEq + fmt::Display,
{
    if allowed.contains(&current) {
        return Ok(());
    }
    let allowed_words: Vec<String> = allowed.iter().map(ToString::to_string).collect();
    Err(format!(
        "{what} is {current}; it can be {action} only when {}",
        allowed_words.join(" or ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_its_member() {
        for member in MeasureKind::ALL {
            assert_eq!(MeasureKind::parse(member.as_str()), Some(*member));
        }
        for member in DifficultyCategory::ALL {
            assert_eq!(
                DifficultyCategory::from_stored(member.as_str()).unwrap(),
                *member
            );
        }
    }

    #[test]
    fn an_unknown_stored_word_names_its_set() {
        let error = ActivityState::from_stored("archived").unwrap_err();
        assert_eq!(
            error.to_string(),
            "stored activity state `archived` is unknown to this version"
        );
        assert_eq!(Audience::parse("Youth"), None);
    }

    #[test]
    fn withdrawn_and_unresolved_outcomes_do_not_count_as_resolved() {
        assert!(RightsOutcome::Mediated.is_resolution());
        assert!(RightsOutcome::LegalAid.is_resolution());
        assert!(!RightsOutcome::Withdrawn.is_resolution());
        assert!(!RightsOutcome::Unresolved.is_resolution());
    }

    #[test]
    fn only_manual_rights_actions_can_be_recorded_by_hand() {
        assert!(RightsActionKind::Mediation.is_recordable());
        assert!(!RightsActionKind::Transfer.is_recordable());
        assert!(!RightsActionKind::Resolution.is_recordable());
    }

    #[test]
    fn a_refused_transition_names_the_current_and_the_allowed_states() {
        let error = require_state(
            "activity",
            ActivityState::Held,
            &[ActivityState::Draft, ActivityState::Published],
            "cancelled",
        )
        .unwrap_err();
        assert_eq!(
            error,
            "activity is held; it can be cancelled only when draft or published"
        );
        assert!(
            require_state(
                "activity",
                ActivityState::Draft,
                &[ActivityState::Draft],
                "published"
            )
            .is_ok()
        );
    }
}
