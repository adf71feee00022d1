//! Block notices: their categories and the WeCom messages a notice becomes.

use flatgov_proto::notices::v1 as proto;

use crate::delivery::wecom::MAX_CONTENT_BYTES;

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeCategory {
    Flood,
    DrowningPrevention,
    Epidemic,
    Outage,
    Activity,
    Policy,
}

impl NoticeCategory {
    const ALL: [NoticeCategory; 6] = [
        NoticeCategory::Flood,
        NoticeCategory::DrowningPrevention,
        NoticeCategory::Epidemic,
        NoticeCategory::Outage,
        NoticeCategory::Activity,
        NoticeCategory::Policy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeCategory::Flood => "flood",
            NoticeCategory::DrowningPrevention => "drowning_prevention",
            NoticeCategory::Epidemic => "epidemic",
            NoticeCategory::Outage => "outage",
            NoticeCategory::Activity => "activity",
            NoticeCategory::Policy => "policy",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str() == text)
    }

    /// The label residents read.
    pub fn label(self) -> &'static str {
        match self {
            NoticeCategory::Flood => "防汛",
            NoticeCategory::DrowningPrevention => "防溺水",
            NoticeCategory::Epidemic => "疫情防控",
            NoticeCategory::Outage => "停水停电",
            NoticeCategory::Activity => "活动",
            NoticeCategory::Policy => "政策",
        }
    }

    pub fn from_proto(value: i32) -> Option<Self> {
        match proto::NoticeCategory::try_from(value).ok()? {
            proto::NoticeCategory::Flood => Some(NoticeCategory::Flood),
            proto::NoticeCategory::DrowningPrevention => Some(NoticeCategory::DrowningPrevention),
            proto::NoticeCategory::Epidemic => Some(NoticeCategory::Epidemic),
            proto::NoticeCategory::Outage => Some(NoticeCategory::Outage),
            proto::NoticeCategory::Activity => Some(NoticeCategory::Activity),
            proto::NoticeCategory::Policy => Some(NoticeCategory::Policy),
            proto::NoticeCategory::Unspecified => None,
        }
    }

    pub fn to_proto(self) -> proto::NoticeCategory {
        match self {
            NoticeCategory::Flood => proto::NoticeCategory::Flood,
            NoticeCategory::DrowningPrevention => proto::NoticeCategory::DrowningPrevention,
            NoticeCategory::Epidemic => proto::NoticeCategory::Epidemic,
            NoticeCategory::Outage => proto::NoticeCategory::Outage,
            NoticeCategory::Activity => proto::NoticeCategory::Activity,
            NoticeCategory::Policy => proto::NoticeCategory::Policy,
        }
    }
}

/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;
/// The longest body, in characters.
pub const MAX_BODY_CHARS: usize = 2000;

/// Room kept in each part for its `（n/m）` marker.
const MARKER_BYTES: usize = 32;

/// The most attachments a notice may reference.
pub const MAX_ATTACHMENTS: usize = 10;

/// The WeCom text messages a notice is sent as: `【防汛】title`, the body
/// and its attachments' references (`附件：`, one a line), split at
/// character boundaries into parts of at most 2,048 bytes, each marked
/// `（n/m）` when there are several. A 2,000-character Chinese body (6,000
/// bytes) becomes three or four parts.
pub fn messages(
    category: NoticeCategory,
    title: &str,
    body: &str,
    attachments: &[String],
) -> Vec<String> {
    let mut whole = format!("【{}】{title}\n{body}", category.label());
    if !attachments.is_empty() {
        whole.push_str("\n附件：");
        for reference in attachments {
            whole.push('\n');
            whole.push_str(reference);
        }
    }
    if whole.len() <= MAX_CONTENT_BYTES {
        return vec![whole];
    }
    let mut chunks = Vec::new();
    let mut current = String::new();
    for character in whole.chars() {
        if current.len() + character.len_utf8() > MAX_CONTENT_BYTES - MARKER_BYTES {
            chunks.push(std::mem::take(&mut current));
        }
        current.push(character);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    let total = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(index, chunk)| format!("（{}/{total}）{chunk}", index + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_notice_is_one_message_with_its_category_label() {
        let parts = messages(
            NoticeCategory::Flood,
            "暴雨预警",
            "今晚有大到暴雨，请勿靠近河道。",
            &[],
        );
        assert_eq!(parts, ["【防汛】暴雨预警\n今晚有大到暴雨，请勿靠近河道。"]);
    }

    #[test]
    fn attachments_are_listed_under_the_body_one_a_line() {
        let parts = messages(
            NoticeCategory::Outage,
            "停水通知",
            "明日8时至12时停水。",
            &[
                "https://files.example.cn/outage.pdf".to_owned(),
                "oss://notices/map.png".to_owned(),
            ],
        );
        assert_eq!(
            parts,
            [
                "【停水停电】停水通知\n明日8时至12时停水。\n附件：\nhttps://files.example.cn/outage.pdf\noss://notices/map.png"
            ]
        );
    }

    #[test]
    fn a_long_notice_is_split_into_marked_parts_within_wecoms_limit() {
        let body = "请注意防溺水安全。".repeat(222);
        let parts = messages(NoticeCategory::DrowningPrevention, "暑期防溺水", &body, &[]);
        assert!(parts.len() >= 3, "{}", parts.len());
        for (index, part) in parts.iter().enumerate() {
            assert!(
                part.len() <= MAX_CONTENT_BYTES,
                "part {index} has {} bytes",
                part.len()
            );
            assert!(part.starts_with(&format!("（{}/{}）", index + 1, parts.len())));
        }
        let joined: String = parts
            .iter()
            .map(|part| part.split_once('）').unwrap().1)
            .collect();
        assert_eq!(joined, format!("【防溺水】暑期防溺水\n{body}"));
    }

    #[test]
    fn every_category_reads_back_from_its_stored_word() {
        for category in NoticeCategory::ALL {
            assert_eq!(NoticeCategory::parse(category.as_str()), Some(category));
        }
    }
}
