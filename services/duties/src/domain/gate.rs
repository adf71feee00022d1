//! The assignment gate: may one unit hand a matter to another, at an instant?
//!
//! The reform's rule is that a department may not push onto a subdistrict a matter that
//! is not on the subdistrict's published lists, and that nothing on the negative list may
//! be put on a residents' committee. The gate enforces this on every assignment; a
//! refusal says why (a stable reason code and a message) and who is responsible instead.
//!
//! # Rule table
//!
//! Units are of four types: a department, a subdistrict, a community (its residents'
//! committee) and a block team (which works for the community and subdistrict, so the
//! committee's protections cover it too). Rules are checked in the order R1, R2, R3; the
//! first that refuses decides.
//!
//! | from ↓ / to → | department | subdistrict | community | block team |
//! |---|---|---|---|---|
//! | department  | allowed | R2 | R1, R3 | R1, R3 |
//! | subdistrict | allowed | allowed | R1 | R1 |
//! | community   | allowed | allowed | R1 | R1 |
//! | block team  | allowed | allowed | R1 | R1 |
//!
//! - **R1 `NEGATIVE_LIST`**: the matter's item is on the residents' committee negative
//!   list in effect → refused, whoever assigns. Responsible instead: the item's lead
//!   department.
//! - **R2 `NOT_ON_SUBDISTRICT_LISTS`**: a department assigns to a subdistrict a matter
//!   whose item is on neither the subdistrict duty list nor the cooperation list in
//!   effect → refused. Responsible instead: whoever the item in effect names (a residents'
//!   committee list item: the community or block team; a negative-list item: its
//!   department); if the item is in effect on no list, the assigning department itself.
//! - **R3 `NOT_ON_RESIDENTS_COMMITTEE_LISTS`**: a department assigns directly to a
//!   community or block team a matter whose item is on neither the self-government nor
//!   the assisting list in effect → refused (社区工作事项准入: government work reaches a
//!   committee only through those lists). Responsible instead: the subdistrict platform
//!   for a subdistrict duty (the subdistrict dispatches to its own communities and block
//!   teams), the lead department for a cooperation item, the assigning department if the
//!   item is in effect on no list.
//! - Every other pair is **unrestricted**: handing a matter back up, sideways between
//!   departments, or from the subdistrict side down to its communities (except R1) is
//!   not what the lists restrict.
//!
//! "In effect" is judged at the instant of the assignment, so a matter added to the
//! cooperation list by a new version is allowed from that version's effective instant on,
//! and one removed is refused from the removal's.
//!
//! Place exceptions do not enter the gate: they change who leads at a place, not which
//! list a matter is on.

use std::fmt;

use chrono::{DateTime, Utc};

use super::item::{ListItem, Responsible};
use super::item_code::ItemCode;
use super::kinds::ListKind;
use super::resolution::DutyRules;
use super::version::{ItemRef, ItemStatus, PublishedList, instant};
use flatgov_vocabulary::{BlockCode, CommunityCode, DepartmentCode, MatterCode, SubdistrictCode};

/// A concrete unit that can be handed a matter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A district department.
    Department(DepartmentCode),
    /// A subdistrict (its dispatch platform).
    Subdistrict(SubdistrictCode),
    /// A community (its residents' committee).
    Community(CommunityCode),
    /// A block's "1+N+1" team.
    BlockTeam(BlockCode),
}

/// The type of a [`Unit`], which is all the rule table looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitType {
    /// A district department.
    Department,
    /// A subdistrict.
    Subdistrict,
    /// A community.
    Community,
    /// A block team.
    BlockTeam,
}

impl Unit {
    /// The unit's type.
    pub fn unit_type(&self) -> UnitType {
        match self {
            Unit::Department(_) => UnitType::Department,
            Unit::Subdistrict(_) => UnitType::Subdistrict,
            Unit::Community(_) => UnitType::Community,
            Unit::BlockTeam(_) => UnitType::BlockTeam,
        }
    }

