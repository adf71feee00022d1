//! The synthetic district and tilings (crate `flatgov-demo`) as the registry's
//! own domain types, for the validation and index tests and the benchmarks.
//!
//! The generator lives in `flatgov-demo` so the CLI and other services'
//! benchmarks can make and load the demo without the registry's code; this
//! module turns what it makes into [`SubdistrictBoundary`] and [`BlockDraft`]
//! through [`PlaceName::parse`], the same rule an import file passes.

pub use flatgov_demo::synthetic::{
    Bounds, DEMO_SEED, DemoDistrict, MAX_TILING_BLOCKS, SplitMix64, SyntheticError, Tiling,
    demo_district, tiling,
};
use flatgov_demo::synthetic::{DemoBlock, DemoBoundary};

use super::import::{BlockDraft, SubdistrictBoundary};
use super::names::{NameError, PlaceName};

/// A generated boundary as the registry's type.
pub fn boundary(generated: &DemoBoundary) -> Result<SubdistrictBoundary, NameError> {
    Ok(SubdistrictBoundary {
        code: generated.code,
        name: PlaceName::parse(&generated.name)?,
        name_en: generated
            .name_en
            .as_deref()
            .map(PlaceName::parse)
            .transpose()?,
        geometry: generated.geometry.clone(),
    })
}

/// A generated block as the registry's draft.
pub fn draft(generated: &DemoBlock) -> Result<BlockDraft, NameError> {
    Ok(BlockDraft {
        code: generated.code,
        name: PlaceName::parse(&generated.name)?,
        households: generated.households,
        community_name: generated
            .community_name
            .as_deref()
            .map(PlaceName::parse)
            .transpose()?,
        geometry: generated.geometry.clone(),
    })
}

/// The demo district as a generation to validate: its subdistricts' land and its blocks.
pub fn demo_generation(
    district: &DemoDistrict,
) -> Result<(Vec<SubdistrictBoundary>, Vec<BlockDraft>), NameError> {
    let boundaries = district
        .subdistricts
        .iter()
        .map(|subdistrict| boundary(&subdistrict.boundary))
        .collect::<Result<_, _>>()?;
    let drafts = district
        .blocks
        .iter()
        .map(draft)
        .collect::<Result<_, _>>()?;
    Ok((boundaries, drafts))
}

/// A tiling as a one-subdistrict generation (`None` past 998,001 blocks, see
/// [`Tiling::to_single_subdistrict_generation`]).
pub fn single_subdistrict_generation(
    made: &Tiling,
) -> Option<(SubdistrictBoundary, Vec<BlockDraft>)> {
    let (generated_boundary, generated_blocks) = made.to_single_subdistrict_generation()?;
    let drafts = generated_blocks
        .iter()
        .map(draft)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some((boundary(&generated_boundary).ok()?, drafts))
}

#[cfg(test)]
mod tests;
