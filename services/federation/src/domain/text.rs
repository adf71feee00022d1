//! Free text with a bounded length, and the few shaped strings (phone
//! numbers, token subjects) the federation stores.

use super::Invalid;

/// Trimmed text that is not empty and at most `max_characters` long
/// (counted in characters, not bytes). Control characters other than line
/// breaks and tabs are refused: PostgreSQL cannot store NUL and none of the
/// others belongs in a form field.
pub fn required(value: &str, max_characters: usize) -> Result<String, Invalid> {
    let text = optional(value, max_characters)?;
    if text.is_empty() {
        return Err(Invalid::new("must not be empty"));
    }
    Ok(text)
}

/// Like [`required`], but empty is allowed.
pub fn optional(value: &str, max_characters: usize) -> Result<String, Invalid> {
    let text = value.trim();
    let length = text.chars().count();
    if length > max_characters {
        return Err(Invalid::new(format!(
            "is {length} characters long; at most {max_characters} are allowed"
        )));
    }
    if let Some(position) = text
        .chars()
        .position(|character| character.is_control() && !matches!(character, '\n' | '\r' | '\t'))
    {
        return Err(Invalid::new(format!(
            "contains a control character at position {}",
            position + 1
        )));
    }
    Ok(text.to_owned())
}

/// A phone number as people write it: digits with optional `+`, spaces,
/// hyphens and parentheses, 3 to 20 digits (hotline short numbers to
/// international mobiles). Empty is allowed. The number is personal data:
/// errors never repeat it.
pub fn phone(value: &str) -> Result<String, Invalid> {
    let text = value.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    let allowed = text.chars().enumerate().all(|(position, character)| {
        character.is_ascii_digit()
            || matches!(character, ' ' | '-' | '(' | ')')
            || (character == '+' && position == 0)
    });
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if !allowed || !(3..=20).contains(&digits) {
        return Err(Invalid::new(
            "must be 3 to 20 digits, optionally with a leading +, spaces, hyphens or parentheses",
        ));
    }
    Ok(text.to_owned())
}

/// The participant of an activity registration: an opaque id from the
/// registering channel (app account, service-centre card), 1 to 128
/// characters. Phone numbers and ID numbers are refused, since registrations
/// are shown to organisers and the id travels further than the register of
/// people may.
pub fn participant(value: &str) -> Result<String, Invalid> {
    let participant = required(value, 128)?;
    let digits_only = |text: &str| text.chars().all(|character| character.is_ascii_digit());
    let compact: String = participant
        .chars()
        .filter(|character| !matches!(character, ' ' | '-'))
        .collect();
    let looks_like_mobile =
        compact.len() == 11 && compact.starts_with('1') && digits_only(&compact);
    let looks_like_id_number = compact.is_ascii()
        && ((compact.len() == 18
            && digits_only(&compact[..17])
            && compact[17..]
                .chars()
                .all(|last| last.is_ascii_digit() || last == 'X' || last == 'x'))
            || (compact.len() == 15 && digits_only(&compact)));
    if looks_like_mobile || looks_like_id_number {
        return Err(Invalid::new(
            "looks like a phone or ID number; use the registering channel's opaque account id instead",
        ));
    }
    Ok(participant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_is_an_opaque_id_never_a_phone_or_id_number() {
        assert_eq!(participant(" app-user-7781 ").unwrap(), "app-user-7781");
        assert!(
            participant("13800000000")
                .unwrap_err()
                .0
                .contains("phone or ID number")
        );
        assert!(participant("138-0000-0000").is_err());
        assert!(participant("11010519491231002X").is_err());
        assert!(participant("110105491231002").is_err());
        assert!(participant("").is_err());
        assert!(participant("card-000123").is_ok());
        assert!(participant("青年之家会员卡号一二三四五六").is_ok());
    }

    #[test]
    fn required_text_is_trimmed_and_must_not_be_blank() {
        assert_eq!(required("  青年夜校  ", 10).unwrap(), "青年夜校");
        assert_eq!(required("   ", 10).unwrap_err().0, "must not be empty");
    }

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        assert!(required("青年之家", 4).is_ok());
        assert_eq!(
            required("青年之家!", 4).unwrap_err().0,
            "is 5 characters long; at most 4 are allowed"
        );
    }

    #[test]
    fn nul_and_other_control_characters_are_refused_but_line_breaks_are_kept() {
        assert_eq!(
            optional("ab\u{0}c", 10).unwrap_err().0,
            "contains a control character at position 3"
        );
        assert_eq!(
            optional("line one\nline two\tend", 40).unwrap(),
            "line one\nline two\tend"
        );
    }

    #[test]
    fn phone_numbers_allow_common_punctuation_and_never_echo_the_input() {
        assert_eq!(phone("+86 138-0000-0000").unwrap(), "+86 138-0000-0000");
        assert_eq!(phone("12338").unwrap(), "12338");
        assert_eq!(phone("").unwrap(), "");
        let error = phone("138abc00000").unwrap_err();
        assert!(!error.0.contains("138"), "{error}");
        assert!(phone("12").is_err());
        assert!(phone("1+2345").is_err());
    }
}
