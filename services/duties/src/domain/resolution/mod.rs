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
use super::department::Departments;
use super::duration::WorkingDuration;
use super::item::Responsible;
use super::item_code::ItemCode;
use super::kinds::Tier;
use super::slugs::{AreaId, ExceptionId};
use super::version::{DutyLists, ItemRef, ItemStatus, NotInEffect, instant};
use flatgov_vocabulary::{BlockCode, CommunityCode, DepartmentCode, MatterCode, SubdistrictCode};

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
                block: *block,
                community: *community,
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
                    subdistrict: *subdistrict,
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
pub(crate) mod tests;
