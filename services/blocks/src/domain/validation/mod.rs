//! Validating a boundary generation: the "no 插花 zone" rule and its companions.
//!
//! A generation is valid when, in every subdistrict, its blocks cover the
//! subdistrict's land exactly once. [`validate_generation`] reports, per subdistrict:
//!
//! | kind | severity | what |
//! |---|---|---|
//! | `gap` | error | a connected piece of subdistrict land in none of its blocks, with geometry and area |
//! | `overlap` | error | land in two blocks, with both codes, geometry and area |
//! | `block_outside_subdistrict` | error | the part of a block outside its subdistrict's land, with geometry and area |
//! | `subdistrict_boundary_missing` | error | a block whose subdistrict (from its code) has no boundary in the input |
//! | `duplicate_block_code` | error | two drafts with one code |
//! | `team_governor_count`, `team_supervisor_count`, `team_supervisor_is_governor`, `team_supervisor_is_assistant` | error | a team breaking 1+N+1 |
//! | `households_outside_band` | warning | households outside the configured band around the target |
//! | `team_for_unknown_block` | warning | team facts for a code that is not in the generation |
//!
//! Geometric findings whose area is at or below [`ValidationSettings::area_tolerance_m2`]
//! are dropped: boolean operations snap coordinates to a fine grid (well under a
//! millimetre at district scale) and leave slivers that are not real land.
//!
//! # Method and cost
//!
//! - Gaps: `subdistrict − unary_union(its blocks)`, one `i_overlay` sweep per subdistrict.
//! - Outside: `unary_union(its blocks) − subdistrict`; only when that is not empty are the
//!   blocks whose bounding boxes meet it intersected with it, to name them.
//! - Overlaps: candidate pairs come from an R-tree over all blocks' bounding boxes
//!   (pairs whose boxes share positive area), so the cost grows with the number of
//!   neighbours, not n². Each candidate pair is intersected exactly. Blocks of
//!   different subdistricts are compared too; the finding is filed under the
//!   subdistrict of the lower code.
//! - Areas are geodesic ([`super::geometry::area_m2`]).
//!
//! The synthetic 10,000-block tiling validates in about 50 ms on the
//! 2-core reference machine (see `docs/benchmarks/blocks.md`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use geo::orient::Direction;
use geo::{BooleanOps, BoundingRect, MultiPolygon, Orient, Polygon, Rect, unary_union};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use super::geometry::{area_m2, polygon_area_m2};
use super::import::{BlockDraft, SubdistrictBoundary};
use super::names::PlaceName;
use super::team::{TeamFacts, TeamViolation};
use flatgov_vocabulary::{BlockCode, SubdistrictCode};

/// The knobs of validation. `Default` gives the reform's values.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationSettings {
    /// Geometric findings with an area at or below this (m²) are not reported. Default 1 m².
    pub area_tolerance_m2: f64,
    /// The households a block is meant to hold. Default 350.
    pub households_target: u32,
    /// Half-width of the accepted band as a fraction of the target: 0.5 accepts 175–525. Default 0.5.
    pub households_band_fraction: f64,
}

impl Default for ValidationSettings {
    fn default() -> Self {
        Self {
            area_tolerance_m2: 1.0,
            households_target: 350,
            households_band_fraction: 0.5,
        }
    }
}

impl ValidationSettings {
    /// The inclusive households band, rounded to whole households.
    pub fn households_band(&self) -> (u32, u32) {
        let target = f64::from(self.households_target);
        let fraction = self.households_band_fraction.max(0.0);
        let low = (target * (1.0 - fraction)).round().max(0.0);
        let high = (target * (1.0 + fraction)).round().min(f64::from(u32::MAX));
        // Both are whole numbers inside u32's range after the clamps above.
        (low as u32, high as u32)
    }
}

/// How bad a finding is: errors block activation, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Activation is refused while any remain.
    Error,
    /// Reported, but activation is allowed.
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// The stable kind of a finding, for machines; see the module table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// Subdistrict land in no block.
    Gap,
    /// Land in two blocks.
    Overlap,
    /// Part of a block outside its subdistrict.
    BlockOutsideSubdistrict,
    /// A block whose subdistrict has no boundary.
    SubdistrictBoundaryMissing,
    /// Two drafts share a code.
    DuplicateBlockCode,
    /// Not exactly one governor.
    TeamGovernorCount,
    /// Not exactly one supervisor.
    TeamSupervisorCount,
    /// The supervisor is also the governor.
    TeamSupervisorIsGovernor,
    /// The supervisor is also an assistant.
    TeamSupervisorIsAssistant,
    /// Households outside the band.
    HouseholdsOutsideBand,
    /// Team facts for a block not in the generation.
    TeamForUnknownBlock,
}

