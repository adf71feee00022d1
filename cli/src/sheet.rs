//! Reading the tables offices keep: CSV (UTF-8, with or without the BOM
//! Excel writes, or GB18030/GBK as Excel on a Chinese Windows saves "CSV")
//! and XLSX (the first worksheet).
//!
//! A [`Sheet`] keeps each cell as the text a person sees, and each row's
//! number as the spreadsheet shows it (the header is row 1), so a problem
//! can be reported at the row and column where the person will look for it.

use std::path::Path;

use anyhow::Context as _;
use calamine::Reader as _;

/// One table: its header cells and its data rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// The header cells, as written (trimmed).
    pub headers: Vec<String>,
    /// The row number the header is on (1 unless rows above it were empty).
    pub header_row: usize,
    /// The data rows that are not entirely empty, in order.
    pub rows: Vec<SheetRow>,
}

/// One data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRow {
    /// The row number as the spreadsheet shows it (1-based).
    pub number: usize,
    /// The cells, trimmed, as many as there are headers (missing ones empty).
    pub cells: Vec<String>,
}

/// The spreadsheet's column letter for a 0-based index: A, …, Z, AA, ….
pub fn column_letter(index: usize) -> String {
    let mut letters = Vec::new();
    let mut remaining = index + 1;
    while remaining > 0 {
        let digit = (remaining - 1) % 26;
        letters.push(char::from(b'A' + u8::try_from(digit).unwrap_or(0)));
        remaining = (remaining - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// Reads a `.csv` or `.xlsx` file (by extension).
pub fn read(file: &Path) -> anyhow::Result<Sheet> {
    let extension = file
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "csv" => {
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            from_csv(&bytes).with_context(|| format!("cannot read {} as CSV", file.display()))
        }
        "xlsx" | "xlsm" | "xls" | "ods" => from_workbook(file),
        _ => anyhow::bail!(
            "{}: name the file .csv or .xlsx so its format is known",
            file.display()
        ),
    }
}

/// Decodes CSV bytes: UTF-8 (a BOM is dropped), else GB18030.
pub fn from_csv(bytes: &[u8]) -> anyhow::Result<Sheet> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.strip_prefix('\u{feff}').unwrap_or(text).to_owned(),
        Err(_) => {
            let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
            anyhow::ensure!(
                !had_errors,
                "the file is neither UTF-8 nor GB18030 (GBK) text; save it as \"CSV UTF-8\""
            );
            text.into_owned()
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut lines = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("line {}", index + 1))?;
        // The reader skips blank lines and reports where the skipping began:
        // the record's own line is past them.
        let line = record.position().map_or(index + 1, |position| {
            let mut start = usize::try_from(position.byte()).unwrap_or(0);
            let bytes = text.as_bytes();
            while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
                start += 1;
            }
            1 + bytes[..start.min(bytes.len())]
                .iter()
                .filter(|byte| **byte == b'\n')
                .count()
        });
        lines.push((line, record.iter().map(str::to_owned).collect()));
    }
    Ok(assemble(lines))
}

fn from_workbook(file: &Path) -> anyhow::Result<Sheet> {
    let mut workbook = calamine::open_workbook_auto(file)
        .with_context(|| format!("cannot open {} as a workbook", file.display()))?;
    let range = workbook
        .worksheet_range_at(0)
        .with_context(|| format!("{} has no worksheet", file.display()))?
        .with_context(|| format!("cannot read the first worksheet of {}", file.display()))?;
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let first_row = usize::try_from(first_row).unwrap_or(0);
    let first_column = usize::try_from(first_column).unwrap_or(0);
    let lines = range
        .rows()
        .enumerate()
        .map(|(index, cells)| {
            let mut texts = vec![String::new(); first_column];
            texts.extend(cells.iter().map(cell_text));
            (first_row + index + 1, texts)
        })
        .collect();
    Ok(assemble(lines))
}

/// A cell as a person reads it: whole numbers without `.0` (codes and phone
/// numbers typed into number cells); no column of ours holds a date.
fn cell_text(cell: &calamine::Data) -> String {
    match cell {
        calamine::Data::Int(number) => number.to_string(),
        calamine::Data::Float(number) => {
            if number.fract() == 0.0 && number.abs() < 1e15 {
                format!("{number:.0}")
            } else {
                number.to_string()
            }
        }
        calamine::Data::String(text)
        | calamine::Data::DateTimeIso(text)
        | calamine::Data::DurationIso(text) => text.clone(),
        calamine::Data::Bool(value) => value.to_string(),
        calamine::Data::DateTime(value) => value.as_f64().to_string(),
        calamine::Data::Error(error) => format!("#{error:?}"),
        calamine::Data::Empty => String::new(),
    }
}

/// The first non-empty line is the header; empty lines after it are skipped.
fn assemble(lines: Vec<(usize, Vec<String>)>) -> Sheet {
    let mut lines = lines.into_iter().map(|(number, cells)| {
        (
            number,
            cells
                .into_iter()
                .map(|cell| cell.trim().to_owned())
                .collect::<Vec<_>>(),
        )
    });
    let empty = |cells: &Vec<String>| cells.iter().all(String::is_empty);
    let Some((header_row, mut headers)) = lines.by_ref().find(|(_, cells)| !empty(cells)) else {
        return Sheet {
            headers: Vec::new(),
            header_row: 1,
            rows: Vec::new(),
        };
    };
    while headers.last().is_some_and(String::is_empty) {
        headers.pop();
    }
    let rows = lines
        .filter(|(_, cells)| !empty(cells))
        .map(|(number, mut cells)| {
            cells.resize(headers.len().max(cells.len()), String::new());
            SheetRow { number, cells }
        })
        .collect();
    Sheet {
        headers,
        header_row,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_run_like_a_spreadsheet() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
    }

    #[test]
    fn a_utf8_csv_with_bom_keeps_row_numbers_as_a_spreadsheet_shows_them() {
        let sheet = from_csv("\u{feff}工号,姓名\n\n s1 ,张三\n".as_bytes()).expect("reads");
        assert_eq!(sheet.headers, vec!["工号", "姓名"]);
        assert_eq!(sheet.rows.len(), 1);
        assert_eq!(sheet.rows[0].number, 3);
        assert_eq!(sheet.rows[0].cells, vec!["s1", "张三"]);
    }

    #[test]
    fn a_gbk_csv_as_chinese_excel_saves_it_is_read() {
        let (bytes, _, _) = encoding_rs::GBK.encode("工号,姓名\ns1,张三\n");
        let sheet = from_csv(&bytes).expect("reads");
        assert_eq!(sheet.headers, vec!["工号", "姓名"]);
        assert_eq!(sheet.rows[0].cells, vec!["s1", "张三"]);
    }
}
