//! One year of the official holiday schedule, parsed from its CSV file.
//!
//! The file format is documented at the top of each bundled file
//! (`crates/calendar/data/<year>.csv`) and in [`YearCalendar::parse`].

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, NaiveDate, Weekday};

/// What the official schedule says about a day that departs from the ordinary week.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum DayKind {
    /// A day off, even if it falls Monday to Friday (放假).
    #[serde(rename = "holiday")]
    Holiday,
    /// A swapped working day (调休上班): a Saturday or Sunday on which offices work.
    #[serde(rename = "workday")]
    Workday,
}

impl DayKind {
    /// Every member, in declaration order.
    pub const ALL: &'static [DayKind] = &[DayKind::Holiday, DayKind::Workday];

    /// The code of this kind, as the calendar files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }
}

impl fmt::Display for DayKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl std::str::FromStr for DayKind {
    type Err = CalendarProblem;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DayKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| CalendarProblem::UnknownKind {
                value: text.to_owned(),
            })
    }
}

/// One row of a year's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEntry {
    /// The day the row is about.
    pub date: NaiveDate,
    /// Whether that day is off or worked.
    pub kind: DayKind,
    /// The festival it belongs to, as the notice names it (e.g. 春节), for people reading
    /// a deadline explanation.
    pub name: String,
}

/// What is wrong with a row of a calendar file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarProblem {
    /// The file has no header line (it is empty or only comments).
    #[error("the header `date,kind,name` is missing")]
    MissingHeader,
    /// The first non-comment line is not the expected header.
    #[error("expected the header `date,kind,name`, found `{found}`")]
    WrongHeader {
        /// The line found instead.
        found: String,
    },
    /// A row has fewer than three comma-separated fields.
    #[error("expected three fields `date,kind,name`, found {found}")]
    MissingField {
        /// How many fields the row has.
        found: usize,
    },
    /// The date field is not an ISO date.
    #[error("`{value}` is not a date: expected YYYY-MM-DD")]
    InvalidDate {
        /// The field's text.
        value: String,
    },
    /// The date belongs to another year than the file's.
    #[error("{date} is not in {year}, the year this calendar is for")]
    DateOutsideYear {
        /// The date found.
        date: NaiveDate,
        /// The file's year.
        year: i32,
    },
    /// The kind field is neither `holiday` nor `workday`.
    #[error("unknown day kind `{value}`: expected `holiday` or `workday`")]
    UnknownKind {
        /// The field's text.
        value: String,
    },
    /// The name field is empty.
    #[error("the name is empty: say which festival the day belongs to")]
    EmptyName,
    /// The same date appears twice.
    #[error("{date} is listed twice (first on line {first_line})")]
    DuplicateDate {
        /// The repeated date.
        date: NaiveDate,
        /// The line where it first appeared.
        first_line: usize,
    },
    /// A `workday` row names a Monday-to-Friday, which is a working day anyway: almost
    /// certainly a typo for another date.
    #[error("{date} is a {weekday}; a swapped working day must be a Saturday or Sunday")]
    WorkdayNotOnWeekend {
        /// The date found.
        date: NaiveDate,
        /// Its day of the week.
        weekday: Weekday,
    },
    /// The file has a header but no rows. An empty year would silently turn into "weekends
    /// only" for that year; a year with no data should simply not be loaded.
    #[error("the calendar lists no days")]
    NoEntries,
}

/// A calendar file could not be read. Names the year, the line and the column (both
/// 1-based; the column counts characters and points at the start of the offending field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("calendar {year}, line {line}, column {column}: {problem}")]
pub struct CalendarParseError {
    /// The year the file was read for.
    pub year: i32,
    /// The 1-based line number.
    pub line: usize,
    /// The 1-based character column of the offending field.
    pub column: usize,
    /// What is wrong.
    pub problem: CalendarProblem,
}

/// One year of the State Council's holiday schedule: holidays and swapped working days. A
/// day not listed follows the ordinary week (Monday–Friday work, Saturday–Sunday off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    /// The year every entry belongs to.
    year: i32,
    /// The listed days, by date.
    entries: BTreeMap<NaiveDate, CalendarEntry>,
}

/// A field of a CSV row with the 1-based character column it starts at.
struct Field<'line> {
    text: &'line str,
    column: usize,
}

