//! Human labels for tables: zh-CN by default, English on request.
//!
//! Tables are for people at a district office, so they show 已派单 rather than
//! `CASE_STATE_DISPATCHED`, 事项编码 rather than `matterCode`, and times in China
//! Standard Time rather than UTC. `--output json` is for scripts and never
//! passes through here: it stays the canonical protobuf JSON mapping.
//!
//! The language is, in order: `--lang` (or `FLATGOV_LANG`), then the locale
//! (`LC_ALL`, `LC_MESSAGES`, `LANG`: one starting with `en` means English), and
//! otherwise zh-CN — the platform's users are Chinese offices, so a server
//! with no locale set (`C`, `POSIX`) still prints Chinese.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};

/// The language tables are printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// 简体中文.
    #[value(name = "zh-CN", alias = "zh")]
    ZhCn,
    /// English.
    #[value(name = "en")]
    En,
}

static LANGUAGE: OnceLock<Language> = OnceLock::new();

/// Fixes the language for this run: the flag when given, else the locale.
pub fn choose(flag: Option<Language>) -> Language {
    let language = flag.unwrap_or_else(|| {
        from_locale(
            ["LC_ALL", "LC_MESSAGES", "LANG"]
                .iter()
                .map(|variable| std::env::var(variable).ok()),
        )
    });
    LANGUAGE.get_or_init(|| language);
    current()
}

/// The language chosen for this run (zh-CN until [`choose`] is called).
pub fn current() -> Language {
    LANGUAGE.get().copied().unwrap_or(Language::ZhCn)
}

/// The first locale variable that is set and not empty decides, as POSIX has it.
pub fn from_locale(values: impl IntoIterator<Item = Option<String>>) -> Language {
    let locale = values
        .into_iter()
        .flatten()
        .find(|value| !value.trim().is_empty())
        .unwrap_or_default();
    if locale.to_ascii_lowercase().starts_with("en") {
        Language::En
    } else {
        Language::ZhCn
    }
}

/// China Standard Time: UTC+8 all year (no daylight saving since 1991).
fn china_standard_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero"))
}

/// A column or field label for a protobuf JSON key (`matterCode`).
pub fn key(name: &str, language: Language) -> String {
    if let Some((zh, en)) = KEYS
        .iter()
        .find(|(key, _, _)| *key == name)
        .map(|(_, zh, en)| (zh, en))
    {
        return match language {
            Language::ZhCn => (*zh).to_owned(),
            Language::En => (*en).to_owned(),
        };
    }
    words(name)
}

/// `matterCode` → `matter code`: the fallback for a key without a label.
fn words(camel: &str) -> String {
    let mut text = String::with_capacity(camel.len() + 4);
    for character in camel.chars() {
        if character.is_ascii_uppercase() {
            text.push(' ');
            text.push(character.to_ascii_lowercase());
        } else {
            text.push(character);
        }
    }
    text
}

/// A cell's text for a JSON value: enum names and times made readable, the
/// rest as [`crate::render::short`] writes it.
pub fn value(value: &serde_json::Value, language: Language) -> String {
    match value {
        serde_json::Value::String(text) => text_value(text, language),
        serde_json::Value::Array(items) if items.iter().all(serde_json::Value::is_string) => items
            .iter()
            .map(|item| value_of_string(item, language))
            .collect::<Vec<_>>()
            .join(", "),
        other => crate::render::short(other),
    }
}

fn value_of_string(item: &serde_json::Value, language: Language) -> String {
    item.as_str()
        .map(|text| text_value(text, language))
        .unwrap_or_default()
}

fn text_value(text: &str, language: Language) -> String {
    if let Some(label) = enum_label(text, language) {
        return label;
    }
    if let Some(time) = time_label(text) {
        return time;
    }
    text.to_owned()
}

/// An RFC 3339 time (as protobuf JSON writes timestamps) in China Standard Time.
pub fn time_label(text: &str) -> Option<String> {
    // Only full timestamps: a date or a code that happens to parse is left alone.
    if text.len() < 20 || !text.contains('T') {
        return None;
    }
    let time = DateTime::parse_from_rfc3339(text).ok()?;
    Some(
        time.with_timezone(&china_standard_time())
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
    )
}

/// Every enum value name in the published descriptors, with its enum's name.
fn enum_values() -> &'static HashMap<String, String> {
    static VALUES: OnceLock<HashMap<String, String>> = OnceLock::new();
    VALUES.get_or_init(|| {
        let mut values = HashMap::new();
        for enumeration in crate::render::pool().all_enums() {
            for value in enumeration.values() {
                values.insert(value.name().to_owned(), enumeration.name().to_owned());
            }
        }
        values
    })
}

