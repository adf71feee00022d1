//! Recognising a person without keeping their ID number.
//!
//! Two organisations registering the same resident must find one person,
//! so the register needs a stable identity. The resident ID number (居民身份
//! 证号码) is that identity, but it is exactly what must not be stored: the
//! register keeps HMAC-SHA256 of the normalised number under a secret key
//! (the *identity key*) plus a masked form for staff to confirm whom they
//! are looking at. Without the secret, the hashes cannot be brute-forced
//! from the small space of plausible ID numbers.

use std::fmt;

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::Invalid;
use super::kinds::Gender;

/// A checked 18-character resident ID number (GB 11643-1999): a 6-digit
/// region, an 8-digit birth date, a 3-digit sequence whose parity is the
/// holder's sex, and a check character (ISO 7064 MOD 11-2, `X` for 10).
///
/// Never printed: `Debug` shows only the masked form.
#[derive(Clone, PartialEq, Eq)]
pub struct ResidentIdNumber {
    normalised: String,
    birth_date: NaiveDate,
    gender: Gender,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARACTERS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

impl ResidentIdNumber {
    /// Parses a number as people type it: surrounding and inner spaces are
    /// ignored and a final `x` may be lower case. `today` bounds the birth
    /// date. Error messages never repeat the number.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, Invalid> {
        let normalised: String = input
            .chars()
            .filter(|character| !character.is_whitespace())
            .map(|character| character.to_ascii_uppercase())
            .collect();
        let length = normalised.chars().count();
        if length == 0 {
            return Err(Invalid::new("must not be empty"));
        }
        if length != 18 {
            return Err(Invalid::new(format!(
                "has {length} characters; a resident ID number has 18"
            )));
        }
        let characters: Vec<char> = normalised.chars().collect();
        let mut digits = [0u32; 17];
        for (position, character) in characters.iter().take(17).enumerate() {
            digits[position] = character.to_digit(10).ok_or_else(|| {
                Invalid::new(format!(
                    "character {} is not a digit; only the last character may be X",
                    position + 1
                ))
            })?;
        }
        if digits[0] == 0 {
            return Err(Invalid::new("does not start with a region code (1 to 9)"));
        }
        let weighted: u32 = digits
            .iter()
            .zip(WEIGHTS)
            .map(|(digit, weight)| digit * weight)
            .sum();
        let expected_check = CHECK_CHARACTERS[(weighted % 11) as usize];
        if characters[17] != expected_check {
            return Err(Invalid::new(
                "check character does not match the first 17 digits; the number is mistyped",
            ));
        }
        let year = (digits[6] * 1000 + digits[7] * 100 + digits[8] * 10 + digits[9]) as i32;
        let month = digits[10] * 10 + digits[11];
        let day = digits[12] * 10 + digits[13];
        let birth_date = NaiveDate::from_ymd_opt(year, month, day)
            .filter(|date| *date >= NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(*date))
            .ok_or_else(|| Invalid::new("birth date (characters 7 to 14) is not a valid date"))?;
        if birth_date > today {
            return Err(Invalid::new(
                "birth date (characters 7 to 14) lies in the future",
            ));
        }
        let gender = if digits[16] % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        };
        Ok(Self {
            normalised,
            birth_date,
            gender,
        })
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    pub fn gender(&self) -> Gender {
        self.gender
    }

    /// The first four and last four characters with the ten between masked,
    /// e.g. `4303**********123X`: enough for staff to confirm a match.
    pub fn masked(&self) -> String {
        let characters: Vec<char> = self.normalised.chars().collect();
        let head: String = characters[..4].iter().collect();
        let tail: String = characters[14..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(10))
    }
}

impl fmt::Debug for ResidentIdNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ResidentIdNumber")
            .field("masked", &self.masked())
            .finish()
    }
}

/// The secret that turns ID numbers into identity keys.
#[derive(Clone)]
pub struct IdentityHasher {
    key: Vec<u8>,
}

impl IdentityHasher {
    /// Keys shorter than this are refused: the key is what keeps the small
    /// space of ID numbers from being searched.
    pub const MIN_KEY_BYTES: usize = 32;

