//! Who is responsible for a matter at a place, at an instant.
//!
//! The general rule comes from the lists: the matter's item, in the version of its list in
//! effect, says who leads, who cooperates, the tier and the time limits. Per-place
//! exceptions override who leads and cooperates (and optionally the tier) where
//! responsibility does not follow the area: a road owned by a department, a park across a
//! boundary, a market run by a company.
//!
//! # Precedence among exceptions
//!
//! An exception applies when it is in effect at the instant, its place contains the
//! location, and its scope covers the matter. Among those that apply:
//!
//! 1. **The most specific place wins**: a named area, then a block, then a community, then
//!    a subdistrict. A named area comes first because it is drawn around the very object
//!    (road, park, market) whose owner is the reason for the exception, whatever
//!    administrative boundaries it crosses.
//! 2. **At the same place level, a matter-scoped exception wins over an item-scoped one.**
//! 3. If two exceptions are still level (two overlapping named areas) and disagree on
//!    lead, cooperators or tier, resolution fails with
//!    [`ResolveError::ConflictingExceptions`] naming both, rather than silently picking
//!    one: it is a data error for an administrator to fix. If they agree, the one with
//!    the smaller id is reported.
//!
//! [`PlaceExceptions::new`] refuses two exceptions for the same place and scope with
//! overlapping effective windows, so only named areas can ever tie.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};

use super::catalogue::{Matter, MatterCatalogue};
use super::codes::{
    AreaId, BlockCode, CommunityCode, DepartmentCode, ExceptionId, MatterCode, SubdistrictCode,
};
use super::department::Departments;
use super::duration::WorkingDuration;
use super::item::Responsible;
use super::item_code::ItemCode;
use super::kinds::Tier;
use super::version::{DutyLists, ItemRef, ItemStatus, NotInEffect, instant};

/// Where a matter is, as far as the caller has located it: the block, community and
/// subdistrict containing it and the named areas it lies in. Any part may be unknown;
/// exceptions for unknown parts simply do not apply. The caller gets these from the
/// blocks service (point → block) and from whoever holds the named areas' geometry.
///
/// Division codes nest, so a location known by its block also knows its community and
/// subdistrict, and the parts always agree: built only through the constructors below.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The subdistrict containing the place.
    subdistrict: Option<SubdistrictCode>,
    /// The community containing the place.
    community: Option<CommunityCode>,
    /// The block containing the place.
    block: Option<BlockCode>,
    /// The named areas containing the place.
    areas: BTreeSet<AreaId>,
}

/// Why the divisions given for a place do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// The block's code does not start with the community's.
    #[error("block {block} is not in community {community}")]
    BlockOutsideCommunity {
        /// The block given.
        block: BlockCode,
        /// The community given.
        community: CommunityCode,
    },
    /// The community's (or block's) code does not start with the subdistrict's.
    #[error("{division} is not in subdistrict {subdistrict}")]
    OutsideSubdistrict {
        /// The community or block given, e.g. `community 430302002004`.
        division: String,
        /// The subdistrict given.
        subdistrict: SubdistrictCode,
    },
}

impl Location {
    /// Nothing known: only the general rule applies.
    pub fn unknown() -> Self {
        Self::default()
    }

    /// Somewhere in a subdistrict.
    pub fn in_subdistrict(subdistrict: SubdistrictCode) -> Self {
        Self {
            subdistrict: Some(subdistrict),
            ..Self::default()
        }
    }

    /// Somewhere in a community, and so in its subdistrict.
    pub fn in_community(community: CommunityCode) -> Self {
        Self {
            subdistrict: Some(community.subdistrict()),
            community: Some(community),
            ..Self::default()
        }
    }

    /// In a block, and so in its community and subdistrict.
    pub fn in_block(block: BlockCode) -> Self {
        Self {
            subdistrict: Some(block.subdistrict()),
            community: Some(block.community()),
            block: Some(block),
            areas: BTreeSet::new(),
        }
    }

    /// A location from the divisions a caller gives, any of which may be absent: the most
    /// specific one given decides, and the others must contain it.
    pub fn from_divisions(
        subdistrict: Option<SubdistrictCode>,
        community: Option<CommunityCode>,
        block: Option<BlockCode>,
    ) -> Result<Self, LocationError> {
        if let (Some(block), Some(community)) = (&block, &community)
            && block.community() != *community
        {
            return Err(LocationError::BlockOutsideCommunity {
                block: block.clone(),
                community: community.clone(),
            });
        }
        if let Some(subdistrict) = &subdistrict {
            let inner = block
                .as_ref()
                .map(|block| (format!("block {block}"), block.subdistrict()))
                .or_else(|| {
                    community.as_ref().map(|community| {
                        (format!("community {community}"), community.subdistrict())
                    })
                });
            if let Some((division, its_subdistrict)) = inner
                && its_subdistrict != *subdistrict
            {
                return Err(LocationError::OutsideSubdistrict {
                    division,
                    subdistrict: subdistrict.clone(),
                });
            }
        }
        Ok(match (block, community, subdistrict) {
            (Some(block), _, _) => Self::in_block(block),
            (None, Some(community), _) => Self::in_community(community),
            (None, None, Some(subdistrict)) => Self::in_subdistrict(subdistrict),
            (None, None, None) => Self::unknown(),
        })
    }