impl FindingKind {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Gap => "gap",
            FindingKind::Overlap => "overlap",
            FindingKind::BlockOutsideSubdistrict => "block_outside_subdistrict",
            FindingKind::SubdistrictBoundaryMissing => "subdistrict_boundary_missing",
            FindingKind::DuplicateBlockCode => "duplicate_block_code",
            FindingKind::TeamGovernorCount => "team_governor_count",
            FindingKind::TeamSupervisorCount => "team_supervisor_count",
            FindingKind::TeamSupervisorIsGovernor => "team_supervisor_is_governor",
            FindingKind::TeamSupervisorIsAssistant => "team_supervisor_is_assistant",
            FindingKind::HouseholdsOutsideBand => "households_outside_band",
            FindingKind::TeamForUnknownBlock => "team_for_unknown_block",
        }
    }

    /// The severity every finding of this kind has.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::HouseholdsOutsideBand | FindingKind::TeamForUnknownBlock => {
                Severity::Warning
            }
            _ => Severity::Error,
        }
    }
}

/// One thing wrong (or worth a look) in a generation.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// A connected piece of the subdistrict's land that no block of it covers.
    Gap {
        /// The uncovered land.
        geometry: MultiPolygon<f64>,
        /// Its geodesic area.
        area_m2: f64,
    },
    /// Land covered by two blocks.
    Overlap {
        /// The lower of the two codes.
        first: BlockCode,
        /// The higher of the two codes.
        second: BlockCode,
        /// The doubly covered land.
        geometry: MultiPolygon<f64>,
        /// Its geodesic area.
        area_m2: f64,
    },
    /// The part of a block that lies outside its subdistrict's land.
    BlockOutsideSubdistrict {
        /// The block.
        block: BlockCode,
        /// The part outside.
        geometry: MultiPolygon<f64>,
        /// Its geodesic area.
        area_m2: f64,
    },
    /// The block's subdistrict (from its code prefix) has no boundary in the input.
    SubdistrictBoundaryMissing {
        /// The block.
        block: BlockCode,
    },
    /// A second draft with the same code (only the first is checked further).
    DuplicateBlockCode {
        /// The repeated code.
        block: BlockCode,
    },
    /// The block's households fall outside the band.
    HouseholdsOutsideBand {
        /// The block.
        block: BlockCode,
        /// Its households.
        households: u32,
        /// Lowest accepted.
        band_low: u32,
        /// Highest accepted.
        band_high: u32,
    },
    /// The block's team breaks the 1+N+1 rule.
    TeamRuleBroken {
        /// The block.
        block: BlockCode,
        /// How.
        violation: TeamViolation,
    },
    /// Team facts were given for a block the generation does not contain.
    TeamForUnknownBlock {
        /// The unknown code.
        block: BlockCode,
    },
}

impl Finding {
    /// The stable kind.
    pub fn kind(&self) -> FindingKind {
        match self {
            Finding::Gap { .. } => FindingKind::Gap,
            Finding::Overlap { .. } => FindingKind::Overlap,
            Finding::BlockOutsideSubdistrict { .. } => FindingKind::BlockOutsideSubdistrict,
            Finding::SubdistrictBoundaryMissing { .. } => FindingKind::SubdistrictBoundaryMissing,
            Finding::DuplicateBlockCode { .. } => FindingKind::DuplicateBlockCode,
            Finding::HouseholdsOutsideBand { .. } => FindingKind::HouseholdsOutsideBand,
            Finding::TeamRuleBroken { violation, .. } => match violation {
                TeamViolation::GovernorCount { .. } => FindingKind::TeamGovernorCount,
                TeamViolation::SupervisorCount { .. } => FindingKind::TeamSupervisorCount,
                TeamViolation::SupervisorIsGovernor { .. } => FindingKind::TeamSupervisorIsGovernor,
                TeamViolation::SupervisorIsAssistant { .. } => {
                    FindingKind::TeamSupervisorIsAssistant
                }
            },
            Finding::TeamForUnknownBlock { .. } => FindingKind::TeamForUnknownBlock,
        }
    }

