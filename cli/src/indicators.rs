//! `flatgov indicators`: the evaluation half of the loop, as tables.

use chrono::{Datelike as _, FixedOffset, NaiveDate, TimeZone as _};
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::enforcement::v1 as enforcement;

use crate::Output;
use crate::connect::{CallContext as _, Session};
use crate::render::{parse_enum, print_rows, to_json};

#[derive(Debug, clap::Args)]
pub struct IndicatorsArgs {
    /// 9-digit subdistrict code; the whole district when omitted.
    #[arg(long, default_value = "")]
    subdistrict: String,
    /// A month (2026-11), a year (2026) or a range of days (2026-11-01..2026-11-28), China Standard Time.
    #[arg(long)]
    period: String,
    /// Case indicators per total, block, community, subdistrict, department or staff.
    #[arg(long, default_value = "subdistrict")]
    group_by: String,
    /// Also (or only) the joint enforcement indicators per agency.
    #[arg(long, value_enum, default_value_t = Source::Cases)]
    source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Source {
    Cases,
    Enforcement,
    All,
}

/// `[start, end)` of a period in China Standard Time.
pub fn parse_period(text: &str) -> Result<(i64, i64), String> {
    let china = FixedOffset::east_opt(8 * 3600).ok_or("offset")?;
    let midnight = |date: NaiveDate| -> Result<i64, String> {
        china
            .from_local_datetime(&date.and_hms_opt(0, 0, 0).ok_or("time")?)
            .single()
            .map(|instant| instant.timestamp())
            .ok_or_else(|| format!("{date} has no unique midnight"))
    };
    let bad = || format!("period {text:?}: use 2026-11, 2026 or 2026-11-01..2026-11-28");
    if let Some((from, to)) = text.split_once("..") {
        let from = NaiveDate::parse_from_str(from.trim(), "%Y-%m-%d").map_err(|_| bad())?;
        let to = NaiveDate::parse_from_str(to.trim(), "%Y-%m-%d").map_err(|_| bad())?;
        if to < from {
            return Err(format!("period {text:?} ends before it starts"));
        }
        return Ok((midnight(from)?, midnight(to.succ_opt().ok_or_else(bad)?)?));
    }
    if let Ok(year) = text.trim().parse::<i32>() {
        let from = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(bad)?;
        let to = NaiveDate::from_ymd_opt(year + 1, 1, 1).ok_or_else(bad)?;
        return Ok((midnight(from)?, midnight(to)?));
    }
    let from =
        NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d").map_err(|_| bad())?;
    let next = if from.month() == 12 {
        NaiveDate::from_ymd_opt(from.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(from.year(), from.month() + 1, 1)
    }
    .ok_or_else(bad)?;
    Ok((midnight(from)?, midnight(next)?))
}

fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

pub async fn run(
    arguments: &IndicatorsArgs,
    session: &Session,
    output: Output,
) -> anyhow::Result<()> {
    let (start, end) = parse_period(&arguments.period).map_err(anyhow::Error::msg)?;
    if arguments.source != Source::Enforcement {
        let group_by = parse_enum(
            "INDICATOR_GROUPING",
            &arguments.group_by,
            cases::IndicatorGrouping::from_str_name,
            &[
                "total",
                "block",
                "community",
                "subdistrict",
                "department",
                "staff",
            ],
        )
        .map_err(anyhow::Error::msg)?;
        let response = session
            .cases()?
            .get_indicators(cases::GetIndicatorsRequest {
                period_start: timestamp(start),
                period_end: timestamp(end),
                as_of: None,
                group_by: group_by as i32,
                subdistrict_code: arguments.subdistrict.clone(),
            })
            .await
            .doing("reading case indicators")?;
        let rows: Vec<serde_json::Value> = response
            .groups
            .iter()
            .map(|group| {
                let mut row = to_json(group, "flatgov.cases.v1.IndicatorGroup");
                for rate in [
                    "responseRate",
                    "resolutionRate",
                    "satisfactionRate",
                    "closedOnTimeRate",
                    "reworkRate",
                    "whistleRate",
                ] {
                    let percent = row[rate]["percent"]
                        .as_f64()
                        .map(|percent| format!("{percent:.1}%"))
                        .unwrap_or_else(|| "–".into());
                    row[rate] = serde_json::Value::String(percent);
                }
                row
            })
            .collect();
        if output == Output::Table {
            println!("cases, {}:", arguments.period);
        }
        print_rows(
            &rows,
            &[
                "key",
                "received",
                "responseRate",
                "resolutionRate",
                "satisfactionRate",
                "closedOnTimeRate",
                "reworkRate",
                "whistleRate",
                "overdue",
            ],
            output,
        );
    }
    if arguments.source != Source::Cases {
        let response = session
            .enforcement()?
            .get_indicators(enforcement::GetIndicatorsRequest {
                period_start: timestamp(start),
                period_end: timestamp(end),
                subdistrict_code: arguments.subdistrict.clone(),
                agency: String::new(),
            })
            .await
            .doing("reading enforcement indicators")?;
        let rows: Vec<serde_json::Value> = response
            .agencies
            .iter()
            .map(|agency| to_json(agency, "flatgov.enforcement.v1.AgencyIndicators"))
            .collect();
        if output == Output::Table {
            println!("joint enforcement, {}:", arguments.period);
        }
        print_rows(
            &rows,
            &[
                "agency",
                "whistlesReceived",
                "reportInRate",
                "onTimeReportInRate",
                "late",
                "noShows",
                "operationsConcluded",
                "meanRating",
            ],
            output,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_china_standard_time_months_years_and_day_ranges() {
        // 2026-11-01T00:00+08:00 = 2026-10-31T16:00Z
        assert_eq!(
            parse_period("2026-11").unwrap(),
            (1_793_462_400, 1_796_054_400)
        );
        assert_eq!(parse_period("2026-12").unwrap().1, 1_798_732_800);
        let (start, end) = parse_period("2026-11-01..2026-11-01").unwrap();
        assert_eq!(end - start, 86_400);
        assert!(
            parse_period("2026-11-05..2026-11-01")
                .unwrap_err()
                .contains("ends before")
        );
        assert!(
            parse_period("November")
                .unwrap_err()
                .contains("use 2026-11")
        );
        let (start, end) = parse_period("2026").unwrap();
        assert_eq!(end - start, 365 * 86_400);
    }
}
