//! The Open311 service list, read from the duty lists' public matter catalogue: a
//! matter is a service, its list item's category the group. Read again at most once
//! a minute; while the duty lists are down the last copy is served.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flatgov_proto::duties::v1 as duties;
use tokio::sync::Mutex;

use crate::upstream::Upstreams;

/// The lists whose items the matters point at.
const LISTS: [&str; 5] = [
    "lists/subdistrict_duty",
    "lists/subdistrict_cooperation",
    "lists/residents_self_government",
    "lists/residents_assisting",
    "lists/residents_negative",
];

/// How long a read catalogue is served before it is read again.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// One matter with what its list item says.
#[derive(Debug, Clone, PartialEq)]
pub struct Matter {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub item_code: String,
    pub item_name: String,
    pub item_name_en: String,
    pub item_description: String,
    pub category: String,
    pub category_en: String,
}

impl Matter {
    /// `路灯损坏 / Broken street light`: Chinese first, English where present.
    pub fn service_name(&self) -> String {
        bilingual(&self.name, &self.name_en)
    }

    /// The item the matter falls under, and what the item says of itself.
    pub fn description(&self) -> String {
        let mut text = bilingual(&self.item_name, &self.item_name_en);
        if !self.item_description.is_empty() {
            text.push('：');
            text.push_str(&self.item_description);
        }
        if text.is_empty() {
            self.service_name()
        } else {
            text
        }
    }

    /// The list category.
    pub fn group(&self) -> String {
        bilingual(&self.category, &self.category_en)
    }
}

fn bilingual(chinese: &str, english: &str) -> String {
    match (chinese.is_empty(), english.is_empty()) {
        (false, false) => format!("{chinese} / {english}"),
        (false, true) => chinese.to_owned(),
        (true, _) => english.to_owned(),
    }
}

/// The matters, by code, in catalogue order; and department names by code.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub matters: Vec<Matter>,
    pub departments: HashMap<String, String>,
}

impl Catalogue {
    pub fn matter(&self, code: &str) -> Option<&Matter> {
        self.matters.iter().find(|matter| matter.code == code)
    }
}

/// Why the catalogue could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the matter catalogue is unavailable: {0}")]
pub struct Unavailable(pub String);

/// A catalogue and when it was read.
type ReadCatalogue = (Instant, Arc<Catalogue>);

/// The catalogue as last read.
#[derive(Clone)]
pub struct CatalogueCache {
    upstreams: Upstreams,
    last: Arc<Mutex<Option<ReadCatalogue>>>,
}

impl CatalogueCache {
    pub fn new(upstreams: Upstreams) -> Self {
        Self {
            upstreams,
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// The catalogue, read again when older than a minute; the last copy when the
    /// duty lists do not answer.
    pub async fn get(&self) -> Result<Arc<Catalogue>, Unavailable> {
        let mut last = self.last.lock().await;
        if let Some((read_at, catalogue)) = last.as_ref()
            && read_at.elapsed() < FRESH_FOR
        {
            return Ok(catalogue.clone());
        }
        match read(&self.upstreams).await {
            Ok(catalogue) => {
                let catalogue = Arc::new(catalogue);
                *last = Some((Instant::now(), catalogue.clone()));
                Ok(catalogue)
            }
            Err(error) => match last.as_ref() {
                Some((_, catalogue)) => {
                    tracing::warn!(%error, "serving the last matter catalogue read");
                    Ok(catalogue.clone())
                }
                None => Err(error),
            },
        }
    }
}

async fn read(upstreams: &Upstreams) -> Result<Catalogue, Unavailable> {
    let mut client = upstreams.duties();
    let mut items: HashMap<String, duties::ListItem> = HashMap::new();
    for list in LISTS {
        let mut page_token = String::new();
        loop {
            let page = client
                .list_items(duties::ListItemsRequest {
                    parent: list.to_owned(),
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await;
            let page = match page {
                Ok(page) => page.into_inner(),
                // A list with no version in effect has no items yet.
                Err(status)
                    if matches!(
                        status.code(),
                        tonic::Code::NotFound | tonic::Code::FailedPrecondition
                    ) =>
                {
                    break;
                }
                Err(status) => return Err(Unavailable(status.message().to_owned())),
            };
            for item in page.items {
                items.insert(item.code.clone(), item);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
    }
    let mut matters = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_matters(duties::ListMattersRequest {
                page_size: 500,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .map_err(|status| Unavailable(status.message().to_owned()))?
            .into_inner();
        for matter in page.matters {
            let item = items.get(&matter.list_item_code);
            let field = |read: fn(&duties::ListItem) -> &String| {
                item.map(|item| read(item).clone()).unwrap_or_default()
            };
            matters.push(Matter {
                item_name: field(|item| &item.display_name),
                item_name_en: field(|item| &item.display_name_en),
                item_description: field(|item| &item.description),
                category: field(|item| &item.category),
                category_en: field(|item| &item.category_en),
                code: matter.code,
                name: matter.display_name,
                name_en: matter.display_name_en,
                item_code: matter.list_item_code,
            });
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut departments = HashMap::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_departments(duties::ListDepartmentsRequest {
                page_size: 500,
                page_token: page_token.clone(),
            })
            .await
            .map_err(|status| Unavailable(status.message().to_owned()))?
            .into_inner();
        for department in page.departments {
            departments.insert(department.code, department.display_name);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(Catalogue {
        matters,
        departments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn light() -> Matter {
        Matter {
            code: "broken_street_light".into(),
            name: "路灯损坏".into(),
            name_en: "Broken street light".into(),
            item_code: "SD-05-03".into(),
            item_name: "市政设施巡查".into(),
            item_name_en: String::new(),
            item_description: String::new(),
            category: "城市管理".into(),
            category_en: "Urban management".into(),
        }
    }

    #[test]
    fn names_are_chinese_first_with_english_where_present() {
        let matter = light();
        assert_eq!(matter.service_name(), "路灯损坏 / Broken street light");
        assert_eq!(matter.description(), "市政设施巡查");
        assert_eq!(matter.group(), "城市管理 / Urban management");
    }
}
