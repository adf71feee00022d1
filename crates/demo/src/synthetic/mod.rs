//! Deterministic synthetic geography: tilings for benchmarks and the demo district.
//!
//! **All data made here is synthetic.** The demo district borrows the reference
//! district's code (430302), its name and its eight subdistrict names, but every
//! boundary, community, block and household count is generated.
//!
//! Everything is a pure function of a seed. The generator is SplitMix64 with
//! integer-only state updates and a 53-bit mantissa conversion, so the same seed
//! gives bit-identical coordinates on every platform and Rust version (no
//! dependency on `rand`'s algorithm choices).
//!
//! Both generators build a *jittered grid*: one shared array of vertices, each
//! nudged at random, and every polygon is made from those shared vertices. A
//! block's edge is therefore exactly its neighbour's edge (same two `f64`
//! vertices), so the blocks tile their area with no gap or overlap by
//! construction, and a region's boundary traced along the same vertices equals
//! the union of its blocks exactly. Where a block count does not fill a grid,
//! pairs of horizontally adjacent cells are merged into one hexagonal block;
//! the merged pair keeps the middle vertices its neighbours use.

use geo::{Coord, LineString, MultiPolygon, Polygon};

use flatgov_vocabulary::{BlockCode, CodeError, CommunityCode, DistrictCode, SubdistrictCode};

/// A block as the demo makes it: what the registry's block import file holds
/// for one feature (see [`crate::geojson::blocks_to_geojson`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoBlock {
    /// The block's stable 15-digit code; its prefix names the community and subdistrict.
    pub code: BlockCode,
    /// Display name, e.g. `雨湖路第017区块`.
    pub name: String,
    /// Households living in the block; the flattening reform targets about 350.
    pub households: u32,
    /// Name of the block's community, written into the import file.
    pub community_name: Option<String>,
    /// The block's land, WGS84 lon/lat, shells counter-clockwise.
    pub geometry: MultiPolygon<f64>,
}

/// A subdistrict's land as the demo makes it: what its blocks must cover exactly once.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoBoundary {
    /// The 9-digit subdistrict code.
    pub code: SubdistrictCode,
    /// Display name, e.g. `雨湖路街道`.
    pub name: String,
    /// English or pinyin name, e.g. `Yuhulu Subdistrict`.
    pub name_en: Option<String>,
    /// The subdistrict's land, WGS84 lon/lat, shells counter-clockwise.
    pub geometry: MultiPolygon<f64>,
}

/// A small, portable pseudo-random generator (SplitMix64, Steele, Lea & Flood 2014).
///
/// Not for secrets; for reproducible test and demo data only.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    /// The generator's whole state, advanced by a fixed odd constant per draw.
    state: u64,
}

impl SplitMix64 {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A uniform number in [0, 1), exactly representable (53 random bits).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform number in [low, high).
    pub fn range_f64(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// A uniform integer in [0, bound); `bound` must be positive.
    pub fn below(&mut self, bound: u64) -> u64 {
        // Multiply-high keeps it unbiased enough for test data and platform independent.
        ((u128::from(self.next_u64()) * u128::from(bound.max(1))) >> 64) as u64
    }
}

/// A lon/lat rectangle, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Smallest longitude.
    pub west: f64,
    /// Smallest latitude.
    pub south: f64,
    /// Largest longitude.
    pub east: f64,
    /// Largest latitude.
    pub north: f64,
}

impl Bounds {
    /// A square around Xiangtan (112.93° E, 27.86° N) sized so blocks are about
    /// 0.004° (~400 m) across: 326 blocks span 0.07°, 1,000,000 blocks span 4°.
    pub fn around_xiangtan(block_count: usize) -> Self {
        let side = (block_count.max(1) as f64).sqrt() * 0.004;
        let (center_lon, center_lat) = (112.93, 27.86);
        Self {
            west: center_lon - side / 2.0,
            south: center_lat - side / 2.0,
            east: center_lon + side / 2.0,
            north: center_lat + side / 2.0,
        }
    }

    /// The rectangle as a counter-clockwise polygon.
    pub fn to_polygon(&self) -> Polygon<f64> {
        Polygon::new(
            LineString::from(vec![
                (self.west, self.south),
                (self.east, self.south),
                (self.east, self.north),
                (self.west, self.north),
                (self.west, self.south),
            ]),
            vec![],
        )
    }
}

