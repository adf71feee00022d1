//! `flatgov export blocks|staff|teams|duties`: what the platform holds,
//! read through the public list RPCs page by page, written in exactly the
//! format `flatgov import <kind>` reads, so a file exported and imported
//! again changes nothing and says so.
//!
//! | export | read with | written as | imported again with |
//! |---|---|---|---|
//! | blocks | ExportGeoJson (every page, with teams unless `--without-teams`) | one GeoJSON FeatureCollection | `import blocks` |
//! | staff | ListStaff | CSV or XLSX, the staff table's columns | `import staff` |
//! | teams | ListBlocks (the active generation or `--generation`) | CSV or XLSX, one row per member | `import teams` |
//! | duties | ExportList (the list in effect) | CSV or JSON | `import duties --kind …` |
//!
//! Tables use the columns of [`crate::onboard::columns`] — the same
//! definition the templates and the imports use — with headers and posts
//! in the user's language (zh-CN by default).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::duties::v1 as duties;
use rust_xlsxwriter::{Format, Workbook};

use crate::Output;
use crate::connect::{CallContext as _, Session};
use crate::labels::{self, Language};
use crate::onboard::problems::Post;
use crate::onboard::rows::role_label;
use crate::onboard::{Kind, Registry};

const PAGE: i32 = 500;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    command: ExportCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ExportCommand {
    /// The blocks of the active generation (or a draft) as GeoJSON, with
    /// codes, names, households and teams, as `import blocks` reads them.
    Blocks {
        /// Where to write (`blocks.geojson`); stdout when omitted.
        file: Option<PathBuf>,
        /// `generations/{id}`; the active generation when omitted.
        #[arg(long, default_value = "")]
        generation: String,
        /// Leave out each block's `team` property.
        #[arg(long)]
        without_teams: bool,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// The staff roster as `import staff` reads it.
    Staff {
        /// Where to write (`staff.xlsx`, `staff.csv`); CSV on stdout when omitted.
        file: Option<PathBuf>,
        /// The format, when the file name does not tell it.
        #[arg(long, value_enum)]
        format: Option<TableFormat>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// The blocks' 1+N+1 teams as `import teams` reads them, one row per member.
    Teams {
        /// Where to write (`teams.xlsx`, `teams.csv`); CSV on stdout when omitted.
        file: Option<PathBuf>,
        /// The format, when the file name does not tell it.
        #[arg(long, value_enum)]
        format: Option<TableFormat>,
        /// `generations/{id}` of a draft; the active generation when omitted.
        #[arg(long, default_value = "")]
        generation: String,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// A duty list in effect, as `import duties --kind <kind>` reads it.
    Duties {
        /// Where to write (`subdistrict_duty.csv`, `….json`); CSV on stdout when omitted.
        file: Option<PathBuf>,
        /// subdistrict_duty, subdistrict_cooperation, residents_self_government,
        /// residents_assisting or residents_negative.
        #[arg(long)]
        kind: String,
        /// The format, when the file name does not tell it.
        #[arg(long, value_enum)]
        format: Option<DutyFormat>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
}

/// How a table is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    /// UTF-8 with the BOM Excel needs to open it correctly.
    Csv,
    /// An Excel workbook; code, id and phone columns are text cells.
    Xlsx,
}

/// How a duty list is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DutyFormat {
    Csv,
    Json,
}

const LIST_KINDS: [&str; 5] = [
    "subdistrict_duty",
    "subdistrict_cooperation",
    "residents_self_government",
    "residents_assisting",
    "residents_negative",
];

pub async fn run(arguments: &ExportArgs, session: &Session, output: Output) -> anyhow::Result<()> {
    let language = labels::current();
    match &arguments.command {
        ExportCommand::Blocks {
            file,
            generation,
            without_teams,
            force,
        } => {
            let target = Target::new(file.as_deref(), *force)?;
            let (geojson, count) = export_blocks(session, generation, !without_teams).await?;
            target.write(geojson.as_bytes())?;
            done(&target, "blocks", count, output, language);
            Ok(())
        }
        ExportCommand::Staff {
            file,
            format,
            force,
        } => {
            let format = table_format(file.as_deref(), *format)?;
            let target = Target::new(file.as_deref(), *force)?;
            let rows = staff_rows(session).await?;
            write_table(Kind::Staff, &rows, format, &target, language)?;
            done(&target, "staff", rows.len(), output, language);
            Ok(())
        }
        ExportCommand::Teams {
            file,
            format,
            generation,
            force,
        } => {
            let format = table_format(file.as_deref(), *format)?;
            let target = Target::new(file.as_deref(), *force)?;
            let rows = team_rows(session, generation, language).await?;
            write_table(Kind::Teams, &rows, format, &target, language)?;
            done(&target, "teams", rows.len(), output, language);
            Ok(())
        }
        ExportCommand::Duties {
            file,
            kind,
            format,
            force,
        } => {
            if !LIST_KINDS.contains(&kind.as_str()) {
                anyhow::bail!(
                    "--kind {kind:?}: a duty list is one of {}",
                    LIST_KINDS.join(", ")
                );
            }
            let format = match (format, extension(file.as_deref()).as_str()) {
                (Some(format), _) => *format,
                (None, "json") => DutyFormat::Json,
                (None, "csv" | "") => DutyFormat::Csv,
                (None, other) => anyhow::bail!(
                    "cannot tell the format from .{other}: name the file .csv or .json, or pass --format"
                ),
            };
            let target = Target::new(file.as_deref(), *force)?;
            let exported = session
                .duties()?
                .export_list(duties::ExportListRequest {
                    name: format!("lists/{kind}"),
                    at: None,
                    format: match format {
                        DutyFormat::Csv => duties::DataFormat::Csv,
                        DutyFormat::Json => duties::DataFormat::Json,
                    } as i32,
                })
                .await
                .doing(&format!("exporting list {kind}"))?;
            target.write(exported.content.as_bytes())?;
            done(&target, kind, 0, output, language);
            Ok(())
        }
    }
}

/// Where an export goes: a file (refusing to overwrite one unless forced)
/// or stdout.
struct Target<'a> {
    file: Option<&'a Path>,
}

impl<'a> Target<'a> {
    fn new(file: Option<&'a Path>, force: bool) -> anyhow::Result<Self> {
        if let Some(file) = file
            && file.exists()
            && !force
        {
            anyhow::bail!("{} exists; pass --force to overwrite it", file.display());
        }
        Ok(Self { file })
    }

    fn write(&self, bytes: &[u8]) -> anyhow::Result<()> {
        match self.file {
            Some(file) => std::fs::write(file, bytes)
                .with_context(|| format!("cannot write {}", file.display())),
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(bytes)?;
                stdout.flush()?;
                Ok(())
            }
        }
    }
}

