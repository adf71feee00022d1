//! Feedback templates: the text of each milestone's message is data. Every
//! milestone has a built-in zh-CN text; a district may switch a milestone's
//! message off or give it a text of its own. A text names what varies with
//! placeholders — `{case_number}` (required, once: a resident must know
//! which case), `{handler}` (who handles it: received and accepted only) and
//! `{closure}` (how it closed: closed only) — each at most once, so a
//! rendered message always fits one WeCom text message.

use super::{Closure, Milestone};

/// The case's number; every text names it.
pub const CASE_NUMBER: &str = "{case_number}";
/// Who handles the case.
pub const HANDLER: &str = "{handler}";
/// How the case closed.
pub const CLOSURE: &str = "{closure}";

/// The longest text a district may set, in characters. Rendered, the
/// longest stays well under WeCom's 2,048 bytes (3 bytes a character, plus
/// a case number and a handler's label).
pub const MAX_TEMPLATE_CHARS: usize = 500;

/// The built-in zh-CN text of `milestone`.
pub fn built_in(milestone: Milestone) -> &'static str {
    match milestone {
        Milestone::Received => {
            "您反映的问题已受理并派发，案件编号：{case_number}，承办：{handler}。办理进展将及时告知您。"
        }
        Milestone::Accepted => {
            "您反映的问题（案件编号：{case_number}）已由承办人员签收，正在办理。"
        }
        Milestone::Resolved => {
            "您反映的问题（案件编号：{case_number}）已办结并经核实。请对办理结果作出评价：满意、基本满意或不满意。"
        }
        Milestone::Closed => {
            "您反映的问题（案件编号：{case_number}）已结案（{closure}）。感谢您的参与！"
        }
        Milestone::Reopened => {
            "您对案件编号 {case_number} 的办理结果不满意，该案件已重新交办，办理进展将再次告知您。"
        }
        Milestone::ReturnVisit => {
            "回访：您反映的问题（案件编号：{case_number}）已办结，尚未收到您的评价。请对办理结果作出评价：满意、基本满意或不满意；逾期未评价的，将按“未评价”结案。"
        }
    }
}

/// The placeholders `milestone`'s text may use.
pub fn placeholders(milestone: Milestone) -> &'static [&'static str] {
    match milestone {
        Milestone::Received | Milestone::Accepted => &[CASE_NUMBER, HANDLER],
        Milestone::Closed => &[CASE_NUMBER, CLOSURE],
        Milestone::Resolved | Milestone::Reopened | Milestone::ReturnVisit => &[CASE_NUMBER],
    }
}

/// A district's own text for a milestone, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateText(String);

impl TemplateText {
    /// Checks `text` (trimmed) as `milestone`'s text: 1–500 characters,
    /// `{case_number}` once, and no placeholder the milestone does not
    /// fill. The reason names what is wrong.
    pub fn parse(milestone: Milestone, text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        if text.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(format!("must be at most {MAX_TEMPLATE_CHARS} characters"));
        }
        if text
            .chars()
            .any(|character| character.is_control() && character != '\n')
        {
            return Err("must not hold control characters other than line breaks".into());
        }
        let allowed = placeholders(milestone);
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open..];
            let Some(close) = after.find('}') else {
                return Err("has a `{` without its `}`".into());
            };
            let placeholder = &after[..=close];
            if !allowed.contains(&placeholder) {
                return Err(format!(
                    "{placeholder} is not a placeholder of the {milestone} message; it may use {}",
                    allowed.join(", ")
                ));
            }
            rest = &after[close + 1..];
        }
        if text.contains('}') && text.matches('}').count() != text.matches('{').count() {
            return Err("has a `}` without its `{`".into());
        }
        for placeholder in allowed {
            if text.matches(placeholder).count() > 1 {
                return Err(format!("must hold {placeholder} at most once"));
            }
        }
        if !text.contains(CASE_NUMBER) {
            return Err(format!(
                "must hold {CASE_NUMBER}: a resident needs to know which case"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Fills `template`'s placeholders. Without a closure, `（{closure}）`
/// (and a bare `{closure}`) is left out.
pub fn render(
    template: &str,
    case_number: &str,
    handler_label: &str,
    closure: Option<Closure>,
) -> String {
    let with_closure = match closure {
        Some(closure) => template.replace(CLOSURE, closure.label()),
        None => template.replace("（{closure}）", "").replace(CLOSURE, ""),
    };
    with_closure
        .replace(CASE_NUMBER, case_number)
        .replace(HANDLER, handler_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_text_is_a_valid_template_of_its_milestone() {
        for milestone in Milestone::ALL {
            assert_eq!(
                TemplateText::parse(milestone, built_in(milestone))
                    .map(|text| text.as_str().to_owned()),
                Ok(built_in(milestone).to_owned()),
                "{milestone}"
            );
        }
    }

    #[test]
    fn a_text_without_the_case_number_is_refused() {
        let refusal = TemplateText::parse(Milestone::Accepted, "已签收").unwrap_err();
        assert!(refusal.contains("{case_number}"), "{refusal}");
    }

    #[test]
    fn a_placeholder_the_milestone_does_not_fill_is_refused_and_named() {
        let refusal = TemplateText::parse(Milestone::Resolved, "{case_number} 由 {handler} 办结")
            .unwrap_err();
        assert!(
            refusal.contains("{handler}") && refusal.contains("resolved"),
            "{refusal}"
        );
        let unknown = TemplateText::parse(Milestone::Received, "{case_number}{phone}").unwrap_err();
        assert!(unknown.contains("{phone}"), "{unknown}");
    }

    #[test]
    fn unbalanced_braces_repeated_placeholders_and_long_texts_are_refused() {
        assert!(TemplateText::parse(Milestone::Closed, "{case_number} {closure").is_err());
        assert!(TemplateText::parse(Milestone::Closed, "{case_number} closure}").is_err());
        assert!(TemplateText::parse(Milestone::Closed, "{case_number}{case_number}").is_err());
        assert!(TemplateText::parse(Milestone::Closed, "   ").is_err());
        let long = format!("{CASE_NUMBER}{}", "字".repeat(MAX_TEMPLATE_CHARS));
        assert!(TemplateText::parse(Milestone::Closed, &long).is_err());
    }

    #[test]
    fn the_longest_text_rendered_fits_one_wecom_message() {
        let text = format!(
            "{CASE_NUMBER}{HANDLER}{}",
            "字".repeat(MAX_TEMPLATE_CHARS - CASE_NUMBER.len() - HANDLER.len())
        );
        let template = TemplateText::parse(Milestone::Received, &text).unwrap();
        let rendered = render(
            template.as_str(),
            "0193a0c4-7b1e-7cc0-9a55-1f0e7d3f0a11",
            &"职".repeat(100),
            None,
        );
        assert!(rendered.len() < 2048, "{}", rendered.len());
    }

    #[test]
    fn a_closure_fills_its_place_and_without_one_the_brackets_go() {
        let template = built_in(Milestone::Closed);
        assert!(render(template, "7", "", Some(Closure::Unrated)).contains("已结案（未评价）"));
        assert!(render(template, "7", "", None).contains("已结案。"));
    }
}
