//! `flatgov import blocks|subdistricts|communities|staff|teams|duties`: load
//! an operator's files through the public APIs, with a readable report of
//! what was rejected and why.
//!
//! Boundaries (blocks, subdistricts' land) come as GeoJSON, Shapefile or
//! GeoPackage ([`crate::boundaries`]); the district's tables as CSV or XLSX
//! ([`crate::onboard`]).

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::duties::v1 as duties;

use crate::Output;
use crate::boundaries;
use crate::connect::{CallContext as _, Connection, Session};
use crate::onboard;
use crate::render::{print_message, print_rows};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    command: ImportCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ImportCommand {
    /// Draft a boundary generation from a file of blocks (GeoJSON,
    /// Shapefile or GeoPackage; WGS84 or CGCS2000), show its gap/overlap
    /// report, and activate it on confirmation.
    Blocks {
        file: PathBuf,
        #[arg(long, default_value = "")]
        description: String,
        /// Activate without asking when the report has no errors.
        #[arg(long)]
        yes: bool,
        /// Only validate: leave the draft for later.
        #[arg(long, conflicts_with = "yes")]
        no_activate: bool,
        /// The blocks' 1+N+1 teams as a teams table (CSV/XLSX, as for
        /// `import teams`), checked first and imported with the blocks.
        #[arg(long)]
        teams: Option<PathBuf>,
    },
    /// Subdistricts: a table (CSV/XLSX: code, name, English name, the
    /// district's name) or their land (GeoJSON, Shapefile, GeoPackage).
    Subdistricts {
        file: PathBuf,
        #[command(flatten)]
        options: TableOptions,
    },
    /// Communities from a table (CSV/XLSX).
    Communities {
        file: PathBuf,
        #[command(flatten)]
        options: TableOptions,
    },
    /// The staff roster from a table (CSV/XLSX).
    Staff {
        file: PathBuf,
        #[command(flatten)]
        options: TableOptions,
    },
    /// 1+N+1 teams from a table (CSV/XLSX), one row per member of a block's team.
    Teams {
        file: PathBuf,
        #[command(flatten)]
        options: TableOptions,
        /// `generations/{id}` of a draft whose blocks are staffed; the active
        /// generation when omitted.
        #[arg(long, default_value = "")]
        generation: String,
    },
    /// Import a duty list, the departments or the matter catalogue (CSV or JSON, by extension).
    Duties {
        file: PathBuf,
        /// subdistrict_duty, subdistrict_cooperation, residents_self_government,
        /// residents_assisting, residents_negative, departments or matters.
        #[arg(long)]
        kind: String,
        /// Publish the imported list at once (lists only).
        #[arg(long)]
        publish: bool,
        /// With --publish: when the version takes effect (RFC 3339); now when omitted.
        #[arg(long, requires = "publish")]
        effective_from: Option<chrono::DateTime<chrono::FixedOffset>>,
    },
}

/// What every table import takes: a dry run always comes first.
#[derive(Debug, Clone, clap::Args)]
struct TableOptions {
    /// Only the dry run: report problems and what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Apply after a clean dry run without asking.
    #[arg(long, conflicts_with = "dry_run")]
    yes: bool,
}

impl TableOptions {
    fn with_generation(&self, generation: &str) -> onboard::ImportOptions {
        onboard::ImportOptions {
            dry_run: self.dry_run,
            yes: self.yes,
            generation: generation.to_owned(),
        }
    }
}

pub async fn run(
    arguments: &ImportArgs,
    connection: &Connection,
    output: Output,
) -> anyhow::Result<()> {
    // Table imports open their session after checking the table's columns.
    let session = || Session::open(connection);
    match &arguments.command {
        ImportCommand::Blocks {
            file,
            description,
            yes,
            no_activate,
            teams,
        } => {
            import_blocks(
                &session()?,
                file,
                teams.as_deref(),
                description,
                *yes,
                *no_activate,
                output,
            )
            .await
        }
        ImportCommand::Subdistricts { file, options } => {
            if boundaries::is_boundary_file(file) {
                import_subdistrict_boundaries(&session()?, file, options.dry_run, output).await
            } else {
                onboard::import_table(
                    connection,
                    onboard::Kind::Subdistricts,
                    file,
                    &options.with_generation(""),
                    output,
                )
                .await
            }
        }
        ImportCommand::Communities { file, options } => {
            onboard::import_table(
                connection,
                onboard::Kind::Communities,
                file,
                &options.with_generation(""),
                output,
            )
            .await
        }
        ImportCommand::Staff { file, options } => {
            onboard::import_table(
                connection,
                onboard::Kind::Staff,
                file,
                &options.with_generation(""),
                output,
            )
            .await
        }
        ImportCommand::Teams {
            file,
            options,
            generation,
        } => {
            onboard::import_table(
                connection,
                onboard::Kind::Teams,
                file,
                &options.with_generation(generation),
                output,
            )
            .await
        }
        ImportCommand::Duties {
            file,
            kind,
            publish,
            effective_from,
        } => {
            import_duties(
                &session()?,
                file,
                kind,
                *publish,
                effective_from.as_ref(),
                output,
            )
            .await
        }
    }
}