    fn is_community_side(&self) -> bool {
        matches!(self, Unit::Community(_) | Unit::BlockTeam(_))
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unit::Department(code) => write!(formatter, "department {code}"),
            Unit::Subdistrict(code) => write!(formatter, "subdistrict {code}"),
            Unit::Community(code) => write!(formatter, "community {code}"),
            Unit::BlockTeam(code) => write!(formatter, "block team {code}"),
        }
    }
}

/// Why an assignment is refused; the codes are stable for APIs, events and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefusalReason {
    /// R1: the matter is on the residents' committee negative list.
    NegativeList,
    /// R2: a department pushes onto a subdistrict a matter not on its lists.
    NotOnSubdistrictLists,
    /// R3: a department pushes onto a community or block team a matter not on the
    /// residents' committee lists.
    NotOnResidentsCommitteeLists,
}

impl RefusalReason {
    /// The stable code, e.g. `NOT_ON_SUBDISTRICT_LISTS`.
    pub fn code(self) -> &'static str {
        match self {
            RefusalReason::NegativeList => "NEGATIVE_LIST",
            RefusalReason::NotOnSubdistrictLists => "NOT_ON_SUBDISTRICT_LISTS",
            RefusalReason::NotOnResidentsCommitteeLists => "NOT_ON_RESIDENTS_COMMITTEE_LISTS",
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.code())
    }
}

/// A refused assignment: why, in words, and who is responsible instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The rule that refused.
    pub reason: RefusalReason,
    /// A sentence for the person who tried, naming matter, item, lists and instant.
    pub message: String,
    /// Who the matter belongs with instead.
    pub responsible_instead: Responsible,
    /// The matter's item.
    pub item: ItemCode,
    /// The version of the item's list in effect, if any.
    pub item_version: Option<ItemRef>,
}

/// Why an assignment is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowance {
    /// The list item in effect that permits it (for pairs a list rule restricts).
    OnList(ItemRef),
    /// No list rule restricts this pair of units.
    Unrestricted,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentDecision {
    /// The assignment may go ahead.
    Allowed(Allowance),
    /// The assignment is refused.
    Refused(Refusal),
}

impl AssignmentDecision {
    /// Whether the assignment may go ahead.
    pub fn is_allowed(&self) -> bool {
        matches!(self, AssignmentDecision::Allowed(_))
    }

    /// The refusal, if refused.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            AssignmentDecision::Allowed(_) => None,
            AssignmentDecision::Refused(refusal) => Some(refusal),
        }
    }
}

/// Why the gate cannot answer at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// The matter is not in the catalogue.
    #[error("unknown matter {matter}")]
    UnknownMatter {
        /// The matter asked about.
        matter: MatterCode,
    },
}

/// The item and version in effect, if the item is on its list at the instant.
type InEffect<'a> = Option<(&'a ListItem, &'a PublishedList)>;

