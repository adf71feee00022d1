//! Cases as public Open311 service requests.
//!
//! A public 311 feed is read by anyone, so it shows what is being done about a
//! place, never who asked or what they wrote:
//!
//! - only problems and safety hazards are listed; disputes, errands and support
//!   for people in difficulty concern persons and are never shown (they answer 404
//!   like a request that does not exist);
//! - no description (residents' words may name people), no media (photos may show
//!   faces and plates), no contact, no address: the matter, the block, the point
//!   and the times;
//! - `status_notes` is the state in words and the reason staff recorded last
//!   (a close, a dismissal, a parking); digit runs that could be a phone or an ID
//!   number are masked even there;
//! - `agency_responsible` is the handling unit — a department, the block's team,
//!   the subdistrict platform — never a staff member.

use chrono::{DateTime, FixedOffset, TimeZone as _, Utc};
use flatgov_proto::cases::v1 as cases;

use super::catalogue::Catalogue;
use super::document::Value;

/// The case kinds a public feed shows.
pub fn is_public(case: &cases::Case) -> bool {
    matches!(
        cases::CaseKind::try_from(case.kind),
        Ok(cases::CaseKind::Problem | cases::CaseKind::Hazard)
    )
}

/// `cases/0193…` → `0193…`.
pub fn request_id(case_name: &str) -> &str {
    case_name.strip_prefix("cases/").unwrap_or(case_name)
}

/// `open` or `closed`.
pub fn status(case: &cases::Case) -> &'static str {
    if case.state == cases::CaseState::Closed as i32 {
        "closed"
    } else {
        "open"
    }
}

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("utc"))
}

/// ISO 8601 with an offset (China time), as the spec's examples write times.
pub fn datetime(timestamp: Option<&prost_types::Timestamp>) -> Value {
    let Some(timestamp) = timestamp else {
        return Value::null();
    };
    let nanos = u32::try_from(timestamp.nanos).unwrap_or(0);
    match Utc.timestamp_opt(timestamp.seconds, nanos).single() {
        Some(time) => Value::text(format_time(time)),
        None => Value::null(),
    }
}

/// `2026-03-04T09:15:00+08:00`.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.with_timezone(&china())
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The state in words, Chinese first.
fn state_words(case: &cases::Case) -> &'static str {
    use cases::CaseState as S;
    match cases::CaseState::try_from(case.state).unwrap_or(S::Unspecified) {
        S::Unspecified | S::Reported => "已受理，正在分派 / Received, being routed",
        S::AwaitingManualLocation => "已受理，待确定位置 / Received, being placed on the map",
        S::Triaged => "已分类，待派单 / Classified, awaiting dispatch",
        S::Dispatched => "已派单，待签收 / Dispatched, awaiting acceptance",
        S::Accepted => "已签收 / Accepted",
        S::InProgress => "处理中 / In progress",
        S::Resolved => "已处置，待核查 / Resolved, being verified",
        S::Verified => "已核查，待评价 / Verified, awaiting the reporter's rating",
        S::Rated => "已评价 / Rated",
        S::Parked => "挂账，定期复核 / Parked for periodic review",
        S::Closed => match cases::Closure::try_from(case.closure).unwrap_or_default() {
            cases::Closure::Dismissed => "不予受理 / Dismissed",
            cases::Closure::Unsatisfied => "已办结（报告人不满意）/ Closed (reporter unsatisfied)",
            _ => "已办结 / Closed",
        },
    }
}

/// Masks runs of seven or more digits (spaces and hyphens between them included):
/// a phone or ID number written into a reason never leaves.
pub fn mask_numbers(text: &str) -> String {
    let characters: Vec<char> = text.chars().collect();
    let mut masked = String::with_capacity(text.len());
    let mut index = 0;
    while index < characters.len() {
        if characters[index].is_ascii_digit() {
            let mut end = index;
            let mut digits = 0;
            while end < characters.len()
                && (characters[end].is_ascii_digit()
                    || (matches!(characters[end], ' ' | '-')
                        && characters.get(end + 1).is_some_and(char::is_ascii_digit))
                    || (matches!(characters[end], 'X' | 'x') && digits == 17))
            {
                if characters[end].is_ascii_digit() {
                    digits += 1;
                }
                end += 1;
            }
            if digits >= 7 {
                masked.push_str("＊＊＊");
            } else {
                masked.extend(&characters[index..end]);
            }
            index = end;
        } else {
            masked.push(characters[index]);
            index += 1;
        }
    }
    masked
}