/// Why a synthetic tiling cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyntheticError {
    /// Zero blocks, or more than the code scheme can number in one district.
    #[error("a tiling needs between 1 and {max} blocks, asked for {requested}")]
    BlockCount {
        /// What was asked for.
        requested: usize,
        /// The most that one district's codes can number (999³).
        max: usize,
    },
    /// The bounds are empty, inverted or not finite.
    #[error("tiling bounds must be finite with west < east and south < north")]
    Bounds,
    /// A generated code was invalid (cannot happen for valid counts; kept rather than panicking).
    #[error(transparent)]
    Code(#[from] CodeError),
}

/// The most blocks one district's codes can number: 999 subdistricts × 999 communities × 999 blocks.
pub const MAX_TILING_BLOCKS: usize = 999 * 999 * 999;

/// Blocks in one subdistrict of a tiling (999 communities × 999 blocks).
const BLOCKS_PER_SUBDISTRICT: usize = 999 * 999;

/// A synthetic tiling of a rectangle into blocks without gaps or overlaps.
#[derive(Debug, Clone)]
pub struct Tiling {
    /// The rectangle tiled; its edges are exact (boundary vertices only slide along them).
    pub bounds: Bounds,
    /// Blocks in code order. Codes run 430302 001 001 001, …002, … filling communities
    /// of 999 blocks and subdistricts of 999 communities in row-major order.
    pub blocks: Vec<(BlockCode, MultiPolygon<f64>)>,
}

impl Tiling {
    /// The tiling as a generation to validate: one subdistrict (430302001) whose land is
    /// the rectangle, and one draft per block with 350 households.
    ///
    /// `None` when the tiling spans more than one subdistrict (over 998,001 blocks),
    /// whose land would not be a rectangle.
    pub fn to_single_subdistrict_generation(&self) -> Option<(DemoBoundary, Vec<DemoBlock>)> {
        if self.blocks.len() > BLOCKS_PER_SUBDISTRICT {
            return None;
        }
        let code = self.blocks.first()?.0.subdistrict();
        let boundary = DemoBoundary {
            code,
            name: "合成街道 (synthetic)".to_owned(),
            name_en: None,
            geometry: MultiPolygon(vec![self.bounds.to_polygon()]),
        };
        let drafts = self
            .blocks
            .iter()
            .map(|(code, geometry)| DemoBlock {
                code: *code,
                name: format!("合成区块{code}"),
                households: 350,
                community_name: None,
                geometry: geometry.clone(),
            })
            .collect();
        Some((boundary, drafts))
    }
}

/// Shared, jittered vertices of a `columns × rows` grid in "cell units" (before mapping to lon/lat).
struct JitteredGrid {
    columns: usize,
    rows: usize,
    /// `(columns + 1) × (rows + 1)` vertices, row-major from the south-west corner.
    vertices: Vec<Coord<f64>>,
}

impl JitteredGrid {
    fn vertex(&self, column: usize, row: usize) -> Coord<f64> {
        self.vertices[row * (self.columns + 1) + column]
    }

    /// The counter-clockwise ring of the cells `first_column..=last_column` of one row.
    ///
    /// The ring keeps every grid vertex on its bottom and top chains, so it shares
    /// exact edges with the row's neighbours above and below.
    fn row_run_ring(&self, row: usize, first_column: usize, last_column: usize) -> LineString<f64> {
        let mut ring = Vec::with_capacity(2 * (last_column - first_column + 2) + 1);
        for column in first_column..=last_column + 1 {
            ring.push(self.vertex(column, row));
        }
        for column in (first_column..=last_column + 1).rev() {
            ring.push(self.vertex(column, row + 1));
        }
        ring.push(self.vertex(first_column, row));
        LineString(ring)
    }

    /// The counter-clockwise ring around the cell rectangle `columns × rows` (half-open ranges).
    fn region_ring(
        &self,
        columns: std::ops::Range<usize>,
        rows: std::ops::Range<usize>,
    ) -> LineString<f64> {
        let mut ring = Vec::new();
        for column in columns.start..columns.end {
            ring.push(self.vertex(column, rows.start));
        }
        for row in rows.start..rows.end {
            ring.push(self.vertex(columns.end, row));
        }
        for column in (columns.start + 1..=columns.end).rev() {
            ring.push(self.vertex(column, rows.end));
        }
        for row in (rows.start + 1..=rows.end).rev() {
            ring.push(self.vertex(columns.start, row));
        }
        ring.push(self.vertex(columns.start, rows.start));
        LineString(ring)
    }
}

