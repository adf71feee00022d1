//! The stable code of a list item.

use std::fmt;
use std::str::FromStr;

use super::kinds::ListKind;

/// The stable code of a list item: `<PREFIX>-<CC>-<NN>`.
///
/// - `PREFIX` names the list: `SD` subdistrict duty, `SC` subdistrict cooperation, `RS`
///   residents' committee self-government, `RA` residents' committee assisting, `RN`
///   residents' committee negative list ([`ListKind::code_prefix`]).
/// - `CC` is the two-digit category number within that list, `01`–`99`.
/// - `NN` is the two-digit item number within the category, `01`–`99`.
///
/// Example: `SC-02-01` is item 1 of category 2 of the cooperation list. A code keeps its
/// meaning across versions of its list; an item that moves to another list gets a new
/// code there. Codes order by list, then category, then item number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemCode {
    /// The list the code belongs to (the prefix).
    list: ListKind,
    /// The category number within the list.
    category: u8,
    /// The item number within the category.
    number: u8,
}

/// Why a string is not a valid item code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemCodeError {
    /// The string does not have the `XX-00-00` shape.
    #[error("item code {value:?} is malformed: expected <PREFIX>-<CC>-<NN> such as SD-01-03")]
    Malformed {
        /// The offending value.
        value: String,
    },
    /// The prefix names no list.
    #[error(
        "item code {value:?} has unknown list prefix {prefix:?}: expected SD, SC, RS, RA or RN"
    )]
    UnknownPrefix {
        /// The offending value.
        value: String,
        /// The prefix that names no list.
        prefix: String,
    },
    /// A category or item number is `00`.
    #[error("item code {value:?} has a zero category or item number: numbering starts at 01")]
    ZeroNumber {
        /// The offending value.
        value: String,
    },
}

fn two_digits(text: &str) -> Option<u8> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((bytes[0] - b'0') * 10 + (bytes[1] - b'0'))
}

impl ItemCode {
    /// Parses `SD-01-03` and the like; see the type's documentation for the format.
    pub fn parse(value: &str) -> Result<Self, ItemCodeError> {
        let malformed = || ItemCodeError::Malformed {
            value: value.to_owned(),
        };
        let mut parts = value.split('-');
        let (Some(prefix), Some(category), Some(number), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let (Some(category), Some(number)) = (two_digits(category), two_digits(number)) else {
            return Err(malformed());
        };
        let is_two_capitals = prefix.len() == 2 && prefix.bytes().all(|b| b.is_ascii_uppercase());
        if !is_two_capitals {
            return Err(malformed());
        }
        let Some(list) = ListKind::from_code_prefix(prefix) else {
            return Err(ItemCodeError::UnknownPrefix {
                value: value.to_owned(),
                prefix: prefix.to_owned(),
            });
        };
        Self::new(list, category, number).ok_or_else(|| ItemCodeError::ZeroNumber {
            value: value.to_owned(),
        })
    }

    /// Builds a code from its parts; `None` when a number is outside `1..=99`.
    pub fn new(list: ListKind, category: u8, number: u8) -> Option<Self> {
        let in_range = |n: u8| (1..=99).contains(&n);
        (in_range(category) && in_range(number)).then_some(Self {
            list,
            category,
            number,
        })
    }

    /// The list this code belongs to.
    pub fn list(self) -> ListKind {
        self.list
    }

    /// The category number within the list.
    pub fn category(self) -> u8 {
        self.category
    }

    /// The item number within the category.
    pub fn number(self) -> u8 {
        self.number
    }
}

impl fmt::Display for ItemCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}-{:02}-{:02}",
            self.list.code_prefix(),
            self.category,
            self.number
        )
    }
}

impl FromStr for ItemCode {
    type Err = ItemCodeError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_code_names_its_list_category_and_number() {
        let code = ItemCode::parse("SC-02-11").unwrap();
        assert_eq!(code.list(), ListKind::SubdistrictCooperation);
        assert_eq!(code.category(), 2);
        assert_eq!(code.number(), 11);
        assert_eq!(code.to_string(), "SC-02-11");
    }

    #[test]
    fn every_list_prefix_is_accepted() {
        for kind in ListKind::ALL {
            let text = format!("{}-13-35", kind.code_prefix());
            assert_eq!(ItemCode::parse(&text).unwrap().list(), kind);
        }
    }

    #[test]
    fn malformed_item_codes_are_refused() {
        for bad in [
            "",
            "SD",
            "SD-1-03",
            "SD-01-3",
            "SD-01-003",
            "sd-01-03",
            "SD_01_03",
            "SD-01-03-01",
            "SD-0a-03",
            "SD01-03",
            " SD-01-03",
            "SDX-01-03",
            "SD-+1-03",
        ] {
            assert_eq!(
                ItemCode::parse(bad),
                Err(ItemCodeError::Malformed {
                    value: bad.to_owned()
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_unknown_prefix_is_named_in_the_error() {
        let error = ItemCode::parse("XX-01-01").unwrap_err();
        assert_eq!(
            error,
            ItemCodeError::UnknownPrefix {
                value: "XX-01-01".into(),
                prefix: "XX".into()
            }
        );
        assert!(error.to_string().contains("\"XX\""));
    }

    #[test]
    fn numbering_starts_at_one() {
        assert!(matches!(
            ItemCode::parse("SD-00-01"),
            Err(ItemCodeError::ZeroNumber { .. })
        ));
        assert!(matches!(
            ItemCode::parse("SD-01-00"),
            Err(ItemCodeError::ZeroNumber { .. })
        ));
        assert_eq!(ItemCode::new(ListKind::SubdistrictDuty, 0, 1), None);
        assert_eq!(ItemCode::new(ListKind::SubdistrictDuty, 1, 100), None);
    }

    #[test]
    fn codes_sort_by_list_then_category_then_number() {
        let mut codes: Vec<ItemCode> = ["SC-01-01", "SD-02-01", "SD-01-10", "SD-01-02"]
            .iter()
            .map(|text| text.parse().unwrap())
            .collect();
        codes.sort();
        let printed: Vec<String> = codes.iter().map(ToString::to_string).collect();
        assert_eq!(printed, ["SD-01-02", "SD-01-10", "SD-02-01", "SC-01-01"]);
    }
}