fn read(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

/// A spinner on stderr while a long call runs (hidden when stderr is not a terminal).
fn spinner(message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

async fn import_blocks(
    session: &Session,
    file: &Path,
    teams_file: Option<&Path>,
    description: &str,
    yes: bool,
    no_activate: bool,
    output: Output,
) -> anyhow::Result<()> {
    let geojson = boundaries::read_layer(file)?;
    let teams = match teams_file {
        Some(teams_file) => {
            onboard::teams_for_blocks(session, teams_file, boundaries::codes(&geojson), output)
                .await?
        }
        None => Vec::new(),
    };
    let mut client = session.blocks()?;
    let bar = spinner(format!(
        "uploading {} ({} KiB)",
        file.display(),
        geojson.len() / 1024
    ));
    let generation = client
        .import_blocks(blocks::ImportBlocksRequest {
            geojson,
            teams,
            description: description.to_owned(),
            request_id: String::new(),
            subdistricts: Vec::new(),
        })
        .await
        .doing("importing the blocks");
    bar.finish_and_clear();
    let generation = generation?;
    eprintln!(
        "drafted {} with {} blocks",
        generation.name, generation.block_count
    );

    let bar = spinner("validating: gaps, overlaps, households, teams".into());
    let report = client
        .validate_generation(blocks::ValidateGenerationRequest {
            name: generation.name.clone(),
            settings: None,
        })
        .await
        .doing("validating the generation");
    bar.finish_and_clear();
    let report = report?;
    print_report(&report, output);

    if no_activate {
        eprintln!("left {} as a draft", generation.name);
        return Ok(());
    }
    if !report.activatable {
        anyhow::bail!(
            "activation refused: {} error(s) remain; fix the file and import again (the draft {} is left for inspection)",
            report.error_count,
            generation.name
        );
    }
    if !yes
        && !confirm(&format!(
            "activate {} ({} warnings)?",
            generation.name, report.warning_count
        ))?
    {
        eprintln!("not activated; {} stays a draft", generation.name);
        return Ok(());
    }
    let activated = client
        .activate_generation(blocks::ActivateGenerationRequest {
            name: generation.name.clone(),
        })
        .await
        .doing("activating the generation")?;
    print_message(&activated, "flatgov.blocks.v1.Generation", output);
    Ok(())
}

fn print_report(report: &blocks::ValidationReport, output: Output) {
    if output == Output::Json {
        print_message(report, "flatgov.blocks.v1.ValidationReport", output);
        return;
    }
    let mut rows = Vec::new();
    for subdistrict in &report.subdistricts {
        for finding in &subdistrict.findings {
            rows.push(serde_json::json!({
                "subdistrict": subdistrict.subdistrict_code,
                "severity": if finding.severity == blocks::FindingSeverity::Error as i32 { "error" } else { "warning" },
                "kind": finding.kind,
                "blocks": finding.block_codes.join(" "),
                "area m²": if finding.area_m2 > 0.0 { format!("{:.0}", finding.area_m2) } else { String::new() },
                "message": finding.message,
            }));
        }
    }
    for finding in &report.general_findings {
        rows.push(serde_json::json!({
            "subdistrict": "",
            "severity": if finding.severity == blocks::FindingSeverity::Error as i32 { "error" } else { "warning" },
            "kind": finding.kind,
            "blocks": finding.block_codes.join(" "),
            "area m²": "",
            "message": finding.message,
        }));
    }
    println!(
        "validation of {}: {} error(s), {} warning(s); households band {}–{}",
        report.generation,
        report.error_count,
        report.warning_count,
        report.households_band_low,
        report.households_band_high
    );
    if !rows.is_empty() {
        print_rows(
            &rows,
            &[
                "subdistrict",
                "severity",
                "kind",
                "blocks",
                "area m²",
                "message",
            ],
            output,
        );
    }
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "{question} — no terminal to ask on; pass --yes to activate or --no-activate to keep the draft"
        );
    }
    ask(question)
}

