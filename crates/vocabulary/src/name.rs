//! Resource names in the AIP style: `cases/0193…`, `organisations/womens_federation`,
//! `operations/0193…/actions/0193…`.

use std::fmt;
use std::str::FromStr;

/// Why a text is not a name of the expected collection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{value:?} is not a {collection}/{{id}} name")]
    Collection {
        collection: &'static str,
        value: String,
    },
    #[error("{value:?} is not a {collection}/{{id}} name: {reason}")]
    Id {
        collection: &'static str,
        value: String,
        reason: String,
    },
}

/// The id of `name` in `collection`: `cases/abc` in `cases` → `abc` (no further `/`).
pub fn id_in<'a>(name: &'a str, collection: &'static str) -> Result<&'a str, NameError> {
    name.strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| NameError::Collection {
            collection,
            value: name.to_owned(),
        })
}

/// The id of `name` in `collection`, parsed as `T` (a UUID, a code).
pub fn parse_id<T>(name: &str, collection: &'static str) -> Result<T, NameError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    id_in(name, collection)?
        .parse()
        .map_err(|error: T::Err| NameError::Id {
            collection,
            value: name.to_owned(),
            reason: error.to_string(),
        })
}

/// `collection/id`.
pub fn name_of(collection: &str, id: impl fmt::Display) -> String {
    format!("{collection}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_read_from_its_collection_only() {
        assert_eq!(id_in("cases/abc", "cases").unwrap(), "abc");
        assert!(id_in("cases/", "cases").is_err());
        assert!(id_in("cases/a/b", "cases").is_err());
        assert!(id_in("casesx/abc", "cases").is_err());
        assert!(id_in("meetings/abc", "cases").is_err());
        let id: uuid::Uuid =
            parse_id("cases/0193f2e0-7b1e-7c3d-9e2f-0123456789ab", "cases").unwrap();
        assert_eq!(
            name_of("cases", id),
            "cases/0193f2e0-7b1e-7c3d-9e2f-0123456789ab"
        );
        assert!(parse_id::<uuid::Uuid>("cases/not-a-uuid", "cases").is_err());
    }
}
