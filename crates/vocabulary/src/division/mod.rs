//! Administrative division codes: district → subdistrict → community → block.
//!
//! The first three levels follow the national statistical division codes (GB/T 2260
//! for the 6-digit county-level district, extended by the National Bureau of
//! Statistics with 3 digits for the township-level subdistrict 街道 and 3 more for the
//! village-level community 社区). A block 区块 has no national code, so the platform
//! appends a 3-digit block number within its community:
//!
//! ```text
//! 430302 001 004 017
//! │      │   │   └── block number within the community (001–999)
//! │      │   └────── community within the subdistrict (001–999)
//! │      └────────── subdistrict within the district (001–999)
//! └───────────────── district (county level), e.g. 430302 雨湖区 (province and county parts not 00)
//! ```
//!
//! Every level has a fixed width and a child's code starts with its parent's, so a
//! block names its community and subdistrict and "inside" is a prefix test. Each code
//! is a `Copy` value built only through `parse` (or from its parent), so a value of
//! the type is valid everywhere.

use std::fmt;
use std::str::FromStr;

/// The level of an administrative division.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DivisionLevel {
    District,
    Subdistrict,
    Community,
    Block,
}

impl DivisionLevel {
    /// Every level, from the widest.
    pub const ALL: [DivisionLevel; 4] = [
        DivisionLevel::District,
        DivisionLevel::Subdistrict,
        DivisionLevel::Community,
        DivisionLevel::Block,
    ];

    /// The collection of its resource names: `blocks`.
    pub fn collection(self) -> &'static str {
        match self {
            DivisionLevel::District => "districts",
            DivisionLevel::Subdistrict => "subdistricts",
            DivisionLevel::Community => "communities",
            DivisionLevel::Block => "blocks",
        }
    }

    /// The number of digits of its codes.
    pub fn digits(self) -> usize {
        match self {
            DivisionLevel::District => 6,
            DivisionLevel::Subdistrict => 9,
            DivisionLevel::Community => 12,
            DivisionLevel::Block => 15,
        }
    }

    /// How it is named in messages: `block`.
    pub fn word(self) -> &'static str {
        match self {
            DivisionLevel::District => "district",
            DivisionLevel::Subdistrict => "subdistrict",
            DivisionLevel::Community => "community",
            DivisionLevel::Block => "block",
        }
    }

    /// The level whose codes have `digits` digits.
    pub fn of_digits(digits: usize) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.digits() == digits)
    }
}

impl fmt::Display for DivisionLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.word())
    }
}

/// Why a text is not a valid division code or name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Nothing was given.
    #[error("{level} code is empty")]
    Empty { level: &'static str },
    /// The text has the wrong number of characters for its level.
    #[error("{level} code {value:?} must have exactly {expected} digits, has {actual} characters")]
    WrongLength {
        level: &'static str,
        value: String,
        expected: usize,
        actual: usize,
    },
    /// The text's length fits no level.
    #[error(
        "{value:?} is not a division code: 6 (district), 9 (subdistrict), 12 (community) or 15 (block) digits"
    )]
    NoLevel { value: String },
    /// A character other than an ASCII digit appears.
    #[error(
        "{level} code {value:?} must contain only digits 0-9, found {found:?} at position {position}"
    )]
    NotADigit {
        level: &'static str,
        value: String,
        found: char,
        position: usize,
    },
    /// A segment of the code is all zeros, which the scheme reserves for "the parent".
    #[error("{level} code {value:?} has {segment} {digits:?}, which must not be all zeros")]
    ZeroSegment {
        level: &'static str,
        value: String,
        segment: &'static str,
        digits: String,
    },
    /// A child number given as an integer is outside 1–999.
    #[error("{level} number {number} must be between 1 and 999")]
    NumberOutOfRange { level: &'static str, number: u32 },
    /// A resource name of another collection, or without one.
    #[error("expected {collection}/{{code}}, found {value:?}")]
    NotAName {
        collection: &'static str,
        value: String,
    },
}

/// The segments of a code after the district, by their character ranges.
const SEGMENTS: [(&str, std::ops::Range<usize>); 3] = [
    ("subdistrict number", 6..9),
    ("community number", 9..12),
    ("block number", 12..15),
];

