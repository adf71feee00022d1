//! POST requests: the form a civic app sends, read into the case service's
//! `ReportCase`, every problem reported at once before anything is sent.
//!
//! - the location is `lat`/`long` (WGS84 degrees, as the spec says, unless the
//!   extension parameter `coordinate_system` says `gcj02` — WeChat mini-programs,
//!   Amap, Tencent Maps — or `bd09` — Baidu; the case service converts), a block in
//!   `address_id` (`blocks/430302001004017` or the 15-digit code), or both;
//!   `address_string` alone cannot be placed on the map here (the case service
//!   needs a point or a block, and there is no geocoder) and is refused, naming
//!   what to send instead; beside a point or block it joins the description, for
//!   the staff who go there;
//! - `phone` with `first_name`/`last_name` becomes the reporter's contact (the
//!   district calls reporters back by phone); `email` is not kept: an `email`
//!   without a `phone` is refused, and a request with no contact at all is
//!   anonymous;
//! - `media_url` becomes an attachment (https only);
//! - `attribute[urgent]`, `attribute[kind]` and `attribute[anonymous]` are the
//!   attributes every service definition offers.

use flatgov_proto::cases::v1 as cases;
use flatgov_proto::flatgov::r#type::v1::{CoordinateSystem as ProtoCoordinateSystem, GeoPoint};
use flatgov_vocabulary::CoordinateSystem;

use super::catalogue::Matter;
use crate::clients::Client;

/// The posted form's fields (query and body together).
#[derive(Debug, Default, Clone)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The last non-empty value of `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim())
    }

    /// `attribute[code]` (or `attribute[code][]`): the attribute's values.
    pub fn attribute(&self, code: &str) -> Vec<&str> {
        let single = format!("attribute[{code}]");
        let multiple = format!("attribute[{code}][]");
        self.pairs
            .iter()
            .filter(|(key, _)| *key == single || *key == multiple)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
            .collect()
    }

    /// Attribute codes sent that no service definition offers.
    fn unknown_attributes(&self) -> Vec<String> {
        let mut unknown: Vec<String> = self
            .pairs
            .iter()
            .filter_map(|(key, _)| key.strip_prefix("attribute["))
            .map(|rest| rest.split(']').next().unwrap_or_default().to_owned())
            .filter(|code| !super::service_definition::ATTRIBUTE_CODES.contains(&code.as_str()))
            .collect();
        unknown.sort();
        unknown.dedup();
        unknown
    }
}

/// Where a report is, as the form says it.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub point: Option<GeoPoint>,
    /// A 15-digit block code.
    pub block: Option<String>,
}

/// A report read from the form, ready for the case service.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub request: cases::ReportCaseRequest,
    pub location: Location,
}

fn coordinate(form: &Form, name: &str, limit: f64, problems: &mut Vec<String>) -> Option<f64> {
    let text = form.get(name)?;
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value.abs() <= limit => Some(value),
        _ => {
            problems.push(format!(
                "{name}: {text:?} is not a coordinate in degrees within ±{limit}"
            ));
            None
        }
    }
}

/// The `coordinate_system` extension parameter (Open311 has no field for it):
/// `wgs84` (or absent, as the spec says), `cgcs2000`, `gcj02`, `bd09`.
fn coordinate_system(form: &Form, problems: &mut Vec<String>) -> ProtoCoordinateSystem {
    let Some(text) = form.get("coordinate_system") else {
        return ProtoCoordinateSystem::Unspecified;
    };
    match CoordinateSystem::parse(text) {
        Some(CoordinateSystem::Wgs84) => ProtoCoordinateSystem::Unspecified,
        Some(CoordinateSystem::Gcj02) => ProtoCoordinateSystem::Gcj02,
        Some(CoordinateSystem::Bd09) => ProtoCoordinateSystem::Bd09,
        None => {
            problems.push(format!(
                "coordinate_system: {text:?} is not one of wgs84, cgcs2000, gcj02, bd09"
            ));
            ProtoCoordinateSystem::Unspecified
        }
    }
}

fn block_code(text: &str) -> Option<String> {
    let code = text.strip_prefix("blocks/").unwrap_or(text);
    (code.len() == 15 && code.bytes().all(|b| b.is_ascii_digit())).then(|| code.to_owned())
}

fn yes_no(form: &Form, code: &str, problems: &mut Vec<String>) -> bool {
    match form.attribute(code).last().copied() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            problems.push(format!(
                "attribute[{code}]: {other:?} is not one of true, false"
            ));
            false
        }
    }
}

