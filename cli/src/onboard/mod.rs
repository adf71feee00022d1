//! `flatgov import subdistricts|communities|staff|teams`: a district's own
//! tables (CSV or XLSX, Chinese or English headers) loaded through the block
//! registry's public RPCs.
//!
//! Every import is a dry run first: the table is read, its columns matched,
//! each row checked — forms, duplicates, references to what the platform
//! has (read with the caller's own token), the 1+N+1 rules of a team — and
//! every problem reported at its row and column, in the user's language.
//! Only a table without problems is applied, and only with `--yes` or a yes
//! at the prompt. The dry run also says what applying would do (create,
//! update, leave unchanged), so a re-import of the same table changes
//! nothing and says so.
//!
//! Which RPCs carry what:
//!
//! | table | read for the dry run | applied with |
//! |---|---|---|
//! | subdistricts | ListDistricts, ListSubdistricts | UpdateDistrict (allow_missing, for a district not yet registered), UpdateSubdistrict (allow_missing, names only: boundaries come from `import subdistricts <boundary file>`) |
//! | communities | ListSubdistricts, ListCommunities | UpdateCommunity (allow_missing) |
//! | staff | ListStaff and the divisions | ImportStaff (all or nothing; its own created/updated/unchanged counts) |
//! | teams | ListStaff, ListBlocks (the active generation or a draft) | SetBlockTeam, one block at a time, only where the team differs |

pub mod columns;
pub mod problems;
mod registry;
pub mod rows;

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::Path;

use flatgov_proto::blocks::v1 as blocks;

use crate::Output;
use crate::connect::{CallContext as _, Connection, Session};
use crate::labels::{self, Language};
use crate::sheet::{self, Sheet};
pub use columns::Kind;
use columns::column_for;
use problems::{Issue, Problem};
pub use registry::Registry;

/// What the dry run found a row will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Unchanged,
}

/// One call that applies part of the table.
#[derive(Debug, Clone)]
pub enum Operation {
    District(blocks::UpdateDistrictRequest),
    Subdistrict(blocks::UpdateSubdistrictRequest),
    Community(blocks::UpdateCommunityRequest),
    Staff(blocks::ImportStaffRequest),
    Team(blocks::SetBlockTeamRequest),
}

/// What applying a sound table does.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Rows by what they will do.
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Districts registered on the way (subdistricts table).
    pub districts_created: Vec<String>,
    /// The calls, in order; rows left unchanged have none (except staff,
    /// whose one import call carries every row).
    pub operations: Vec<Operation>,
}

impl Plan {
    fn count(&mut self, action: Action) {
        match action {
            Action::Create => self.created += 1,
            Action::Update => self.updated += 1,
            Action::Unchanged => self.unchanged += 1,
        }
    }
}

/// A table with its columns matched to a kind.
pub struct Table {
    pub kind: Kind,
    pub sheet: Sheet,
    /// Column key → index in the sheet.
    positions: HashMap<&'static str, usize>,
}

impl Table {
    /// Matches the header to the kind's columns: every required column
    /// present, no unknown and no repeated column.
    pub fn new(kind: Kind, sheet: Sheet) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut positions: HashMap<&'static str, usize> = HashMap::new();
        let expected: Vec<&'static str> = kind
            .columns()
            .iter()
            .map(|column| column.header(labels::current()))
            .collect();
        for (index, header) in sheet.headers.iter().enumerate() {
            if header.is_empty() {
                continue;
            }
            let Some(column) = column_for(kind, header) else {
                problems.push(Problem {
                    row: sheet.header_row,
                    column: Some((index, header.clone())),
                    issue: Issue::UnknownColumn {
                        expected: expected.clone(),
                    },
                });
                continue;
            };
            if let Some(first) = positions.get(column.key) {
                problems.push(Problem {
                    row: sheet.header_row,
                    column: Some((index, header.clone())),
                    issue: Issue::DuplicateColumn {
                        first: crate::sheet::column_letter(*first),
                    },
                });
                continue;
            }
            positions.insert(column.key, index);
        }
        for column in kind.columns().iter().filter(|column| column.required) {
            if !positions.contains_key(column.key) {
                problems.push(Problem {
                    row: sheet.header_row,
                    column: None,
                    issue: Issue::MissingColumn {
                        header: column.header(labels::current()),
                    },
                });
            }
        }
        if problems.is_empty() && sheet.rows.is_empty() {
            problems.push(Problem {
                row: sheet.header_row + 1,
                column: None,
                issue: Issue::NoRows,
            });
        }
        if problems.is_empty() {
            Ok(Self {
                kind,
                sheet,
                positions,
            })
        } else {
            Err(problems)
        }
    }

    /// The cell of `key` in row `row_index` (empty when the column is absent).
    pub fn cell(&self, row_index: usize, key: &str) -> &str {
        self.positions
            .get(key)
            .and_then(|index| self.sheet.rows[row_index].cells.get(*index))
            .map_or("", String::as_str)
    }

    /// A problem at row `row_index`, column `key`.
    pub fn problem(&self, row_index: usize, key: &str, issue: Issue) -> Problem {
        let column = self.positions.get(key).map(|index| {
            (
                *index,
                self.sheet.headers.get(*index).cloned().unwrap_or_default(),
            )
        });
        Problem {
            row: self.sheet.rows[row_index].number,
            column,
            issue,
        }
    }
}

