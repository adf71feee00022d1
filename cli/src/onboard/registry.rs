//! What the platform already has, read with the caller's token for the dry
//! run: the references a table may name and the records it may update.

use std::collections::{HashMap, HashSet};

use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;

use super::{Kind, Table};
use crate::connect::{Authed, CallContext as _};

const PAGE: i32 = 500;

/// Every item of a paged list: `fetch` gets a page token (empty for the first
/// page) and answers the page's items and the next token (empty after the last).
async fn every_page<T>(
    mut fetch: impl AsyncFnMut(String) -> anyhow::Result<(Vec<T>, String)>,
) -> anyhow::Result<Vec<T>> {
    let mut items = Vec::new();
    let mut page_token = String::new();
    loop {
        let (page, next) = fetch(page_token).await?;
        items.extend(page);
        if next.is_empty() {
            return Ok(items);
        }
        page_token = next;
    }
}

/// The registry's divisions, staff and blocks, as far as a table needs them.
#[derive(Debug, Default)]
pub struct Registry {
    /// District codes.
    pub districts: HashSet<String>,
    /// Subdistrict code → (name, English name).
    pub subdistricts: HashMap<String, (String, String)>,
    /// Community code → (name, English name).
    pub communities: HashMap<String, (String, String)>,
    /// Staff id → record (phone withheld when the caller may not see it).
    pub staff: HashMap<String, blocks::Staff>,
    /// Block code → its team, in the generation chosen.
    pub blocks: HashMap<String, Option<blocks::Team>>,
}

impl Registry {
    /// Reads what a table of `kind` refers to or updates.
    pub async fn load(
        client: &mut BlockRegistryClient<Authed>,
        kind: Kind,
        table: &Table,
        generation: &str,
    ) -> anyhow::Result<Self> {
        let mut registry = Self::default();
        match kind {
            Kind::Subdistricts => {
                registry.load_districts(client).await?;
                registry.load_subdistricts(client).await?;
            }
            Kind::Communities => {
                registry.load_subdistricts(client).await?;
                registry.load_communities(client).await?;
            }
            Kind::Staff => {
                registry.load_staff(client).await?;
                let divisions: Vec<usize> = (0..table.sheet.rows.len())
                    .map(|row| table.cell(row, "division").chars().count())
                    .collect();
                if divisions.contains(&6) {
                    registry.load_districts(client).await?;
                }
                if divisions.contains(&9) {
                    registry.load_subdistricts(client).await?;
                }
                if divisions.contains(&12) {
                    registry.load_communities(client).await?;
                }
                if divisions.contains(&15) {
                    registry.load_blocks(client, "", false).await?;
                }
            }
            Kind::Teams => {
                registry.load_staff(client).await?;
                registry.load_blocks(client, generation, true).await?;
            }
        }
        Ok(registry)
    }

    async fn load_districts(
        &mut self,
        client: &mut BlockRegistryClient<Authed>,
    ) -> anyhow::Result<()> {
        let districts = every_page(async |page_token| {
            let page = client
                .list_districts(blocks::ListDistrictsRequest {
                    page_size: PAGE,
                    page_token,
                })
                .await
                .doing("listing the districts")?;
            Ok((page.districts, page.next_page_token))
        })
        .await?;
        self.districts
            .extend(districts.into_iter().map(|district| district.code));
        Ok(())
    }

    async fn load_subdistricts(
        &mut self,
        client: &mut BlockRegistryClient<Authed>,
    ) -> anyhow::Result<()> {
        let subdistricts = every_page(async |page_token| {
            let page = client
                .list_subdistricts(blocks::ListSubdistrictsRequest {
                    parent: String::new(),
                    page_size: PAGE,
                    page_token,
                    include_boundary: false,
                })
                .await
                .doing("listing the subdistricts")?;
            Ok((page.subdistricts, page.next_page_token))
        })
        .await?;
        self.subdistricts
            .extend(subdistricts.into_iter().map(|subdistrict| {
                (
                    subdistrict.code,
                    (subdistrict.display_name, subdistrict.display_name_en),
                )
            }));
        Ok(())
    }

    async fn load_communities(
        &mut self,
        client: &mut BlockRegistryClient<Authed>,
    ) -> anyhow::Result<()> {
        let communities = every_page(async |page_token| {
            let page = client
                .list_communities(blocks::ListCommunitiesRequest {
                    parent: String::new(),
                    page_size: PAGE,
                    page_token,
                })
                .await
                .doing("listing the communities")?;
            Ok((page.communities, page.next_page_token))
        })
        .await?;
        self.communities
            .extend(communities.into_iter().map(|community| {
                (
                    community.code,
                    (community.display_name, community.display_name_en),
                )
            }));
        Ok(())
    }

    pub async fn load_staff(
        &mut self,
        client: &mut BlockRegistryClient<Authed>,
    ) -> anyhow::Result<()> {
        let staff = every_page(async |page_token| {
            let page = client
                .list_staff(blocks::ListStaffRequest {
                    division: String::new(),
                    page_size: PAGE,
                    page_token,
                })
                .await
                .doing("listing the staff roster")?;
            Ok((page.staff, page.next_page_token))
        })
        .await?;
        self.staff
            .extend(staff.into_iter().map(|person| (person.id.clone(), person)));
        Ok(())
    }

    /// The blocks of a generation (the active one when empty). With
    /// `required`, a platform with no boundaries in force is an error that
    /// says what to do; otherwise it just has no blocks.
    pub async fn load_blocks(
        &mut self,
        client: &mut BlockRegistryClient<Authed>,
        generation: &str,
        required: bool,
    ) -> anyhow::Result<()> {
        let mut page_token = String::new();
        loop {
            let page = client
                .list_blocks(blocks::ListBlocksRequest {
                    parent: String::new(),
                    generation: generation.to_owned(),
                    page_size: PAGE,
                    page_token: page_token.clone(),
                    view: blocks::BlockView::Basic as i32,
                })
                .await;
            let page = match page {
                Ok(page) => page.into_inner(),
                Err(status) if status.code() == tonic::Code::FailedPrecondition && !required => {
                    return Ok(());
                }
                Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                    anyhow::bail!(match crate::labels::current() {
                        crate::labels::Language::ZhCn =>
                            "尚无现行的区块边界：请先导入区块（flatgov import blocks），或用 --generation 指定草案",
                        crate::labels::Language::En =>
                            "no block boundaries are in force: import the blocks first (flatgov import blocks), or name a draft with --generation",
                    });
                }
                Err(status) => {
                    return Err(anyhow::anyhow!(
                        "listing the blocks failed: {}",
                        crate::connect::describe(&status)
                    ));
                }
            };
            self.blocks.extend(
                page.blocks
                    .into_iter()
                    .map(|block| (block.code, block.team)),
            );
            if page.next_page_token.is_empty() {
                return Ok(());
            }
            page_token = page.next_page_token;
        }
    }
}