/// The state in words, then the last recorded reason (masked).
pub fn status_notes(case: &cases::Case, history: Option<&cases::GetCaseHistoryResponse>) -> String {
    let mut notes = state_words(case).to_owned();
    let reason = history
        .and_then(|history| {
            history
                .records
                .iter()
                .rev()
                .find(|record| !record.reason.trim().is_empty())
        })
        .map(|record| record.reason.trim().to_owned())
        .or_else(|| case.parking.as_ref().map(|parking| parking.reason.clone()))
        .filter(|reason| !reason.is_empty());
    if let Some(reason) = reason {
        notes.push('；');
        notes.push_str(&mask_numbers(&reason));
    }
    notes
}

/// Whether the notes need the history (a reason recorded on the way to this state).
pub fn needs_history(case: &cases::Case) -> bool {
    case.state == cases::CaseState::Closed as i32 || case.state == cases::CaseState::Parked as i32
}

/// The unit handling the case, in words; never a person.
pub fn agency(case: &cases::Case, catalogue: &Catalogue) -> Value {
    let holder = if case.assignee.is_empty() {
        case.lead.as_ref().and_then(|unit| {
            let collection =
                match flatgov_proto::flatgov::r#type::v1::UnitKind::try_from(unit.kind).ok()? {
                    flatgov_proto::flatgov::r#type::v1::UnitKind::Department => "departments",
                    flatgov_proto::flatgov::r#type::v1::UnitKind::Subdistrict => "subdistricts",
                    flatgov_proto::flatgov::r#type::v1::UnitKind::Community => "communities",
                    flatgov_proto::flatgov::r#type::v1::UnitKind::BlockTeam => "blocks",
                    flatgov_proto::flatgov::r#type::v1::UnitKind::Unspecified => return None,
                };
            (!unit.code.is_empty()).then(|| format!("{collection}/{}", unit.code))
        })
    } else {
        Some(case.assignee.clone())
    };
    let Some(holder) = holder else {
        return Value::null();
    };
    let (collection, code) = holder.split_once('/').unwrap_or((holder.as_str(), ""));
    let words = match collection {
        "departments" => catalogue
            .departments
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_owned()),
        "blocks" => format!("区块 {code} 治理团队 / Block {code} team"),
        "subdistricts" => format!("街道 {code} 综合协调平台 / Subdistrict {code} platform"),
        "communities" => format!("社区 {code} 居民委员会 / Community {code} committee"),
        "organisations" => format!("群团组织 {code} / Federation member {code}"),
        // A governor holds it personally: the public sees their block's team.
        "staff" => match case.block.strip_prefix("blocks/") {
            Some(block) => format!("区块 {block} 治理团队 / Block {block} team"),
            None => return Value::null(),
        },
        _ => return Value::null(),
    };
    Value::text(words)
}

/// One `request` of `requests.json`, in the order of the spec's example.
pub fn request(
    case: &cases::Case,
    history: Option<&cases::GetCaseHistoryResponse>,
    catalogue: &Catalogue,
) -> Value {
    let matter = catalogue.matter(&case.matter_code);
    let point = case.location.as_ref();
    let block = case.block.strip_prefix("blocks/").unwrap_or_default();
    Value::Object(vec![
        (
            "service_request_id",
            Value::text(request_id(&case.name).to_owned()),
        ),
        ("status", Value::text(status(case))),
        ("status_notes", Value::text(status_notes(case, history))),
        (
            "service_name",
            matter
                .map(|matter| Value::text(matter.service_name()))
                .unwrap_or_else(Value::null),
        ),
        ("service_code", Value::optional(case.matter_code.clone())),
        // Residents' words may name people: never published.
        ("description", Value::null()),
        ("agency_responsible", agency(case, catalogue)),
        (
            "service_notice",
            if case.urgent {
                Value::text("已按紧急情况处理 / Handled as urgent")
            } else {
                Value::null()
            },
        ),
        ("requested_datetime", datetime(case.report_time.as_ref())),
        ("updated_datetime", datetime(case.update_time.as_ref())),
        ("expected_datetime", datetime(case.resolution_due.as_ref())),
        ("address", Value::null()),
        ("address_id", Value::optional(block.to_owned())),
        ("zipcode", Value::null()),
        (
            "lat",
            point
                .map(|point| Value::Number(point.latitude))
                .unwrap_or_else(Value::null),
        ),
        (
            "long",
            point
                .map(|point| Value::Number(point.longitude))
                .unwrap_or_else(Value::null),
        ),
        // Photos may show faces and number plates: never published.
        ("media_url", Value::null()),
    ])
}