/// `CASE_STATE_DISPATCHED` → 已派单 / dispatched; `None` for text that is no
/// enum value of the platform's API.
pub fn enum_label(text: &str, language: Language) -> Option<String> {
    let enumeration = enum_values().get(text)?;
    if let Some(label) = enum_value_labels().get(text) {
        return Some(match language {
            Language::ZhCn => label.zh_cn.to_owned(),
            Language::En => label.en.to_owned(),
        });
    }
    Some(unlabelled(text, enumeration))
}

/// The text for a value the data file has no line for: `—` for
/// `…_UNSPECIFIED`, otherwise the value without its enum's prefix in lower
/// case (`MEETING_STATE_SCHEDULED` of `MeetingState` → `scheduled`).
fn unlabelled(value: &str, enumeration: &str) -> String {
    let prefix = format!("{}_", screaming_snake(enumeration));
    let rest = value.strip_prefix(&prefix).unwrap_or(value);
    if rest == "UNSPECIFIED" {
        return "—".to_owned();
    }
    rest.to_ascii_lowercase().replace('_', " ")
}

/// The labels of enum values: one line per value in `labels/enum_values.tsv`,
/// `VALUE_NAME<TAB>zh-CN<TAB>English`; `#` starts a comment line.
const ENUM_VALUES_TSV: &str = include_str!("labels/enum_values.tsv");

/// The two labels of one enum value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EnumValueLabel {
    zh_cn: &'static str,
    en: &'static str,
}

/// One line of [`ENUM_VALUES_TSV`] that is not a comment: the value's name and
/// its labels, or the line (1-based) that has not exactly three fields.
fn enum_value_lines() -> impl Iterator<Item = Result<(&'static str, EnumValueLabel), usize>> {
    ENUM_VALUES_TSV
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(index, line)| {
            let mut fields = line.split('\t');
            match (fields.next(), fields.next(), fields.next(), fields.next()) {
                (Some(name), Some(zh_cn), Some(en), None) => {
                    Ok((name, EnumValueLabel { zh_cn, en }))
                }
                _ => Err(index + 1),
            }
        })
}

/// The data file parsed once. A malformed line is skipped here (the value
/// falls back to [`unlabelled`]); the tests refuse one.
fn enum_value_labels() -> &'static HashMap<&'static str, EnumValueLabel> {
    static LABELS: OnceLock<HashMap<&'static str, EnumValueLabel>> = OnceLock::new();
    LABELS.get_or_init(|| enum_value_lines().filter_map(Result::ok).collect())
}

/// `CaseState` → `CASE_STATE`: the prefix protobuf style puts on every value.
fn screaming_snake(camel: &str) -> String {
    let mut text = String::with_capacity(camel.len() + 4);
    for (position, character) in camel.chars().enumerate() {
        if character.is_ascii_uppercase() && position > 0 {
            text.push('_');
        }
        text.push(character.to_ascii_uppercase());
    }
    text
}