/// Builds a grid whose vertex (c, r) sits near (c, r), moved by up to `jitter` cells
/// per axis. With `keep_outer_edges`, vertices on the outer edges move only along
/// them, so the grid's outline stays the exact rectangle [0, columns] × [0, rows].
fn jittered_grid(
    random: &mut SplitMix64,
    columns: usize,
    rows: usize,
    jitter: f64,
    keep_outer_edges: bool,
) -> JitteredGrid {
    let mut vertices = Vec::with_capacity((columns + 1) * (rows + 1));
    for row in 0..=rows {
        for column in 0..=columns {
            let mut x = column as f64 + random.range_f64(-jitter, jitter);
            let mut y = row as f64 + random.range_f64(-jitter, jitter);
            if keep_outer_edges {
                if column == 0 || column == columns {
                    x = column as f64;
                }
                if row == 0 || row == rows {
                    y = row as f64;
                }
            }
            vertices.push(Coord { x, y });
        }
    }
    JitteredGrid {
        columns,
        rows,
        vertices,
    }
}

/// Chooses which cells of one row are merged with their eastern neighbour:
/// `merges` disjoint pairs out of the row's `columns / 2` slots (slot s = cells 2s, 2s+1).
/// Returns, per cell, whether it starts a merged pair.
fn choose_merges(random: &mut SplitMix64, columns: usize, merges: usize) -> Vec<bool> {
    let mut slots: Vec<usize> = (0..columns / 2).collect();
    // Partial Fisher–Yates: the first `merges` slots after shuffling are chosen.
    for position in 0..merges.min(slots.len()) {
        let remaining = (slots.len() - position) as u64;
        let pick = position + random.below(remaining) as usize;
        slots.swap(position, pick);
    }
    let mut starts = vec![false; columns];
    for slot in &slots[..merges.min(slots.len())] {
        starts[slot * 2] = true;
    }
    starts
}

/// Splits a row's cells into blocks: runs of one cell, or two where `merge_starts` says so.
fn row_blocks(merge_starts: &[bool]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut column = 0;
    while column < merge_starts.len() {
        if merge_starts[column] && column + 1 < merge_starts.len() {
            runs.push((column, column + 1));
            column += 2;
        } else {
            runs.push((column, column));
            column += 1;
        }
    }
    runs
}

/// How many merges each of `rows` rows gets so that `total` are spread evenly.
fn spread(total: usize, rows: usize) -> Vec<usize> {
    (0..rows)
        .map(|row| total * (row + 1) / rows - total * row / rows)
        .collect()
}

/// A jittered-grid tiling of `bounds` into exactly `block_count` blocks, fixed by `seed`.
///
/// The grid has `ceil(sqrt(n))` columns and enough rows; surplus cells are absorbed
/// by merging horizontal pairs. Interior vertices move up to 0.25 of a cell, outer
/// ones only along the edge, so the tiling covers `bounds` exactly.
pub fn tiling(seed: u64, block_count: usize, bounds: Bounds) -> Result<Tiling, SyntheticError> {
    if block_count == 0 || block_count > MAX_TILING_BLOCKS {
        return Err(SyntheticError::BlockCount {
            requested: block_count,
            max: MAX_TILING_BLOCKS,
        });
    }
    let finite = [bounds.west, bounds.south, bounds.east, bounds.north]
        .iter()
        .all(|value| value.is_finite());
    if !finite || bounds.west >= bounds.east || bounds.south >= bounds.north {
        return Err(SyntheticError::Bounds);
    }
    let mut random = SplitMix64::new(seed);
    let columns = (block_count as f64).sqrt().ceil().max(1.0) as usize;
    let rows = block_count.div_ceil(columns);
    let surplus = columns * rows - block_count;
    let grid = jittered_grid(&mut random, columns, rows, 0.25, true);
    let to_lon_lat =
        |coord: Coord<f64>, column_is_east_edge: bool, row_is_north_edge: bool| Coord {
            // Outer edges are written from the bounds themselves so they are exact.
            x: if column_is_east_edge {
                bounds.east
            } else {
                bounds.west + coord.x / columns as f64 * (bounds.east - bounds.west)
            },
            y: if row_is_north_edge {
                bounds.north
            } else {
                bounds.south + coord.y / rows as f64 * (bounds.north - bounds.south)
            },
        };
    let mut lon_lat_vertices = Vec::with_capacity(grid.vertices.len());
    for row in 0..=rows {
        for column in 0..=columns {
            lon_lat_vertices.push(to_lon_lat(
                grid.vertex(column, row),
                column == columns,
                row == rows,
            ));
        }
    }
    let lon_lat_grid = JitteredGrid {
        columns,
        rows,
        vertices: lon_lat_vertices,
    };
    let district = DistrictCode::parse("430302")?;
    let mut blocks = Vec::with_capacity(block_count);
    for (row, merges) in spread(surplus, rows).into_iter().enumerate() {
        let merge_starts = choose_merges(&mut random, columns, merges);
        for (first_column, last_column) in row_blocks(&merge_starts) {
            let ordinal = blocks.len();
            let subdistrict =
                district.subdistrict((ordinal / BLOCKS_PER_SUBDISTRICT + 1) as u32)?;
            let community = subdistrict.community((ordinal / 999 % 999 + 1) as u32)?;
            let code = community.block((ordinal % 999 + 1) as u32)?;
            let ring = lon_lat_grid.row_run_ring(row, first_column, last_column);
            blocks.push((code, MultiPolygon(vec![Polygon::new(ring, vec![])])));
        }
    }
    Ok(Tiling { bounds, blocks })
}

