//! Services and their definitions. Every matter takes the same attributes — the
//! facts a report to the case service carries beyond its words and place: whether
//! it is urgent, whether it is a problem or a safety hazard, and whether the
//! reporter wants to stay anonymous. The matter catalogue has no attributes of its
//! own; when it grows some, they join these.

use super::catalogue::Matter;
use super::document::Value;

/// The attribute codes a form may send.
pub const ATTRIBUTE_CODES: [&str; 3] = ["urgent", "kind", "anonymous"];

/// One entry of `services.json`.
pub fn service(matter: &Matter) -> Value {
    Value::Object(vec![
        ("service_code", Value::text(matter.code.clone())),
        ("service_name", Value::text(matter.service_name())),
        ("description", Value::optional(matter.description())),
        ("metadata", Value::Bool(true)),
        // Ids come back at once: no tokens to wait on.
        ("type", Value::text("realtime")),
        (
            "keywords",
            Value::optional(
                [matter.item_code.as_str(), matter.code.as_str()]
                    .into_iter()
                    .filter(|word| !word.is_empty())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ),
        ("group", Value::optional(matter.group())),
    ])
}

fn choice(key: &str, name: &str) -> Value {
    Value::Object(vec![("key", Value::text(key)), ("name", Value::text(name))])
}

#[allow(clippy::too_many_arguments)]
fn attribute(
    order: i64,
    code: &str,
    required: bool,
    description: &str,
    values: Vec<Value>,
) -> Value {
    Value::Object(vec![
        ("variable", Value::Bool(true)),
        ("code", Value::text(code)),
        ("datatype", Value::text("singlevaluelist")),
        ("required", Value::Bool(required)),
        ("datatype_description", Value::null()),
        ("order", Value::Integer(order)),
        ("description", Value::text(description)),
        (
            "values",
            Value::List {
                item: "value",
                items: values,
            },
        ),
    ])
}

/// `services/{code}.json`.
pub fn definition(matter: &Matter) -> Value {
    Value::Object(vec![
        ("service_code", Value::text(matter.code.clone())),
        (
            "attributes",
            Value::List {
                item: "attribute",
                items: vec![
                    attribute(
                        1,
                        "urgent",
                        false,
                        "现场是否有人身或财产危险？ / Is anyone or anything in danger right now?",
                        vec![
                            choice("true", "是，情况紧急 / Yes, urgent"),
                            choice("false", "否 / No"),
                        ],
                    ),
                    attribute(
                        2,
                        "kind",
                        false,
                        "问题类型 / What kind of report is this?",
                        vec![
                            choice("problem", "问题或投诉 / A problem or complaint"),
                            choice("hazard", "安全隐患 / A safety hazard"),
                        ],
                    ),
                    attribute(
                        3,
                        "anonymous",
                        false,
                        "匿名上报，不留联系方式？ / Report anonymously, keeping no contact?",
                        vec![
                            choice("true", "是，匿名 / Yes, anonymously"),
                            choice("false", "否，可回访 / No, you may call me back"),
                        ],
                    ),
                ],
            },
        ),
    ])
}