/// Reads the form of `client` reporting `matter`.
pub fn read(form: &Form, matter: &Matter, client: &Client) -> Result<Report, Vec<String>> {
    let mut problems = Vec::new();

    let latitude = coordinate(form, "lat", 90.0, &mut problems);
    let longitude = coordinate(form, "long", 180.0, &mut problems);
    let system = coordinate_system(form, &mut problems);
    let point = match (latitude, longitude, form.get("lat"), form.get("long")) {
        (Some(latitude), Some(longitude), _, _) => Some(GeoPoint {
            longitude,
            latitude,
            coordinate_system: system as i32,
        }),
        (_, _, Some(_), None) | (_, _, None, Some(_)) => {
            problems.push("lat and long: give both or neither".to_owned());
            None
        }
        _ => None,
    };
    let block = match form.get("address_id") {
        Some(text) => match block_code(text) {
            Some(code) => Some(code),
            None => {
                problems.push(format!(
                    "address_id: {text:?} is not a block (blocks/ and 15 digits, e.g. blocks/430302001004017)"
                ));
                None
            }
        },
        None => None,
    };
    let located = point.is_some() || block.is_some();
    if !located && problems.is_empty() {
        if form.get("address_string").is_some() {
            problems.push(
                "address_string: an address alone cannot be placed on the map here; send lat and long (WGS84) or the block in address_id".to_owned(),
            );
        } else {
            problems.push(
                "lat and long: a location is required (lat and long in WGS84, or the block in address_id)".to_owned(),
            );
        }
    }

    let urgent = yes_no(form, "urgent", &mut problems);
    let anonymous_asked = yes_no(form, "anonymous", &mut problems);
    let kind = match form.attribute("kind").last().copied() {
        None | Some("problem") => cases::CaseKind::Problem,
        Some("hazard") => cases::CaseKind::Hazard,
        Some(other) => {
            problems.push(format!(
                "attribute[kind]: {other:?} is not one of problem, hazard"
            ));
            cases::CaseKind::Problem
        }
    };
    for code in form.unknown_attributes() {
        problems.push(format!(
            "attribute[{code}]: the service definition has no such attribute"
        ));
    }

    let name = [form.get("first_name"), form.get("last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let phone = form.get("phone");
    let reporter = match (anonymous_asked, phone) {
        (true, _) => None,
        (false, Some(phone)) => Some(cases::Contact {
            // The contact needs a name; a reporter who left none is called by number.
            name: if name.is_empty() {
                "（未留姓名）".to_owned()
            } else {
                name.clone()
            },
            phone: phone.to_owned(),
        }),
        (false, None) => {
            if form.get("email").is_some() || !name.is_empty() {
                problems.push(
                    "phone: a contact needs a phone number (reporters are called back by phone; email is not kept); send phone, or attribute[anonymous]=true".to_owned(),
                );
            }
            None
        }
    };

    let media = form.get("media_url");
    if let Some(url) = media
        && !url.starts_with("https://")
    {
        problems.push(format!("media_url: {url:?} is not an https:// URL"));
    }
    let description = match form.get("description") {
        Some(text) if text.chars().count() > 2000 => {
            problems.push("description: at most 2,000 characters".to_owned());
            String::new()
        }
        Some(text) => text.to_owned(),
        // The case service needs words; the matter says what the report is about.
        None => format!("{}（经 Open311 上报，未附描述）", matter.service_name()),
    };
    // The address the reporter typed helps staff find the spot; the point or
    // block places the case.
    let description = match form.get("address_string") {
        Some(address) if address.chars().count() > 200 => {
            problems.push("address_string: at most 200 characters".to_owned());
            description
        }
        Some(address) => format!("{description}（地址：{address}）"),
        None => description,
    };

    if !problems.is_empty() {
        return Err(problems);
    }
    let anonymous = reporter.is_none();
    Ok(Report {
        request: cases::ReportCaseRequest {
            request_id: String::new(),
            kind: kind as i32,
            channel: client.channel() as i32,
            location: point,
            block: block
                .as_ref()
                .map(|code| format!("blocks/{code}"))
                .unwrap_or_default(),
            matter_code: matter.code.clone(),
            description,
            attachments: media.map(|url| vec![url.to_owned()]).unwrap_or_default(),
            reporter,
            anonymous,
            urgent,
        },
        location: Location { point, block },
    })
}

/// A refused report's field, as the form names it.
pub fn form_field(case_field: &str) -> &'static str {
    match case_field {
        "matter_code" => "service_code",
        "location" | "location.latitude" => "lat",
        "location.longitude" => "long",
        "location.coordinate_system" => "coordinate_system",
        "block" => "address_id",
        "attachments" => "media_url",
        "reporter.phone" | "reporter" => "phone",
        "reporter.name" => "first_name",
        "description" => "description",
        _ => "request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matter() -> Matter {
        Matter {
            code: "broken_street_light".into(),
            name: "路灯损坏".into(),
            name_en: String::new(),
            item_code: "SD-05-03".into(),
            item_name: String::new(),
            item_name_en: String::new(),
            item_description: String::new(),
            category: String::new(),
            category_en: String::new(),
        }
    }

    fn client() -> Client {
        Client {
            id: uuid::Uuid::nil(),
            name: "app".into(),
            channel: "hotline_12345".into(),
            jurisdiction: None,
            rate_limit_per_minute: 60,
            key_prefix: "fg311_abcdef".into(),
            created_at: chrono::Utc::now(),
            revoked_at: None,
        }
    }

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::new(
            pairs
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_point_a_phone_and_a_photo_become_a_located_report_with_a_contact() {
        let report = read(
            &form(&[
                ("lat", "27.8500"),
                ("long", "112.9100"),
                ("phone", "13800138000"),
                ("first_name", "Li"),
                ("media_url", "https://photos.example/1.jpg"),
                ("attribute[urgent]", "true"),
            ]),
            &matter(),
            &client(),
        )
        .expect("a good report");
        let request = report.request;
        assert_eq!(request.matter_code, "broken_street_light");
        assert_eq!(request.channel, cases::Channel::Hotline12345 as i32);
        assert_eq!(
            request.location,
            Some(GeoPoint {
                longitude: 112.91,
                latitude: 27.85,
                ..Default::default()
            })
        );
        assert_eq!(request.attachments, ["https://photos.example/1.jpg"]);
        assert_eq!(
            request.reporter.map(|contact| contact.phone),
            Some("13800138000".to_owned())
        );
        assert!(request.urgent);
        assert!(!request.anonymous);
    }

    #[test]
    fn a_wechat_point_keeps_its_coordinate_system_for_the_case_service_to_convert() {
        let report = read(
            &form(&[
                ("lat", "27.8476"),
                ("long", "112.9153"),
                ("coordinate_system", "GCJ-02"),
            ]),
            &matter(),
            &client(),
        )
        .expect("a good report");
        assert_eq!(
            report.request.location.map(|point| point.coordinate_system),
            Some(ProtoCoordinateSystem::Gcj02 as i32)
        );
        let problems = read(
            &form(&[
                ("lat", "27.85"),
                ("long", "112.91"),
                ("coordinate_system", "mars"),
            ]),
            &matter(),
            &client(),
        )
        .expect_err("unknown system");
        assert!(
            problems[0].starts_with("coordinate_system:"),
            "{problems:?}"
        );
    }

    #[test]
    fn every_problem_of_a_form_is_named_at_once() {
        let problems = read(
            &form(&[
                ("lat", "127"),
                ("address_id", "blocks/17"),
                ("email", "someone@example.org"),
                ("media_url", "http://insecure.example/1.jpg"),
                ("attribute[colour]", "red"),
            ]),
            &matter(),
            &client(),
        )
        .expect_err("all wrong");
        let named: Vec<&str> = problems
            .iter()
            .map(|problem| problem.split(':').next().unwrap_or_default())
            .collect();
        assert_eq!(
            named,
            [
                "lat",
                "lat and long",
                "address_id",
                "attribute[colour]",
                "phone",
                "media_url"
            ],
            "{problems:?}"
        );
        assert!(
            problems.iter().all(|problem| !problem.contains("someone")),
            "a refusal never repeats personal data"
        );
    }

    #[test]
    fn an_address_alone_is_refused_naming_what_to_send_instead() {
        let problems = read(
            &form(&[("address_string", "雨湖路 1 号")]),
            &matter(),
            &client(),
        )
        .expect_err("no coordinates");
        assert!(problems[0].starts_with("address_string:"));
        assert!(problems[0].contains("address_id"));
    }

    #[test]
    fn an_address_beside_a_point_joins_the_words_for_the_staff() {
        let report = read(
            &form(&[
                ("lat", "27.85"),
                ("long", "112.91"),
                ("description", "灯不亮"),
                ("address_string", "雨湖路 1 号"),
                ("attribute[anonymous]", "true"),
            ]),
            &matter(),
            &client(),
        )
        .expect("a good report");
        assert_eq!(report.request.description, "灯不亮（地址：雨湖路 1 号）");
    }

    #[test]
    fn a_report_without_any_contact_is_anonymous_and_has_the_matter_as_its_words() {
        let report = read(
            &form(&[("address_id", "430302001004017")]),
            &matter(),
            &client(),
        )
        .expect("a block is enough");
        assert!(report.request.anonymous);
        assert_eq!(report.request.block, "blocks/430302001004017");
        assert!(report.request.description.starts_with("路灯损坏"));
    }
}
