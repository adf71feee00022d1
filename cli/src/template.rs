//! `flatgov template <kind>.xlsx`: a ready-made table for each import — the
//! headers (required ones marked), one example row, a note on each header
//! and a sheet of column notes — in the user's language. Code, id and phone
//! columns are text cells, so Excel keeps leading zeros and long codes; the
//! teams table offers its posts and assistant types as drop-down lists.
//! A `.csv` name writes the header and the example row only (UTF-8 with a
//! BOM, which Excel opens correctly).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rust_xlsxwriter::{Color, DataValidation, Format, Note, Workbook};

use crate::labels::{self, Language};
use crate::onboard::Kind;
use crate::onboard::columns::Column;

#[derive(Debug, clap::Args)]
pub struct TemplateArgs {
    /// Where to write: `subdistricts.xlsx`, `communities.xlsx`, `staff.xlsx`
    /// or `teams.xlsx` (the name tells the kind unless --kind is given; a
    /// `.csv` name writes a CSV).
    file: PathBuf,
    /// The kind of table, when the file name does not tell it.
    #[arg(long, value_enum)]
    kind: Option<Kind>,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

pub fn run(arguments: &TemplateArgs) -> anyhow::Result<()> {
    let language = labels::current();
    let kind = match arguments.kind {
        Some(kind) => kind,
        None => arguments
            .file
            .file_stem()
            .and_then(|stem| stem.to_str())
            .and_then(Kind::from_stem)
            .with_context(|| {
                format!(
                    "{}: cannot tell the kind from the name; call it subdistricts.xlsx, communities.xlsx, staff.xlsx or teams.xlsx, or pass --kind",
                    arguments.file.display()
                )
            })?,
    };
    if arguments.file.exists() && !arguments.force {
        anyhow::bail!(
            "{} exists; pass --force to overwrite it",
            arguments.file.display()
        );
    }
    let csv = arguments
        .file
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"));
    if csv {
        write_csv(kind, &arguments.file, language)?;
    } else {
        write_xlsx(kind, &arguments.file, language)?;
    }
    match language {
        Language::ZhCn => println!(
            "已写出{}模板：{}（填写后先运行 flatgov import {} {} --dry-run）",
            kind.title(language),
            arguments.file.display(),
            kind.key(),
            arguments.file.display()
        ),
        Language::En => println!(
            "wrote the {} template: {} (fill it in, then run flatgov import {} {} --dry-run)",
            kind.title(language),
            arguments.file.display(),
            kind.key(),
            arguments.file.display()
        ),
    }
    Ok(())
}

fn write_csv(kind: Kind, file: &Path, language: Language) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    writer.write_record(kind.columns().iter().map(|column| column.header(language)))?;
    writer.write_record(
        kind.columns()
            .iter()
            .map(|column| example(column, language)),
    )?;
    let bytes = writer.into_inner().context("writing the CSV")?;
    std::fs::write(file, bytes).with_context(|| format!("cannot write {}", file.display()))
}

/// The example value, in the language of the headers where it is a word.
fn example(column: &Column, language: Language) -> &'static str {
    match (column.key, language) {
        ("post", Language::En) => "governor",
        (_, _) => column.example,
    }
}