/// Splits a row into at most three fields: the name is everything after the second comma,
/// so a festival name may contain commas without any quoting rules.
fn split_row(line: &str) -> Vec<Field<'_>> {
    let mut fields = Vec::with_capacity(3);
    let mut rest = line;
    let mut column = 1;
    while fields.len() < 2 {
        let Some(comma) = rest.find(',') else {
            break;
        };
        let (text, after) = rest.split_at(comma);
        fields.push(trimmed_field(text, column));
        column += text.chars().count() + 1;
        rest = &after[1..];
    }
    fields.push(trimmed_field(rest, column));
    fields
}

/// Trims a field and moves its column to the first non-space character.
fn trimmed_field(text: &str, column: usize) -> Field<'_> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Field {
            text: trimmed,
            column,
        };
    }
    let leading = text
        .chars()
        .take_while(|character| character.is_whitespace())
        .count();
    Field {
        text: trimmed,
        column: column + leading,
    }
}

impl YearCalendar {
    /// The header line every calendar file starts with.
    pub const HEADER: &'static str = "date,kind,name";

    /// Parses one year's schedule.
    ///
    /// Format: UTF-8 (a leading byte-order mark is ignored); lines starting with `#` and
    /// blank lines are ignored; the first other line is the header `date,kind,name`; each
    /// further line is `YYYY-MM-DD,holiday|workday,name`, the name being everything after
    /// the second comma. Fields are trimmed. Every date must be in `year` and appear once;
    /// a `workday` must be a Saturday or Sunday; the file must list at least one day.
    ///
    /// The first problem found is returned with its line and column; nothing is loaded.
    pub fn parse(year: i32, text: &str) -> Result<Self, CalendarParseError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let error_at = |line: usize, column: usize, problem: CalendarProblem| CalendarParseError {
            year,
            line,
            column,
            problem,
        };
        let mut meaningful_lines = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line))
            .filter(|(_, line)| {
                let trimmed = line.trim();
                !trimmed.is_empty() && !trimmed.starts_with('#')
            });

        let line_count = text.lines().count();
        let Some((header_line, header)) = meaningful_lines.next() else {
            return Err(error_at(
                line_count.max(1),
                1,
                CalendarProblem::MissingHeader,
            ));
        };
        let header_fields: Vec<&str> = header.split(',').map(str::trim).collect();
        if header_fields != ["date", "kind", "name"] {
            return Err(error_at(
                header_line,
                1,
                CalendarProblem::WrongHeader {
                    found: header.trim().to_owned(),
                },
            ));
        }

        let mut entries = BTreeMap::new();
        let mut first_line_of_date: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        for (line_number, line) in meaningful_lines {
            let fields = split_row(line);
            let [date_field, kind_field, name_field] = fields.as_slice() else {
                let last_column = line.chars().count() + 1;
                return Err(error_at(
                    line_number,
                    last_column,
                    CalendarProblem::MissingField {
                        found: fields.len(),
                    },
                ));
            };

            let date = NaiveDate::parse_from_str(date_field.text, "%Y-%m-%d")
                .ok()
                .filter(|_| date_field.text.len() == 10)
                .ok_or_else(|| {
                    error_at(
                        line_number,
                        date_field.column,
                        CalendarProblem::InvalidDate {
                            value: date_field.text.to_owned(),
                        },
                    )
                })?;
            if date.year() != year {
                return Err(error_at(
                    line_number,
                    date_field.column,
                    CalendarProblem::DateOutsideYear { date, year },
                ));
            }
            if let Some(first_line) = first_line_of_date.get(&date) {
                return Err(error_at(
                    line_number,
                    date_field.column,
                    CalendarProblem::DuplicateDate {
                        date,
                        first_line: *first_line,
                    },
                ));
            }

            let kind: DayKind = kind_field.text.parse().map_err(|_| {
                error_at(
                    line_number,
                    kind_field.column,
                    CalendarProblem::UnknownKind {
                        value: kind_field.text.to_owned(),
                    },
                )
            })?;
            let weekday = date.weekday();
            if kind == DayKind::Workday && !is_weekend(weekday) {
                return Err(error_at(
                    line_number,
                    kind_field.column,
                    CalendarProblem::WorkdayNotOnWeekend { date, weekday },
                ));
            }

            if name_field.text.is_empty() {
                return Err(error_at(
                    line_number,
                    name_field.column,
                    CalendarProblem::EmptyName,
                ));
            }

            first_line_of_date.insert(date, line_number);
            entries.insert(
                date,
                CalendarEntry {
                    date,
                    kind,
                    name: name_field.text.to_owned(),
                },
            );
        }

        if entries.is_empty() {
            return Err(error_at(header_line, 1, CalendarProblem::NoEntries));
        }
        Ok(Self { year, entries })
    }

    /// The year this schedule is for.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The row for `date`, if the schedule lists it.
    pub fn entry(&self, date: NaiveDate) -> Option<&CalendarEntry> {
        self.entries.get(&date)
    }

    /// Every listed day, in date order.
    pub fn entries(&self) -> impl Iterator<Item = &CalendarEntry> {
        self.entries.values()
    }

    /// Whether offices work on `date` by this schedule: a listed day is what its kind says,
    /// any other day follows the ordinary week. Callers ask only about dates in
    /// [`Self::year`]; for other dates the answer is the ordinary week's.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.entries.get(&date).map(|entry| entry.kind) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !is_weekend(date.weekday()),
        }
    }
}