/// Checks `value` is a code of `level` and returns its digits.
fn check<const N: usize>(value: &str, level: DivisionLevel) -> Result<[u8; N], CodeError> {
    let word = level.word();
    if value.is_empty() {
        return Err(CodeError::Empty { level: word });
    }
    // A stray character is named first: "found 'y' at position 0" says more
    // about `yuhu-lu` than its length does.
    if let Some((position, found)) = value
        .chars()
        .enumerate()
        .find(|(_, character)| !character.is_ascii_digit())
    {
        return Err(CodeError::NotADigit {
            level: word,
            value: value.to_owned(),
            found,
            position,
        });
    }
    let actual = value.chars().count();
    if actual != N {
        return Err(CodeError::WrongLength {
            level: word,
            value: value.to_owned(),
            expected: N,
            actual,
        });
    }
    let mut digits = [0u8; N];
    digits.copy_from_slice(value.as_bytes());
    let zero = |segment: &'static str, range: std::ops::Range<usize>| {
        if value[range.clone()].bytes().all(|byte| byte == b'0') {
            Err(CodeError::ZeroSegment {
                level: word,
                value: value.to_owned(),
                segment,
                digits: value[range].to_owned(),
            })
        } else {
            Ok(())
        }
    };
    zero("province part", 0..2)?;
    zero("county part", 4..6)?;
    for (segment, range) in SEGMENTS {
        if range.end <= N {
            zero(segment, range)?;
        }
    }
    Ok(digits)
}

fn child_digits<const P: usize, const C: usize>(
    parent: &[u8; P],
    level: DivisionLevel,
    number: u32,
) -> Result<[u8; C], CodeError> {
    if !(1..=999).contains(&number) {
        return Err(CodeError::NumberOutOfRange {
            level: level.word(),
            number,
        });
    }
    let mut digits = [0u8; C];
    digits[..P].copy_from_slice(parent);
    digits[P..].copy_from_slice(format!("{number:03}").as_bytes());
    Ok(digits)
}

