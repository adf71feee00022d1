//! The synthetic demo district, loaded through the registry's public gRPC API —
//! the same path an operator uses — idempotently.
//!
//! **All data is synthetic**: geometry, communities, households (see
//! [`synthetic`]) and every person: names are drawn from common
//! surnames and given-name characters, phone numbers from the 170 virtual
//! operator range, all from a fixed seed.
//!
//! # The call sequence ([`load_demo`])
//!
//! 1. `UpdateDistrict{allow_missing: true}` — district 430302.
//! 2. `ImportSubdistricts` — the 8 subdistricts with their boundaries (unchanged ones are left alone).
//! 3. `UpdateCommunity{allow_missing: true}` — each community, with its English name.
//! 4. `ImportStaff` — 326 governors, 2,373 assistants, 326 supervisors (upsert by id).
//! 5. `ImportBlocks` — the 326 blocks with their teams, `request_id` =
//!    `demo-430302-{seed}-{digest of the content}`: a rerun returns the generation
//!    the first run created instead of drafting another.
//! 6. If that generation is a draft: `ValidateGeneration` (must report no
//!    errors), then `ActivateGeneration`. If it is already active, nothing more
//!    happens; if a later generation replaced it (say, a redistricting was
//!    activated since), the registry is left as it is and the report says so.
//!
//! Every step is idempotent, so the whole sequence may be rerun at any time.
//!
//! # Why a crate of its own
//!
//! The CLI (`flatgov demo load`), the block registry's tests and benchmarks
//! and the cases benchmarks all load this district. It speaks only the public
//! API (`flatgov-proto`), so none of them needs the registry's service code to
//! make or load it; the registry's tests check that what it writes here is
//! exactly what the registry's own import reads and writes.

use std::collections::HashMap;

use flatgov_grpc::paging::fnv1a;
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;
use tonic::transport::Channel;

use flatgov_vocabulary::BlockCode;

pub mod errands;
pub mod geojson;
pub mod synthetic;

use geojson::{blocks_to_geojson, subdistricts_to_geojson};
pub use synthetic::DEMO_SEED;
use synthetic::{DemoDistrict, SplitMix64, SyntheticError, demo_district};

/// Governors, assistants and supervisors in the demo: the reference district's figures.
pub const DEMO_GOVERNORS: usize = 326;
/// Assistants (协理员) across all blocks.
pub const DEMO_ASSISTANTS: usize = 2_373;
/// Supervisors (监督员).
pub const DEMO_SUPERVISORS: usize = 326;

const SURNAMES: [&str; 30] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "邓", "冯", "曹",
];

const GIVEN: [&str; 40] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国", "红", "文", "辉", "玲", "志", "海",
    "燕", "波", "宁", "湘", "潭", "湖", "雨", "春",
];

const DEPARTMENTS: [&str; 6] = [
    "雨湖区城市管理和综合执法局",
    "雨湖区市场监督管理局",
    "雨湖区住房和城乡建设局",
    "雨湖区民政局",
    "雨湖区人力资源和社会保障局",
    "雨湖区卫生健康局",
];

/// Everything the demo loads.
#[derive(Debug, Clone)]
pub struct DemoData {
    /// The seed everything came from.
    pub seed: u64,
    /// Geography: subdistricts, communities, blocks.
    pub district: DemoDistrict,
    /// The roster: every governor, assistant and supervisor.
    pub staff: Vec<api::Staff>,
    /// One team per block.
    pub teams: Vec<api::BlockTeamAssignment>,
}

