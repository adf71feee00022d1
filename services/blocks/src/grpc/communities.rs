//! Communities: parse, run the use case, render.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_proto::blocks::v1 as api;

use super::RegistryService;
use super::parse::{self, checked};
use super::render;
use crate::application::NameChanges;
use crate::application::communities::{self, ListCommunities, NewCommunity, UpdateCommunity};
use crate::error::Error;
use crate::resources::{self, ParentLevels};
use flatgov_vocabulary::CommunityCode;

/// The code a community message names, under `community.name` / `community.code`.
fn code_of(violations: &mut Violations, community: &api::Community) -> Option<CommunityCode> {
    parse::division_code(
        violations,
        "community",
        &community.name,
        &community.code,
        resources::community,
        CommunityCode::parse,
    )
}

/// A whole community from a message: its code and names.
fn new_community(community: &api::Community) -> Result<NewCommunity, Violations> {
    let mut violations = Violations::new();
    let code = code_of(&mut violations, community);
    let display_name = violations.check(
        "community.display_name",
        parse::place_name(&community.display_name),
    );
    let display_name_en = violations.check(
        "community.display_name_en",
        parse::optional_place_name(&community.display_name_en),
    );
    match (code, display_name, display_name_en) {
        (Some(code), Some(display_name), Some(display_name_en)) if violations.is_empty() => {
            Ok(NewCommunity {
                code,
                display_name,
                display_name_en,
            })
        }
        _ => Err(violations),
    }
}

impl TryFrom<api::CreateCommunityRequest> for NewCommunity {
    type Error = Error;

    fn try_from(request: api::CreateCommunityRequest) -> Result<Self, Error> {
        let community = request
            .community
            .ok_or_else(|| Error::invalid("community", "required"))?;
        new_community(&community).map_err(Error::from)
    }
}

impl TryFrom<api::UpdateCommunityRequest> for UpdateCommunity {
    type Error = Error;

    fn try_from(request: api::UpdateCommunityRequest) -> Result<Self, Error> {
        let community = request
            .community
            .ok_or_else(|| Error::invalid("community", "required"))?;
        let mut violations = Violations::new();
        let code = code_of(&mut violations, &community);
        let paths = parse::mask_paths(
            &mut violations,
            request.update_mask.as_ref(),
            &["display_name", "display_name_en"],
        );
        let mut changes = NameChanges::default();
        for path in paths {
            if path == "display_name" {
                changes.display_name = violations.check(
                    "community.display_name",
                    parse::place_name(&community.display_name),
                );
            } else {
                changes.display_name_en = violations.check(
                    "community.display_name_en",
                    parse::optional_place_name(&community.display_name_en),
                );
            }
        }
        let create = request
            .allow_missing
            .then(|| new_community(&community).map_err(Violations::into_vec));
        let code = checked(violations, code)?;
        Ok(Self {
            code,
            changes,
            create,
        })
    }
}

/// The community a request names in `name`.
fn named(name: &str) -> Result<CommunityCode, Error> {
    let mut violations = Violations::new();
    let code = violations.check("name", resources::community(name));
    checked(violations, code)
}

impl TryFrom<api::ListCommunitiesRequest> for ListCommunities {
    type Error = Error;

    fn try_from(request: api::ListCommunitiesRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let parent = violations.check(
            "parent",
            resources::parent(&request.parent, ParentLevels::UpToSubdistrict),
        );
        let paging = parent.as_ref().and_then(|parent| {
            parse::paging(
                &mut violations,
                request.page_size,
                &request.page_token,
                ListQuery::new(&format!("communities parent={}", parent.prefix())),
            )
        });
        let (parent, paging) = checked(violations, parent.zip(paging))?;
        Ok(Self {
            prefix: parent.prefix(),
            paging,
        })
    }
}

pub(super) async fn create_community(
    service: &RegistryService,
    access: &Access,
    request: api::CreateCommunityRequest,
) -> Result<api::Community, Error> {
    let community = NewCommunity::try_from(request)?;
    let row = communities::create(&service.blocks, access, community).await?;
    Ok(render::community(row))
}

pub(super) async fn get_community(
    service: &RegistryService,
    _access: &Access,
    request: api::GetCommunityRequest,
) -> Result<api::Community, Error> {
    let code = named(&request.name)?;
    let row = communities::get(&service.blocks, code).await?;
    Ok(render::community(row))
}

pub(super) async fn list_communities(
    service: &RegistryService,
    _access: &Access,
    request: api::ListCommunitiesRequest,
) -> Result<api::ListCommunitiesResponse, Error> {
    let list = ListCommunities::try_from(request)?;
    let page = communities::list(&service.blocks, &list).await?;
    Ok(api::ListCommunitiesResponse {
        communities: page.items.into_iter().map(render::community).collect(),
        next_page_token: page.next_page_token,
    })
}

pub(super) async fn update_community(
    service: &RegistryService,
    access: &Access,
    request: api::UpdateCommunityRequest,
) -> Result<api::Community, Error> {
    let update = UpdateCommunity::try_from(request)?;
    let row = communities::update(&service.blocks, access, update).await?;
    Ok(render::community(row))
}

pub(super) async fn delete_community(
    service: &RegistryService,
    access: &Access,
    request: api::DeleteCommunityRequest,
) -> Result<(), Error> {
    let code = named(&request.name)?;
    communities::delete(&service.blocks, access, code).await
}