macro_rules! division_code {
    ($(#[$doc:meta])* $name:ident, $digits:literal, $level:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; $digits]);

        impl $name {
            pub const LEVEL: DivisionLevel = $level;
            /// The number of digits of this level's codes.
            pub const DIGITS: usize = $digits;

            /// The code's digits, checked against the national scheme.
            pub fn parse(value: &str) -> Result<Self, CodeError> {
                check::<$digits>(value, Self::LEVEL).map(Self)
            }

            /// The code from its resource name, e.g. `blocks/430302001004017`.
            pub fn parse_name(name: &str) -> Result<Self, CodeError> {
                let collection = Self::LEVEL.collection();
                let code = name
                    .strip_prefix(collection)
                    .and_then(|rest| rest.strip_prefix('/'))
                    .ok_or_else(|| CodeError::NotAName {
                        collection,
                        value: name.to_owned(),
                    })?;
                Self::parse(code)
            }

            /// The digits as text.
            pub fn as_str(&self) -> &str {
                // Only ASCII digits are ever stored.
                std::str::from_utf8(&self.0).unwrap_or_default()
            }

            /// The resource name, e.g. `blocks/430302001004017`.
            pub fn name(&self) -> String {
                format!("{}/{}", Self::LEVEL.collection(), self.as_str())
            }

            /// The same division, as any level.
            pub fn division(self) -> DivisionCode {
                DivisionCode::from(self)
            }

            /// True when the division `code` (a code of any level) lies inside this one.
            pub fn contains(&self, code: &str) -> bool {
                code.starts_with(self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = CodeError;
            fn from_str(value: &str) -> Result<Self, CodeError> {
                Self::parse(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

division_code!(
    /// A county-level district code (6 digits), e.g. `430302` for 雨湖区: province part
    /// (first two digits) and county part (last two) not `00`.
    DistrictCode, 6, DivisionLevel::District
);
division_code!(
    /// A subdistrict (街道) code: its district's code + a 3-digit number, not `000`.
    SubdistrictCode, 9, DivisionLevel::Subdistrict
);
division_code!(
    /// A community (社区) code: its subdistrict's code + a 3-digit number, not `000`.
    CommunityCode, 12, DivisionLevel::Community
);
division_code!(
    /// A block (区块) code: its community's code + a 3-digit number, not `000`.
    BlockCode, 15, DivisionLevel::Block
);

fn prefix<const N: usize, const M: usize>(digits: &[u8; N]) -> [u8; M] {
    let mut parent = [0u8; M];
    parent.copy_from_slice(&digits[..M]);
    parent
}

fn last_number<const N: usize>(digits: &[u8; N]) -> u32 {
    digits[N - 3..]
        .iter()
        .fold(0, |number, digit| number * 10 + u32::from(digit - b'0'))
}

impl DistrictCode {
    /// Its subdistrict numbered `number` (1–999).
    pub fn subdistrict(self, number: u32) -> Result<SubdistrictCode, CodeError> {
        child_digits::<6, 9>(&self.0, DivisionLevel::Subdistrict, number).map(SubdistrictCode)
    }
}

impl SubdistrictCode {
    pub fn district(self) -> DistrictCode {
        DistrictCode(prefix(&self.0))
    }

    /// The 3-digit number within its district.
    pub fn number(self) -> u32 {
        last_number(&self.0)
    }

    /// Its community numbered `number` (1–999).
    pub fn community(self, number: u32) -> Result<CommunityCode, CodeError> {
        child_digits::<9, 12>(&self.0, DivisionLevel::Community, number).map(CommunityCode)
    }
}

impl CommunityCode {
    pub fn subdistrict(self) -> SubdistrictCode {
        SubdistrictCode(prefix(&self.0))
    }

    pub fn district(self) -> DistrictCode {
        DistrictCode(prefix(&self.0))
    }

    /// The 3-digit number within its subdistrict.
    pub fn number(self) -> u32 {
        last_number(&self.0)
    }

    /// Its block numbered `number` (1–999).
    pub fn block(self, number: u32) -> Result<BlockCode, CodeError> {
        child_digits::<12, 15>(&self.0, DivisionLevel::Block, number).map(BlockCode)
    }
}

impl BlockCode {
    pub fn community(self) -> CommunityCode {
        CommunityCode(prefix(&self.0))
    }

    pub fn subdistrict(self) -> SubdistrictCode {
        SubdistrictCode(prefix(&self.0))
    }

    pub fn district(self) -> DistrictCode {
        DistrictCode(prefix(&self.0))
    }

    /// The 3-digit number within its community.
    pub fn number(self) -> u32 {
        last_number(&self.0)
    }
}

/// A division of any level.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DivisionCode {
    District(DistrictCode),
    Subdistrict(SubdistrictCode),
    Community(CommunityCode),
    Block(BlockCode),
}

impl DivisionCode {
    /// A code of any level, told by its length.
    pub fn parse(value: &str) -> Result<Self, CodeError> {
        if value.is_empty() {
            return Err(CodeError::Empty { level: "division" });
        }
        match DivisionLevel::of_digits(value.chars().count()) {
            Some(DivisionLevel::District) => DistrictCode::parse(value).map(Self::District),
            Some(DivisionLevel::Subdistrict) => {
                SubdistrictCode::parse(value).map(Self::Subdistrict)
            }
            Some(DivisionLevel::Community) => CommunityCode::parse(value).map(Self::Community),
            Some(DivisionLevel::Block) => BlockCode::parse(value).map(Self::Block),
            None => Err(CodeError::NoLevel {
                value: value.to_owned(),
            }),
        }
    }

    /// A resource name of any level: `districts/…`, `subdistricts/…`,
    /// `communities/…` or `blocks/…`.
    pub fn parse_name(name: &str) -> Result<Self, CodeError> {
        let (collection, code) = name.split_once('/').ok_or(CodeError::NotAName {
            collection: "districts|subdistricts|communities|blocks",
            value: name.to_owned(),
        })?;
        let level = DivisionLevel::ALL
            .into_iter()
            .find(|level| level.collection() == collection)
            .ok_or(CodeError::NotAName {
                collection: "districts|subdistricts|communities|blocks",
                value: name.to_owned(),
            })?;
        let code = Self::parse(code)?;
        if code.level() != level {
            return Err(CodeError::WrongLength {
                level: level.word(),
                value: code.as_str().to_owned(),
                expected: level.digits(),
                actual: code.as_str().len(),
            });
        }
        Ok(code)
    }

    pub fn level(&self) -> DivisionLevel {
        match self {
            DivisionCode::District(_) => DivisionLevel::District,
            DivisionCode::Subdistrict(_) => DivisionLevel::Subdistrict,
            DivisionCode::Community(_) => DivisionLevel::Community,
            DivisionCode::Block(_) => DivisionLevel::Block,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DivisionCode::District(code) => code.as_str(),
            DivisionCode::Subdistrict(code) => code.as_str(),
            DivisionCode::Community(code) => code.as_str(),
            DivisionCode::Block(code) => code.as_str(),
        }
    }

    /// The resource name, e.g. `subdistricts/430302001`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.level().collection(), self.as_str())
    }

    /// True when `other` lies inside this division (or is it).
    pub fn covers(&self, other: &DivisionCode) -> bool {
        other.as_str().starts_with(self.as_str())
    }
}

impl From<DistrictCode> for DivisionCode {
    fn from(code: DistrictCode) -> Self {
        DivisionCode::District(code)
    }
}

impl From<SubdistrictCode> for DivisionCode {
    fn from(code: SubdistrictCode) -> Self {
        DivisionCode::Subdistrict(code)
    }
}

impl From<CommunityCode> for DivisionCode {
    fn from(code: CommunityCode) -> Self {
        DivisionCode::Community(code)
    }
}

impl From<BlockCode> for DivisionCode {
    fn from(code: BlockCode) -> Self {
        DivisionCode::Block(code)
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl fmt::Debug for DivisionCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "DivisionCode({})", self.name())
    }
}

impl FromStr for DivisionCode {
    type Err = CodeError;
    fn from_str(value: &str) -> Result<Self, CodeError> {
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests;
