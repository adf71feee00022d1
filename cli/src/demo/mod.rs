//! `flatgov demo load`: the demo district, loaded through the public gRPC
//! APIs — the same path an operator uses — and safe to run again.
//!
//! Everything is synthetic, generated from a fixed seed by code in this
//! repository: a district modelled on Yuhu District, Xiangtan (8
//! subdistricts with the reference district's names, 326 blocks tiling them
//! with no gap or overlap, about 350 households each, 326 governors, 2,373
//! assistants and 326 supervisors), duty lists of 13 categories / 35 items
//! and 10 / 21 plus the residents' committee lists (20, 30, 8), the three
//! enforcement agencies with squads stationed in every subdistrict, and the
//! ten federation organisations with staff, the legal advisers, and the
//! catalogue of twelve convenience matters (便民事项). The working-day calendar
//! (2025 and 2026 holidays and swapped working days) ships with the cases
//! service. No real person's data is involved.

mod duties;
mod enforcement;
mod errands;
mod federation;
mod mediation;

use std::time::Instant;

use anyhow::Context as _;

use crate::Output;
use crate::connect::{Connection, Session};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(subcommand)]
    command: DemoCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DemoCommand {
    /// Load the synthetic demo district into a running platform (idempotent).
    Load {
        /// Generate a different synthetic district.
        #[arg(long, default_value_t = flatgov_demo::DEMO_SEED)]
        seed: u64,
    },
}

/// A subdistrict of the generated district, as the other loaders need it.
pub struct DemoSubdistrict {
    pub code: String,
    pub name: String,
}

/// Step-by-step progress on stderr (stdout stays for `--output json`).
pub struct Progress {
    started: Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            started: Instant::now(),
        }
    }

    pub fn step(&self, what: &str) {
        eprintln!("[{:>6.1}s] {what}", self.started.elapsed().as_secs_f64());
    }

    pub fn note(&self, what: String) {
        eprintln!("          {what}");
    }
}

pub async fn run(
    arguments: &DemoArgs,
    connection: &Connection,
    output: Output,
) -> anyhow::Result<()> {
    match arguments.command {
        DemoCommand::Load { seed } => load(connection, seed, output).await,
    }
}

async fn load(connection: &Connection, seed: u64, output: Output) -> anyhow::Result<()> {
    let session = Session::open(connection)?;
    let progress = Progress::new();
    progress.step("generating the synthetic district");
    let data = flatgov_demo::demo_data(seed).context("generating the demo district")?;
    let subdistricts: Vec<DemoSubdistrict> = data
        .district
        .subdistricts
        .iter()
        .map(|subdistrict| DemoSubdistrict {
            code: subdistrict.boundary.code.to_string(),
            name: subdistrict.boundary.name.to_string(),
        })
        .collect();

    progress.step("blocks: district, subdistricts, communities, staff, blocks and teams");
    let mut blocks = session.blocks_plain()?;
    let loaded = flatgov_demo::load_demo(&mut blocks, session.token(), seed)
        .await
        .context("loading the block registry")?;
    progress.note(format!(
        "generation {} ({}), {} staff",
        loaded.generation.name,
        if loaded.activated {
            "activated now"
        } else {
            "already loaded"
        },
        data.staff.len()
    ));

    duties::load(&session, &progress).await?;
    enforcement::load(&session, &subdistricts, &progress).await?;
    federation::load(&session, &progress).await?;
    let communities: Vec<String> = data
        .district
        .communities
        .iter()
        .map(|community| community.code.to_string())
        .collect();
    mediation::load(&session, &communities, &progress).await?;
    errands::load(&session, &progress).await?;
    progress.step("done");
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "seed": seed,
                "subdistricts": subdistricts.len(),
                "blocks": data.teams.len(),
                "staff": data.staff.len(),
                "generation": loaded.generation.name,
            })
        ),
        Output::Table => println!(
            "demo district loaded: {} subdistricts, {} blocks, {} block staff (synthetic data, seed {seed})",
            subdistricts.len(),
            data.teams.len(),
            data.staff.len()
        ),
    }
    Ok(())
}

/// A stable request id (UUID v5) for something the demo creates.
pub fn demo_id(what: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("flatgov-demo:{what}").as_bytes(),
    )
    .to_string()
}

const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN: [&str; 20] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "华", "平",
];

/// A synthetic Chinese name.
pub fn synthetic_name(seed: u64) -> String {
    let mixed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    format!(
        "{}{}",
        SURNAMES[(mixed % SURNAMES.len() as u64) as usize],
        GIVEN[((mixed >> 8) % GIVEN.len() as u64) as usize]
    )
}

/// A synthetic mobile number in a range that is not assigned to subscribers.
pub fn synthetic_phone(seed: u64) -> String {
    let mixed = seed.wrapping_mul(0xD1B5_4A32_D192_ED03).rotate_left(29);
    format!("1990000{:04}", mixed % 10_000)
}
