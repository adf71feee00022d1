//! ExportGeoJson: a generation's blocks (or the subdistricts' boundaries)
//! as GeoJSON in the schema the imports read, one page at a time.
//!
//! Pages are bounded by feature count and by size (about 2 MiB of GeoJSON),
//! so no answer needs the import-sized message limit. A blocks page token
//! carries the generation its export began with, so an activation between
//! pages never mixes two maps.

use std::collections::{HashMap, HashSet};

use flatgov_auth::policy::Access;
use flatgov_grpc::paging::{ListQuery, PageSize};
use uuid::Uuid;

use super::Blocks;
use super::blocks::{generation_teams, readable_places, resolve_generation};
use crate::domain::codec;
use crate::domain::import::{
    BlockDraft, SubdistrictBoundary, blocks_to_geojson, subdistricts_to_geojson,
};
use crate::domain::names::PlaceName;
use crate::domain::team_import::team_property;
use crate::error::Error;
use crate::resources::{GenerationRef, Parent};
use crate::store;
use crate::store::generations::BlockFilter;
use flatgov_vocabulary::{BlockCode, SubdistrictCode};

/// Most GeoJSON text one page carries, whatever a block's polygon costs:
/// well inside the 4 MiB a gRPC message is by default.
const PAGE_BYTES: usize = 2 * 1024 * 1024;

/// Which layer an export carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// A generation's blocks (ImportBlocks' schema).
    Blocks,
    /// The subdistricts' boundaries (ImportSubdistricts' schema).
    Subdistricts,
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The first page.
    First,
    /// After this subdistrict code.
    AfterSubdistrict(String),
    /// After this block code of this generation.
    AfterBlock { generation: Uuid, code: String },
}

/// One page of an export.
#[derive(Debug, Clone)]
pub struct Export {
    pub layer: Layer,
    pub parent: Parent,
    /// `None` for the generation in force (blocks only).
    pub generation: Option<GenerationRef>,
    /// Adds each block's team as a `team` property.
    pub include_teams: bool,
    /// Features per page.
    pub size: PageSize,
    pub start: Start,
}

/// A page of GeoJSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPage {
    /// A FeatureCollection of this page's features.
    pub geojson: String,
    pub feature_count: u32,
    /// The generation exported (blocks only).
    pub generation: Option<Uuid>,
    /// Empty on the last page.
    pub next_page_token: String,
}

/// What a page token of an export is bound to: the layer and every filter
/// as the request gave them.
pub fn query(
    layer: Layer,
    parent: &Parent,
    generation: Option<GenerationRef>,
    include_teams: bool,
) -> ListQuery {
    let generation = match generation {
        None => String::new(),
        Some(GenerationRef::Active) => "active".to_owned(),
        Some(GenerationRef::Id(id)) => id.to_string(),
    };
    ListQuery::new(&format!(
        "export layer={layer:?} parent={} generation={generation} teams={include_teams}",
        parent.prefix()
    ))
}

/// Where a page starts, from the key its token carries; `None` for a key
/// this export never issues.
pub fn start_after(layer: Layer, key: Option<&str>) -> Option<Start> {
    let Some(key) = key else {
        return Some(Start::First);
    };
    match layer {
        Layer::Subdistricts => Some(Start::AfterSubdistrict(key.to_owned())),
        Layer::Blocks => {
            let (generation, code) = key.split_once('/')?;
            Some(Start::AfterBlock {
                generation: Uuid::parse_str(generation).ok()?,
                code: code.to_owned(),
            })
        }
    }
}

/// How many of `features` one page carries: up to the byte budget, at least one.
fn features_within_budget(features: &[geojson::Feature]) -> usize {
    let mut bytes = 0;
    for (index, feature) in features.iter().enumerate() {
        bytes += feature.to_string().len();
        if bytes > PAGE_BYTES && index > 0 {
            return index;
        }
    }
    features.len()
}

