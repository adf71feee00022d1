//! Free text with a bounded length: descriptions, summaries, notes, reasons.

use super::codes::InvalidValue;

/// Free text a person wrote: at most `max` characters, no control
/// characters other than line breaks and tabs. Whitespace-only text counts
/// as empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    /// Text that must be present.
    pub fn required(what: &'static str, value: &str, max: usize) -> Result<Self, InvalidValue> {
        if value.trim().is_empty() {
            return Err(InvalidValue::Empty { what });
        }
        Self::optional(what, value, max)
    }

    /// Text that may be empty.
    pub fn optional(what: &'static str, value: &str, max: usize) -> Result<Self, InvalidValue> {
        let found = value.chars().count();
        if found > max {
            return Err(InvalidValue::TooLong { what, max, found });
        }
        if let Some(control) = value
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(InvalidValue::Malformed {
                what,
                value: format!("{:?}", control),
                expected: "text without control characters other than line breaks and tabs",
            });
        }
        Ok(Self(value.trim().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_text_refuses_blank_input() {
        assert_eq!(
            Text::required("reason", "  \n ", 10).unwrap_err(),
            InvalidValue::Empty { what: "reason" }
        );
        assert_eq!(Text::required("reason", " ok ", 10).unwrap().as_str(), "ok");
    }

    #[test]
    fn the_limit_counts_characters_not_bytes() {
        assert!(Text::optional("note", &"违".repeat(10), 10).is_ok());
        assert_eq!(
            Text::optional("note", &"违".repeat(11), 10).unwrap_err(),
            InvalidValue::TooLong {
                what: "note",
                max: 10,
                found: 11
            }
        );
    }

    #[test]
    fn control_characters_other_than_line_breaks_are_refused() {
        assert!(Text::optional("note", "line one\nline two\tx", 100).is_ok());
        assert!(Text::optional("note", "bell\u{7}", 100).is_err());
        assert!(Text::optional("note", "", 100).unwrap().is_empty());
    }
}