/// Options of one import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Stop after the dry run.
    pub dry_run: bool,
    /// Apply without asking.
    pub yes: bool,
    /// Teams: the draft generation whose blocks are staffed (empty: the
    /// active one).
    pub generation: String,
}

/// Reads, checks and (on confirmation) applies a table.
pub async fn import_table(
    connection: &Connection,
    kind: Kind,
    file: &Path,
    options: &ImportOptions,
    output: Output,
) -> anyhow::Result<()> {
    let language = labels::current();
    let sheet = sheet::read(file)?;
    let row_count = sheet.rows.len();
    let table = match Table::new(kind, sheet) {
        Ok(table) => table,
        Err(problems) => return refuse(&problems, output, language),
    };
    // The table's own columns are checked before the platform is reached.
    let session = Session::open(connection)?;
    let mut client = session.blocks()?;
    let registry = Registry::load(&mut client, kind, &table, &options.generation).await?;
    let (problems, plan) = rows::check(&table, &registry, &options.generation);
    if !problems.is_empty() {
        return refuse(&problems, output, language);
    }
    print_plan(kind, row_count, &plan, options.dry_run, output, language);
    if options.dry_run {
        return Ok(());
    }
    if plan.operations.is_empty() {
        say(
            output,
            language,
            "没有需要更改的内容。",
            "nothing to change.",
        );
        return Ok(());
    }
    if !options.yes && !confirm(language)? {
        say(output, language, "未导入。", "not imported.");
        return Ok(());
    }
    apply(&mut client, kind, plan, output, language).await
}

/// The teams table given with `import blocks --teams`: checked like
/// `import teams` (a dry run that refuses with every problem), against the
/// roster and the blocks of the boundary file itself, and answered as the
/// import's team assignments, so the new generation is validated and
/// activated with its teams.
pub async fn teams_for_blocks(
    session: &Session,
    file: &Path,
    block_codes: Vec<String>,
    output: Output,
) -> anyhow::Result<Vec<blocks::BlockTeamAssignment>> {
    let language = labels::current();
    let table = match Table::new(Kind::Teams, sheet::read(file)?) {
        Ok(table) => table,
        Err(problems) => {
            refuse(&problems, output, language)?;
            return Ok(Vec::new());
        }
    };
    let mut client = session.blocks()?;
    let mut registry = Registry::default();
    registry.load_staff(&mut client).await?;
    registry.blocks = block_codes.into_iter().map(|code| (code, None)).collect();
    let (problems, plan) = rows::check(&table, &registry, "");
    if !problems.is_empty() {
        refuse(&problems, output, language)?;
    }
    Ok(plan
        .operations
        .into_iter()
        .filter_map(|operation| match operation {
            Operation::Team(request) => Some(blocks::BlockTeamAssignment {
                block_code: request
                    .block
                    .strip_prefix("blocks/")
                    .unwrap_or(&request.block)
                    .to_owned(),
                team: request.team,
            }),
            _ => None,
        })
        .collect())
}

fn say(output: Output, language: Language, zh: &str, en: &str) {
    if output == Output::Table {
        println!(
            "{}",
            match language {
                Language::ZhCn => zh,
                Language::En => en,
            }
        );
    }
}

/// Prints the problems and fails: nothing was changed.
fn refuse(problems: &[Problem], output: Output, language: Language) -> anyhow::Result<()> {
    match output {
        Output::Json => {
            let rows: Vec<serde_json::Value> = problems
                .iter()
                .map(|problem| {
                    serde_json::json!({
                        "row": problem.row,
                        "column": problem.column.as_ref().map(|(index, _)| crate::sheet::column_letter(*index)),
                        "header": problem.column.as_ref().map(|(_, header)| header.clone()),
                        "message": problem.message(language),
                    })
                })
                .collect();
            println!("{}", serde_json::json!({ "problems": rows }));
        }
        Output::Table => {
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_HORIZONTAL_ONLY);
            table.set_header(match language {
                Language::ZhCn => ["行", "列", "问题"],
                Language::En => ["row", "column", "problem"],
            });
            for problem in problems {
                table.add_row([
                    problem.row.to_string(),
                    problem.column_label(),
                    problem.message(language),
                ]);
            }
            println!("{table}");
        }
    }
    match language {
        Language::ZhCn => anyhow::bail!("试运行发现 {} 个问题，未做任何更改", problems.len()),
        Language::En => anyhow::bail!(
            "the dry run found {} problem(s); nothing was changed",
            problems.len()
        ),
    }
}