/// Labels of the keys tables show most: (protobuf JSON key, zh-CN, English).
const KEYS: &[(&str, &str, &str)] = &[
    ("name", "名称", "name"),
    ("displayName", "名称", "name"),
    ("state", "状态", "state"),
    ("kind", "类型", "kind"),
    ("channel", "渠道", "channel"),
    ("tier", "处置层级", "tier"),
    ("matterCode", "事项编码", "matter"),
    ("block", "区块", "block"),
    ("code", "编码", "code"),
    ("assignee", "承办人", "assignee"),
    ("overdue", "超期", "overdue"),
    ("sequence", "序号", "no."),
    ("occurredAt", "发生时间", "occurred at"),
    ("fromState", "原状态", "from"),
    ("toState", "新状态", "to"),
    ("action", "操作", "action"),
    ("actor", "操作人", "actor"),
    ("reason", "原因", "reason"),
    ("key", "统计对象", "for"),
    ("received", "受理数", "received"),
    ("responseRate", "响应率", "response rate"),
    ("resolutionRate", "办结率", "resolution rate"),
    ("satisfactionRate", "满意率", "satisfaction rate"),
    ("closedOnTimeRate", "按时办结率", "closed on time"),
    ("reworkRate", "返工率", "rework rate"),
    ("whistleRate", "吹哨率", "whistle rate"),
    ("agency", "执法部门", "agency"),
    ("whistlesReceived", "接哨数", "whistles received"),
    ("reportInRate", "报到率", "report-in rate"),
    ("onTimeReportInRate", "按时报到率", "on-time report-in rate"),
    ("late", "迟到", "late"),
    ("noShows", "未到", "no-shows"),
    ("operationsConcluded", "已办结行动", "operations concluded"),
    ("meanRating", "平均评分", "mean rating"),
    ("time", "时间", "time"),
    ("subject", "主体", "subject"),
    ("roles", "角色", "roles"),
    ("method", "接口", "method"),
    ("resources", "资源", "resources"),
    ("outcome", "结果", "outcome"),
    ("traceId", "追踪号", "trace id"),
    ("subdistrictCode", "街道编码", "subdistrict"),
    ("communityCode", "社区编码", "community"),
    ("location", "位置", "location"),
    ("description", "描述", "description"),
    ("category", "类别", "category"),
    ("title", "标题", "title"),
    ("audience", "对象", "audience"),
    ("createTime", "创建时间", "created"),
    ("updateTime", "更新时间", "updated"),
    ("reportTime", "上报时间", "reported"),
    ("dueTime", "办理时限", "due"),
    ("households", "户数", "households"),
    ("blockCount", "区块数", "blocks"),
    ("totalHouseholds", "总户数", "households"),
    ("activateTime", "启用时间", "activated"),
    ("urlHint", "地址", "url"),
    ("brokenReason", "故障原因", "broken because"),
    ("kid", "密钥号", "kid"),
    ("signs", "签发", "signs"),
    ("consumer", "消费者", "consumer"),
    ("natsSubject", "消息主题", "NATS subject"),
    ("eventType", "事件类型", "event type"),
    ("eventId", "事件编号", "event id"),
    ("resource", "资源", "resource"),
    ("attempts", "尝试次数", "attempts"),
    ("deadLetteredTime", "转入死信时间", "dead-lettered"),
    ("eventTime", "事件时间", "event time"),
    ("parkedTime", "搁置时间", "parked"),
    ("occurredTime", "发生时间", "occurred"),
    ("heldEvents", "其后等待事件", "held behind"),
    ("lastError", "最近错误", "last error"),
    ("result", "结果", "result"),
    ("error", "错误", "error"),
    ("headers", "消息头", "headers"),
    ("data", "事件内容", "event"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_states_read_as_people_say_them_in_either_language() {
        assert_eq!(
            enum_label("CASE_STATE_DISPATCHED", Language::ZhCn).as_deref(),
            Some("已派单")
        );
        assert_eq!(
            enum_label("CASE_STATE_ACCEPTED", Language::ZhCn).as_deref(),
            Some("已签收")
        );
        assert_eq!(
            enum_label("CASE_STATE_DISPATCHED", Language::En).as_deref(),
            Some("dispatched")
        );
    }

    #[test]
    fn every_service_reads_in_chinese_by_default_and_in_english_on_request() {
        let label = |value: &str, language: Language| enum_label(value, language);
        assert_eq!(
            label("OPERATION_STATE_CONCLUDED", Language::ZhCn).as_deref(),
            Some("已办结")
        );
        assert_eq!(
            label("OPERATION_STATE_CONCLUDED", Language::En).as_deref(),
            Some("concluded")
        );
        assert_eq!(
            label("SUMMONS_STATE_LATE", Language::ZhCn).as_deref(),
            Some("超时未报到")
        );
        assert_eq!(
            label("SUMMONS_STATE_LATE", Language::En).as_deref(),
            Some("report in overdue")
        );
        assert_eq!(
            label("MEDIATION_LEVEL_PEOPLES", Language::ZhCn).as_deref(),
            Some("人民调解")
        );
        assert_eq!(
            label("NOTICE_CATEGORY_FLOOD", Language::ZhCn).as_deref(),
            Some("防汛")
        );
        assert_eq!(
            label("OPERATION_STATE_UNSPECIFIED", Language::ZhCn).as_deref(),
            Some("—")
        );
        assert_eq!(
            label("COORDINATE_SYSTEM_UNSPECIFIED", Language::ZhCn).as_deref(),
            Some("WGS84/CGCS2000")
        );
    }

    #[test]
    fn an_enum_value_without_a_label_loses_its_prefix_and_ordinary_text_is_left_alone() {
        assert_eq!(
            unlabelled("MEETING_STATE_SCHEDULED", "MeetingState"),
            "scheduled"
        );
        assert_eq!(unlabelled("MEETING_STATE_UNSPECIFIED", "MeetingState"), "—");
        assert_eq!(enum_label("HELLO_WORLD", Language::En), None);
        assert_eq!(
            value(&serde_json::json!("430302001001001"), Language::ZhCn),
            "430302001001001"
        );
    }

    /// Values whose zh-CN label rightly has no Chinese character: codes that
    /// Chinese offices use as they are.
    const CODE_LIKE_LABELS: &[&str] = &[
        "COORDINATE_SYSTEM_GCJ02",
        "COORDINATE_SYSTEM_BD09",
        "DATA_FORMAT_CSV",
        "DATA_FORMAT_JSON",
    ];

    fn has_chinese(text: &str) -> bool {
        text.chars()
            .any(|character| matches!(character, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}'))
    }

    /// Every value name of the platform's own enums (not google.protobuf's).
    fn api_enum_values() -> std::collections::BTreeSet<String> {
        crate::render::pool()
            .all_enums()
            .filter(|enumeration| enumeration.full_name().starts_with("flatgov."))
            .flat_map(|enumeration| {
                enumeration
                    .values()
                    .map(|value| value.name().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn every_enum_value_of_the_api_has_a_chinese_and_an_english_label() {
        let values = api_enum_values();
        assert!(values.len() > 300, "the descriptors have the API's enums");
        let labels = enum_value_labels();
        let wanting: Vec<String> = values
            .iter()
            .filter(|value| !value.ends_with("_UNSPECIFIED"))
            .filter_map(|value| {
                let Some(label) = labels.get(value.as_str()) else {
                    return Some(format!("{value}: no line in labels/enum_values.tsv"));
                };
                let chinese_enough =
                    has_chinese(label.zh_cn) || CODE_LIKE_LABELS.contains(&value.as_str());
                if label.zh_cn.trim().is_empty() || !chinese_enough {
                    return Some(format!(
                        "{value}: zh-CN label {:?} is not Chinese",
                        label.zh_cn
                    ));
                }
                if label.en.trim().is_empty() || has_chinese(label.en) {
                    return Some(format!("{value}: English label {:?}", label.en));
                }
                None
            })
            .collect();
        assert!(
            wanting.is_empty(),
            "enum values without proper labels (add them to cli/src/labels/enum_values.tsv):\n{}",
            wanting.join("\n")
        );
    }

    #[test]
    fn no_label_names_a_value_the_api_does_not_have() {
        let values = api_enum_values();
        let stale: Vec<&str> = enum_value_lines()
            .filter_map(Result::ok)
            .map(|(name, _)| name)
            .filter(|name| !values.contains(*name))
            .collect();
        assert!(
            stale.is_empty(),
            "labels of values the API does not have: {stale:?}"
        );
        for name in CODE_LIKE_LABELS {
            let label = enum_value_labels().get(name);
            assert!(
                label.is_some_and(|label| !has_chinese(label.zh_cn)),
                "{name} is allowed a label without Chinese, so it needs one: {label:?}"
            );
        }
    }

    #[test]
    fn the_data_file_is_well_formed_and_names_each_value_once() {
        let mut seen = std::collections::HashSet::new();
        for line in enum_value_lines() {
            let (name, label) = line.unwrap_or_else(|number| {
                panic!("labels/enum_values.tsv line {number}: not NAME<TAB>zh-CN<TAB>English")
            });
            assert!(seen.insert(name), "{name} has two lines");
            for field in [name, label.zh_cn, label.en] {
                assert_eq!(field, field.trim(), "{name}: stray spaces in {field:?}");
                assert!(!field.is_empty(), "{name}: an empty field");
            }
            assert!(
                name.bytes()
                    .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_'),
                "{name:?} is not an enum value name"
            );
        }
    }

    #[test]
    fn times_are_shown_in_china_standard_time() {
        assert_eq!(
            time_label("2026-12-07T16:30:00Z").as_deref(),
            Some("2026-12-08 00:30:00")
        );
        assert_eq!(time_label("2026-12-07"), None);
    }

    #[test]
    fn keys_get_labels_and_unknown_keys_become_words() {
        assert_eq!(key("matterCode", Language::ZhCn), "事项编码");
        assert_eq!(key("matterCode", Language::En), "matter");
        assert_eq!(key("someNewField", Language::En), "some new field");
    }

    #[test]
    fn the_locale_picks_english_only_when_it_says_english() {
        let some = |value: &str| Some(value.to_owned());
        assert_eq!(from_locale([some("en_GB.UTF-8")]), Language::En);
        assert_eq!(
            from_locale([None, some(""), some("en_US.UTF-8")]),
            Language::En
        );
        assert_eq!(from_locale([some("zh_CN.UTF-8")]), Language::ZhCn);
        assert_eq!(from_locale([some("C.UTF-8")]), Language::ZhCn);
        assert_eq!(from_locale([None, None, None]), Language::ZhCn);
        // LC_ALL wins over LANG.
        assert_eq!(
            from_locale([some("zh_CN.UTF-8"), None, some("en_US.UTF-8")]),
            Language::ZhCn
        );
    }
}