/// The page of `collection` whose features have `keys`, fetched with one
/// row more than the page when `more` is true.
fn page_of(
    mut collection: geojson::FeatureCollection,
    keys: &[String],
    more: bool,
    query: &ListQuery,
) -> (String, u32, String) {
    let kept = features_within_budget(&collection.features);
    collection.features.truncate(kept);
    let next_page_token = match kept.checked_sub(1).and_then(|last| keys.get(last)) {
        Some(last) if more || kept < keys.len() => query.token_after(last),
        _ => String::new(),
    };
    (
        collection.to_string(),
        u32::try_from(kept).unwrap_or(u32::MAX),
        next_page_token,
    )
}

fn stored_name(text: &str) -> Result<PlaceName, Error> {
    PlaceName::parse(text).map_err(|error| Error::internal("reading a stored name", error))
}

pub async fn export(blocks: &Blocks, access: &Access, export: Export) -> Result<ExportPage, Error> {
    let query = query(
        export.layer,
        &export.parent,
        export.generation,
        export.include_teams,
    );
    match export.layer {
        Layer::Subdistricts => subdistricts(blocks, &export, &query).await,
        Layer::Blocks => blocks_page(blocks, access, &export, &query).await,
    }
}

async fn subdistricts(
    blocks: &Blocks,
    export: &Export,
    query: &ListQuery,
) -> Result<ExportPage, Error> {
    let mut connection = store::connection(&blocks.pool, "exporting subdistricts").await?;
    let after = match &export.start {
        Start::AfterSubdistrict(code) => Some(code.as_str()),
        _ => None,
    };
    let prefix = export.parent.prefix();
    let size = export.size.get();
    let mut rows: Vec<_> = store::hierarchy::subdistricts_with_boundary(&mut connection)
        .await?
        .into_iter()
        .filter(|row| row.code.starts_with(&prefix) || prefix.starts_with(&row.code))
        .filter(|row| after.is_none_or(|after| row.code.as_str() > after))
        .take(size + 1)
        .collect();
    let more = rows.len() > size;
    rows.truncate(size);
    let boundaries = rows
        .iter()
        .map(|row| {
            Ok(SubdistrictBoundary {
                code: SubdistrictCode::parse(&row.code)
                    .map_err(|error| Error::internal("exporting subdistricts", error))?,
                name: stored_name(&row.display_name)?,
                name_en: row
                    .display_name_en
                    .as_deref()
                    .map(stored_name)
                    .transpose()?,
                geometry: codec::decode(row.boundary.as_deref().unwrap_or_default())
                    .map_err(|error| Error::internal("exporting subdistricts", error))?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let keys: Vec<String> = rows.iter().map(|row| row.code.clone()).collect();
    let (geojson, feature_count, next_page_token) =
        page_of(subdistricts_to_geojson(&boundaries), &keys, more, query);
    Ok(ExportPage {
        geojson,
        feature_count,
        generation: None,
        next_page_token,
    })
}

async fn blocks_page(
    blocks: &Blocks,
    access: &Access,
    export: &Export,
    query: &ListQuery,
) -> Result<ExportPage, Error> {
    let mut connection = store::connection(&blocks.pool, "exporting blocks").await?;
    let (reference, after) = match &export.start {
        Start::AfterBlock { generation, code } => {
            (Some(GenerationRef::Id(*generation)), Some(code.as_str()))
        }
        _ => (export.generation, None),
    };
    let generation = resolve_generation(blocks, &mut connection, reference).await?;
    let places = readable_places(access, &generation)?;
    let reached = places.like_patterns();
    let prefix = export.parent.prefix();
    let filter = BlockFilter {
        prefix: &prefix,
        reached: reached.as_deref(),
    };
    let size = export.size.get();
    let mut rows = store::generations::list_blocks(
        &mut connection,
        generation.id,
        filter,
        after,
        export.size.fetch_limit(),
        true,
    )
    .await?;
    let more = rows.len() > size;
    rows.truncate(size);
    let community_codes: Vec<String> = rows
        .iter()
        .map(|row| row.community_code.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let community_names =
        store::hierarchy::community_names(&mut connection, &community_codes).await?;
    let codes: Vec<String> = rows.iter().map(|row| row.code.clone()).collect();
    let teams = if export.include_teams {
        generation_teams(blocks, &mut connection, &generation, &codes).await?
    } else {
        HashMap::new()
    };
    let drafts = rows
        .iter()
        .map(|row| {
            Ok(BlockDraft {
                code: BlockCode::parse(&row.code)
                    .map_err(|error| Error::internal("exporting blocks", error))?,
                name: stored_name(&row.display_name)?,
                households: u32::try_from(row.households).unwrap_or(u32::MAX),
                community_name: community_names
                    .get(&row.community_code)
                    .map(|name| stored_name(name))
                    .transpose()?,
                geometry: codec::decode(row.geometry.as_deref().unwrap_or_default())
                    .map_err(|error| Error::internal("exporting blocks", error))?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let mut collection = blocks_to_geojson(&drafts);
    for (feature, draft) in collection.features.iter_mut().zip(&drafts) {
        if let (Some(team), Some(properties)) =
            (teams.get(&draft.code), feature.properties.as_mut())
        {
            properties.insert("team".into(), team_property(team));
        }
    }
    let keys: Vec<String> = codes
        .iter()
        .map(|code| format!("{}/{code}", generation.id))
        .collect();
    let (geojson, feature_count, next_page_token) = page_of(collection, &keys, more, query);
    Ok(ExportPage {
        geojson,
        feature_count,
        generation: Some(generation.id),
        next_page_token,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn feature_of(bytes: usize) -> geojson::Feature {
        let mut properties = geojson::JsonObject::new();
        properties.insert("padding".into(), Value::String("x".repeat(bytes)));
        geojson::Feature {
            properties: Some(properties),
            ..Default::default()
        }
    }

    fn collection(features: Vec<geojson::Feature>) -> geojson::FeatureCollection {
        geojson::FeatureCollection {
            bbox: None,
            features,
            foreign_members: None,
        }
    }

    #[test]
    fn a_page_stops_at_its_byte_budget_but_always_carries_one_feature() {
        let small = vec![feature_of(10), feature_of(10), feature_of(10)];
        assert_eq!(features_within_budget(&small), 3);
        let large = vec![
            feature_of(PAGE_BYTES / 2),
            feature_of(PAGE_BYTES / 2),
            feature_of(10),
        ];
        assert_eq!(features_within_budget(&large), 1);
        let huge = vec![feature_of(PAGE_BYTES * 2)];
        assert_eq!(features_within_budget(&huge), 1, "never an empty page");
    }

    #[test]
    fn a_page_cut_by_its_budget_continues_after_its_last_feature() {
        let query = ListQuery::new("export test");
        let keys: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let cut = collection(vec![
            feature_of(PAGE_BYTES / 2),
            feature_of(PAGE_BYTES / 2),
            feature_of(10),
        ]);
        let (_, count, token) = page_of(cut, &keys, false, &query);
        assert_eq!(count, 1);
        assert_eq!(query.key_in(&token).expect("ours"), Some("a".to_owned()));
        let (_, count, token) =
            page_of(collection(vec![feature_of(10)]), &keys[2..], false, &query);
        assert_eq!((count, token.as_str()), (1, ""), "the last page");
    }

    #[test]
    fn a_blocks_token_carries_its_generation_and_a_foreign_key_is_refused() {
        let generation = Uuid::now_v7();
        let key = format!("{generation}/430302001001001");
        assert_eq!(
            start_after(Layer::Blocks, Some(&key)),
            Some(Start::AfterBlock {
                generation,
                code: "430302001001001".into()
            })
        );
        assert_eq!(start_after(Layer::Blocks, Some("430302001001001")), None);
        assert_eq!(start_after(Layer::Blocks, None), Some(Start::First));
    }
}