impl DutyRules<'_> {
    /// Whether `from` may assign `matter` to `to` at `at`; see the module documentation
    /// for the complete rule table. An unknown matter is an error, not a refusal.
    pub fn check_assignment(
        &self,
        matter: &MatterCode,
        from: &Unit,
        to: &Unit,
        at: DateTime<Utc>,
    ) -> Result<AssignmentDecision, GateError> {
        let matter = self
            .catalogue
            .get(matter)
            .ok_or_else(|| GateError::UnknownMatter {
                matter: matter.clone(),
            })?;
        let code = matter.item();
        let status = self.lists.in_effect_at(at).item_status(code);
        let in_effect: InEffect<'_> = match status {
            ItemStatus::InEffect { item, version } => Some((item, version)),
            ItemStatus::NotInEffect(_) => None,
        };
        let item_ref = in_effect.map(|(_, version)| ItemRef {
            code,
            version: version.number(),
        });
        let on_lists = |lists: &[ListKind]| in_effect.is_some() && lists.contains(&code.list());
        let where_it_stands = match status {
            ItemStatus::InEffect { .. } => format!("it is on the {} list", code.list()),
            ItemStatus::NotInEffect(why) => format!("it is {why}"),
        };
        let refuse = |reason: RefusalReason, responsible_instead: Responsible, rule: &str| {
            let message = format!(
                "{from} may not assign matter {} to {to}: item {code} is {rule} in effect at {} ({where_it_stands}); {responsible_instead} is responsible",
                matter.code(),
                instant(at),
            );
            AssignmentDecision::Refused(Refusal {
                reason,
                message,
                responsible_instead,
                item: code,
                item_version: item_ref,
            })
        };
        // Only departments reach R2 and R3: the item in effect names who should have it,
        // and with no item in effect the matter stays with the department that tried.
        let otherwise_responsible = |department: &DepartmentCode| match in_effect {
            Some((item, _)) => item.assignee(),
            None => Responsible::Department(department.clone()),
        };

        if let Some((item, _)) = in_effect
            && code.list() == ListKind::ResidentsNegative
            && to.is_community_side()
        {
            return Ok(refuse(
                RefusalReason::NegativeList,
                item.lead().clone(),
                "on the residents' committee negative list",
            ));
        }
        let decision = match (from, to.unit_type()) {
            (Unit::Department(department), UnitType::Subdistrict) => {
                if on_lists(&[ListKind::SubdistrictDuty, ListKind::SubdistrictCooperation]) {
                    allowed_on_list(item_ref)
                } else {
                    refuse(
                        RefusalReason::NotOnSubdistrictLists,
                        otherwise_responsible(department),
                        "not on the subdistrict duty or cooperation list",
                    )
                }
            }
            (Unit::Department(department), UnitType::Community | UnitType::BlockTeam) => {
                if on_lists(&[
                    ListKind::ResidentsSelfGovernment,
                    ListKind::ResidentsAssisting,
                ]) {
                    allowed_on_list(item_ref)
                } else {
                    refuse(
                        RefusalReason::NotOnResidentsCommitteeLists,
                        otherwise_responsible(department),
                        "not on the residents' committee self-government or assisting list",
                    )
                }
            }
            _ => AssignmentDecision::Allowed(Allowance::Unrestricted),
        };
        Ok(decision)
    }
}