/// The demo district with a 1+N+1 team of synthetic people for every block.
pub fn demo_data(seed: u64) -> Result<DemoData, SyntheticError> {
    let district = demo_district(seed)?;
    let mut random = SplitMix64::new(seed ^ 0x7465_616d_7300_0000);
    let block_count = district.blocks.len();
    // Spread the assistants: every block gets the base number, some one more.
    let base = DEMO_ASSISTANTS / block_count.max(1);
    let extra = DEMO_ASSISTANTS - base * block_count;
    let mut order: Vec<usize> = (0..block_count).collect();
    for position in (1..order.len()).rev() {
        let other = random.below(position as u64 + 1) as usize;
        order.swap(position, other);
    }
    let mut assistant_counts = vec![base; block_count];
    for &index in order.iter().take(extra) {
        assistant_counts[index] += 1;
    }
    let community_names: HashMap<String, String> = district
        .communities
        .iter()
        .map(|community| (community.code.to_string(), community.name.to_string()))
        .collect();
    let subdistrict_names: HashMap<String, String> = district
        .subdistricts
        .iter()
        .map(|subdistrict| {
            (
                subdistrict.boundary.code.to_string(),
                subdistrict.boundary.name.to_string(),
            )
        })
        .collect();
    let mut staff = Vec::with_capacity(DEMO_GOVERNORS + DEMO_ASSISTANTS + DEMO_SUPERVISORS);
    let mut teams = Vec::with_capacity(block_count);
    for (block, assistant_count) in district.blocks.iter().zip(assistant_counts) {
        let code = block.code;
        let community = community_names
            .get(&code.community().to_string())
            .cloned()
            .unwrap_or_default();
        let subdistrict = subdistrict_names
            .get(&code.subdistrict().to_string())
            .cloned()
            .unwrap_or_default();
        let mut person = |id: String, unit: String| {
            let name = format!(
                "{}{}{}",
                SURNAMES[random.below(SURNAMES.len() as u64) as usize],
                GIVEN[random.below(GIVEN.len() as u64) as usize],
                if random.below(3) == 0 {
                    ""
                } else {
                    GIVEN[random.below(GIVEN.len() as u64) as usize]
                }
            );
            let phone = format!("170{:08}", random.below(100_000_000));
            staff.push(api::Staff {
                name: format!("staff/{id}"),
                id: id.clone(),
                display_name: name,
                phone,
                unit,
                division: format!("blocks/{code}"),
                ..Default::default()
            });
            id
        };
        let governor = person(
            format!("demo-{code}-governor"),
            format!("{subdistrict}办事处"),
        );
        let mut assistants = Vec::with_capacity(assistant_count);
        for number in 0..assistant_count {
            let role = assistant_role(number);
            let unit = match role {
                api::AssistantRole::LiaisonCadre => {
                    DEPARTMENTS[(code.number() as usize + number) % DEPARTMENTS.len()].to_owned()
                }
                api::AssistantRole::PartyGroupLeader => format!("{community}党委"),
                api::AssistantRole::OwnersCommitteeMember => format!("{}业主委员会", block.name),
                _ => format!("{}居民", block.name),
            };
            let id = person(format!("demo-{code}-assistant-{}", number + 1), unit);
            assistants.push(api::TeamAssistant {
                staff: id,
                role: role as i32,
            });
        }
        let supervisor = person(
            format!("demo-{code}-supervisor"),
            format!("{community}居务监督委员会"),
        );
        teams.push(api::BlockTeamAssignment {
            block_code: code.to_string(),
            team: Some(api::Team {
                governor,
                assistants,
                supervisor,
                members: Vec::new(),
            }),
        });
    }
    Ok(DemoData {
        seed,
        district,
        staff,
        teams,
    })
}

/// Roles of a block's assistants in order: one liaison cadre, then two each of
/// party group leaders, owners' committee members and resident representatives,
/// then more resident representatives.
fn assistant_role(number: usize) -> api::AssistantRole {
    match number {
        0 => api::AssistantRole::LiaisonCadre,
        1 | 2 => api::AssistantRole::PartyGroupLeader,
        3 | 4 => api::AssistantRole::OwnersCommitteeMember,
        _ => api::AssistantRole::ResidentRepresentative,
    }
}

/// The demo's requests, in the order [`load_demo`] sends them.
#[derive(Debug, Clone)]
pub struct DemoRequests {
    pub district: api::UpdateDistrictRequest,
    pub subdistricts: api::ImportSubdistrictsRequest,
    pub communities: Vec<api::UpdateCommunityRequest>,
    pub staff: api::ImportStaffRequest,
    pub blocks: api::ImportBlocksRequest,
}

impl DemoData {
    /// The requests that load this data.
    pub fn requests(&self) -> DemoRequests {
        let district = &self.district;
        let subdistricts = subdistricts_to_geojson(&district.boundaries()).to_string();
        let blocks = blocks_to_geojson(&district.blocks).to_string();
        let mut digest_input = blocks.clone();
        digest_input.push_str(&subdistricts);
        for team in &self.teams {
            digest_input.push_str(&format!("{team:?}"));
        }
        let digest = fnv1a(digest_input.as_bytes());
        DemoRequests {
            district: api::UpdateDistrictRequest {
                district: Some(api::District {
                    name: format!("districts/{}", district.code),
                    display_name: district.name.clone(),
                    display_name_en: "Yuhu District (synthetic)".into(),
                    ..Default::default()
                }),
                update_mask: None,
                allow_missing: true,
            },
            subdistricts: api::ImportSubdistrictsRequest {
                geojson: subdistricts,
            },
            communities: district
                .communities
                .iter()
                .map(|community| api::UpdateCommunityRequest {
                    community: Some(api::Community {
                        name: format!("communities/{}", community.code),
                        display_name: community.name.clone(),
                        display_name_en: community.name_en.clone(),
                        ..Default::default()
                    }),
                    update_mask: None,
                    allow_missing: true,
                })
                .collect(),
            staff: api::ImportStaffRequest {
                staff: self.staff.clone(),
            },
            blocks: api::ImportBlocksRequest {
                geojson: blocks,
                teams: self.teams.clone(),
                description: format!(
                    "synthetic demo district {} (seed {})",
                    district.code, self.seed
                ),
                request_id: format!("demo-{}-{}-{digest:016x}", district.code, self.seed),
                subdistricts: Vec::new(),
            },
        }
    }

    /// The block codes, for callers that want to probe the loaded district.
    pub fn block_codes(&self) -> Vec<BlockCode> {
        self.district
            .blocks
            .iter()
            .map(|block| block.code)
            .collect()
    }
}

