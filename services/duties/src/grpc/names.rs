//! Resource names in requests, read: each parser answers with the value
//! or with the description of what is wrong, for the request field it is
//! checked under (`violations.check("name", version_ref(&request.name))`).

use crate::application::lists::VersionRef;
use crate::domain::{ExceptionId, ItemCode, ListKind, VersionNumber};
use flatgov_vocabulary::{DepartmentCode, MatterCode, parse_id};

/// `departments/{code}`.
pub fn department_code(name: &str) -> Result<DepartmentCode, String> {
    parse_id(name, "departments").map_err(|error| error.to_string())
}

/// `matters/{code}`.
pub fn matter_code(name: &str) -> Result<MatterCode, String> {
    parse_id(name, "matters").map_err(|error| error.to_string())
}

/// `exceptions/{id}`.
pub fn exception_id(name: &str) -> Result<ExceptionId, String> {
    parse_id(name, "exceptions").map_err(|error| error.to_string())
}

/// `{collection}/{uuid}`.
pub fn uuid_id(name: &str, collection: &'static str) -> Result<uuid::Uuid, String> {
    parse_id(name, collection).map_err(|error| error.to_string())
}

fn shape_error(name: &str) -> String {
    format!(
        "{name:?} is not lists/{{kind}}, lists/{{kind}}/versions/{{number}} or lists/{{kind}}/draft (kinds: subdistrict_duty, subdistrict_cooperation, residents_self_government, residents_assisting, residents_negative)"
    )
}

/// `lists/{kind}`, `lists/{kind}/versions/{number}` or `lists/{kind}/draft`.
pub fn version_ref(name: &str) -> Result<VersionRef, String> {
    let parts: Vec<&str> = name.split('/').collect();
    let kind = match parts.as_slice() {
        ["lists", kind, ..] => ListKind::parse(kind).map_err(|error| error.to_string())?,
        _ => return Err(shape_error(name)),
    };
    match parts.as_slice() {
        [_, _] => Ok(VersionRef::InEffect(kind)),
        [_, _, "draft"] => Ok(VersionRef::Draft(kind)),
        [_, _, "versions", number] => number
            .parse::<u32>()
            .ok()
            .and_then(VersionNumber::new)
            .map(|number| VersionRef::Number(kind, number))
            .ok_or_else(|| format!("{number:?} is not a version number (1, 2, …)")),
        _ => Err(shape_error(name)),
    }
}

/// `lists/{kind}` only.
pub fn list_kind(name: &str) -> Result<ListKind, String> {
    match version_ref(name)? {
        VersionRef::InEffect(kind) => Ok(kind),
        _ => Err(format!("{name:?} is not of the form lists/{{kind}}")),
    }
}

/// `lists/{kind}/draft` only.
pub fn draft_of(name: &str) -> Result<ListKind, String> {
    match version_ref(name)? {
        VersionRef::Draft(kind) => Ok(kind),
        _ => Err(format!("{name:?} is not of the form lists/{{kind}}/draft")),
    }
}

/// `lists/{kind}/draft/items/{code}`, of an item of that list.
pub fn draft_item(name: &str) -> Result<(ListKind, ItemCode), String> {
    let shape = || format!("{name:?} is not of the form lists/{{kind}}/draft/items/{{code}}");
    let (list, code) = name.rsplit_once("/items/").ok_or_else(shape)?;
    let VersionRef::Draft(kind) = version_ref(list)? else {
        return Err(shape());
    };
    let code = ItemCode::parse(code).map_err(|error| error.to_string())?;
    if code.list() != kind {
        return Err(format!("item {code} is not on the {kind} list"));
    }
    Ok((kind, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_parse_into_the_version_they_mean() {
        assert_eq!(
            version_ref("lists/subdistrict_duty").unwrap(),
            VersionRef::InEffect(ListKind::SubdistrictDuty)
        );
        assert_eq!(
            version_ref("lists/residents_negative/versions/3").unwrap(),
            VersionRef::Number(ListKind::ResidentsNegative, VersionNumber::new(3).unwrap())
        );
        assert_eq!(
            version_ref("lists/subdistrict_cooperation/draft").unwrap(),
            VersionRef::Draft(ListKind::SubdistrictCooperation)
        );
        for bad in [
            "lists",
            "list/subdistrict_duty",
            "lists/duty",
            "lists/subdistrict_duty/versions/0",
            "lists/subdistrict_duty/versions/x",
            "lists/subdistrict_duty/drafts",
        ] {
            assert!(version_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_draft_item_name_must_name_an_item_of_that_list() {
        assert_eq!(
            draft_item("lists/subdistrict_duty/draft/items/SD-01-02").unwrap(),
            (
                ListKind::SubdistrictDuty,
                ItemCode::parse("SD-01-02").unwrap()
            )
        );
        assert!(draft_item("lists/subdistrict_duty/draft/items/SC-01-02").is_err());
        assert!(draft_item("lists/subdistrict_duty/versions/2/items/SD-01-02").is_err());
    }

    #[test]
    fn a_name_of_another_collection_says_which_shape_was_expected() {
        assert_eq!(
            department_code("matters/transport").unwrap_err(),
            "\"matters/transport\" is not a departments/{id} name"
        );
        assert!(uuid_id("refusals/not-a-uuid", "refusals").is_err());
    }
}
