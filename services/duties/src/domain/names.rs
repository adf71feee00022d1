//! Resource names of what the service holds (AIP-122), e.g.
//! `lists/subdistrict_duty/versions/2`: the one place they are written.

use super::{ListKind, VersionNumber};

pub fn department_name(code: &str) -> String {
    format!("departments/{code}")
}

pub fn matter_name(code: &str) -> String {
    format!("matters/{code}")
}

pub fn exception_name(id: &str) -> String {
    format!("exceptions/{id}")
}

pub fn list_name(kind: ListKind) -> String {
    format!("lists/{kind}")
}

pub fn version_name(kind: ListKind, number: VersionNumber) -> String {
    format!("lists/{kind}/versions/{}", number.get())
}

pub fn draft_name(kind: ListKind) -> String {
    format!("lists/{kind}/draft")
}

/// An item of a version (or of the draft), e.g.
/// `lists/subdistrict_duty/versions/2/items/SD-05-03`.
pub fn item_name(version: &str, code: &str) -> String {
    format!("{version}/items/{code}")
}

pub fn refusal_name(id: uuid::Uuid) -> String {
    format!("refusals/{id}")
}

pub fn assessment_name(id: uuid::Uuid) -> String {
    format!("assessments/{id}")
}

pub fn opinion_name(id: uuid::Uuid) -> String {
    format!("opinions/{id}")
}

/// The id in `{collection}/{uuid}`, when the name has that shape.
pub fn uuid_in(name: &str, collection: &str) -> Option<uuid::Uuid> {
    name.strip_prefix(collection)?
        .strip_prefix('/')?
        .parse()
        .ok()
}