    /// Error or warning.
    pub fn severity(&self) -> Severity {
        self.kind().severity()
    }

    /// The blocks the finding is about (none for a gap, two for an overlap).
    pub fn blocks(&self) -> Vec<BlockCode> {
        match self {
            Finding::Gap { .. } => vec![],
            Finding::Overlap { first, second, .. } => vec![*first, *second],
            Finding::BlockOutsideSubdistrict { block, .. }
            | Finding::SubdistrictBoundaryMissing { block }
            | Finding::DuplicateBlockCode { block }
            | Finding::HouseholdsOutsideBand { block, .. }
            | Finding::TeamRuleBroken { block, .. }
            | Finding::TeamForUnknownBlock { block } => vec![*block],
        }
    }

    /// The land concerned, for geometric findings.
    pub fn geometry(&self) -> Option<&MultiPolygon<f64>> {
        match self {
            Finding::Gap { geometry, .. }
            | Finding::Overlap { geometry, .. }
            | Finding::BlockOutsideSubdistrict { geometry, .. } => Some(geometry),
            _ => None,
        }
    }

    /// The area concerned in m², for geometric findings.
    pub fn area_m2(&self) -> Option<f64> {
        match self {
            Finding::Gap { area_m2, .. }
            | Finding::Overlap { area_m2, .. }
            | Finding::BlockOutsideSubdistrict { area_m2, .. } => Some(*area_m2),
            _ => None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Gap { area_m2, .. } => {
                write!(formatter, "{area_m2:.1} m² of land is in no block")
            }
            Finding::Overlap {
                first,
                second,
                area_m2,
                ..
            } => {
                write!(
                    formatter,
                    "blocks {first} and {second} overlap on {area_m2:.1} m²"
                )
            }
            Finding::BlockOutsideSubdistrict { block, area_m2, .. } => {
                write!(
                    formatter,
                    "block {block} extends {area_m2:.1} m² outside its subdistrict"
                )
            }
            Finding::SubdistrictBoundaryMissing { block } => {
                write!(
                    formatter,
                    "block {block} belongs to subdistrict {}, which has no boundary",
                    block.subdistrict()
                )
            }
            Finding::DuplicateBlockCode { block } => {
                write!(formatter, "block code {block} is used more than once")
            }
            Finding::HouseholdsOutsideBand {
                block,
                households,
                band_low,
                band_high,
            } => write!(
                formatter,
                "block {block} has {households} households, outside the band {band_low}-{band_high}"
            ),
            Finding::TeamRuleBroken { block, violation } => {
                write!(formatter, "block {block}: {violation}")
            }
            Finding::TeamForUnknownBlock { block } => {
                write!(
                    formatter,
                    "team facts given for block {block}, which is not in this generation"
                )
            }
        }
    }
}

/// What validation found in one subdistrict.
#[derive(Debug, Clone, PartialEq)]
pub struct SubdistrictReport {
    /// The subdistrict.
    pub code: SubdistrictCode,
    /// Its name, when its boundary was given.
    pub name: Option<PlaceName>,
    /// Geodesic area of its land, when its boundary was given.
    pub land_area_m2: Option<f64>,
    /// Number of blocks whose code places them here.
    pub block_count: usize,
    /// Sum of those blocks' geodesic areas.
    pub blocks_area_m2: f64,
    /// Findings, errors first, then by kind and block code.
    pub findings: Vec<Finding>,
}

/// The whole validation result, one entry per subdistrict named by a boundary or a block.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationReport {
    /// Subdistricts in code order.
    pub subdistricts: Vec<SubdistrictReport>,
    /// Findings that belong to no subdistrict (team facts for unknown blocks).
    pub general_findings: Vec<Finding>,
    /// The settings used, so a stored report explains itself.
    pub settings: ValidationSettings,
}