fn write_xlsx(kind: Kind, file: &Path, language: Language) -> anyhow::Result<()> {
    let mut workbook = Workbook::new();
    let header_required = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0x00FF_E699));
    let header_optional = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0x00DD_EBF7));
    let text = Format::new().set_num_format("@");
    let plain = Format::new();
    let columns = kind.columns();
    {
        let sheet = workbook.add_worksheet();
        sheet.set_name(kind.title(language))?;
        sheet.set_freeze_panes(1, 0)?;
        for (index, column) in columns.iter().enumerate() {
            let column_number = u16::try_from(index)?;
            let cell_format = if column.text { &text } else { &plain };
            sheet.set_column_format(column_number, cell_format)?;
            sheet.set_column_width(column_number, 22)?;
            let header = if column.required {
                format!("{}*", column.header(language))
            } else {
                column.header(language).to_owned()
            };
            sheet.write_string_with_format(
                0,
                column_number,
                header,
                if column.required {
                    &header_required
                } else {
                    &header_optional
                },
            )?;
            sheet.insert_note(
                0,
                column_number,
                &Note::new(column.note(language))
                    .add_author_prefix(false)
                    .set_width(300)
                    .set_height(90),
            )?;
            let value = example(column, language);
            if !value.is_empty() {
                sheet.write_string_with_format(1, column_number, value, cell_format)?;
            }
            if kind == Kind::Teams && column.key == "post" {
                let posts: &[&str] = match language {
                    Language::ZhCn => &["治理员", "协理员", "监督员"],
                    Language::En => &["governor", "assistant", "supervisor"],
                };
                sheet.add_data_validation(
                    1,
                    column_number,
                    10_000,
                    column_number,
                    &DataValidation::new().allow_list_strings(posts)?,
                )?;
            }
            if kind == Kind::Teams && column.key == "role" {
                let roles: &[&str] = match language {
                    Language::ZhCn => &["联点干部", "党小组长", "业委会成员", "居民代表"],
                    Language::En => &[
                        "liaison_cadre",
                        "party_group_leader",
                        "owners_committee_member",
                        "resident_representative",
                    ],
                };
                sheet.add_data_validation(
                    1,
                    column_number,
                    10_000,
                    column_number,
                    &DataValidation::new().allow_list_strings(roles)?,
                )?;
            }
        }
    }
    {
        let notes = workbook.add_worksheet();
        notes.set_name(match language {
            Language::ZhCn => "填写说明",
            Language::En => "notes",
        })?;
        let bold = Format::new().set_bold();
        let titles: [&str; 4] = match language {
            Language::ZhCn => ["列", "必填", "说明", "示例"],
            Language::En => ["column", "required", "what to write", "example"],
        };
        for (index, title) in titles.iter().enumerate() {
            notes.write_string_with_format(0, u16::try_from(index)?, *title, &bold)?;
        }
        notes.set_column_width(0, 18)?;
        notes.set_column_width(1, 8)?;
        notes.set_column_width(2, 80)?;
        notes.set_column_width(3, 22)?;
        for (index, column) in columns.iter().enumerate() {
            let row = u32::try_from(index + 1)?;
            notes.write_string(row, 0, column.header(language))?;
            notes.write_string(
                row,
                1,
                match (column.required, language) {
                    (true, Language::ZhCn) => "是",
                    (false, Language::ZhCn) => "否",
                    (true, Language::En) => "yes",
                    (false, Language::En) => "no",
                },
            )?;
            notes.write_string(row, 2, column.note(language))?;
            notes.write_string(row, 3, example(column, language))?;
        }
        let footer = u32::try_from(columns.len() + 2)?;
        notes.write_string(
            footer,
            0,
            match language {
                Language::ZhCn => {
                    "第一张表的第 2 行是示例，导入前请替换或删除；标 * 的列必填；表头也可用英文列名。"
                }
                Language::En => {
                    "Row 2 of the first sheet is an example: replace or delete it before importing; columns marked * are required; Chinese headers are accepted too."
                }
            },
        )?;
    }
    workbook
        .save(file)
        .with_context(|| format!("cannot write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onboard::Table;

    #[test]
    fn every_template_reads_back_as_a_table_of_its_kind_with_its_example_row() {
        let directory = tempfile::tempdir().expect("temporary directory");
        for kind in Kind::ALL {
            for language in [Language::ZhCn, Language::En] {
                let file = directory
                    .path()
                    .join(format!("{}-{language:?}.xlsx", kind.key()));
                write_xlsx(kind, &file, language).expect("writes");
                let sheet = crate::sheet::read(&file).expect("reads back");
                assert_eq!(sheet.rows.len(), 1, "{kind:?}: one example row");
                assert_eq!(sheet.rows[0].number, 2);
                let table = Table::new(kind, sheet).expect("its own columns");
                assert_eq!(
                    table.cell(0, kind.columns()[0].key),
                    kind.columns()[0].example
                );
            }
        }
    }
}
