//! The catalogue: parse every matter (all violations at once), publish,
//! render in the language asked for.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::request_id::RequestId;
use flatgov_proto::errands::v1 as proto;
use flatgov_vocabulary::{DepartmentCode, MatterCode};

use super::ErrandsService;
use super::render;
use crate::application::catalogue::{self, PublishCatalogue};
use crate::domain::{CatalogueMatter, ChecklistItem};
use crate::error::Error;

flatgov_vocabulary::snake_code!(
    /// An item of a matter's materials checklist, e.g. `household_register`.
    MaterialCode, "material code", 64, "household_register"
);

const MAX_MATTERS: usize = 500;
const MAX_MATERIALS: usize = 50;
const MAX_NAME_CHARS: usize = 100;
const MAX_NOTE_CHARS: usize = 500;

fn text(value: &str, max_chars: usize, required: bool) -> Result<String, String> {
    let trimmed = value.trim();
    if (required && trimmed.is_empty()) || trimmed.chars().count() > max_chars {
        let least = if required { 1 } else { 0 };
        return Err(format!("must have {least}-{max_chars} characters"));
    }
    Ok(trimmed.to_owned())
}

fn matter(
    index: usize,
    matter: &proto::Matter,
    violations: &mut Violations,
) -> Option<CatalogueMatter> {
    let field = |name: &str| format!("matters[{index}].{name}");
    let code = violations.check(field("code"), MatterCode::parse(matter.code.trim()));
    let name_zh = violations.check(
        field("name_zh"),
        text(&matter.name_zh, MAX_NAME_CHARS, true),
    );
    let name_en = violations.check(
        field("name_en"),
        text(&matter.name_en, MAX_NAME_CHARS, false),
    );
    let department = violations.check(
        field("deciding_department"),
        DepartmentCode::parse(matter.deciding_department.trim()),
    );
    let fee_note = violations.check(
        field("fee_note"),
        text(&matter.fee_note, MAX_NOTE_CHARS, false),
    );
    if matter.materials.len() > MAX_MATERIALS {
        violations.add(
            field("materials"),
            format!("a matter has at most {MAX_MATERIALS} items"),
        );
    }
    let mut materials = Vec::new();
    for (item_index, item) in matter.materials.iter().enumerate() {
        let item_field = |name: &str| format!("matters[{index}].materials[{item_index}].{name}");
        let code = violations.check(item_field("code"), MaterialCode::parse(item.code.trim()));
        let name_zh = violations.check(
            item_field("name_zh"),
            text(&item.name_zh, MAX_NAME_CHARS, true),
        );
        let name_en = violations.check(
            item_field("name_en"),
            text(&item.name_en, MAX_NAME_CHARS, false),
        );
        if let (Some(code), Some(name_zh), Some(name_en)) = (code, name_zh, name_en) {
            materials.push(ChecklistItem {
                code: code.to_string(),
                name_zh,
                name_en,
                required: item.required,
            });
        }
    }
    let (Some(code), Some(name_zh), Some(name_en), Some(department), Some(fee_note)) =
        (code, name_zh, name_en, department, fee_note)
    else {
        return None;
    };
    let parsed = CatalogueMatter {
        code: code.to_string(),
        name_zh,
        name_en,
        deciding_department: department.to_string(),
        materials,
        proxy_allowed: matter.proxy_allowed,
        in_person_required: matter.in_person_required,
        statutory_limit_days: matter.statutory_limit_days,
        promised_limit_days: matter.promised_limit_days,
        fee_fen: matter.fee_fen,
        fee_note,
        usual_trips: matter.usual_trips,
    };
    for error in parsed.check() {
        violations.add(field(error.field), error.rule);
    }
    Some(parsed)
}

impl TryFrom<proto::PublishCatalogueRequest> for PublishCatalogue {
    type Error = Error;

    fn try_from(request: proto::PublishCatalogueRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        if request.matters.is_empty() || request.matters.len() > MAX_MATTERS {
            violations.add(
                "matters",
                format!("a catalogue has 1-{MAX_MATTERS} matters"),
            );
        }
        let mut matters: Vec<CatalogueMatter> = Vec::new();
        for (index, proto_matter) in request.matters.iter().enumerate() {
            if let Some(parsed) = matter(index, proto_matter, &mut violations) {
                if matters.iter().any(|earlier| earlier.code == parsed.code) {
                    violations.add(
                        format!("matters[{index}].code"),
                        "appears twice in the catalogue",
                    );
                }
                matters.push(parsed);
            }
        }
        let request_id =
            violations.check("request_id", RequestId::parse_optional(&request.request_id));
        violations.finish()?;
        let fingerprint = Fingerprint::of(&request);
        Ok(Self {
            matters,
            retry: request_id.flatten().map(|id| (id, fingerprint)),
        })
    }
}

/// True for English; zh-CN (the default) otherwise. Anything else is refused.
fn english(language: &str) -> Result<bool, Error> {
    match language.trim() {
        "" | "zh-CN" | "zh" => Ok(false),
        "en" | "en-US" | "en-GB" => Ok(true),
        _ => Err(Error::invalid("language", "must be zh-CN or en")),
    }
}

pub(super) async fn publish_catalogue(
    service: &ErrandsService,
    access: &Access,
    request: proto::PublishCatalogueRequest,
) -> Result<proto::Catalogue, Error> {
    let command = PublishCatalogue::try_from(request)?;
    let stored = catalogue::publish(&service.errands, access, command).await?;
    Ok(render::catalogue(&stored, false))
}

pub(super) async fn get_catalogue(
    service: &ErrandsService,
    _access: &Access,
    request: proto::GetCatalogueRequest,
) -> Result<proto::Catalogue, Error> {
    let english = english(&request.language)?;
    let version = match request.version {
        0 => None,
        version => Some(i32::try_from(version).map_err(|_| {
            Error::NotFound(format!("catalogue/versions/{version} does not exist"))
        })?),
    };
    let stored = catalogue::get(&service.errands, version).await?;
    Ok(render::catalogue(&stored, english))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalogue_is_refused_field_by_field_and_nothing_is_published() {
        let request = proto::PublishCatalogueRequest {
            matters: vec![proto::Matter {
                code: "Pension Review".into(),
                name_zh: String::new(),
                deciding_department: "human_resources".into(),
                materials: vec![proto::Material {
                    code: "id_card".into(),
                    name_zh: "居民身份证".into(),
                    required: true,
                    ..Default::default()
                }],
                statutory_limit_days: 5,
                promised_limit_days: 10,
                ..Default::default()
            }],
            ..Default::default()
        };
        let Err(Error::InvalidArgument(violations)) = PublishCatalogue::try_from(request) else {
            panic!("refused");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert!(fields.contains(&"matters[0].code"));
        assert!(fields.contains(&"matters[0].name_zh"));
    }

    #[test]
    fn labels_are_asked_for_as_zh_cn_or_english() {
        assert!(!english("").unwrap());
        assert!(english("en").unwrap());
        assert!(english("fr").is_err());
    }

    #[test]
    fn the_demo_catalogue_has_at_least_ten_matters_and_passes_every_rule() {
        let matters = flatgov_demo::errands::demo_catalogue();
        assert!(matters.len() >= 10);
        let parsed = PublishCatalogue::try_from(proto::PublishCatalogueRequest {
            matters,
            request_id: String::new(),
        });
        assert!(parsed.is_ok(), "{:?}", parsed.err());
    }
}