impl ValidationReport {
    /// Every finding, subdistrict by subdistrict, then the general ones.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.subdistricts
            .iter()
            .flat_map(|subdistrict| subdistrict.findings.iter())
            .chain(self.general_findings.iter())
    }

    /// True when activation must be refused.
    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Number of error findings.
    pub fn error_count(&self) -> usize {
        self.findings()
            .filter(|finding| finding.severity() == Severity::Error)
            .count()
    }

    /// Number of warning findings.
    pub fn warning_count(&self) -> usize {
        self.findings()
            .filter(|finding| finding.severity() == Severity::Warning)
            .count()
    }
}

/// Validates a generation: `blocks` against the `subdistricts`' land, the households
/// band and the 1+N+1 rule for the blocks that have `teams` facts.
pub fn validate_generation(
    subdistricts: &[SubdistrictBoundary],
    blocks: &[BlockDraft],
    teams: &HashMap<BlockCode, TeamFacts>,
    settings: &ValidationSettings,
) -> ValidationReport {
    let mut reports: BTreeMap<SubdistrictCode, SubdistrictReport> = BTreeMap::new();
    let empty_report = |code: SubdistrictCode| SubdistrictReport {
        code,
        name: None,
        land_area_m2: None,
        block_count: 0,
        blocks_area_m2: 0.0,
        findings: Vec::new(),
    };

    let mut boundaries: BTreeMap<SubdistrictCode, &SubdistrictBoundary> = BTreeMap::new();
    for boundary in subdistricts {
        boundaries.entry(boundary.code).or_insert(boundary);
        let report = reports
            .entry(boundary.code)
            .or_insert_with(|| empty_report(boundary.code));
        report.name = Some(boundary.name.clone());
        report.land_area_m2 = Some(area_m2(&boundary.geometry));
    }

    // First draft of each code; later ones are reported and left out.
    let mut unique_blocks: Vec<&BlockDraft> = Vec::with_capacity(blocks.len());
    let mut seen: HashMap<BlockCode, ()> = HashMap::with_capacity(blocks.len());
    for block in blocks {
        let report = reports
            .entry(block.code.subdistrict())
            .or_insert_with(|| empty_report(block.code.subdistrict()));
        if seen.insert(block.code, ()).is_some() {
            report
                .findings
                .push(Finding::DuplicateBlockCode { block: block.code });
            continue;
        }
        report.block_count += 1;
        report.blocks_area_m2 += area_m2(&block.geometry);
        unique_blocks.push(block);
    }

    let mut blocks_by_subdistrict: BTreeMap<SubdistrictCode, Vec<&BlockDraft>> = BTreeMap::new();
    for block in &unique_blocks {
        blocks_by_subdistrict
            .entry(block.code.subdistrict())
            .or_default()
            .push(block);
    }

    for (code, report) in reports.iter_mut() {
        let own_blocks = blocks_by_subdistrict
            .get(code)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match boundaries.get(code) {
            Some(boundary) => {
                report.findings.extend(coverage_findings(
                    boundary,
                    own_blocks,
                    settings.area_tolerance_m2,
                ));
            }
            None => report.findings.extend(
                own_blocks
                    .iter()
                    .map(|block| Finding::SubdistrictBoundaryMissing { block: block.code }),
            ),
        }
    }

    for overlap in overlap_findings(&unique_blocks, settings.area_tolerance_m2) {
        if let Finding::Overlap { first, .. } = &overlap
            && let Some(report) = reports.get_mut(&first.subdistrict())
        {
            report.findings.push(overlap);
        }
    }

    let (band_low, band_high) = settings.households_band();
    for block in &unique_blocks {
        if !(band_low..=band_high).contains(&block.households)
            && let Some(report) = reports.get_mut(&block.code.subdistrict())
        {
            report.findings.push(Finding::HouseholdsOutsideBand {
                block: block.code,
                households: block.households,
                band_low,
                band_high,
            });
        }
    }

    let mut general_findings = Vec::new();
    let mut team_codes: Vec<&BlockCode> = teams.keys().collect();
    team_codes.sort();
    for code in team_codes {
        if !seen.contains_key(code) {
            general_findings.push(Finding::TeamForUnknownBlock { block: *code });
            continue;
        }
        let Some(report) = reports.get_mut(&code.subdistrict()) else {
            continue;
        };
        for violation in teams[code].violations() {
            report.findings.push(Finding::TeamRuleBroken {
                block: *code,
                violation,
            });
        }
    }

    let mut subdistrict_reports: Vec<SubdistrictReport> = reports.into_values().collect();
    for report in &mut subdistrict_reports {
        // Stable sort: errors first, then kind, then blocks; geometric findings of one
        // kind keep the deterministic order in which they were found.
        report
            .findings
            .sort_by_key(|finding| (finding.severity(), finding.kind(), finding.blocks()));
    }
    ValidationReport {
        subdistricts: subdistrict_reports,
        general_findings,
        settings: settings.clone(),
    }
}

