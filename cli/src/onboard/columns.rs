//! The four tables a district brings on its first day, and their columns.
//!
//! Each column has a Chinese header (what the templates write and offices
//! use) and an English key (accepted too, and written by `--lang en`
//! templates). A header matches either, ignoring case, surrounding spaces,
//! a trailing `*` (the templates' mark of a required column) and, for the
//! English key, spaces or hyphens in place of `_`.

use crate::labels::Language;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Subdistricts (街道): code, name, English name, the district's name.
    Subdistricts,
    /// Communities (社区): code, name, English name.
    Communities,
    /// The staff roster (人员名册): id, name, phone, unit, division.
    Staff,
    /// 1+N+1 teams (区块团队): one row per member of a block's team.
    Teams,
}

/// One column of a kind's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The English header, also the key the code uses.
    pub key: &'static str,
    /// The Chinese header.
    pub zh: &'static str,
    /// Whether every row must fill it.
    pub required: bool,
    /// What to write in it, for the template's notes.
    pub note_zh: &'static str,
    pub note_en: &'static str,
    /// The template's example value.
    pub example: &'static str,
    /// Whether the template formats the column as text (codes, ids and
    /// phone numbers that a number cell would mangle).
    pub text: bool,
}

impl Column {
    /// The header in a language.
    pub fn header(&self, language: Language) -> &'static str {
        match language {
            Language::ZhCn => self.zh,
            Language::En => self.key,
        }
    }

    /// The note in a language.
    pub fn note(&self, language: Language) -> &'static str {
        match language {
            Language::ZhCn => self.note_zh,
            Language::En => self.note_en,
        }
    }
}

const SUBDISTRICTS: &[Column] = &[
    Column {
        key: "code",
        zh: "街道编码",
        required: true,
        note_zh: "9 位数字：前 6 位为所属区的编码",
        note_en: "9 digits: the first 6 are the district's code",
        example: "430302001",
        text: true,
    },
    Column {
        key: "name",
        zh: "街道名称",
        required: true,
        note_zh: "街道的全称，至多 100 个字符",
        note_en: "the subdistrict's full name, at most 100 characters",
        example: "雨湖路街道",
        text: false,
    },
    Column {
        key: "name_en",
        zh: "英文名称",
        required: false,
        note_zh: "英文或拼音名称，可留空",
        note_en: "English or pinyin name, may be left empty",
        example: "Yuhulu Subdistrict",
        text: false,
    },
    Column {
        key: "district_name",
        zh: "所属区名称",
        required: false,
        note_zh: "所属区尚未登记时必填：导入时以此名称登记该区",
        note_en: "required while the district is not registered yet: the import registers it under this name",
        example: "雨湖区",
        text: false,
    },
];

const COMMUNITIES: &[Column] = &[
    Column {
        key: "code",
        zh: "社区编码",
        required: true,
        note_zh: "12 位数字：前 9 位为所属街道的编码（街道须已登记）",
        note_en: "12 digits: the first 9 are the subdistrict's code (which must be registered)",
        example: "430302001001",
        text: true,
    },
    Column {
        key: "name",
        zh: "社区名称",
        required: true,
        note_zh: "社区的全称，至多 100 个字符",
        note_en: "the community's full name, at most 100 characters",
        example: "和平社区",
        text: false,
    },
    Column {
        key: "name_en",
        zh: "英文名称",
        required: false,
        note_zh: "英文或拼音名称，可留空",
        note_en: "English or pinyin name, may be left empty",
        example: "Heping Community",
        text: false,
    },
];

const STAFF: &[Column] = &[
    Column {
        key: "id",
        zh: "工号",
        required: true,
        note_zh: "每人唯一：字母、数字及 - _ . :，至多 64 个字符；团队表以此引用人员",
        note_en: "unique per person: letters, digits and - _ . :, at most 64 characters; the teams table refers to people by it",
        example: "yhl-0001",
        text: true,
    },
    Column {
        key: "name",
        zh: "姓名",
        required: true,
        note_zh: "至多 64 个字符",
        note_en: "at most 64 characters",
        example: "张伟",
        text: false,
    },
    Column {
        key: "phone",
        zh: "手机号",
        required: false,
        note_zh: "数字，可带开头的 + 及 - 或空格分隔；只有有权限的人能看到",
        note_en: "digits, with an optional leading + and - or space separators; shown only to those entitled to it",
        example: "13800138000",
        text: true,
    },
    Column {
        key: "unit",
        zh: "工作单位",
        required: false,
        note_zh: "至多 100 个字符",
        note_en: "at most 100 characters",
        example: "雨湖路街道办事处",
        text: false,
    },
    Column {
        key: "division",
        zh: "所属区划",
        required: false,
        note_zh: "区（6 位）、街道（9 位）、社区（12 位）或区块（15 位）编码，须已登记",
        note_en: "a district (6 digits), subdistrict (9), community (12) or block (15) code, already registered",
        example: "430302001",
        text: true,
    },
];

