//! Writing a list in the shapes the imports read.

use serde_json::Value as Json;

use crate::domain::item::{ItemField, ListItem};
use crate::domain::list::ListContent;
use flatgov_vocabulary::DepartmentCode;

fn csv_field(value: &str) -> String {
    let needs_quotes = value.contains([',', '"', '\n', '\r']) || value.trim() != value;
    if needs_quotes {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn item_values(item: &ListItem) -> [String; 13] {
    let fields = item.fields();
    let cooperating: Vec<&str> = fields
        .cooperating_departments
        .iter()
        .map(DepartmentCode::as_str)
        .collect();
    [
        fields.code.to_string(),
        fields.category.clone(),
        fields.category_en.clone().unwrap_or_default(),
        fields.name.clone(),
        fields.name_en.clone().unwrap_or_default(),
        fields.description.clone(),
        fields.legal_basis.clone(),
        fields.handling_level.to_string(),
        fields
            .lead_department
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        cooperating.join(";"),
        fields.default_tier.to_string(),
        fields.response_limit.to_string(),
        fields.resolution_limit.to_string(),
    ]
}

/// Writes a list in the CSV shape [`super::list_from_csv`] reads, every column present.
pub fn list_to_csv(content: &ListContent) -> String {
    let mut csv = ItemField::ALL.map(ItemField::as_str).join(",");
    csv.push('\n');
    for item in content.items() {
        let row: Vec<String> = item_values(item)
            .iter()
            .map(|value| csv_field(value))
            .collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    csv
}

/// Writes a list in the JSON shape [`super::list_from_json`] reads; absent values are left out.
pub fn list_to_json(content: &ListContent) -> String {
    let items: Vec<Json> = content
        .items()
        .map(|item| {
            let mut object = serde_json::Map::new();
            for (field, value) in ItemField::ALL.into_iter().zip(item_values(item)) {
                let json = if field == ItemField::CooperatingDepartments {
                    let codes = item
                        .cooperating_departments()
                        .iter()
                        .map(|code| Json::String(code.to_string()))
                        .collect();
                    Json::Array(codes)
                } else if value.is_empty() {
                    continue;
                } else {
                    Json::String(value)
                };
                object.insert(field.as_str().to_owned(), json);
            }
            Json::Object(object)
        })
        .collect();
    let document = serde_json::json!({
        "kind": content.list().as_str(),
        "items": items,
    });
    format!("{document:#}")
}