/// The seed the demo uses unless told otherwise.
pub const DEMO_SEED: u64 = 20_170_326;

/// One subdistrict of the demo district.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSubdistrict {
    /// Code, names and land.
    pub boundary: DemoBoundary,
    /// A URL-safe pinyin slug for AIP resource names, e.g. `yuhulu` in `subdistricts/yuhulu/blocks/017`.
    pub slug: String,
}

/// One community of the demo district.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoCommunity {
    /// Its 12-digit code.
    pub code: CommunityCode,
    /// Its name, e.g. `和平社区`.
    pub name: String,
    /// Its pinyin name, e.g. `Heping Community`.
    pub name_en: String,
}

/// The synthetic demo district: 8 subdistricts, their communities, 326 blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoDistrict {
    /// 430302.
    pub code: DistrictCode,
    /// `雨湖区 Yuhu District (synthetic)`.
    pub name: String,
    /// The eight subdistricts in code order (430302001–430302008).
    pub subdistricts: Vec<DemoSubdistrict>,
    /// Communities in code order.
    pub communities: Vec<DemoCommunity>,
    /// Blocks in code order, each naming its community.
    pub blocks: Vec<DemoBlock>,
}

impl DemoDistrict {
    /// The subdistricts' boundaries, ready for validation or export.
    pub fn boundaries(&self) -> Vec<DemoBoundary> {
        self.subdistricts
            .iter()
            .map(|subdistrict| subdistrict.boundary.clone())
            .collect()
    }
}

/// Fixed layout of the demo: per subdistrict its names, slug, cell rectangle on the
/// 20 × 24 district grid (columns, rows from the south-west) and block count.
struct DemoLayout {
    name: &'static str,
    pinyin: &'static str,
    columns: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
    block_count: usize,
}

const DEMO_COLUMNS: usize = 20;
const DEMO_ROWS: usize = 24;

/// Two columns of four subdistricts with staggered borders (a "brick" pattern), so no
/// border runs straight across the district. Cells: 480; blocks: 326.
const DEMO_LAYOUT: [DemoLayout; 8] = [
    DemoLayout {
        name: "雨湖路",
        pinyin: "Yuhulu",
        columns: 10..20,
        rows: 5..11,
        block_count: 41,
    },
    DemoLayout {
        name: "城正街",
        pinyin: "Chengzhengjie",
        columns: 10..20,
        rows: 0..5,
        block_count: 34,
    },
    DemoLayout {
        name: "云塘",
        pinyin: "Yuntang",
        columns: 0..10,
        rows: 18..24,
        block_count: 41,
    },
    DemoLayout {
        name: "广场",
        pinyin: "Guangchang",
        columns: 10..20,
        rows: 11..17,
        block_count: 41,
    },
    DemoLayout {
        name: "窑湾",
        pinyin: "Yaowan",
        columns: 0..10,
        rows: 0..7,
        block_count: 48,
    },
    DemoLayout {
        name: "昭潭",
        pinyin: "Zhaotan",
        columns: 0..10,
        rows: 7..12,
        block_count: 34,
    },
    DemoLayout {
        name: "先锋",
        pinyin: "Xianfeng",
        columns: 0..10,
        rows: 12..18,
        block_count: 41,
    },
    DemoLayout {
        name: "万楼",
        pinyin: "Wanlou",
        columns: 10..20,
        rows: 17..24,
        block_count: 46,
    },
];