    pub fn new(key: Vec<u8>) -> Result<Self, Invalid> {
        if key.len() < Self::MIN_KEY_BYTES {
            return Err(Invalid::new(format!(
                "the identity key has {} bytes; at least {} are needed",
                key.len(),
                Self::MIN_KEY_BYTES
            )));
        }
        Ok(Self { key })
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// HMAC-SHA256 of the normalised number, domain-separated so the same
    /// key could never collide with another use.
    pub fn identity_key(&self, number: &ResidentIdNumber) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"flatgov.federation.person.v1:");
        mac.update(number.normalised.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A public fingerprint of the key, stored beside the data so a restart
    /// with a different key is refused instead of silently splitting people.
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut digest = Sha256::new();
        digest.update(b"flatgov.federation.identity-key-fingerprint.v1:");
        digest.update(&self.key);
        digest.finalize().to_vec()
    }
}

impl fmt::Debug for IdentityHasher {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("IdentityHasher(<secret>)")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    /// Completes 17 digits with their check character.
    pub(crate) fn with_check_character(first_seventeen: &str) -> String {
        let sum: u32 = first_seventeen
            .chars()
            .zip(WEIGHTS)
            .map(|(digit, weight)| digit.to_digit(10).unwrap() * weight)
            .sum();
        format!("{first_seventeen}{}", CHECK_CHARACTERS[(sum % 11) as usize])
    }

    #[test]
    fn the_published_example_number_is_accepted_with_its_birth_date_and_sex() {
        // The example from GB 11643-1999.
        let number = ResidentIdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(
            number.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(number.gender(), Gender::Female);
        assert_eq!(number.masked(), "1101**********002X");
    }

    #[test]
    fn spaces_and_a_lower_case_x_do_not_make_another_person() {
        let hasher = IdentityHasher::new(vec![7; 32]).unwrap();
        let typed = ResidentIdNumber::parse(" 110105 19491231 002x ", today()).unwrap();
        let clean = ResidentIdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(hasher.identity_key(&typed), hasher.identity_key(&clean));
    }

    #[test]
    fn an_odd_sequence_digit_is_a_man() {
        let number = with_check_character("43030219850615001");
        let parsed = ResidentIdNumber::parse(&number, today()).unwrap();
        assert_eq!(parsed.gender(), Gender::Male);
    }

    #[test]
    fn a_mistyped_digit_fails_the_check_character_without_echoing_the_number() {
        let error = ResidentIdNumber::parse("11010519491231003X", today()).unwrap_err();
        assert!(error.0.contains("check character"), "{error}");
        assert!(!error.0.contains("110105"), "{error}");
    }

    #[test]
    fn wrong_lengths_letters_and_impossible_dates_are_refused_with_the_reason() {
        assert!(
            ResidentIdNumber::parse("", today())
                .unwrap_err()
                .0
                .contains("empty")
        );
        assert!(
            ResidentIdNumber::parse("110105194912310", today())
                .unwrap_err()
                .0
                .contains("15 characters")
        );
        assert!(
            ResidentIdNumber::parse("1101051949123100AX", today())
                .unwrap_err()
                .0
                .contains("character 17 is not a digit")
        );
        let february_30 = with_check_character("43030219850230001");
        assert!(
            ResidentIdNumber::parse(&february_30, today())
                .unwrap_err()
                .0
                .contains("not a valid date")
        );
        let next_year = with_check_character("43030220270101001");
        assert!(
            ResidentIdNumber::parse(&next_year, today())
                .unwrap_err()
                .0
                .contains("in the future")
        );
        let leading_zero = with_check_character("03030219850615001");
        assert!(
            ResidentIdNumber::parse(&leading_zero, today())
                .unwrap_err()
                .0
                .contains("region")
        );
    }

    #[test]
    fn debug_output_shows_only_the_masked_number() {
        let number = ResidentIdNumber::parse("11010519491231002X", today()).unwrap();
        let printed = format!("{number:?}");
        assert!(printed.contains("1101**********002X"));
        assert!(!printed.contains("19491231"));
    }

    #[test]
    fn different_keys_give_different_identities_and_fingerprints() {
        let number = ResidentIdNumber::parse("11010519491231002X", today()).unwrap();
        let first = IdentityHasher::new(vec![1; 32]).unwrap();
        let second = IdentityHasher::new(vec![2; 32]).unwrap();
        assert_ne!(first.identity_key(&number), second.identity_key(&number));
        assert_ne!(first.fingerprint(), second.fingerprint());
        assert_eq!(first.identity_key(&number).len(), 32);
    }

    #[test]
    fn a_short_key_is_refused() {
        let error = IdentityHasher::new(vec![1; 31]).unwrap_err();
        assert!(error.0.contains("31 bytes"), "{error}");
    }
}