    /// The same location, also lying in the named `areas`.
    pub fn with_areas(mut self, areas: impl IntoIterator<Item = AreaId>) -> Self {
        self.areas.extend(areas);
        self
    }

    /// The subdistrict containing the place, if known.
    pub fn subdistrict(&self) -> Option<&SubdistrictCode> {
        self.subdistrict.as_ref()
    }

    /// The community containing the place, if known.
    pub fn community(&self) -> Option<&CommunityCode> {
        self.community.as_ref()
    }

    /// The block containing the place, if known.
    pub fn block(&self) -> Option<&BlockCode> {
        self.block.as_ref()
    }

    /// The named areas containing the place.
    pub fn areas(&self) -> &BTreeSet<AreaId> {
        &self.areas
    }

    /// Whether the place an exception names contains this location.
    pub fn is_within(&self, place: &PlaceRef) -> bool {
        match place {
            PlaceRef::Subdistrict(code) => self.subdistrict.as_ref() == Some(code),
            PlaceRef::Community(code) => self.community.as_ref() == Some(code),
            PlaceRef::Block(code) => self.block.as_ref() == Some(code),
            PlaceRef::Area(id) => self.areas.contains(id),
        }
    }
}

/// The place an exception covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlaceRef {
    /// A whole subdistrict.
    Subdistrict(SubdistrictCode),
    /// A whole community.
    Community(CommunityCode),
    /// A block.
    Block(BlockCode),
    /// A named area.
    Area(AreaId),
}

/// How specific a place is; later variants are more specific and win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlaceSpecificity {
    /// A subdistrict.
    Subdistrict,
    /// A community.
    Community,
    /// A block.
    Block,
    /// A named area.
    NamedArea,
}

impl PlaceRef {
    /// How specific the place is.
    pub fn specificity(&self) -> PlaceSpecificity {
        match self {
            PlaceRef::Subdistrict(_) => PlaceSpecificity::Subdistrict,
            PlaceRef::Community(_) => PlaceSpecificity::Community,
            PlaceRef::Block(_) => PlaceSpecificity::Block,
            PlaceRef::Area(_) => PlaceSpecificity::NamedArea,
        }
    }
}

impl fmt::Display for PlaceRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlaceRef::Subdistrict(code) => write!(formatter, "subdistrict {code}"),
            PlaceRef::Community(code) => write!(formatter, "community {code}"),
            PlaceRef::Block(code) => write!(formatter, "block {code}"),
            PlaceRef::Area(id) => write!(formatter, "area {id}"),
        }
    }
}

/// Which matters an exception covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExceptionScope {
    /// Every matter under a list item.
    Item(ItemCode),
    /// One matter; more specific than an item scope.
    Matter(MatterCode),
}

impl ExceptionScope {
    fn covers(&self, matter: &Matter) -> bool {
        match self {
            ExceptionScope::Item(item) => *item == matter.item(),
            ExceptionScope::Matter(code) => code == matter.code(),
        }
    }

    /// 1 for a matter scope, 0 for an item scope: the matter scope wins a tie.
    fn specificity(&self) -> u8 {
        match self {
            ExceptionScope::Item(_) => 0,
            ExceptionScope::Matter(_) => 1,
        }
    }
}

/// A per-place exception to the general rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceException {
    /// The stable id, for the record.
    pub id: ExceptionId,
    /// The place covered.
    pub place: PlaceRef,
    /// The matters covered.
    pub scope: ExceptionScope,
    /// Who leads there instead.
    pub lead: Responsible,
    /// Who cooperates there instead (replaces the item's cooperators).
    pub cooperating: Vec<Responsible>,
    /// The tier there, when it differs.
    pub tier: Option<Tier>,
    /// When the exception starts applying.
    pub effective_from: DateTime<Utc>,
    /// When it stops applying (exclusive); open-ended when absent.
    pub effective_until: Option<DateTime<Utc>>,
    /// Why responsibility differs here, e.g. "道路产权属区交通运输局".
    pub reason: String,
}

impl PlaceException {
    fn in_effect_at(&self, at: DateTime<Utc>) -> bool {
        self.effective_from <= at && self.effective_until.is_none_or(|until| at < until)
    }

    fn overlaps_in_time(&self, other: &PlaceException) -> bool {
        let self_starts_before_other_ends = other
            .effective_until
            .is_none_or(|until| self.effective_from < until);
        let other_starts_before_self_ends = self
            .effective_until
            .is_none_or(|until| other.effective_from < until);
        self_starts_before_other_ends && other_starts_before_self_ends
    }