/// Common community names (hanzi, pinyin), used in order; synthetic, not the real communities.
const COMMUNITY_NAMES: [(&str, &str); 40] = [
    ("和平", "Heping"),
    ("建设", "Jianshe"),
    ("解放", "Jiefang"),
    ("友谊", "Youyi"),
    ("新华", "Xinhua"),
    ("光明", "Guangming"),
    ("胜利", "Shengli"),
    ("幸福", "Xingfu"),
    ("文化", "Wenhua"),
    ("东风", "Dongfeng"),
    ("红旗", "Hongqi"),
    ("人民", "Renmin"),
    ("前进", "Qianjin"),
    ("团结", "Tuanjie"),
    ("兴隆", "Xinglong"),
    ("湘江", "Xiangjiang"),
    ("江滨", "Jiangbin"),
    ("书院", "Shuyuan"),
    ("韶山", "Shaoshan"),
    ("九华", "Jiuhua"),
    ("金桥", "Jinqiao"),
    ("向阳", "Xiangyang"),
    ("长青", "Changqing"),
    ("枫林", "Fenglin"),
    ("桃园", "Taoyuan"),
    ("荷塘", "Hetang"),
    ("杉山", "Shanshan"),
    ("白石", "Baishi"),
    ("宝塔", "Baota"),
    ("莲城", "Liancheng"),
    ("梅园", "Meiyuan"),
    ("竹园", "Zhuyuan"),
    ("双拥", "Shuangyong"),
    ("新城", "Xincheng"),
    ("丽景", "Lijing"),
    ("春华", "Chunhua"),
    ("秋实", "Qiushi"),
    ("锦绣", "Jinxiu"),
    ("雨湖", "Yuhu"),
    ("平政", "Pingzheng"),
];

/// Households target of the demo: every block lands in the default band and the
/// district averages exactly this.
const DEMO_HOUSEHOLDS_TARGET: u32 = 350;

/// The synthetic demo district 430302 "雨湖区 Yuhu District (synthetic)".
///
/// Eight subdistricts with the reference district's names (codes 430302001–008)
/// on plausible ground near Xiangtan (about 112.90–112.97° E, 27.82–27.90° N; outer
/// edges wander a little), each split into 3–4 communities of whole grid rows and
/// into blocks that tile it exactly: the subdistrict's boundary is traced along the
/// very vertices its blocks use. 326 blocks in all, named like `雨湖路第017区块`
/// (number within the subdistrict), coded `430302 sss ccc bbb` (block number within
/// its community), with 230–470 households each and exactly 350 on average.
///
/// `seed` moves the vertices and the households; the layout, names and counts are fixed.
pub fn demo_district(seed: u64) -> Result<DemoDistrict, SyntheticError> {
    let mut random = SplitMix64::new(seed);
    let district = DistrictCode::parse("430302")?;
    let grid = demo_grid(&mut random);

    let mut subdistricts = Vec::with_capacity(DEMO_LAYOUT.len());
    let mut communities = Vec::new();
    let mut blocks = Vec::new();
    for (layout_index, layout) in DEMO_LAYOUT.iter().enumerate() {
        let subdistrict_code = district.subdistrict(layout_index as u32 + 1)?;
        let name = format!("{}街道", layout.name);
        let name_en = format!("{} Subdistrict", layout.pinyin);
        let ring = grid.region_ring(layout.columns.clone(), layout.rows.clone());
        subdistricts.push(DemoSubdistrict {
            boundary: DemoBoundary {
                code: subdistrict_code,
                name,
                name_en: Some(name_en),
                geometry: MultiPolygon(vec![Polygon::new(ring, vec![])]),
            },
            slug: layout.pinyin.to_lowercase(),
        });

        let row_count = layout.rows.len();
        let column_count = layout.columns.len();
        let surplus = row_count * column_count - layout.block_count;
        // Communities: consecutive pairs of rows (a trailing single row joins the last pair).
        let community_count = (row_count / 2).max(1);
        let mut number_in_subdistrict = 0;
        let mut number_in_community = 0;
        let mut community_number = 0;
        let mut current_community: Option<(CommunityCode, String)> = None;
        for (row_offset, merges) in spread(surplus, row_count).into_iter().enumerate() {
            let wanted_community = (row_offset / 2).min(community_count - 1) + 1;
            if wanted_community != community_number {
                community_number = wanted_community;
                number_in_community = 0;
                let (hanzi, pinyin) = COMMUNITY_NAMES[communities.len() % COMMUNITY_NAMES.len()];
                let community = DemoCommunity {
                    code: subdistrict_code.community(community_number as u32)?,
                    name: format!("{hanzi}社区"),
                    name_en: format!("{pinyin} Community"),
                };
                current_community = Some((community.code, community.name.clone()));
                communities.push(community);
            }
            let Some((community_code, community_name)) = current_community.clone() else {
                continue;
            };
            let row = layout.rows.start + row_offset;
            let merge_starts = choose_merges(&mut random, column_count, merges);
            for (first, last) in row_blocks(&merge_starts) {
                number_in_subdistrict += 1;
                number_in_community += 1;
                let ring = grid.row_run_ring(
                    row,
                    layout.columns.start + first,
                    layout.columns.start + last,
                );
                blocks.push(DemoBlock {
                    code: community_code.block(number_in_community)?,
                    name: format!("{}第{number_in_subdistrict:03}区块", layout.name),
                    households: 0,
                    community_name: Some(community_name.clone()),
                    geometry: MultiPolygon(vec![Polygon::new(ring, vec![])]),
                });
            }
        }
    }
    assign_households(&mut random, &mut blocks);
    blocks.sort_by_key(|block| block.code);
    Ok(DemoDistrict {
        code: district,
        name: "雨湖区 Yuhu District (synthetic)".to_owned(),
        subdistricts,
        communities,
        blocks,
    })
}

