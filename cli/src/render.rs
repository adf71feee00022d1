//! Printing API results: JSON through the published descriptors (the
//! canonical protobuf JSON mapping), tables with comfy-table whose headers,
//! enum values and times are made readable by [`crate::labels`].

use prost_reflect::{DescriptorPool, DynamicMessage};

use crate::Output;
use crate::labels;

pub fn pool() -> &'static DescriptorPool {
    static POOL: std::sync::OnceLock<DescriptorPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(flatgov_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|error| panic!("descriptors: {error}"))
    })
}

/// Any generated message as protobuf JSON, given its full name.
pub fn to_json<M: prost::Message>(message: &M, full_name: &str) -> serde_json::Value {
    let Some(descriptor) = pool().get_message_by_name(full_name) else {
        return serde_json::Value::Null;
    };
    // Zeros and empty fields are printed too: in a table "0 overdue" reads
    // better than a blank.
    let options = prost_reflect::SerializeOptions::new().skip_default_fields(false);
    DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .ok()
        .and_then(|dynamic| {
            dynamic
                .serialize_with_options(serde_json::value::Serializer, &options)
                .ok()
        })
        .unwrap_or(serde_json::Value::Null)
}

/// Prints JSON, or a two-column table of the JSON's top-level fields.
pub fn print_message<M: prost::Message>(message: &M, full_name: &str, output: Output) {
    let json = to_json(message, full_name);
    match output {
        Output::Json => println!("{json}"),
        Output::Table => {
            let language = labels::current();
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::NOTHING);
            if let serde_json::Value::Object(fields) = &json {
                for (name, value) in fields {
                    table.add_row(vec![
                        labels::key(name, language),
                        labels::value(value, language),
                    ]);
                }
            }
            println!("{table}");
        }
    }
}

/// A value in one table cell: strings bare, the rest as compact JSON.
pub fn short(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => {
            let text = other.to_string();
            if text.chars().count() > 100 {
                format!("{}…", text.chars().take(99).collect::<String>())
            } else {
                text
            }
        }
    }
}

/// A table with the given columns, one row per JSON object.
pub fn print_rows(rows: &[serde_json::Value], columns: &[&str], output: Output) {
    match output {
        Output::Json => println!("{}", serde_json::Value::Array(rows.to_vec())),
        Output::Table => {
            let language = labels::current();
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_HORIZONTAL_ONLY);
            table.set_header(
                columns
                    .iter()
                    .map(|column| labels::key(column, language))
                    .collect::<Vec<_>>(),
            );
            for row in rows {
                table.add_row(
                    columns
                        .iter()
                        .map(|column| labels::value(&row[*column], language))
                        .collect::<Vec<_>>(),
                );
            }
            println!("{table}");
        }
    }
}

/// Parses `satisfied` into `RATING_SATISFIED` through the generated
/// `from_str_name`, listing the accepted values when it does not match.
pub fn parse_enum<E>(
    prefix: &str,
    value: &str,
    from_str_name: fn(&str) -> Option<E>,
    values: &[&str],
) -> Result<E, String> {
    let wire = format!("{prefix}_{}", value.trim().to_uppercase().replace('-', "_"));
    from_str_name(&wire)
        .ok_or_else(|| format!("unknown value {value:?}; use one of: {}", values.join(", ")))
}