fn print_plan(
    kind: Kind,
    rows: usize,
    plan: &Plan,
    dry_run: bool,
    output: Output,
    language: Language,
) {
    if output == Output::Json {
        if dry_run {
            println!(
                "{}",
                serde_json::json!({
                    "dryRun": true,
                    "rows": rows,
                    "create": plan.created,
                    "update": plan.updated,
                    "unchanged": plan.unchanged,
                    "districtsCreated": plan.districts_created,
                })
            );
        }
        return;
    }
    match language {
        Language::ZhCn => {
            println!(
                "试运行（{}）：{rows} 行，未发现问题；将新建 {}、更新 {}、{} 行不变。",
                kind.title(language),
                plan.created,
                plan.updated,
                plan.unchanged
            );
            if !plan.districts_created.is_empty() {
                println!("将登记区：{}", plan.districts_created.join("、"));
            }
        }
        Language::En => {
            println!(
                "dry run ({}): {rows} rows, no problems; would create {}, update {}, leave {} unchanged.",
                kind.title(language),
                plan.created,
                plan.updated,
                plan.unchanged
            );
            if !plan.districts_created.is_empty() {
                println!(
                    "would register districts: {}",
                    plan.districts_created.join(", ")
                );
            }
        }
    }
}

fn confirm(language: Language) -> anyhow::Result<bool> {
    let question = match language {
        Language::ZhCn => "确认导入？",
        Language::En => "apply the import?",
    };
    if !std::io::stdin().is_terminal() {
        match language {
            Language::ZhCn => anyhow::bail!(
                "{question}——没有终端可以询问；加 --yes 直接导入，或加 --dry-run 只做检查"
            ),
            Language::En => anyhow::bail!(
                "{question} — no terminal to ask on; pass --yes to apply or --dry-run to only check"
            ),
        }
    }
    crate::import::ask(question)
}

/// A bar on stderr for long imports; hidden when stderr is not a terminal.
fn progress(length: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(u64::try_from(length).unwrap_or(u64::MAX));
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    } else if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

async fn apply(
    client: &mut flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient<
        crate::connect::Authed,
    >,
    kind: Kind,
    mut plan: Plan,
    output: Output,
    language: Language,
) -> anyhow::Result<()> {
    // One call at a time: the registry serialises changes to what is in
    // force under one lock, so calls in parallel would only queue there.
    let bar = progress(plan.operations.len());
    let operations = std::mem::take(&mut plan.operations);
    for (done, operation) in operations.into_iter().enumerate() {
        let result = match operation {
            Operation::District(request) => client
                .update_district(request)
                .await
                .doing("registering a district")
                .map(drop),
            Operation::Subdistrict(request) => client
                .update_subdistrict(request)
                .await
                .doing("writing a subdistrict")
                .map(drop),
            Operation::Community(request) => client
                .update_community(request)
                .await
                .doing("writing a community")
                .map(drop),
            Operation::Staff(request) => client
                .import_staff(request)
                .await
                .doing("importing the staff roster")
                .map(|counts| {
                    // The registry's own counts are the truth for staff.
                    plan.created = counts.created as usize;
                    plan.updated = counts.updated as usize;
                    plan.unchanged = counts.unchanged as usize;
                }),
            Operation::Team(request) => client
                .set_block_team(request)
                .await
                .doing("setting a block's team")
                .map(drop),
        };
        if let Err(error) = result {
            bar.abandon();
            let applied = match language {
                Language::ZhCn => format!(
                    "已完成 {done} 项调用后出错，已做的更改保留；修正后重新导入同一张表即可完成其余部分"
                ),
                Language::En => format!(
                    "failed after {done} call(s) had been applied (those changes stay; importing the table again completes the rest)"
                ),
            };
            return Err(error.context(applied));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "kind": kind.key(),
                "created": plan.created,
                "updated": plan.updated,
                "unchanged": plan.unchanged,
                "districtsCreated": plan.districts_created,
            })
        ),
        Output::Table => match language {
            Language::ZhCn => println!(
                "已导入（{}）：新建 {}、更新 {}、不变 {}。",
                kind.title(language),
                plan.created,
                plan.updated,
                plan.unchanged
            ),
            Language::En => println!(
                "imported ({}): {} created, {} updated, {} unchanged.",
                kind.title(language),
                plan.created,
                plan.updated,
                plan.unchanged
            ),
        },
    }
    Ok(())
}