/// Says what was written: on stdout after a file, on stderr after the
/// export itself went to stdout.
fn done(target: &Target<'_>, kind: &str, rows: usize, output: Output, language: Language) {
    let Some(file) = target.file else {
        return;
    };
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({ "kind": kind, "rows": rows, "file": file.display().to_string() })
        ),
        Output::Table => match (language, rows) {
            (Language::ZhCn, 0) => println!("已导出 {kind}：{}", file.display()),
            (Language::ZhCn, _) => println!("已导出 {kind} {rows} 行：{}", file.display()),
            (Language::En, 0) => println!("exported {kind}: {}", file.display()),
            (Language::En, _) => println!("exported {rows} {kind} rows: {}", file.display()),
        },
    }
}

fn extension(file: Option<&Path>) -> String {
    file.and_then(|file| file.extension())
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// The table format from `--format` or the file name; CSV on stdout.
fn table_format(file: Option<&Path>, format: Option<TableFormat>) -> anyhow::Result<TableFormat> {
    match (format, extension(file).as_str()) {
        (Some(TableFormat::Xlsx), _) if file.is_none() => {
            anyhow::bail!("an XLSX export needs a file to write: name one, e.g. staff.xlsx")
        }
        (Some(format), _) => Ok(format),
        (None, "xlsx") => Ok(TableFormat::Xlsx),
        (None, "csv" | "") => Ok(TableFormat::Csv),
        (None, other) => anyhow::bail!(
            "cannot tell the format from .{other}: name the file .csv or .xlsx, or pass --format"
        ),
    }
}

/// Every page of ExportGeoJson merged into one FeatureCollection, and how
/// many blocks it holds.
async fn export_blocks(
    session: &Session,
    generation: &str,
    include_teams: bool,
) -> anyhow::Result<(String, usize)> {
    let mut client = session.blocks()?;
    let mut features = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .export_geo_json(blocks::ExportGeoJsonRequest {
                generation: generation.to_owned(),
                parent: String::new(),
                include_teams,
                layer: blocks::ExportLayer::Blocks as i32,
                page_size: PAGE,
                page_token: page_token.clone(),
            })
            .await
            .doing("exporting the blocks")?;
        let collection: serde_json::Value =
            serde_json::from_str(&page.geojson).context("the registry's GeoJSON is not JSON")?;
        if let Some(page_features) = collection
            .get("features")
            .and_then(serde_json::Value::as_array)
        {
            features.extend(page_features.iter().cloned());
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let count = features.len();
    let collection = serde_json::json!({ "type": "FeatureCollection", "features": features });
    Ok((format!("{collection}\n"), count))
}

/// The roster in the staff table's columns, by id. A roster whose phone
/// numbers are withheld from the caller is refused: importing such a file
/// again would erase them.
async fn staff_rows(session: &Session) -> anyhow::Result<Vec<Vec<String>>> {
    let mut client = session.blocks()?;
    let mut registry = Registry::default();
    registry.load_staff(&mut client).await?;
    let mut people: Vec<blocks::Staff> = registry.staff.into_values().collect();
    people.sort_by(|left, right| left.id.cmp(&right.id));
    let withheld = people.iter().filter(|person| person.phone_withheld).count();
    if withheld > 0 {
        match labels::current() {
            Language::ZhCn => anyhow::bail!(
                "有 {withheld} 人的手机号对你不可见：导出的名册缺少手机号，再次导入会清除它们；请由能看到全部手机号的区管理员导出"
            ),
            Language::En => anyhow::bail!(
                "{withheld} people's phone numbers are withheld from you: a roster without them would erase them when imported again; export it as a district admin who sees every number"
            ),
        }
    }
    Ok(people
        .into_iter()
        .map(|person| {
            let division = person
                .division
                .split_once('/')
                .map_or(person.division.as_str(), |(_, code)| code)
                .to_owned();
            Kind::Staff
                .columns()
                .iter()
                .map(|column| match column.key {
                    "id" => person.id.clone(),
                    "name" => person.display_name.clone(),
                    "phone" => person.phone.clone(),
                    "unit" => person.unit.clone(),
                    "division" => division.clone(),
                    _ => String::new(),
                })
                .collect()
        })
        .collect())
}

/// The teams of a generation's blocks in the teams table's columns: by
/// block code, governor, assistants, supervisor. Blocks without a team
/// have no rows.
async fn team_rows(
    session: &Session,
    generation: &str,
    language: Language,
) -> anyhow::Result<Vec<Vec<String>>> {
    let mut client = session.blocks()?;
    let mut registry = Registry::default();
    registry.load_blocks(&mut client, generation, true).await?;
    let mut teams: Vec<(String, blocks::Team)> = registry
        .blocks
        .into_iter()
        .filter_map(|(code, team)| team.map(|team| (code, team)))
        .collect();
    teams.sort_by(|left, right| left.0.cmp(&right.0));
    let row = |code: &str, post: Post, staff: &str, role: &str| -> Vec<String> {
        Kind::Teams
            .columns()
            .iter()
            .map(|column| match column.key {
                "block_code" => code.to_owned(),
                "post" => post.label(language).to_owned(),
                "staff_id" => staff.to_owned(),
                "role" => role.to_owned(),
                _ => String::new(),
            })
            .collect()
    };
    let mut rows = Vec::new();
    for (code, team) in &teams {
        if !team.governor.is_empty() {
            rows.push(row(code, Post::Governor, &team.governor, ""));
        }
        for assistant in &team.assistants {
            let role = blocks::AssistantRole::try_from(assistant.role)
                .unwrap_or(blocks::AssistantRole::Unspecified);
            rows.push(row(
                code,
                Post::Assistant,
                &assistant.staff,
                role_label(role, language),
            ));
        }
        if !team.supervisor.is_empty() {
            rows.push(row(code, Post::Supervisor, &team.supervisor, ""));
        }
    }
    Ok(rows)
}

/// A table in `kind`'s columns, headed in `language` as the templates are.
fn write_table(
    kind: Kind,
    rows: &[Vec<String>],
    format: TableFormat,
    target: &Target<'_>,
    language: Language,
) -> anyhow::Result<()> {
    let columns = kind.columns();
    match format {
        TableFormat::Csv => {
            // The BOM only in a file: Excel needs it, a pipe does not.
            let start = if target.file.is_some() {
                Vec::from("\u{feff}".as_bytes())
            } else {
                Vec::new()
            };
            let mut writer = csv::Writer::from_writer(start);
            writer.write_record(columns.iter().map(|column| column.header(language)))?;
            for row in rows {
                writer.write_record(row)?;
            }
            target.write(&writer.into_inner().context("writing the CSV")?)
        }
        TableFormat::Xlsx => {
            let file = target
                .file
                .context("an XLSX export needs a file to write")?;
            let mut workbook = Workbook::new();
            let bold = Format::new().set_bold();
            let text = Format::new().set_num_format("@");
            let sheet = workbook.add_worksheet();
            sheet.set_name(kind.title(language))?;
            sheet.set_freeze_panes(1, 0)?;
            for (index, column) in columns.iter().enumerate() {
                let number = u16::try_from(index)?;
                sheet.set_column_width(number, 22)?;
                if column.text {
                    sheet.set_column_format(number, &text)?;
                }
                sheet.write_string_with_format(0, number, column.header(language), &bold)?;
            }
            for (index, row) in rows.iter().enumerate() {
                let row_number = u32::try_from(index + 1)?;
                for (column_index, (value, column)) in row.iter().zip(columns).enumerate() {
                    if value.is_empty() {
                        continue;
                    }
                    let number = u16::try_from(column_index)?;
                    if column.text {
                        sheet.write_string_with_format(row_number, number, value, &text)?;
                    } else {
                        sheet.write_string(row_number, number, value)?;
                    }
                }
            }
            workbook
                .save(file)
                .with_context(|| format!("cannot write {}", file.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onboard::Table;

    #[test]
    fn an_exported_table_reads_back_as_a_table_of_its_kind_cell_for_cell() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let rows = vec![
            vec![
                "430302001001001".to_owned(),
                "协理员".to_owned(),
                "yhl-0002".to_owned(),
                "居民代表".to_owned(),
            ],
            vec![
                "430302001001001".to_owned(),
                "监督员".to_owned(),
                "yhl-0003".to_owned(),
                String::new(),
            ],
        ];
        for (name, format) in [
            ("teams.csv", TableFormat::Csv),
            ("teams.xlsx", TableFormat::Xlsx),
        ] {
            let file = directory.path().join(name);
            let target = Target::new(Some(&file), false).expect("a new file");
            write_table(Kind::Teams, &rows, format, &target, Language::ZhCn).expect("writes");
            let table = Table::new(Kind::Teams, crate::sheet::read(&file).expect("reads"))
                .expect("columns");
            assert_eq!(table.sheet.rows.len(), 2, "{name}");
            assert_eq!(table.cell(0, "role"), "居民代表", "{name}");
            assert_eq!(table.cell(1, "staff_id"), "yhl-0003", "{name}");
            assert!(Target::new(Some(&file), false).is_err(), "no overwrite");
        }
    }
}