/// The demo's grid in lon/lat: jittered by up to 0.15 cell and gently warped so that
/// borders meander, then mapped onto 112.90–112.97° E × 27.82–27.90° N.
fn demo_grid(random: &mut SplitMix64) -> JitteredGrid {
    let unit = jittered_grid(random, DEMO_COLUMNS, DEMO_ROWS, 0.15, false);
    // Phases make the warp differ per seed; gradients stay below 0.25 cell per cell,
    // which with the jitter keeps every cell a simple quadrilateral.
    let (phase_x, phase_y) = (
        random.range_f64(0.0, std::f64::consts::TAU),
        random.range_f64(0.0, std::f64::consts::TAU),
    );
    let (west, south, east, north) = (112.90, 27.82, 112.97, 27.90);
    let vertices = unit
        .vertices
        .iter()
        .map(|coord| {
            let warp_x = 0.45 * (std::f64::consts::TAU * coord.y / 12.0 + phase_x).sin();
            let warp_y = 0.45 * (std::f64::consts::TAU * coord.x / 12.0 + phase_y).sin();
            Coord {
                x: west + (coord.x + warp_x) / DEMO_COLUMNS as f64 * (east - west),
                y: south + (coord.y + warp_y) / DEMO_ROWS as f64 * (north - south),
            }
        })
        .collect();
    JitteredGrid {
        columns: unit.columns,
        rows: unit.rows,
        vertices,
    }
}

/// Households between 230 and 470 (a bell-ish sum of three uniforms), then nudged
/// one at a time so the total is exactly `target × blocks`.
fn assign_households(random: &mut SplitMix64, blocks: &mut [DemoBlock]) {
    let (low, high) = (230_i64, 470_i64);
    let target = i64::from(DEMO_HOUSEHOLDS_TARGET);
    for block in blocks.iter_mut() {
        let bell = random.next_f64() + random.next_f64() + random.next_f64() - 1.5;
        block.households = (target as f64 + bell * 80.0)
            .round()
            .clamp(low as f64, high as f64) as u32;
    }
    let wanted_total = target * blocks.len() as i64;
    let mut difference = wanted_total
        - blocks
            .iter()
            .map(|block| i64::from(block.households))
            .sum::<i64>();
    let mut position = 0;
    while difference != 0 && !blocks.is_empty() {
        let block = &mut blocks[position % blocks.len()];
        let households = i64::from(block.households);
        if difference > 0 && households < high {
            block.households += 1;
            difference -= 1;
        } else if difference < 0 && households > low {
            block.households -= 1;
            difference += 1;
        }
        position += 1;
    }
}

#[cfg(test)]
mod tests;
