//! `flatgov import blocks|duties`: load an operator's files through the
//! public APIs, with a readable report of what was rejected and why.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::duties::v1 as duties;

use crate::Output;
use crate::connect::{CallContext as _, Connection, Session};
use crate::render::{print_message, print_rows};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    command: ImportCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ImportCommand {
    /// Draft a boundary generation from a GeoJSON FeatureCollection of
    /// blocks, show its gap/overlap report, and activate it on confirmation.
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

pub async fn run(
    arguments: &ImportArgs,
    connection: &Connection,
    output: Output,
) -> anyhow::Result<()> {
    let session = Session::open(connection)?;
    match &arguments.command {
        ImportCommand::Blocks {
            file,
            description,
            yes,
            no_activate,
        } => import_blocks(&session, file, description, *yes, *no_activate, output).await,
        ImportCommand::Duties {
            file,
            kind,
            publish,
            effective_from,
        } => {
            import_duties(
                &session,
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
    description: &str,
    yes: bool,
    no_activate: bool,
    output: Output,
) -> anyhow::Result<()> {
    let geojson = read(file)?;
    let mut client = session.blocks()?;
    let bar = spinner(format!(
        "uploading {} ({} KiB)",
        file.display(),
        geojson.len() / 1024
    ));
    let generation = client
        .import_blocks(blocks::ImportBlocksRequest {
            geojson,
            teams: Vec::new(),
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
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
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
