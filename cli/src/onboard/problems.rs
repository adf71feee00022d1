//! What a dry run finds wrong, at the row and column where the person who
//! filled the table will look, in their language.

use crate::labels::Language;
use crate::sheet::column_letter;

/// One problem with a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The row as the spreadsheet numbers it (the header's row for a
    /// problem with the columns).
    pub row: usize,
    /// The 0-based column and its header as written, when one is concerned.
    pub column: Option<(usize, String)>,
    /// What is wrong.
    pub issue: Issue,
}

/// The things a table can get wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// A required column is not in the header.
    MissingColumn { header: &'static str },
    /// A header names no column of this kind of table.
    UnknownColumn { expected: Vec<&'static str> },
    /// Two headers name the same column.
    DuplicateColumn { first: String },
    /// The table has a header and no data.
    NoRows,
    /// A required cell is empty.
    Empty,
    /// The cell's value is not of the expected form (the reason in both
    /// languages).
    Malformed { zh: String, en: String },
    /// The value is used by an earlier row, where it must be unique.
    Duplicate { value: String, first_row: usize },
    /// The value refers to something the platform does not have.
    Unknown { what: Reference, value: String },
    /// A district in the file is not registered and no row names it.
    DistrictUnnamed { district: String },
    /// The same person is governor and supervisor of a block.
    GovernorIsSupervisor {
        staff: String,
        block: String,
        governor_row: usize,
    },
    /// The same person is supervisor and an assistant of a block.
    SupervisorIsAssistant {
        staff: String,
        block: String,
        other_row: usize,
    },
    /// A block's team has not exactly one of a post.
    PostCount {
        block: String,
        post: Post,
        count: usize,
    },
}

/// What a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    Subdistrict,
    Division,
    Block,
    Staff,
}

/// A post in a 1+N+1 team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Post {
    Governor,
    Assistant,
    Supervisor,
}

impl Post {
    pub fn label(self, language: Language) -> &'static str {
        match (self, language) {
            (Post::Governor, Language::ZhCn) => "治理员",
            (Post::Assistant, Language::ZhCn) => "协理员",
            (Post::Supervisor, Language::ZhCn) => "监督员",
            (Post::Governor, Language::En) => "governor",
            (Post::Assistant, Language::En) => "assistant",
            (Post::Supervisor, Language::En) => "supervisor",
        }
    }
}

impl Problem {
    /// `C (手机号)`: the column letter and its header, or empty.
    pub fn column_label(&self) -> String {
        match &self.column {
            Some((index, header)) if header.is_empty() => column_letter(*index),
            Some((index, header)) => format!("{} ({header})", column_letter(*index)),
            None => String::new(),
        }
    }

    /// What is wrong, for people.
    pub fn message(&self, language: Language) -> String {
        let zh = language == Language::ZhCn;
        match &self.issue {
            Issue::MissingColumn { header } => {
                if zh {
                    format!("缺少必填列“{header}”")
                } else {
                    format!("the required column {header:?} is missing")
                }
            }
            Issue::UnknownColumn { expected } => {
                if zh {
                    format!("无法识别的列；本表的列为：{}", expected.join("、"))
                } else {
                    format!(
                        "not a column of this table; its columns are: {}",
                        expected.join(", ")
                    )
                }
            }
            Issue::DuplicateColumn { first } => {
                if zh {
                    format!("与 {first} 列重复")
                } else {
                    format!("the same column as {first}")
                }
            }
            Issue::NoRows => {
                if zh {
                    "表中没有数据行".to_owned()
                } else {
                    "the table has no data rows".to_owned()
                }
            }
            Issue::Empty => {
                if zh {
                    "必填，不能为空".to_owned()
                } else {
                    "required, may not be empty".to_owned()
                }
            }
            Issue::Malformed { zh: text_zh, en } => {
                if zh {
                    text_zh.clone()
                } else {
                    en.clone()
                }
            }
            Issue::Duplicate { value, first_row } => {
                if zh {
                    format!("“{value}”与第 {first_row} 行重复")
                } else {
                    format!("{value:?} is also on row {first_row}")
                }
            }
            Issue::Unknown { what, value } => match (what, zh) {
                (Reference::Subdistrict, true) => {
                    format!("街道 {value} 尚未登记：请先导入街道表")
                }
                (Reference::Subdistrict, false) => {
                    format!("subdistrict {value} is not registered: import the subdistricts first")
                }
                (Reference::Division, true) => format!("区划 {value} 尚未登记"),
                (Reference::Division, false) => format!("division {value} is not registered"),
                (Reference::Block, true) => format!("区块 {value} 不在所选的边界中"),
                (Reference::Block, false) => {
                    format!("block {value} is not in the boundaries chosen")
                }
                (Reference::Staff, true) => {
                    format!("工号 {value} 不在人员名册中：请先导入人员名册")
                }
                (Reference::Staff, false) => {
                    format!("staff id {value} is not in the roster: import the staff first")
                }
            },
            Issue::DistrictUnnamed { district } => {
                if zh {
                    format!(
                        "区 {district} 尚未登记：请先登记该区，或在“所属区名称”列填写区名以便登记"
                    )
                } else {
                    format!(
                        "district {district} is not registered: register it first, or give its name in the district_name column"
                    )
                }
            }
            Issue::GovernorIsSupervisor {
                staff,
                block,
                governor_row,
            } => {
                if zh {
                    format!(
                        "{staff} 在区块 {block} 既是治理员（第 {governor_row} 行）又是监督员：监督员须由他人担任"
                    )
                } else {
                    format!(
                        "{staff} is both governor (row {governor_row}) and supervisor of block {block}: the supervisor must be someone else"
                    )
                }
            }
            Issue::SupervisorIsAssistant {
                staff,
                block,
                other_row,
            } => {
                if zh {
                    format!(
                        "{staff} 在区块 {block} 既是监督员又是协理员（第 {other_row} 行）：监督员须由他人担任"
                    )
                } else {
                    format!(
                        "{staff} is both supervisor and an assistant (row {other_row}) of block {block}: the supervisor must be someone else"
                    )
                }
            }
            Issue::PostCount { block, post, count } => {
                if zh {
                    format!(
                        "区块 {block} 有 {count} 名{}，应为 1 名",
                        post.label(language)
                    )
                } else {
                    format!(
                        "block {block} has {count} {}(s); it needs exactly 1",
                        post.label(language)
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_speaks_the_users_language() {
        let problem = Problem {
            row: 4,
            column: Some((2, "工号".to_owned())),
            issue: Issue::GovernorIsSupervisor {
                staff: "yhl-0001".into(),
                block: "430302001001001".into(),
                governor_row: 2,
            },
        };
        assert_eq!(problem.column_label(), "C (工号)");
        assert!(
            problem
                .message(Language::ZhCn)
                .contains("既是治理员（第 2 行）又是监督员")
        );
        assert!(
            problem
                .message(Language::En)
                .contains("both governor (row 2) and supervisor")
        );
    }
}