/// The filters of GET requests, read from the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub ids: Vec<String>,
    pub service_codes: Vec<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `open`, `closed`, or both (empty).
    pub statuses: Vec<String>,
}

/// The spec's defaults: the last 90 days, at most 1,000 requests.
pub const DEFAULT_DAYS: i64 = 90;
pub const MAX_RESULTS: usize = 1000;
/// At most this many ids in one `service_request_id`.
pub const MAX_IDS: usize = 100;

fn parse_time(name: &str, text: &str, problems: &mut Vec<String>) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    // A date alone is midnight China time.
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(time) = date
            .and_hms_opt(0, 0, 0)
            .and_then(|naive| china().from_local_datetime(&naive).single())
    {
        return Some(time.with_timezone(&Utc));
    }
    problems.push(format!(
        "{name}: {text:?} is not an ISO 8601 time with an offset (e.g. 2026-03-04T09:00:00+08:00) or a date"
    ));
    None
}

fn list(text: Option<&str>) -> Vec<String> {
    text.map(|text| {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

impl Query {
    pub fn read(
        get: impl Fn(&str) -> Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let ids = list(get("service_request_id").as_deref());
        if ids.len() > MAX_IDS {
            problems.push(format!("service_request_id: at most {MAX_IDS} ids"));
        }
        if let Some(bad) = ids.iter().find(|id| uuid::Uuid::try_parse(id).is_err()) {
            problems.push(format!("service_request_id: {bad:?} is not a request id"));
        }
        let statuses = list(get("status").as_deref());
        if let Some(bad) = statuses
            .iter()
            .find(|status| !matches!(status.as_str(), "open" | "closed"))
        {
            problems.push(format!("status: {bad:?} is not one of open, closed"));
        }
        let start =
            get("start_date").and_then(|text| parse_time("start_date", &text, &mut problems));
        let end = get("end_date").and_then(|text| parse_time("end_date", &text, &mut problems));
        let period = chrono::TimeDelta::days(DEFAULT_DAYS);
        let (start, end) = match (start, end) {
            (Some(start), Some(end)) => (start, end),
            // The spec's period is at most 90 days: from the start, up to now.
            (Some(start), None) => (start, (start + period).min(now)),
            (None, Some(end)) => (end - period, end),
            (None, None) => (now - period, now),
        };
        if start > end {
            problems.push("start_date: after end_date".to_owned());
        } else if end - start > period {
            problems.push(format!(
                "start_date and end_date: may not span more than {DEFAULT_DAYS} days"
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            ids,
            service_codes: list(get("service_code").as_deref()),
            start,
            end,
            statuses,
        })
    }

    /// Whether a case passes the filters the case service cannot apply. Ids
    /// override every other filter, as the specification says.
    pub fn admits(&self, case: &cases::Case) -> bool {
        if !self.ids.is_empty() {
            return is_public(case);
        }
        let reported = case
            .report_time
            .as_ref()
            .and_then(|time| Utc.timestamp_opt(time.seconds, 0).single());
        reported.is_some_and(|time| time >= self.start && time <= self.end)
            && is_public(case)
            && (self.service_codes.is_empty() || self.service_codes.contains(&case.matter_code))
            && (self.statuses.is_empty()
                || self.statuses.iter().any(|wanted| wanted == status(case)))
    }

    /// Only closed cases: the case service can filter them itself.
    pub fn only_closed(&self) -> bool {
        !self.statuses.is_empty() && self.statuses.iter().all(|status| status == "closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(state: cases::CaseState, kind: cases::CaseKind) -> cases::Case {
        cases::Case {
            name: "cases/0193a3b0-0000-7000-8000-000000000001".into(),
            kind: kind as i32,
            state: state as i32,
            matter_code: "broken_street_light".into(),
            block: "blocks/430302001004017".into(),
            assignee: "staff/g-0017".into(),
            description: "张三家门口的路灯坏了，电话 13800138000".into(),
            reporter: Some(cases::Contact {
                name: "张三".into(),
                phone: "13800138000".into(),
            }),
            attachments: vec!["https://photos.example/face.jpg".into()],
            report_time: Some(prost_types::Timestamp {
                seconds: 1_767_225_600,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_public_request_shows_no_words_contact_photo_or_person() {
        let shown = super::super::document::to_json(&request(
            &case(cases::CaseState::InProgress, cases::CaseKind::Problem),
            None,
            &Catalogue::default(),
        ))
        .to_string();
        for secret in ["张三", "13800138000", "face.jpg", "g-0017", "路灯坏了"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains("区块 430302001004017 治理团队"), "{shown}");
        assert!(shown.contains("2026-01-01T08:00:00+08:00"), "{shown}");
    }

    #[test]
    fn closed_means_closed_and_everything_else_is_open() {
        assert_eq!(
            status(&case(cases::CaseState::Closed, cases::CaseKind::Problem)),
            "closed"
        );
        assert_eq!(
            status(&case(cases::CaseState::Verified, cases::CaseKind::Problem)),
            "open"
        );
    }

    #[test]
    fn cases_about_persons_are_never_public() {
        assert!(!is_public(&case(
            cases::CaseState::Reported,
            cases::CaseKind::NeedySupport
        )));
        assert!(!is_public(&case(
            cases::CaseState::Reported,
            cases::CaseKind::Dispute
        )));
        assert!(is_public(&case(
            cases::CaseState::Reported,
            cases::CaseKind::Hazard
        )));
    }

    #[test]
    fn numbers_that_could_identify_someone_are_masked_in_reasons() {
        assert_eq!(
            mask_numbers("已修复，回访 138-0013-8000 满意"),
            "已修复，回访 ＊＊＊ 满意"
        );
        assert_eq!(mask_numbers("身份证 43030219900101123X"), "身份证 ＊＊＊");
        assert_eq!(mask_numbers("2 盏灯，3 天内"), "2 盏灯，3 天内");
    }

    #[test]
    fn status_notes_carry_the_last_recorded_reason() {
        let history = cases::GetCaseHistoryResponse {
            records: vec![
                cases::CaseRecord {
                    reason: "first".into(),
                    ..Default::default()
                },
                cases::CaseRecord {
                    reason: "灯已更换".into(),
                    ..Default::default()
                },
                cases::CaseRecord::default(),
            ],
        };
        let mut closed = case(cases::CaseState::Closed, cases::CaseKind::Problem);
        closed.closure = cases::Closure::Unrated as i32;
        assert_eq!(
            status_notes(&closed, Some(&history)),
            "已办结 / Closed；灯已更换"
        );
    }

    #[test]
    fn the_default_period_is_the_last_ninety_days() {
        let now = Utc::now();
        let query = Query::read(|_| None, now).expect("no filters");
        assert_eq!(query.end, now);
        assert_eq!((query.end - query.start).num_days(), 90);
    }

    #[test]
    fn ids_override_the_other_filters() {
        let query = Query::read(
            |name| match name {
                "service_request_id" => Some("0193a3b0-0000-7000-8000-000000000001".to_owned()),
                "status" => Some("closed".to_owned()),
                "service_code" => Some("pothole".to_owned()),
                _ => None,
            },
            Utc::now(),
        )
        .expect("good filters");
        assert!(query.admits(&case(
            cases::CaseState::InProgress,
            cases::CaseKind::Problem
        )));
        assert!(!query.admits(&case(
            cases::CaseState::InProgress,
            cases::CaseKind::Dispute
        )));
    }

    #[test]
    fn a_period_longer_than_ninety_days_is_refused() {
        let problems = Query::read(
            |name| match name {
                "start_date" => Some("2026-01-01".to_owned()),
                "end_date" => Some("2026-06-01".to_owned()),
                _ => None,
            },
            Utc::now(),
        )
        .expect_err("too long");
        assert!(problems[0].contains("90 days"), "{problems:?}");
    }

    #[test]
    fn bad_filters_are_named() {
        let problems = Query::read(
            |name| match name {
                "status" => Some("pending".to_owned()),
                "start_date" => Some("yesterday".to_owned()),
                "service_request_id" => Some("42".to_owned()),
                _ => None,
            },
            Utc::now(),
        )
        .expect_err("bad");
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
