//! The matter catalogue: parse, call the use case, render.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::duties::v1 as proto;
use flatgov_vocabulary::MatterCode;

use super::DutyListsService;
use super::fields::{data_format, next_page_token, page, tier_from_proto};
use super::names::matter_code;
use crate::application::matters::{self, ImportCatalogue, ListMatters, MatterRecord};
use crate::contract::optional_tier_to_proto;
use crate::domain::names::matter_name;
use crate::domain::{ItemCode, Matter};
use crate::error::Error;

fn render(record: &MatterRecord) -> proto::Matter {
    let matter = &record.matter;
    proto::Matter {
        name: matter_name(matter.code().as_str()),
        code: matter.code().to_string(),
        display_name: matter.name().to_owned(),
        display_name_en: matter.name_en().unwrap_or_default().to_owned(),
        list_item_code: matter.item().to_string(),
        tier: optional_tier_to_proto(matter.tier()),
        create_time: Some(timestamp(record.create_time)),
        update_time: Some(timestamp(record.update_time)),
    }
}

/// The matter a get or delete names.
struct NamedMatter(MatterCode);

impl TryFrom<proto::GetMatterRequest> for NamedMatter {
    type Error = Error;

    fn try_from(request: proto::GetMatterRequest) -> Result<Self, Error> {
        matter_code(&request.name)
            .map(NamedMatter)
            .map_err(|error| Error::invalid("name", error))
    }
}

pub(super) async fn get_matter(
    service: &DutyListsService,
    _access: &Access,
    request: proto::GetMatterRequest,
) -> Result<proto::Matter, Error> {
    let NamedMatter(code) = NamedMatter::try_from(request)?;
    let record = matters::get(&service.duties, &code).await?;
    Ok(render(&record))
}

impl TryFrom<proto::ListMattersRequest> for ListMatters {
    type Error = Error;

    fn try_from(request: proto::ListMattersRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let item = if request.list_item_code.is_empty() {
            Some(None)
        } else {
            violations
                .check("list_item_code", ItemCode::parse(&request.list_item_code))
                .map(Some)
        };
        let query = ListQuery::new(&format!(
            "matters list_item_code={}",
            item.flatten()
                .map(|item| item.to_string())
                .unwrap_or_default()
        ));
        let page = page(
            request.page_size,
            &request.page_token,
            query,
            &mut violations,
        );
        let (Some(item), Some(page)) = (item, page) else {
            return Err(Error::from(violations));
        };
        Ok(Self { item, page })
    }
}

pub(super) async fn list_matters(
    service: &DutyListsService,
    _access: &Access,
    request: proto::ListMattersRequest,
) -> Result<proto::ListMattersResponse, Error> {
    let command = ListMatters::try_from(request)?;
    let mut records = matters::list(&service.duties, &command).await?;
    let next_page_token = next_page_token(&command.page, &mut records, |record| {
        record.matter.code().to_string()
    });
    Ok(proto::ListMattersResponse {
        matters: records.iter().map(render).collect(),
        next_page_token,
    })
}

impl TryFrom<proto::PutMatterRequest> for Matter {
    type Error = Error;

    fn try_from(request: proto::PutMatterRequest) -> Result<Self, Error> {
        let matter = request
            .matter
            .as_ref()
            .ok_or_else(|| Error::invalid("matter", "a matter is required"))?;
        let mut violations = Violations::new();
        let (code_field, code_text) = if matter.code.is_empty() && !matter.name.is_empty() {
            let code = matter.name.strip_prefix("matters/").unwrap_or(&matter.name);
            ("matter.name", code)
        } else {
            ("matter.code", matter.code.as_str())
        };
        let code = violations.check(code_field, MatterCode::parse(code_text));
        let item = violations.check(
            "matter.list_item_code",
            ItemCode::parse(&matter.list_item_code),
        );
        let tier = violations.check("matter.tier", tier_from_proto(matter.tier));
        let (Some(code), Some(item), Some(tier)) = (code, item, tier) else {
            return Err(Error::from(violations));
        };
        let gloss = Some(matter.display_name_en.as_str()).filter(|text| !text.trim().is_empty());
        match Matter::new(code, &matter.display_name, gloss, item, tier) {
            Ok(matter) => {
                violations.finish()?;
                Ok(matter)
            }
            Err(error) => {
                violations.add("matter.display_name", error);
                Err(Error::from(violations))
            }
        }
    }
}

pub(super) async fn put_matter(
    service: &DutyListsService,
    access: &Access,
    request: proto::PutMatterRequest,
) -> Result<proto::Matter, Error> {
    let matter = Matter::try_from(request)?;
    let record = matters::put(&service.duties, access, matter).await?;
    Ok(render(&record))
}

impl TryFrom<proto::DeleteMatterRequest> for NamedMatter {
    type Error = Error;

    fn try_from(request: proto::DeleteMatterRequest) -> Result<Self, Error> {
        matter_code(&request.name)
            .map(NamedMatter)
            .map_err(|error| Error::invalid("name", error))
    }
}

pub(super) async fn delete_matter(
    service: &DutyListsService,
    access: &Access,
    request: proto::DeleteMatterRequest,
) -> Result<(), Error> {
    let NamedMatter(code) = NamedMatter::try_from(request)?;
    matters::delete(&service.duties, access, &code).await
}

impl TryFrom<proto::ImportCatalogueRequest> for ImportCatalogue {
    type Error = Error;

    fn try_from(request: proto::ImportCatalogueRequest) -> Result<Self, Error> {
        let format =
            data_format(request.format).map_err(|error| Error::invalid("format", error))?;
        Ok(Self {
            format,
            content: request.content,
        })
    }
}

pub(super) async fn import_catalogue(
    service: &DutyListsService,
    access: &Access,
    request: proto::ImportCatalogueRequest,
) -> Result<proto::ImportCatalogueResponse, Error> {
    let command = ImportCatalogue::try_from(request)?;
    let imported = matters::import(&service.duties, access, command).await?;
    Ok(proto::ImportCatalogueResponse {
        unchanged: imported.unchanged,
        matter_count: u32::try_from(imported.matter_count).unwrap_or(u32::MAX),
        matters_added: imported.added,
        matters_removed: imported.removed,
        matters_changed: imported.changed,
    })
}