/// Why the demo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The generator failed (it never should for the fixed layout).
    #[error("cannot generate the demo district: {0}")]
    Synthetic(#[from] SyntheticError),
    /// A call was refused.
    #[error("{step} failed: {status}")]
    Rpc {
        /// Which call.
        step: &'static str,
        /// What the registry said.
        status: tonic::Status,
    },
    /// Validation found errors (a defect in the generator).
    #[error("the demo generation does not validate: {0}")]
    Invalid(String),
}

/// What [`load_demo`] did.
#[derive(Debug, Clone)]
pub struct DemoLoad {
    pub subdistricts: api::ImportSubdistrictsResponse,
    pub staff: api::ImportStaffResponse,
    /// The demo's generation as it stands after the load.
    pub generation: api::Generation,
    /// True when this call activated it (false when it already was, or was superseded).
    pub activated: bool,
}

fn with_token<T>(message: T, token: &str) -> Result<tonic::Request<T>, DemoError> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| DemoError::Rpc {
            step: "authorisation",
            status: tonic::Status::unauthenticated("the token is not valid header text"),
        })?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

/// Loads the demo district (module docs: the call sequence) with a district admin's `token`.
pub async fn load_demo(
    client: &mut BlockRegistryClient<Channel>,
    token: &str,
    seed: u64,
) -> Result<DemoLoad, DemoError> {
    let requests = demo_data(seed)?.requests();
    let rpc = |step: &'static str| move |status: tonic::Status| DemoError::Rpc { step, status };
    client
        .update_district(with_token(requests.district, token)?)
        .await
        .map_err(rpc("UpdateDistrict"))?;
    let subdistricts = client
        .import_subdistricts(with_token(requests.subdistricts, token)?)
        .await
        .map_err(rpc("ImportSubdistricts"))?
        .into_inner();
    for community in requests.communities {
        client
            .update_community(with_token(community, token)?)
            .await
            .map_err(rpc("UpdateCommunity"))?;
    }
    let staff = client
        .import_staff(with_token(requests.staff, token)?)
        .await
        .map_err(rpc("ImportStaff"))?
        .into_inner();
    let generation = client
        .import_blocks(with_token(requests.blocks, token)?)
        .await
        .map_err(rpc("ImportBlocks"))?
        .into_inner();
    if generation.state != api::GenerationState::Draft as i32 {
        return Ok(DemoLoad {
            subdistricts,
            staff,
            generation,
            activated: false,
        });
    }
    let report = client
        .validate_generation(with_token(
            api::ValidateGenerationRequest {
                name: generation.name.clone(),
                settings: None,
            },
            token,
        )?)
        .await
        .map_err(rpc("ValidateGeneration"))?
        .into_inner();
    if !report.activatable {
        let findings: Vec<String> = report
            .subdistricts
            .iter()
            .flat_map(|subdistrict| subdistrict.findings.iter())
            .chain(report.general_findings.iter())
            .take(5)
            .map(|finding| finding.message.clone())
            .collect();
        return Err(DemoError::Invalid(findings.join("; ")));
    }
    let generation = client
        .activate_generation(with_token(
            api::ActivateGenerationRequest {
                name: generation.name.clone(),
            },
            token,
        )?)
        .await
        .map_err(rpc("ActivateGeneration"))?
        .into_inner();
    Ok(DemoLoad {
        subdistricts,
        staff,
        generation,
        activated: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_has_the_reference_districts_team_figures() {
        let data = demo_data(DEMO_SEED).expect("demo");
        assert_eq!(data.teams.len(), DEMO_GOVERNORS);
        let assistants: usize = data
            .teams
            .iter()
            .filter_map(|team| team.team.as_ref())
            .map(|team| team.assistants.len())
            .sum();
        assert_eq!(assistants, DEMO_ASSISTANTS);
        assert_eq!(
            data.staff.len(),
            DEMO_GOVERNORS + DEMO_ASSISTANTS + DEMO_SUPERVISORS
        );
    }

    #[test]
    fn the_demo_is_the_same_for_the_same_seed_and_differs_for_another() {
        let first = demo_data(DEMO_SEED).expect("demo").requests();
        let second = demo_data(DEMO_SEED).expect("demo").requests();
        assert_eq!(first.blocks.request_id, second.blocks.request_id);
        assert_eq!(first.staff, second.staff);
        let other = demo_data(DEMO_SEED + 1).expect("demo").requests();
        assert_ne!(first.blocks.request_id, other.blocks.request_id);
    }

    #[test]
    fn the_default_demo_keeps_the_request_id_it_had_inside_the_registry() {
        // Computed by the generator before it moved out of flatgov-blocks: a
        // platform loaded by an older CLI sees the same generation again.
        let requests = demo_data(DEMO_SEED).expect("demo").requests();
        assert_eq!(requests.blocks.request_id, REQUEST_ID_BEFORE_THE_MOVE);
    }

    const REQUEST_ID_BEFORE_THE_MOVE: &str = "demo-430302-20170326-b9228da7cb92de0c";
}
