//! Open311 documents in both of the spec's formats from one description: a tree of
//! fields in the order the GeoReport v2 examples give them, rendered as JSON (arrays
//! and objects) or XML (a root element, one element per field, a named element per
//! list item).

use std::fmt::Write as _;

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string; `None` is JSON `null` and an empty XML element.
    Text(Option<String>),
    Number(f64),
    Integer(i64),
    Bool(bool),
    /// Fields in the spec's order.
    Object(Vec<(&'static str, Value)>),
    /// Items; in XML each is an element named `item`.
    List {
        item: &'static str,
        items: Vec<Value>,
    },
}

impl Value {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(Some(text.into()))
    }

    /// A string, or null when empty.
    pub fn optional(text: impl Into<String>) -> Self {
        let text = text.into();
        if text.is_empty() {
            Self::Text(None)
        } else {
            Self::Text(Some(text))
        }
    }

    pub fn null() -> Self {
        Self::Text(None)
    }
}

/// The format named by the path's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// `services.json` → (`services`, JSON). Anything else is not a document.
    pub fn split(file: &str) -> Option<(&str, Format)> {
        if let Some(stem) = file.strip_suffix(".json") {
            Some((stem, Format::Json))
        } else {
            file.strip_suffix(".xml").map(|stem| (stem, Format::Xml))
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// A whole response: the XML root's name and the value under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub root: &'static str,
    pub value: Value,
}

impl Document {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => to_json(&self.value).to_string(),
            Format::Xml => {
                let mut text = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
                match &self.value {
                    // The root element is the list itself.
                    Value::List { item, items } => {
                        text.push_str(&format!("<{}>", self.root));
                        for value in items {
                            write_element(&mut text, item, value);
                        }
                        text.push_str(&format!("</{}>", self.root));
                    }
                    value => write_element(&mut text, self.root, value),
                }
                text.push('\n');
                text
            }
        }
    }
}

/// The JSON form.
pub fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Text(Some(text)) => serde_json::Value::String(text.clone()),
        Value::Text(None) => serde_json::Value::Null,
        Value::Number(number) => serde_json::Number::from_f64(*number)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Integer(number) => serde_json::Value::from(*number),
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::Object(fields) => serde_json::Value::Object(
            fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), to_json(value)))
                .collect(),
        ),
        Value::List { items, .. } => serde_json::Value::Array(items.iter().map(to_json).collect()),
    }
}

fn write_element(text: &mut String, name: &str, value: &Value) {
    match value {
        Value::Text(None) => {
            let _ = write!(text, "<{name}/>");
        }
        Value::Text(Some(content)) => {
            let _ = write!(text, "<{name}>{}</{name}>", escape(content));
        }
        Value::Number(number) => {
            let _ = write!(text, "<{name}>{number}</{name}>");
        }
        Value::Integer(number) => {
            let _ = write!(text, "<{name}>{number}</{name}>");
        }
        Value::Bool(flag) => {
            let _ = write!(text, "<{name}>{flag}</{name}>");
        }
        Value::Object(fields) => {
            let _ = write!(text, "<{name}>");
            for (field, value) in fields {
                write_element(text, field, value);
            }
            let _ = write!(text, "</{name}>");
        }
        Value::List { item, items } => {
            let _ = write!(text, "<{name}>");
            for value in items {
                write_element(text, item, value);
            }
            let _ = write!(text, "</{name}>");
        }
    }
}

/// Text as XML character data.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors() -> Document {
        Document {
            root: "errors",
            value: Value::List {
                item: "error",
                items: vec![Value::Object(vec![
                    ("code", Value::Integer(403)),
                    ("description", Value::text("api_key <missing> & unknown")),
                ])],
            },
        }
    }

    #[test]
    fn a_list_document_is_a_json_array_and_an_xml_root_of_items() {
        let document = errors();
        assert_eq!(
            document.render(Format::Json),
            r#"[{"code":403,"description":"api_key <missing> & unknown"}]"#
        );
        assert_eq!(
            document.render(Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<errors><error><code>403</code>\
             <description>api_key &lt;missing&gt; &amp; unknown</description></error></errors>\n"
        );
    }

    #[test]
    fn the_extension_names_the_format() {
        assert_eq!(
            Format::split("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(Format::split("001.xml"), Some(("001", Format::Xml)));
        assert_eq!(Format::split("services.csv"), None);
    }

    #[test]
    fn null_text_is_an_empty_element() {
        let document = Document {
            root: "request",
            value: Value::Object(vec![("account_id", Value::null())]),
        };
        assert!(document.render(Format::Xml).contains("<account_id/>"));
        assert_eq!(document.render(Format::Json), r#"{"account_id":null}"#);
    }
}
