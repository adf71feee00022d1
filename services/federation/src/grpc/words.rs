//! Closed sets of words (`crate::domain::kinds`) and the proto enums with
//! the same members (`MEASURE_KIND_MATERIAL_AID` ⇄ `material_aid`), read
//! from requests and written into answers.

use flatgov_proto::federation::v1 as proto;

use crate::domain::Invalid;
use crate::domain::kinds;

/// A domain word set with a proto enum of the same members
/// (`MEASURE_KIND_MATERIAL_AID` ⇄ `material_aid`).
pub trait ProtoWord: Sized + Copy {
    const WHAT: &'static str;
    fn from_proto(value: i32) -> Option<Self>;
    fn to_proto(self) -> i32;
    fn proto_names() -> Vec<String>;
}

macro_rules! proto_word {
    ($($domain:ident => $proto:ident, $prefix:literal;)+) => {
        $(
            impl ProtoWord for kinds::$domain {
                const WHAT: &'static str = kinds::$domain::WHAT;

                fn from_proto(value: i32) -> Option<Self> {
                    let member = proto::$proto::try_from(value).ok()?;
                    let word = member.as_str_name().strip_prefix($prefix)?.to_ascii_lowercase();
                    kinds::$domain::parse(&word)
                }

                fn to_proto(self) -> i32 {
                    let name = format!("{}{}", $prefix, self.as_str().to_ascii_uppercase());
                    proto::$proto::from_str_name(&name).map_or(0, |member| member as i32)
                }

                fn proto_names() -> Vec<String> {
                    kinds::$domain::ALL
                        .iter()
                        .map(|member| format!("{}{}", $prefix, member.as_str().to_ascii_uppercase()))
                        .collect()
                }
            }
        )+

        #[cfg(test)]
        mod proto_word_tests {
            use super::*;

            #[test]
            fn every_domain_word_has_its_proto_member_and_back() {
                $(
                    for member in kinds::$domain::ALL {
                        let value = member.to_proto();
                        assert_ne!(value, 0, "{} has no proto member", member);
                        assert_eq!(kinds::$domain::from_proto(value), Some(*member));
                    }
                    assert_eq!(kinds::$domain::from_proto(0), None);
                )+
            }
        }
    };
}

proto_word! {
    StaffPermission => StaffPermission, "STAFF_PERMISSION_";
    Audience => Audience, "AUDIENCE_";
    ActivityState => ActivityState, "ACTIVITY_STATE_";
    RegistrationStatus => RegistrationStatus, "REGISTRATION_STATUS_";
    DifficultyCategory => DifficultyCategory, "DIFFICULTY_CATEGORY_";
    ConsentMethod => ConsentMethod, "CONSENT_METHOD_";
    Gender => Gender, "GENDER_";
    NeedArea => NeedArea, "NEED_AREA_";
    Severity => Severity, "SEVERITY_";
    MeasureKind => MeasureKind, "MEASURE_KIND_";
    MeasureState => MeasureState, "MEASURE_STATE_";
    SupportPlanState => SupportPlanState, "SUPPORT_PLAN_STATE_";
    VisitKind => VisitKind, "VISIT_KIND_";
    ReferralState => ReferralState, "REFERRAL_STATE_";
    SharingRequestState => SharingRequestState, "SHARING_REQUEST_STATE_";
    RightsCategory => RightsCategory, "RIGHTS_CATEGORY_";
    RightsChannel => RightsChannel, "RIGHTS_CHANNEL_";
    RightsRequestState => RightsRequestState, "RIGHTS_REQUEST_STATE_";
    RightsOutcome => RightsOutcome, "RIGHTS_OUTCOME_";
    RightsActionKind => RightsActionKind, "RIGHTS_ACTION_KIND_";
    ProgrammeKind => ProgrammeKind, "PROGRAMME_KIND_";
    ProgrammeState => ProgrammeState, "PROGRAMME_STATE_";
    ApplicationState => ApplicationState, "APPLICATION_STATE_";
    Addressee => Addressee, "ADDRESSEE_";
    ProposalState => ProposalState, "PROPOSAL_STATE_";
    ResponseKind => ResponseKind, "RESPONSE_KIND_";
}

/// A member that must be set.
pub fn required<E: ProtoWord>(value: i32) -> Result<E, Invalid> {
    E::from_proto(value).ok_or_else(|| {
        Invalid::new(format!(
            "{} must be one of {}",
            E::WHAT,
            E::proto_names().join(", ")
        ))
    })
}

/// A member, or `None` for the unspecified value (a filter not set).
pub fn optional<E: ProtoWord>(value: i32) -> Result<Option<E>, Invalid> {
    if value == 0 {
        return Ok(None);
    }
    required(value).map(Some)
}

/// At least one member, duplicates dropped, order kept.
pub fn list<E: ProtoWord + PartialEq>(values: &[i32]) -> Result<Vec<E>, Invalid> {
    if values.is_empty() {
        return Err(Invalid::new(format!(
            "needs at least one {}: {}",
            E::WHAT,
            E::proto_names().join(", ")
        )));
    }
    let mut members: Vec<E> = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let member = E::from_proto(*value).ok_or_else(|| {
            Invalid::new(format!(
                "[{index}] is not a {}: use one of {}",
                E::WHAT,
                E::proto_names().join(", ")
            ))
        })?;
        if !members.contains(&member) {
            members.push(member);
        }
    }
    Ok(members)
}

/// Stored words as proto members.
pub fn stored<E: ProtoWord>(
    stored: &[String],
    parse: impl Fn(&str) -> Result<E, kinds::UnknownWord>,
) -> Result<Vec<i32>, kinds::UnknownWord> {
    stored
        .iter()
        .map(|word| parse(word).map(ProtoWord::to_proto))
        .collect()
}