/// Whether `weekday` is a Saturday or a Sunday.
pub(crate) fn is_weekend(weekday: Weekday) -> bool {
    matches!(weekday, Weekday::Sat | Weekday::Sun)
}

impl fmt::Display for YearCalendar {
    /// Writes the schedule back in the file format (without comments).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(formatter, "{}", Self::HEADER)?;
        for entry in self.entries.values() {
            writeln!(formatter, "{},{},{}", entry.date, entry.kind, entry.name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn problem_at(year: i32, text: &str) -> (usize, usize, CalendarProblem) {
        let error = YearCalendar::parse(year, text).unwrap_err();
        assert_eq!(error.year, year);
        (error.line, error.column, error.problem)
    }

    #[test]
    fn comments_blank_lines_a_byte_order_mark_and_crlf_are_ignored() {
        let text =
            "\u{feff}# 2025\r\n\r\ndate,kind,name\r\n# the first\r\n2025-01-01,holiday,元旦\r\n";
        let calendar = YearCalendar::parse(2025, text).unwrap();
        assert_eq!(calendar.year(), 2025);
        let entry = calendar.entry(date("2025-01-01")).unwrap();
        assert_eq!(entry.kind, DayKind::Holiday);
        assert_eq!(entry.name, "元旦");
    }

    #[test]
    fn a_listed_holiday_is_off_a_listed_workday_is_worked_and_other_days_follow_the_week() {
        let text = "date,kind,name\n2025-01-01,holiday,元旦\n2025-01-26,workday,春节调休上班\n";
        let calendar = YearCalendar::parse(2025, text).unwrap();
        assert!(
            !calendar.is_working_day(date("2025-01-01")),
            "a wednesday holiday"
        );
        assert!(
            calendar.is_working_day(date("2025-01-26")),
            "a swapped sunday"
        );
        assert!(
            calendar.is_working_day(date("2025-01-02")),
            "an ordinary thursday"
        );
        assert!(
            !calendar.is_working_day(date("2025-01-04")),
            "an ordinary saturday"
        );
    }

    #[test]
    fn a_festival_name_may_contain_commas() {
        let text = "date,kind,name\n2025-10-01,holiday,国庆节, 中秋节\n";
        let calendar = YearCalendar::parse(2025, text).unwrap();
        assert_eq!(
            calendar.entry(date("2025-10-01")).unwrap().name,
            "国庆节, 中秋节"
        );
    }

    #[test]
    fn an_empty_file_or_one_with_only_comments_lacks_its_header() {
        assert_eq!(problem_at(2025, ""), (1, 1, CalendarProblem::MissingHeader));
        assert_eq!(
            problem_at(2025, "# only\n# comments\n"),
            (2, 1, CalendarProblem::MissingHeader)
        );
    }

    #[test]
    fn a_wrong_header_is_named_on_its_line() {
        let (line, column, problem) = problem_at(2025, "# c\nday,type,label\n");
        assert_eq!((line, column), (2, 1));
        assert_eq!(
            problem,
            CalendarProblem::WrongHeader {
                found: "day,type,label".to_owned()
            }
        );
    }

    #[test]
    fn a_row_with_too_few_fields_points_past_its_end() {
        let (line, column, problem) = problem_at(2025, "date,kind,name\n2025-01-01,holiday\n");
        assert_eq!((line, column), (2, 19));
        assert_eq!(problem, CalendarProblem::MissingField { found: 2 });
    }

    #[test]
    fn an_impossible_date_names_line_and_column() {
        let (line, column, problem) = problem_at(
            2025,
            "date,kind,name\n2025-01-01,holiday,元旦\n  2025-02-30,holiday,x\n",
        );
        assert_eq!((line, column), (3, 3));
        assert_eq!(
            problem,
            CalendarProblem::InvalidDate {
                value: "2025-02-30".to_owned()
            }
        );
    }

    #[test]
    fn a_date_without_leading_zeros_is_not_accepted() {
        let (_, _, problem) = problem_at(2025, "date,kind,name\n2025-1-1,holiday,元旦\n");
        assert!(matches!(problem, CalendarProblem::InvalidDate { .. }));
    }

    #[test]
    fn a_date_of_another_year_is_refused() {
        let (line, column, problem) =
            problem_at(2026, "date,kind,name\n2025-10-01,holiday,国庆节\n");
        assert_eq!((line, column), (2, 1));
        assert_eq!(
            problem,
            CalendarProblem::DateOutsideYear {
                date: date("2025-10-01"),
                year: 2026
            }
        );
    }

    #[test]
    fn an_unknown_kind_names_the_kind_column() {
        let (line, column, problem) =
            problem_at(2025, "date,kind,name\n2025-10-01, vacation,国庆节\n");
        assert_eq!((line, column), (2, 13));
        assert_eq!(
            problem,
            CalendarProblem::UnknownKind {
                value: "vacation".to_owned()
            }
        );
    }

    #[test]
    fn a_swapped_working_day_on_a_weekday_is_a_typo() {
        let (line, column, problem) =
            problem_at(2025, "date,kind,name\n2025-09-29,workday,国庆节调休上班\n");
        assert_eq!((line, column), (2, 12));
        assert_eq!(
            problem,
            CalendarProblem::WorkdayNotOnWeekend {
                date: date("2025-09-29"),
                weekday: Weekday::Mon
            }
        );
    }

    #[test]
    fn an_empty_name_names_the_name_column() {
        let (line, column, problem) = problem_at(2025, "date,kind,name\n2025-10-01,holiday,  \n");
        assert_eq!((line, column), (2, 20));
        assert_eq!(problem, CalendarProblem::EmptyName);
    }

    #[test]
    fn a_date_listed_twice_names_both_lines() {
        let text =
            "date,kind,name\n2025-10-01,holiday,国庆节\n# again\n2025-10-01,holiday,国庆节\n";
        let (line, column, problem) = problem_at(2025, text);
        assert_eq!((line, column), (4, 1));
        assert_eq!(
            problem,
            CalendarProblem::DuplicateDate {
                date: date("2025-10-01"),
                first_line: 2
            }
        );
    }

    #[test]
    fn a_header_without_rows_is_refused_rather_than_read_as_weekends_only() {
        assert_eq!(
            problem_at(2025, "# nothing yet\ndate,kind,name\n"),
            (2, 1, CalendarProblem::NoEntries)
        );
    }

    #[test]
    fn the_error_message_reads_with_year_line_and_column() {
        let error = YearCalendar::parse(2025, "date,kind,name\n2025-10-01,off,x\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "calendar 2025, line 2, column 12: unknown day kind `off`: expected `holiday` or `workday`"
        );
    }

    #[test]
    fn a_parsed_calendar_writes_back_to_the_same_rows() {
        let text = "date,kind,name\n2025-01-01,holiday,元旦\n2025-01-26,workday,春节调休上班\n";
        let calendar = YearCalendar::parse(2025, text).unwrap();
        assert_eq!(calendar.to_string(), text);
        assert_eq!(
            YearCalendar::parse(2025, &calendar.to_string()).unwrap(),
            calendar
        );
    }
}