    fn same_outcome(&self, other: &PlaceException) -> bool {
        self.lead == other.lead && self.cooperating == other.cooperating && self.tier == other.tier
    }

    fn departments(&self) -> impl Iterator<Item = &DepartmentCode> {
        std::iter::once(&self.lead)
            .chain(self.cooperating.iter())
            .filter_map(|responsible| match responsible {
                Responsible::Department(code) => Some(code),
                _ => None,
            })
    }
}

/// A rule an exception breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExceptionViolation {
    /// Another exception has the same id.
    #[error("duplicate exception id")]
    DuplicateId,
    /// The reason is blank.
    #[error("the reason must not be empty")]
    EmptyReason,
    /// The window ends before (or when) it starts.
    #[error("effective_until {until} is not after effective_from {from}")]
    EndsBeforeItStarts {
        /// The start.
        from: String,
        /// The end.
        until: String,
    },
    /// The lead is also listed as cooperating.
    #[error("the lead {lead} is also listed as cooperating")]
    LeadAlsoCooperating {
        /// The lead.
        lead: Responsible,
    },
    /// A cooperator is named more than once.
    #[error("{cooperator} is listed twice as cooperating")]
    CooperatorListedTwice {
        /// The cooperator named again.
        cooperator: Responsible,
    },
    /// A department named is not in the department set.
    #[error("unknown department {department}")]
    UnknownDepartment {
        /// The department that does not exist.
        department: DepartmentCode,
    },
    /// Another exception covers the same place and matters at overlapping times.
    #[error("overlaps exception {other} for the same place and scope")]
    Overlaps {
        /// The earlier exception it overlaps.
        other: ExceptionId,
    },
}

/// A violation for one exception.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("exception {id}: {violation}")]
pub struct ExceptionProblem {
    /// The exception.
    pub id: ExceptionId,
    /// What is wrong.
    pub violation: ExceptionViolation,
}

/// Every problem found in a set of exceptions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the place exceptions", .problems.len())]
pub struct ExceptionsInvalid {
    /// Every problem, in input order.
    pub problems: Vec<ExceptionProblem>,
}

/// A consistent set of per-place exceptions: unique ids, sane windows and reasons, known
/// departments, and no two for the same place and scope at overlapping times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceExceptions {
    /// The exceptions in input order.
    exceptions: Vec<PlaceException>,
}

impl PlaceExceptions {
    /// No exceptions: the general rule everywhere.
    pub fn none() -> Self {
        Self::default()
    }

    /// Checks and builds the set, reporting every problem; nothing is built if any.
    pub fn new(
        exceptions: Vec<PlaceException>,
        departments: &Departments,
    ) -> Result<Self, ExceptionsInvalid> {
        let mut problems = Vec::new();
        let mut accepted: Vec<PlaceException> = Vec::new();
        for exception in exceptions {
            let mut report = |violation| {
                problems.push(ExceptionProblem {
                    id: exception.id.clone(),
                    violation,
                })
            };
            let mut violations = Vec::new();
            if accepted.iter().any(|other| other.id == exception.id) {
                violations.push(ExceptionViolation::DuplicateId);
            }
            if exception.reason.trim().is_empty() {
                violations.push(ExceptionViolation::EmptyReason);
            }
            let window_is_empty = exception
                .effective_until
                .is_some_and(|until| until <= exception.effective_from);
            if let Some(until) = exception.effective_until
                && window_is_empty
            {
                violations.push(ExceptionViolation::EndsBeforeItStarts {
                    from: instant(exception.effective_from),
                    until: instant(until),
                });
            }
            if exception.cooperating.contains(&exception.lead) {
                violations.push(ExceptionViolation::LeadAlsoCooperating {
                    lead: exception.lead.clone(),
                });
            }
            for cooperator in super::item::named_again(&exception.cooperating) {
                violations.push(ExceptionViolation::CooperatorListedTwice {
                    cooperator: cooperator.clone(),
                });
            }
            for department in exception.departments() {
                if !departments.contains(department) {
                    violations.push(ExceptionViolation::UnknownDepartment {
                        department: department.clone(),
                    });
                }
            }
            let overlapping = accepted.iter().find(|other| {
                !window_is_empty
                    && other.place == exception.place
                    && other.scope == exception.scope
                    && other.overlaps_in_time(&exception)
            });
            if let Some(other) = overlapping {
                violations.push(ExceptionViolation::Overlaps {
                    other: other.id.clone(),
                });
            }
            let is_clean = violations.is_empty();
            violations.into_iter().for_each(&mut report);
            if is_clean {
                accepted.push(exception);
            }
        }
        if problems.is_empty() {
            Ok(Self {
                exceptions: accepted,
            })
        } else {
            Err(ExceptionsInvalid { problems })
        }
    }

    /// Every exception, in input order.
    pub fn iter(&self) -> impl Iterator<Item = &PlaceException> {
        self.exceptions.iter()
    }