/// Gaps in, and blocks outside, one subdistrict's land.
fn coverage_findings(
    boundary: &SubdistrictBoundary,
    blocks: &[&BlockDraft],
    tolerance_m2: f64,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    // unary_union picks its fill rule from the first ring's winding, so every ring
    // must follow one convention; drafts built by hand may not, so orient here.
    let oriented: Vec<MultiPolygon<f64>> = blocks
        .iter()
        .map(|block| block.geometry.orient(Direction::Default))
        .collect();
    let covered = unary_union(oriented.iter());
    let uncovered = boundary.geometry.difference(&covered);
    for piece in uncovered.0 {
        let area = polygon_area_m2(&piece);
        if area > tolerance_m2 {
            findings.push(Finding::Gap {
                geometry: MultiPolygon(vec![piece]),
                area_m2: area,
            });
        }
    }

    let outside = covered.difference(&boundary.geometry);
    if area_m2(&outside) <= tolerance_m2 {
        return findings;
    }
    let outside_boxes: Vec<Rect<f64>> = outside
        .0
        .iter()
        .filter_map(Polygon::bounding_rect)
        .collect();
    for block in blocks {
        let Some(block_box) = block.geometry.bounding_rect() else {
            continue;
        };
        if !outside_boxes
            .iter()
            .any(|outside_box| boxes_meet(&block_box, outside_box))
        {
            continue;
        }
        let part_outside = block.geometry.intersection(&outside);
        let area = area_m2(&part_outside);
        if area > tolerance_m2 {
            findings.push(Finding::BlockOutsideSubdistrict {
                block: block.code,
                geometry: part_outside,
                area_m2: area,
            });
        }
    }
    findings
}

fn boxes_meet(first: &Rect<f64>, second: &Rect<f64>) -> bool {
    first.min().x <= second.max().x
        && second.min().x <= first.max().x
        && first.min().y <= second.max().y
        && second.min().y <= first.max().y
}

/// True when two boxes share positive area (boxes that only touch cannot hold overlapping interiors).
fn boxes_share_area(first: &Rect<f64>, second: &Rect<f64>) -> bool {
    first.min().x < second.max().x
        && second.min().x < first.max().x
        && first.min().y < second.max().y
        && second.min().y < first.max().y
}

/// Every pair of blocks whose interiors overlap by more than the tolerance.
fn overlap_findings(blocks: &[&BlockDraft], tolerance_m2: f64) -> Vec<Finding> {
    let boxes: Vec<Option<Rect<f64>>> = blocks
        .iter()
        .map(|block| block.geometry.bounding_rect())
        .collect();
    let entries: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = boxes
        .iter()
        .enumerate()
        .filter_map(|(index, bounding)| {
            bounding.map(|rect| {
                GeomWithData::new(
                    Rectangle::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    index,
                )
            })
        })
        .collect();
    let tree = RTree::bulk_load(entries);
    let mut findings = Vec::new();
    for (index, bounding) in boxes.iter().enumerate() {
        let Some(rect) = bounding else {
            continue;
        };
        let envelope =
            AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]);
        let mut candidates: Vec<usize> = tree
            .locate_in_envelope_intersecting(&envelope)
            .map(|entry| entry.data)
            .filter(|&other| other > index)
            .filter(|&other| {
                boxes[other].is_some_and(|other_rect| boxes_share_area(rect, &other_rect))
            })
            .collect();
        candidates.sort_unstable();
        for other in candidates {
            let overlap = blocks[index].geometry.intersection(&blocks[other].geometry);
            let area = area_m2(&overlap);
            if area > tolerance_m2 {
                let (first, second) = if blocks[index].code < blocks[other].code {
                    (blocks[index].code, blocks[other].code)
                } else {
                    (blocks[other].code, blocks[index].code)
                };
                findings.push(Finding::Overlap {
                    first,
                    second,
                    geometry: overlap,
                    area_m2: area,
                });
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests;