const TEAMS: &[Column] = &[
    Column {
        key: "block_code",
        zh: "区块编码",
        required: true,
        note_zh: "15 位数字，须是现行（或 --generation 指定的草案）边界中的区块；每个区块的成员各占一行",
        note_en: "15 digits, a block of the active boundaries (or of the draft given with --generation); one row per member of the block's team",
        example: "430302001001001",
        text: true,
    },
    Column {
        key: "post",
        zh: "岗位",
        required: true,
        note_zh: "治理员、协理员或监督员：每个区块 1 名治理员、1 名监督员，监督员不得兼任治理员或协理员",
        note_en: "governor, assistant or supervisor: each block has 1 governor and 1 supervisor, who is never also its governor or an assistant",
        example: "治理员",
        text: false,
    },
    Column {
        key: "staff_id",
        zh: "工号",
        required: true,
        note_zh: "人员名册中的工号",
        note_en: "the person's id in the staff roster",
        example: "yhl-0001",
        text: true,
    },
    Column {
        key: "role",
        zh: "协理员类型",
        required: false,
        note_zh: "协理员必填：联点干部、党小组长、业委会成员或居民代表；其他岗位留空",
        note_en: "for assistants: liaison_cadre, party_group_leader, owners_committee_member or resident_representative; empty for other posts",
        example: "",
        text: false,
    },
];

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Subdistricts,
        Kind::Communities,
        Kind::Staff,
        Kind::Teams,
    ];

    /// The columns in template order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Subdistricts => SUBDISTRICTS,
            Kind::Communities => COMMUNITIES,
            Kind::Staff => STAFF,
            Kind::Teams => TEAMS,
        }
    }

    /// The English name, as on the command line.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Subdistricts => "subdistricts",
            Kind::Communities => "communities",
            Kind::Staff => "staff",
            Kind::Teams => "teams",
        }
    }

    /// What a person calls the table.
    pub fn title(self, language: Language) -> &'static str {
        match (self, language) {
            (Kind::Subdistricts, Language::ZhCn) => "街道",
            (Kind::Communities, Language::ZhCn) => "社区",
            (Kind::Staff, Language::ZhCn) => "人员名册",
            (Kind::Teams, Language::ZhCn) => "区块团队",
            (Kind::Subdistricts, Language::En) => "subdistricts",
            (Kind::Communities, Language::En) => "communities",
            (Kind::Staff, Language::En) => "staff",
            (Kind::Teams, Language::En) => "teams",
        }
    }

    /// A kind from a file name's stem (`staff.xlsx`, `人员名册.xlsx`).
    pub fn from_stem(stem: &str) -> Option<Kind> {
        let stem = stem.trim().to_lowercase();
        Kind::ALL.into_iter().find(|kind| {
            stem == kind.key()
                || stem == kind.title(Language::ZhCn)
                || (stem == "团队" && *kind == Kind::Teams)
                || (stem == "人员" && *kind == Kind::Staff)
        })
    }
}

/// A header made comparable: trimmed, without a trailing `*`, lower case,
/// spaces and hyphens as `_`.
pub fn normalize_header(header: &str) -> String {
    header
        .trim()
        .trim_end_matches(['*', '＊'])
        .trim()
        .to_lowercase()
        .replace([' ', '-'], "_")
}

/// The column a header names, if any.
pub fn column_for(kind: Kind, header: &str) -> Option<&'static Column> {
    let normalized = normalize_header(header);
    kind.columns()
        .iter()
        .find(|column| normalized == column.key || normalized == column.zh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_in_chinese_or_english_with_or_without_the_required_mark() {
        assert_eq!(column_for(Kind::Staff, "工号*").map(|c| c.key), Some("id"));
        assert_eq!(
            column_for(Kind::Staff, " Phone ").map(|c| c.key),
            Some("phone")
        );
        assert_eq!(
            column_for(Kind::Teams, "Staff ID").map(|c| c.key),
            Some("staff_id")
        );
        assert_eq!(column_for(Kind::Teams, "电话"), None);
    }

    #[test]
    fn a_kind_is_told_by_its_file_name() {
        assert_eq!(Kind::from_stem("staff"), Some(Kind::Staff));
        assert_eq!(Kind::from_stem("人员名册"), Some(Kind::Staff));
        assert_eq!(Kind::from_stem("Teams"), Some(Kind::Teams));
        assert_eq!(Kind::from_stem("blocks"), None);
    }
}