/// Asks a yes/no question on the terminal (no means no).
pub fn ask(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Subdistricts' land from a boundary file: all or nothing in the registry,
/// which reports each bad feature; `--dry-run` only reads and checks the
/// file here (format, CRS).
async fn import_subdistrict_boundaries(
    session: &Session,
    file: &Path,
    dry_run: bool,
    output: Output,
) -> anyhow::Result<()> {
    let geojson = boundaries::read_layer(file)?;
    let features = boundaries::feature_count(&geojson);
    if dry_run {
        match crate::labels::current() {
            crate::labels::Language::ZhCn => println!(
                "试运行：{} 含 {features} 个街道边界，格式与坐标系可用；导入时由区块登记服务逐一检查",
                file.display()
            ),
            crate::labels::Language::En => println!(
                "dry run: {} holds {features} subdistrict boundaries in an accepted format and CRS; the registry checks each on import",
                file.display()
            ),
        }
        return Ok(());
    }
    let mut client = session.blocks()?;
    let bar = spinner(format!(
        "uploading {} ({features} boundaries)",
        file.display()
    ));
    let result = client
        .import_subdistricts(blocks::ImportSubdistrictsRequest { geojson })
        .await
        .doing("importing the subdistricts' boundaries");
    bar.finish_and_clear();
    let result = result?;
    match output {
        Output::Json => print_message(
            &result,
            "flatgov.blocks.v1.ImportSubdistrictsResponse",
            output,
        ),
        Output::Table => match crate::labels::current() {
            crate::labels::Language::ZhCn => println!(
                "已导入街道边界：新建 {}、更新 {}、不变 {}。",
                result.created, result.updated, result.unchanged
            ),
            crate::labels::Language::En => println!(
                "imported subdistrict boundaries: {} created, {} updated, {} unchanged.",
                result.created, result.updated, result.unchanged
            ),
        },
    }
    Ok(())
}

async fn import_duties(
    session: &Session,
    file: &Path,
    kind: &str,
    publish: bool,
    effective_from: Option<&chrono::DateTime<chrono::FixedOffset>>,
    output: Output,
) -> anyhow::Result<()> {
    let content = read(file)?;
    let format = match file.extension().and_then(|extension| extension.to_str()) {
        Some("csv") => duties::DataFormat::Csv,
        Some("json") => duties::DataFormat::Json,
        _ => anyhow::bail!(
            "{}: name the file .csv or .json so its format is known",
            file.display()
        ),
    } as i32;
    let mut client = session.duties()?;
    let bar = spinner(format!("importing {}", file.display()));
    let result = match kind {
        "departments" => client
            .import_departments(duties::ImportDepartmentsRequest { format, content })
            .await
            .doing("importing departments")
            .map(|response| {
                crate::render::to_json(&response, "flatgov.duties.v1.ImportDepartmentsResponse")
            }),
        "matters" => client
            .import_catalogue(duties::ImportCatalogueRequest { format, content })
            .await
            .doing("importing the matter catalogue")
            .map(|response| {
                crate::render::to_json(&response, "flatgov.duties.v1.ImportCatalogueResponse")
            }),
        list_kind => client
            .import_list(duties::ImportListRequest {
                parent: format!("lists/{list_kind}"),
                format,
                content,
                publish,
                effective_from: effective_from.map(|instant| prost_types::Timestamp {
                    seconds: instant.timestamp(),
                    nanos: 0,
                }),
            })
            .await
            .doing(&format!("importing list {list_kind}"))
            .map(|response| {
                crate::render::to_json(&response, "flatgov.duties.v1.ImportListResponse")
            }),
    };
    bar.finish_and_clear();
    let json = result?;
    match output {
        Output::Json => println!("{json}"),
        Output::Table => {
            if let serde_json::Value::Object(fields) = &json {
                for (name, value) in fields {
                    println!("{name}: {}", crate::render::short(value));
                }
            }
        }
    }
    Ok(())
}