fn allowed_on_list(item_ref: Option<ItemRef>) -> AssignmentDecision {
    AssignmentDecision::Allowed(item_ref.map_or(Allowance::Unrestricted, Allowance::OnList))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::MatterCatalogue;
    use crate::domain::catalogue::tests::matter;
    use crate::domain::item::ItemFields;
    use crate::domain::item::tests::{department, fields};
    use crate::domain::kinds::HandlingLevel;
    use crate::domain::list::ListContent;
    use crate::domain::list::tests::departments;
    use crate::domain::resolution::PlaceExceptions;
    use crate::domain::version::tests::day;
    use crate::domain::version::{DraftList, DutyLists, VersionNumber};

    fn with(code: &str, change: impl FnOnce(&mut ItemFields)) -> ListItem {
        let mut item_fields = fields(code);
        change(&mut item_fields);
        ListItem::new(item_fields).unwrap()
    }

    fn publish(
        lists: &mut DutyLists,
        list: ListKind,
        number: u32,
        effective: u32,
        items: Vec<ListItem>,
    ) {
        let content = ListContent::new(list, items, &departments()).unwrap();
        let draft = DraftList::with_content(VersionNumber::new(number).unwrap(), content);
        lists.publish(&draft, day(effective), day(1)).unwrap();
    }

    /// From day 10: the duty list has street facilities (SD-05-03); the cooperation list
    /// has illegal construction (SC-01-01, urban_management); the self-government list
    /// has neighbour mediation (RS-03-01, block); the assisting list has the elderly
    /// subsidy (RA-02-04, community, civil_affairs); the negative list has food safety
    /// inspection (RN-01-02, market_supervision). On day 40 the cooperation list v2 adds
    /// night noise (SC-03-01, public_security) and drops illegal construction.
    fn lists() -> DutyLists {
        let mut lists = DutyLists::new();
        publish(
            &mut lists,
            ListKind::SubdistrictDuty,
            1,
            10,
            vec![with("SD-05-03", |_| {})],
        );
        let construction = with("SC-01-01", |_| {});
        let noise = with("SC-03-01", |item| {
            item.lead_department = Some(department("public_security"))
        });
        publish(
            &mut lists,
            ListKind::SubdistrictCooperation,
            1,
            10,
            vec![construction],
        );
        publish(
            &mut lists,
            ListKind::SubdistrictCooperation,
            2,
            40,
            vec![noise],
        );
        publish(
            &mut lists,
            ListKind::ResidentsSelfGovernment,
            1,
            10,
            vec![with("RS-03-01", |_| {})],
        );
        let subsidy = with("RA-02-04", |item| {
            item.handling_level = HandlingLevel::Community;
            item.lead_department = Some(department("civil_affairs"));
        });
        publish(
            &mut lists,
            ListKind::ResidentsAssisting,
            1,
            10,
            vec![subsidy],
        );
        let inspection = with("RN-01-02", |item| {
            item.lead_department = Some(department("market_supervision"))
        });
        publish(
            &mut lists,
            ListKind::ResidentsNegative,
            1,
            10,
            vec![inspection],
        );
        lists
    }

    fn catalogue(lists: &DutyLists) -> MatterCatalogue {
        MatterCatalogue::new(
            vec![
                matter("broken_street_light", "SD-05-03"),
                matter("illegal_construction", "SC-01-01"),
                matter("night_noise", "SC-03-01"),
                matter("neighbour_dispute", "RS-03-01"),
                matter("elderly_subsidy_application", "RA-02-04"),
                matter("food_safety_inspection_task", "RN-01-02"),
            ],
            &lists.published_item_codes(),
        )
        .unwrap()
    }

    fn check(matter: &str, from: &Unit, to: &Unit, at: u32) -> AssignmentDecision {
        let lists = lists();
        let catalogue = catalogue(&lists);
        let exceptions = PlaceExceptions::none();
        DutyRules::new(&lists, &catalogue, &exceptions)
            .check_assignment(&MatterCode::parse(matter).unwrap(), from, to, day(at))
            .unwrap()
    }

    fn a_department(code: &str) -> Unit {
        Unit::Department(department(code))
    }

    fn subdistrict() -> Unit {
        Unit::Subdistrict(SubdistrictCode::parse("430302001").unwrap())
    }

    fn community() -> Unit {
        Unit::Community(CommunityCode::parse("430302001004").unwrap())
    }

    fn block_team() -> Unit {
        Unit::BlockTeam(BlockCode::parse("430302001004017").unwrap())
    }

    fn item_ref(code: &str, version: u32) -> ItemRef {
        ItemRef {
            code: ItemCode::parse(code).unwrap(),
            version: VersionNumber::new(version).unwrap(),
        }
    }

    #[test]
    fn a_department_cannot_push_an_off_list_matter_onto_a_subdistrict() {
        let decision = check(
            "night_noise",
            &a_department("public_security"),
            &subdistrict(),
            20,
        );
        let refusal = decision.refusal().expect("refused");
        assert_eq!(refusal.reason, RefusalReason::NotOnSubdistrictLists);
        assert_eq!(refusal.reason.code(), "NOT_ON_SUBDISTRICT_LISTS");
        assert_eq!(
            refusal.responsible_instead,
            Responsible::Department(department("public_security")),
            "the matter stays with the department that tried"
        );
        assert_eq!(refusal.item, ItemCode::parse("SC-03-01").unwrap());
        assert_eq!(refusal.item_version, None);
        assert_eq!(
            refusal.message,
            "department public_security may not assign matter night_noise to subdistrict 430302001: item SC-03-01 is not on the subdistrict duty or cooperation list in effect at 2025-01-20T00:00:00Z (it is not in effect until 2025-02-09T00:00:00Z (v2)); department public_security is responsible"
        );
    }

    #[test]
    fn a_matter_added_to_the_cooperation_list_is_allowed_from_its_effective_date() {
        let department = a_department("public_security");
        assert!(!check("night_noise", &department, &subdistrict(), 39).is_allowed());
        assert_eq!(
            check("night_noise", &department, &subdistrict(), 40),
            AssignmentDecision::Allowed(Allowance::OnList(item_ref("SC-03-01", 2)))
        );
        assert!(check("night_noise", &department, &subdistrict(), 400).is_allowed());
    }

    #[test]
    fn a_matter_dropped_from_the_cooperation_list_is_refused_from_the_new_versions_effective_date()
    {
        let department = a_department("urban_management");
        assert_eq!(
            check("illegal_construction", &department, &subdistrict(), 39),
            AssignmentDecision::Allowed(Allowance::OnList(item_ref("SC-01-01", 1)))
        );
        let refused = check("illegal_construction", &department, &subdistrict(), 40);
        let refusal = refused.refusal().expect("refused");
        assert!(
            refusal
                .message
                .contains("it is withdrawn since 2025-02-09T00:00:00Z (v2)"),
            "{}",
            refusal.message
        );
    }

    #[test]
    fn a_department_may_assign_a_subdistrict_duty_to_a_subdistrict() {
        assert_eq!(
            check(
                "broken_street_light",
                &a_department("housing_construction"),
                &subdistrict(),
                20
            ),
            AssignmentDecision::Allowed(Allowance::OnList(item_ref("SD-05-03", 1)))
        );
    }

    #[test]
    fn a_department_cannot_push_a_residents_committee_matter_onto_a_subdistrict_and_is_told_the_committee_handles_it()
     {
        let refused = check(
            "elderly_subsidy_application",
            &a_department("civil_affairs"),
            &subdistrict(),
            20,
        );
        let refusal = refused.refusal().expect("refused");
        assert_eq!(refusal.reason, RefusalReason::NotOnSubdistrictLists);
        assert_eq!(refusal.responsible_instead, Responsible::Community);
        assert_eq!(refusal.item_version, Some(item_ref("RA-02-04", 1)));
        assert!(
            refusal
                .message
                .contains("(it is on the residents_assisting list)"),
            "{}",
            refusal.message
        );
    }

    #[test]
    fn a_negative_list_matter_cannot_be_put_on_a_residents_committee_by_anyone() {
        for from in [
            a_department("market_supervision"),
            subdistrict(),
            community(),
            block_team(),
        ] {
            for to in [community(), block_team()] {
                let decision = check("food_safety_inspection_task", &from, &to, 20);
                let refusal = decision
                    .refusal()
                    .unwrap_or_else(|| panic!("{from} → {to} allowed"));
                assert_eq!(refusal.reason, RefusalReason::NegativeList);
                assert_eq!(refusal.reason.code(), "NEGATIVE_LIST");
                assert_eq!(
                    refusal.responsible_instead,
                    Responsible::Department(department("market_supervision"))
                );
            }
        }
    }

    #[test]
    fn a_negative_list_matter_pushed_onto_a_subdistrict_is_refused_as_off_its_lists() {
        let refused = check(
            "food_safety_inspection_task",
            &a_department("market_supervision"),
            &subdistrict(),
            20,
        );
        let refusal = refused.refusal().expect("refused");
        assert_eq!(refusal.reason, RefusalReason::NotOnSubdistrictLists);
        assert_eq!(
            refusal.responsible_instead,
            Responsible::Department(department("market_supervision"))
        );
    }

    #[test]
    fn the_negative_list_is_not_enforced_before_it_takes_effect() {
        assert!(
            check(
                "food_safety_inspection_task",
                &subdistrict(),
                &community(),
                5
            )
            .is_allowed()
        );
    }

    #[test]
    fn a_department_may_ask_a_community_to_assist_with_a_matter_on_the_assisting_list() {
        assert_eq!(
            check(
                "elderly_subsidy_application",
                &a_department("civil_affairs"),
                &community(),
                20
            ),
            AssignmentDecision::Allowed(Allowance::OnList(item_ref("RA-02-04", 1)))
        );
        assert!(
            check(
                "neighbour_dispute",
                &a_department("judicial"),
                &block_team(),
                20
            )
            .is_allowed()
        );
    }

    #[test]
    fn a_department_cannot_bypass_the_subdistrict_to_push_a_subdistrict_duty_onto_a_block_team() {
        let refused = check(
            "broken_street_light",
            &a_department("housing_construction"),
            &block_team(),
            20,
        );
        let refusal = refused.refusal().expect("refused");
        assert_eq!(refusal.reason, RefusalReason::NotOnResidentsCommitteeLists);
        assert_eq!(
            refusal.responsible_instead,
            Responsible::SubdistrictPlatform
        );
    }

    #[test]
    fn a_department_cannot_push_its_own_cooperation_matter_onto_a_community() {
        let refused = check(
            "night_noise",
            &a_department("public_security"),
            &community(),
            50,
        );
        let refusal = refused.refusal().expect("refused");
        assert_eq!(refusal.reason, RefusalReason::NotOnResidentsCommitteeLists);
        assert_eq!(
            refusal.responsible_instead,
            Responsible::Department(department("public_security"))
        );
    }

    #[test]
    fn a_subdistrict_may_dispatch_its_duties_to_its_block_teams() {
        assert_eq!(
            check("broken_street_light", &subdistrict(), &block_team(), 20),
            AssignmentDecision::Allowed(Allowance::Unrestricted)
        );
    }

    #[test]
    fn handing_a_matter_up_or_sideways_is_unrestricted() {
        let unrestricted = AssignmentDecision::Allowed(Allowance::Unrestricted);
        assert_eq!(
            check(
                "night_noise",
                &subdistrict(),
                &a_department("public_security"),
                20
            ),
            unrestricted
        );
        assert_eq!(
            check("night_noise", &block_team(), &subdistrict(), 20),
            unrestricted
        );
        assert_eq!(
            check("night_noise", &community(), &subdistrict(), 20),
            unrestricted
        );
        assert_eq!(
            check(
                "night_noise",
                &a_department("urban_management"),
                &a_department("public_security"),
                20
            ),
            unrestricted
        );
    }

    #[test]
    fn an_unknown_matter_is_an_error_not_a_refusal() {
        let lists = lists();
        let catalogue = catalogue(&lists);
        let exceptions = PlaceExceptions::none();
        let error = DutyRules::new(&lists, &catalogue, &exceptions)
            .check_assignment(
                &MatterCode::parse("alien_landing").unwrap(),
                &a_department("public_security"),
                &subdistrict(),
                day(20),
            )
            .unwrap_err();
        assert_eq!(error.to_string(), "unknown matter alien_landing");
    }

    #[test]
    fn every_refusal_reason_has_a_distinct_stable_code() {
        let codes = [
            RefusalReason::NegativeList,
            RefusalReason::NotOnSubdistrictLists,
            RefusalReason::NotOnResidentsCommitteeLists,
        ]
        .map(RefusalReason::code);
        assert_eq!(
            codes,
            [
                "NEGATIVE_LIST",
                "NOT_ON_SUBDISTRICT_LISTS",
                "NOT_ON_RESIDENTS_COMMITTEE_LISTS"
            ]
        );
    }
}
