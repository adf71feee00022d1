//! The zh-CN messages a reporter receives. Each names the case by its number
//! and says only what the resident needs: who handles it, what to do next.
//! The text is rendered at the moment of sending and never stored.

use super::{Milestone, template};

/// How a case closed, as the cases service's `CaseClosed` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closure {
    Rated,
    Unsatisfied,
    Unrated,
    Dismissed,
}

impl Closure {
    pub fn as_str(self) -> &'static str {
        match self {
            Closure::Rated => "rated",
            Closure::Unsatisfied => "unsatisfied",
            Closure::Unrated => "unrated",
            Closure::Dismissed => "dismissed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Closure::Rated,
            Closure::Unsatisfied,
            Closure::Unrated,
            Closure::Dismissed,
        ]
        .into_iter()
        .find(|closure| closure.as_str() == text)
    }

    /// What the resident reads.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Closure::Rated => "已评价",
            Closure::Unsatisfied => "经两次办理仍不满意，已转入督办",
            Closure::Unrated => "未评价",
            Closure::Dismissed => "不属于受理范围",
        }
    }
}

/// What one message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackMessage {
    pub milestone: Milestone,
    /// The case's number (its id).
    pub case_number: String,
    /// Who handles it: a staff id (`staff/{id}`) or a unit's resource name.
    pub handler: String,
    pub closure: Option<Closure>,
}

impl FeedbackMessage {
    /// The message in zh-CN, in the built-in text.
    pub fn text(&self) -> String {
        self.text_from(template::built_in(self.milestone))
    }

    /// The message in `template` (the built-in text or a district's own,
    /// checked by [`template::TemplateText::parse`]).
    pub fn text_from(&self, template: &str) -> String {
        template::render(
            template,
            &self.case_number,
            &handler_label(&self.handler),
            self.closure,
        )
    }
}

/// Who handles a case, as a resident reads it: the kind of unit and its
/// code (the events carry codes and staff ids, never names).
fn handler_label(handler: &str) -> String {
    let Some((collection, id)) = handler.split_once('/') else {
        return "相关责任单位".to_owned();
    };
    match collection {
        "staff" => format!("工作人员（工号 {id}）"),
        "blocks" => format!("区块 {id} 治理团队"),
        "communities" => format!("社区 {id}"),
        "subdistricts" => format!("街道 {id}"),
        "departments" => match id {
            "urban_management" => "城市管理部门".to_owned(),
            "market_supervision" => "市场监管部门".to_owned(),
            "public_security" => "公安部门".to_owned(),
            other => format!("职能部门 {other}"),
        },
        "organisations" => format!("群团组织 {id}"),
        _ => "相关责任单位".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(milestone: Milestone) -> FeedbackMessage {
        FeedbackMessage {
            milestone,
            case_number: "0193a0c4-7b1e-7cc0-9a55-1f0e7d3f0a11".into(),
            handler: "staff/gov-017".into(),
            closure: Some(Closure::Rated),
        }
    }

    #[test]
    fn the_received_message_names_the_case_number_and_its_handler() {
        let text = message(Milestone::Received).text();
        assert!(
            text.contains("0193a0c4-7b1e-7cc0-9a55-1f0e7d3f0a11"),
            "{text}"
        );
        assert!(text.contains("工作人员（工号 gov-017）"), "{text}");
    }

    #[test]
    fn the_resolved_message_asks_for_a_rating() {
        assert!(
            message(Milestone::Resolved)
                .text()
                .contains("请对办理结果作出评价")
        );
    }

    #[test]
    fn the_return_visit_asks_again_and_says_what_happens_without_a_rating() {
        let text = message(Milestone::ReturnVisit).text();
        assert!(text.starts_with("回访"), "{text}");
        assert!(
            text.contains("请对办理结果作出评价") && text.contains("未评价"),
            "{text}"
        );
    }

    #[test]
    fn the_closed_message_says_how_it_closed() {
        assert!(
            message(Milestone::Closed)
                .text()
                .contains("已结案（已评价）")
        );
    }

    #[test]
    fn departments_are_named_in_chinese_and_unknown_handlers_stay_generic() {
        assert_eq!(
            handler_label("departments/urban_management"),
            "城市管理部门"
        );
        assert_eq!(handler_label("subdistricts/430302001"), "街道 430302001");
        assert_eq!(handler_label(""), "相关责任单位");
    }

    #[test]
    fn every_message_fits_one_wecom_text_message() {
        for milestone in Milestone::ALL {
            assert!(message(milestone).text().len() < 2048);
        }
    }
}