    /// The exception that decides for `matter` at `location` and `at`, by the precedence
    /// in the module documentation; `None` when none applies.
    fn deciding(
        &self,
        matter: &Matter,
        location: &Location,
        at: DateTime<Utc>,
    ) -> Result<Option<&PlaceException>, ResolveError> {
        let mut applicable: Vec<&PlaceException> = self
            .exceptions
            .iter()
            .filter(|exception| {
                exception.in_effect_at(at)
                    && exception.scope.covers(matter)
                    && location.is_within(&exception.place)
            })
            .collect();
        let precedence = |exception: &&PlaceException| {
            (exception.place.specificity(), exception.scope.specificity())
        };
        applicable.sort_by(|a, b| {
            precedence(b)
                .cmp(&precedence(a))
                .then_with(|| a.id.cmp(&b.id))
        });
        let Some(winner) = applicable.first().copied() else {
            return Ok(None);
        };
        let disagreeing_tie = applicable[1..]
            .iter()
            .find(|other| precedence(other) == precedence(&winner) && !other.same_outcome(winner));
        if let Some(other) = disagreeing_tie {
            return Err(ResolveError::ConflictingExceptions {
                matter: matter.code().clone(),
                first: winner.id.clone(),
                second: other.id.clone(),
            });
        }
        Ok(Some(winner))
    }
}

/// Who is responsible for a matter at a place, and the rule that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responsibility {
    /// The matter.
    pub matter: MatterCode,
    /// The list item (and version) the rule comes from.
    pub item: ItemRef,
    /// Who leads.
    pub lead: Responsible,
    /// Who cooperates.
    pub cooperating: Vec<Responsible>,
    /// The tier a case starts at: the exception's, else the matter's, else the item's.
    pub tier: Tier,
    /// Time allowed to respond (from the item).
    pub response_limit: WorkingDuration,
    /// Time allowed to resolve (from the item).
    pub resolution_limit: WorkingDuration,
    /// The exception that overrode the general rule, if one did.
    pub exception: Option<ExceptionId>,
}

/// Why responsibility cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The matter is not in the catalogue.
    #[error("unknown matter {matter}")]
    UnknownMatter {
        /// The matter asked about.
        matter: MatterCode,
    },
    /// The matter's item is not in effect at the instant, so no list says who handles it.
    #[error("matter {matter} falls under item {item}, which is {why} at {}", instant(*.at))]
    ItemNotInEffect {
        /// The matter asked about.
        matter: MatterCode,
        /// Its item.
        item: ItemCode,
        /// The instant asked about.
        at: DateTime<Utc>,
        /// Why it is not in effect, e.g. when it will be.
        why: NotInEffect,
    },
    /// Two equally specific exceptions apply and disagree.
    #[error("exceptions {first} and {second} both apply to matter {matter} here and disagree")]
    ConflictingExceptions {
        /// The matter asked about.
        matter: MatterCode,
        /// One exception.
        first: ExceptionId,
        /// The other.
        second: ExceptionId,
    },
}

/// The inputs every question about responsibility needs: the published lists, the
/// matter catalogue and the per-place exceptions. Borrowed, so answering is pure.
#[derive(Debug, Clone, Copy)]
pub struct DutyRules<'a> {
    /// The published lists.
    pub lists: &'a DutyLists,
    /// The matter catalogue.
    pub catalogue: &'a MatterCatalogue,
    /// The per-place exceptions.
    pub exceptions: &'a PlaceExceptions,
}

impl<'a> DutyRules<'a> {
    /// Bundles the inputs.
    pub fn new(
        lists: &'a DutyLists,
        catalogue: &'a MatterCatalogue,
        exceptions: &'a PlaceExceptions,
    ) -> Self {
        Self {
            lists,
            catalogue,
            exceptions,
        }
    }

    /// Who is responsible for `matter` at `location` at `at`.
    ///
    /// An unknown matter is an error; so is a matter whose item is not in effect at `at`
    /// (the error says whether it will be, and from when, or was withdrawn): exceptions
    /// refine a rule in effect and do not stand in for a missing one.
    pub fn resolve(
        &self,
        matter: &MatterCode,
        location: &Location,
        at: DateTime<Utc>,
    ) -> Result<Responsibility, ResolveError> {
        let matter = self
            .catalogue
            .get(matter)
            .ok_or_else(|| ResolveError::UnknownMatter {
                matter: matter.clone(),
            })?;
        let (item, version) = match self.lists.in_effect_at(at).item_status(matter.item()) {
            ItemStatus::InEffect { item, version } => (item, version),
            ItemStatus::NotInEffect(why) => {
                return Err(ResolveError::ItemNotInEffect {
                    matter: matter.code().clone(),
                    item: matter.item(),
                    at,
                    why,
                });
            }
        };
        let general_tier = matter.tier().unwrap_or(item.default_tier());
        let mut responsibility = Responsibility {
            matter: matter.code().clone(),
            item: ItemRef {
                code: item.code(),
                version: version.number(),
            },
            lead: item.lead().clone(),
            cooperating: item.cooperators(),
            tier: general_tier,
            response_limit: item.response_limit(),
            resolution_limit: item.resolution_limit(),
            exception: None,
        };
        if let Some(exception) = self.exceptions.deciding(matter, location, at)? {
            responsibility.lead = exception.lead.clone();
            responsibility.cooperating = exception.cooperating.clone();
            responsibility.tier = exception.tier.unwrap_or(general_tier);
            responsibility.exception = Some(exception.id.clone());
        }
        Ok(responsibility)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::catalogue::tests::matter;
    use crate::domain::item::ItemFields;
    use crate::domain::item::ListItem;
    use crate::domain::item::tests::{department, fields};
    use crate::domain::kinds::ListKind;
    use crate::domain::list::ListContent;
    use crate::domain::list::tests::departments;
    use crate::domain::version::tests::day;
    use crate::domain::version::{DraftList, VersionNumber};

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

    /// Street facilities (block team, housing_construction competent) on the duty list
    /// from day 10; illegal construction (urban_management leads) on the cooperation list
    /// from day 10; night noise (public_security) added to the cooperation list on day 40.
    pub(crate) fn lists() -> DutyLists {
        let mut lists = DutyLists::new();
        let facilities = with("SD-05-03", |item| {
            item.lead_department = Some(department("housing_construction"));
            item.cooperating_departments = [department("urban_management")].into();
        });
        publish(
            &mut lists,
            ListKind::SubdistrictDuty,
            1,
            10,
            vec![facilities],
        );
        let construction = with("SC-01-01", |item| {
            item.cooperating_departments = [department("natural_resources")].into();
            item.default_tier = Tier::Whistle;
            item.resolution_limit = WorkingDuration::parse("15d").unwrap();
        });
        let noise = with("SC-03-01", |item| {
            item.lead_department = Some(department("public_security"));
            item.default_tier = Tier::Whistle;
        });
        publish(
            &mut lists,
            ListKind::SubdistrictCooperation,
            1,
            10,
            vec![construction.clone()],
        );
        publish(
            &mut lists,
            ListKind::SubdistrictCooperation,
            2,
            40,
            vec![construction, noise],
        );
        lists
    }

    pub(crate) fn catalogue(lists: &DutyLists) -> MatterCatalogue {
        let mut quiet_neighbour = matter("neighbour_noise", "SC-03-01");
        quiet_neighbour = Matter::new(
            quiet_neighbour.code().clone(),
            "邻里噪声",
            None,
            quiet_neighbour.item(),
            Some(Tier::FrontLine),
        )
        .unwrap();
        MatterCatalogue::new(
            vec![
                matter("broken_street_light", "SD-05-03"),
                matter("damaged_manhole_cover", "SD-05-03"),
                matter("illegal_construction", "SC-01-01"),
                matter("night_noise", "SC-03-01"),
                quiet_neighbour,
            ],
            &lists.published_item_codes(),
        )
        .unwrap()
    }

    fn code(text: &str) -> MatterCode {
        MatterCode::parse(text).unwrap()
    }

    fn block_location() -> Location {
        Location::in_block(BlockCode::parse("430302001004017").unwrap())
            .with_areas([AreaId::parse("shaoshan-road-north").unwrap()])
    }

    fn exception(id: &str, place: PlaceRef, scope: ExceptionScope, lead: &str) -> PlaceException {
        PlaceException {
            id: ExceptionId::parse(id).unwrap(),
            place,
            scope,
            lead: Responsible::Department(department(lead)),
            cooperating: vec![Responsible::SubdistrictPlatform],
            tier: None,
            effective_from: day(1),
            effective_until: None,
            reason: "道路产权属部门".into(),
        }
    }

    fn street_item() -> ExceptionScope {
        ExceptionScope::Item(ItemCode::parse("SD-05-03").unwrap())
    }

    fn resolve_with(
        exceptions: Vec<PlaceException>,
        matter: &str,
        at: u32,
    ) -> Result<Responsibility, ResolveError> {
        let lists = lists();
        let catalogue = catalogue(&lists);
        let exceptions = PlaceExceptions::new(exceptions, &departments()).unwrap();
        DutyRules::new(&lists, &catalogue, &exceptions).resolve(
            &code(matter),
            &block_location(),
            day(at),
        )
    }

    #[test]
    fn a_matter_resolves_to_its_items_lead_cooperators_tier_and_time_limits() {
        let responsibility = resolve_with(vec![], "broken_street_light", 20).unwrap();
        assert_eq!(
            responsibility,
            Responsibility {
                matter: code("broken_street_light"),
                item: ItemRef {
                    code: ItemCode::parse("SD-05-03").unwrap(),
                    version: VersionNumber::FIRST
                },
                lead: Responsible::BlockTeam,
                cooperating: vec![
                    Responsible::Department(department("housing_construction")),
                    Responsible::Department(department("urban_management")),
                ],
                tier: Tier::FrontLine,
                response_limit: WorkingDuration::parse("2h").unwrap(),
                resolution_limit: WorkingDuration::parse("3d").unwrap(),
                exception: None,
            }
        );
    }

    #[test]
    fn a_cooperation_matter_is_led_by_its_department_with_the_subdistrict_cooperating() {
        let responsibility = resolve_with(vec![], "illegal_construction", 20).unwrap();
        assert_eq!(
            responsibility.lead,
            Responsible::Department(department("urban_management"))
        );
        assert_eq!(
            responsibility.cooperating,
            [
                Responsible::SubdistrictPlatform,
                Responsible::Department(department("natural_resources"))
            ]
        );
        assert_eq!(responsibility.tier, Tier::Whistle);
        assert_eq!(responsibility.resolution_limit.to_string(), "15d");
    }

    #[test]
    fn a_matters_own_tier_overrides_its_items_default() {
        let responsibility = resolve_with(vec![], "neighbour_noise", 50).unwrap();
        assert_eq!(responsibility.tier, Tier::FrontLine);
        assert_eq!(
            resolve_with(vec![], "night_noise", 50).unwrap().tier,
            Tier::Whistle
        );
    }

    #[test]
    fn an_unknown_matter_is_an_error() {
        assert_eq!(
            resolve_with(vec![], "alien_landing", 20),
            Err(ResolveError::UnknownMatter {
                matter: code("alien_landing")
            })
        );
    }

    #[test]
    fn a_matter_whose_item_is_not_in_effect_yet_says_when_it_will_be() {
        let error = resolve_with(vec![], "night_noise", 20).unwrap_err();
        assert_eq!(
            error,
            ResolveError::ItemNotInEffect {
                matter: code("night_noise"),
                item: ItemCode::parse("SC-03-01").unwrap(),
                at: day(20),
                why: NotInEffect::NotYet {
                    effective_from: day(40),
                    version: VersionNumber::new(2).unwrap()
                },
            }
        );
        assert_eq!(
            error.to_string(),
            "matter night_noise falls under item SC-03-01, which is not in effect until 2025-02-09T00:00:00Z (v2) at 2025-01-20T00:00:00Z"
        );
        assert!(resolve_with(vec![], "night_noise", 40).is_ok());
    }

    #[test]
    fn a_place_exception_wins_over_the_area_rule() {
        let road = exception(
            "shaoshan-road-lights",
            PlaceRef::Area(AreaId::parse("shaoshan-road-north").unwrap()),
            street_item(),
            "housing_construction",
        );
        let responsibility = resolve_with(vec![road], "broken_street_light", 20).unwrap();
        assert_eq!(
            responsibility.lead,
            Responsible::Department(department("housing_construction"))
        );
        assert_eq!(
            responsibility.cooperating,
            [Responsible::SubdistrictPlatform]
        );
        assert_eq!(
            responsibility.exception,
            Some(ExceptionId::parse("shaoshan-road-lights").unwrap())
        );
        assert_eq!(
            responsibility.item.code,
            ItemCode::parse("SD-05-03").unwrap(),
            "the item still says so"
        );
        assert_eq!(
            responsibility.response_limit.to_string(),
            "2h",
            "limits stay the item's"
        );
    }

    #[test]
    fn an_exception_for_another_place_does_not_apply() {
        let elsewhere = exception(
            "other-block",
            PlaceRef::Block(BlockCode::parse("430302001004018").unwrap()),
            street_item(),
            "housing_construction",
        );
        let responsibility = resolve_with(vec![elsewhere], "broken_street_light", 20).unwrap();
        assert_eq!(responsibility.lead, Responsible::BlockTeam);
        assert_eq!(responsibility.exception, None);
    }

    #[test]
    fn an_exception_for_another_item_does_not_apply() {
        let other_item = exception(
            "construction-here",
            PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
            ExceptionScope::Item(ItemCode::parse("SC-01-01").unwrap()),
            "natural_resources",
        );
        assert_eq!(
            resolve_with(vec![other_item], "broken_street_light", 20)
                .unwrap()
                .exception,
            None
        );
    }

    #[test]
    fn the_most_specific_place_wins_among_exceptions() {
        let subdistrict = exception(
            "by-subdistrict",
            PlaceRef::Subdistrict(SubdistrictCode::parse("430302001").unwrap()),
            street_item(),
            "civil_affairs",
        );
        let community = exception(
            "by-community",
            PlaceRef::Community(CommunityCode::parse("430302001004").unwrap()),
            street_item(),
            "market_supervision",
        );
        let block = exception(
            "by-block",
            PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
            street_item(),
            "public_security",
        );
        let area = exception(
            "by-area",
            PlaceRef::Area(AreaId::parse("shaoshan-road-north").unwrap()),
            street_item(),
            "housing_construction",
        );
        let all = vec![subdistrict.clone(), community.clone(), block.clone(), area];
        let winner = |exceptions: Vec<PlaceException>| {
            resolve_with(exceptions, "broken_street_light", 20)
                .unwrap()
                .exception
                .map(|id| id.to_string())
        };
        assert_eq!(winner(all).as_deref(), Some("by-area"));
        assert_eq!(
            winner(vec![subdistrict.clone(), block, community.clone()]).as_deref(),
            Some("by-block")
        );
        assert_eq!(
            winner(vec![subdistrict.clone(), community]).as_deref(),
            Some("by-community")
        );
        assert_eq!(winner(vec![subdistrict]).as_deref(), Some("by-subdistrict"));
    }

    #[test]
    fn a_matter_exception_wins_over_an_item_exception_at_the_same_place() {
        let place = PlaceRef::Block(BlockCode::parse("430302001004017").unwrap());
        let for_item = exception("item-wide", place.clone(), street_item(), "civil_affairs");
        let for_matter = exception(
            "lights-only",
            place,
            ExceptionScope::Matter(code("broken_street_light")),
            "housing_construction",
        );
        let lights = resolve_with(
            vec![for_item.clone(), for_matter.clone()],
            "broken_street_light",
            20,
        )
        .unwrap();
        assert_eq!(lights.exception.unwrap().as_str(), "lights-only");
        let covers = resolve_with(vec![for_item, for_matter], "damaged_manhole_cover", 20).unwrap();
        assert_eq!(covers.exception.unwrap().as_str(), "item-wide");
    }

    #[test]
    fn a_more_specific_place_wins_even_over_a_matter_scoped_exception() {
        let broad_but_precise = exception(
            "subdistrict-lights",
            PlaceRef::Subdistrict(SubdistrictCode::parse("430302001").unwrap()),
            ExceptionScope::Matter(code("broken_street_light")),
            "civil_affairs",
        );
        let narrow = exception(
            "block-facilities",
            PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
            street_item(),
            "housing_construction",
        );
        let winner =
            resolve_with(vec![broad_but_precise, narrow], "broken_street_light", 20).unwrap();
        assert_eq!(winner.exception.unwrap().as_str(), "block-facilities");
    }

    #[test]
    fn an_exception_applies_only_within_its_effective_window() {
        let mut temporary = exception(
            "roadworks",
            PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
            street_item(),
            "housing_construction",
        );
        temporary.effective_from = day(15);
        temporary.effective_until = Some(day(30));
        let at = |when| {
            resolve_with(vec![temporary.clone()], "broken_street_light", when)
                .unwrap()
                .exception
                .is_some()
        };
        assert!(!at(14));
        assert!(at(15));
        assert!(at(29));
        assert!(!at(30));
    }

    #[test]
    fn an_exception_can_change_the_tier() {
        let mut escalated = exception(
            "market-street",
            PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
            street_item(),
            "urban_management",
        );
        escalated.tier = Some(Tier::CoordinationMeeting);
        let responsibility = resolve_with(vec![escalated], "broken_street_light", 20).unwrap();
        assert_eq!(responsibility.tier, Tier::CoordinationMeeting);
    }

    #[test]
    fn two_disagreeing_named_area_exceptions_are_a_conflict_and_agreeing_ones_are_not() {
        let road = exception(
            "road",
            PlaceRef::Area(AreaId::parse("shaoshan-road-north").unwrap()),
            street_item(),
            "housing_construction",
        );
        let mut park = exception(
            "park",
            PlaceRef::Area(AreaId::parse("riverside-park").unwrap()),
            street_item(),
            "urban_management",
        );
        let lists = lists();
        let catalogue = catalogue(&lists);
        let exceptions =
            PlaceExceptions::new(vec![road.clone(), park.clone()], &departments()).unwrap();
        let in_both = block_location().with_areas([AreaId::parse("riverside-park").unwrap()]);
        let rules = DutyRules::new(&lists, &catalogue, &exceptions);
        assert_eq!(
            rules.resolve(&code("broken_street_light"), &in_both, day(20)),
            Err(ResolveError::ConflictingExceptions {
                matter: code("broken_street_light"),
                first: ExceptionId::parse("park").unwrap(),
                second: ExceptionId::parse("road").unwrap(),
            })
        );
        park.lead = road.lead.clone();
        let agreeing = PlaceExceptions::new(vec![road, park], &departments()).unwrap();
        let rules = DutyRules::new(&lists, &catalogue, &agreeing);
        let resolved = rules
            .resolve(&code("broken_street_light"), &in_both, day(20))
            .unwrap();
        assert_eq!(resolved.exception.unwrap().as_str(), "park");
    }

    #[test]
    fn a_location_known_only_by_subdistrict_gets_subdistrict_exceptions_only() {
        let block = exception(
            "by-block",
            PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
            street_item(),
            "public_security",
        );
        let lists = lists();
        let catalogue = catalogue(&lists);
        let exceptions = PlaceExceptions::new(vec![block], &departments()).unwrap();
        let coarse = Location::in_subdistrict(SubdistrictCode::parse("430302001").unwrap());
        let resolved = DutyRules::new(&lists, &catalogue, &exceptions)
            .resolve(&code("broken_street_light"), &coarse, day(20))
            .unwrap();
        assert_eq!(resolved.exception, None);
    }

    #[test]
    fn every_problem_in_a_set_of_exceptions_is_reported() {
        let place = PlaceRef::Block(BlockCode::parse("430302001004017").unwrap());
        let first = exception(
            "first",
            place.clone(),
            street_item(),
            "housing_construction",
        );
        let mut overlapping = exception("second", place.clone(), street_item(), "urban_management");
        overlapping.effective_from = day(5);
        let mut later = exception("third", place.clone(), street_item(), "urban_management");
        later.effective_from = day(5);
        later.effective_until = Some(day(5));
        later.reason = " ".into();
        later.cooperating = vec![
            Responsible::Department(department("nobody")),
            later.lead.clone(),
            Responsible::SubdistrictPlatform,
            Responsible::SubdistrictPlatform,
        ];
        let duplicate = exception(
            "first",
            place,
            ExceptionScope::Matter(code("night_noise")),
            "public_security",
        );
        let invalid =
            PlaceExceptions::new(vec![first, overlapping, later, duplicate], &departments())
                .unwrap_err();
        let messages: Vec<String> = invalid.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "exception second: overlaps exception first for the same place and scope",
                "exception third: the reason must not be empty",
                "exception third: effective_until 2025-01-05T00:00:00Z is not after effective_from 2025-01-05T00:00:00Z",
                "exception third: the lead department urban_management is also listed as cooperating",
                "exception third: the subdistrict platform is listed twice as cooperating",
                "exception third: unknown department nobody",
                "exception first: duplicate exception id",
            ]
        );
    }

    #[test]
    fn exceptions_for_the_same_place_and_scope_may_follow_each_other_in_time() {
        let place = PlaceRef::Block(BlockCode::parse("430302001004017").unwrap());
        let mut before = exception(
            "before",
            place.clone(),
            street_item(),
            "housing_construction",
        );
        before.effective_until = Some(day(30));
        let mut after = exception("after", place, street_item(), "urban_management");
        after.effective_from = day(30);
        assert!(PlaceExceptions::new(vec![before, after], &departments()).is_ok());
    }

    #[test]
    fn a_location_known_by_its_block_gets_its_community_and_subdistrict_exceptions() {
        let community = exception(
            "by-community",
            PlaceRef::Community(CommunityCode::parse("430302001004").unwrap()),
            street_item(),
            "market_supervision",
        );
        let lists = lists();
        let catalogue = catalogue(&lists);
        let exceptions = PlaceExceptions::new(vec![community], &departments()).unwrap();
        let by_block_only = Location::in_block(BlockCode::parse("430302001004017").unwrap());
        let resolved = DutyRules::new(&lists, &catalogue, &exceptions)
            .resolve(&code("broken_street_light"), &by_block_only, day(20))
            .unwrap();
        assert_eq!(resolved.exception.unwrap().as_str(), "by-community");
        let neighbour = Location::in_block(BlockCode::parse("430302001005001").unwrap());
        let resolved = DutyRules::new(&lists, &catalogue, &exceptions)
            .resolve(&code("broken_street_light"), &neighbour, day(20))
            .unwrap();
        assert_eq!(resolved.exception, None, "a block of another community");
    }

    #[test]
    fn a_location_from_divisions_is_decided_by_the_most_specific_one_given() {
        let block = BlockCode::parse("430302001004017").unwrap();
        let location = Location::from_divisions(
            Some(SubdistrictCode::parse("430302001").unwrap()),
            None,
            Some(block.clone()),
        )
        .unwrap();
        assert_eq!(location, Location::in_block(block));
        assert_eq!(
            location.community().map(CommunityCode::as_str),
            Some("430302001004")
        );
        let community = Location::from_divisions(
            None,
            Some(CommunityCode::parse("430302001004").unwrap()),
            None,
        )
        .unwrap();
        assert_eq!(
            community.subdistrict().map(SubdistrictCode::as_str),
            Some("430302001")
        );
        assert_eq!(community.block(), None);
        assert_eq!(
            Location::from_divisions(None, None, None).unwrap(),
            Location::unknown()
        );
    }

    #[test]
    fn divisions_that_do_not_nest_are_refused_naming_both() {
        let error = Location::from_divisions(
            None,
            Some(CommunityCode::parse("430302001005").unwrap()),
            Some(BlockCode::parse("430302001004017").unwrap()),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "block 430302001004017 is not in community 430302001005"
        );
        let error = Location::from_divisions(
            Some(SubdistrictCode::parse("430302002").unwrap()),
            None,
            Some(BlockCode::parse("430302001004017").unwrap()),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "block 430302001004017 is not in subdistrict 430302002"
        );
        let error = Location::from_divisions(
            Some(SubdistrictCode::parse("430302002").unwrap()),
            Some(CommunityCode::parse("430302001004").unwrap()),
            None,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "community 430302001004 is not in subdistrict 430302002"
        );
    }
}
