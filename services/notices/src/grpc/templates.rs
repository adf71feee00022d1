//! ListFeedbackTemplates and SetFeedbackTemplate: a district's switch and
//! text of each milestone's message.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::time::timestamp;
use flatgov_proto::notices::v1 as proto;
use flatgov_vocabulary::DistrictCode;

use super::NoticesService;
use crate::application::templates::{FeedbackTemplate, SetFeedbackTemplate, template_name};
use crate::domain::{Milestone, TemplateText};
use crate::error::Error;

/// The collection of a district's templates in a resource name.
const COLLECTION: &str = "feedbackTemplates";

/// Reads `districts/{code}/feedbackTemplates/{milestone}`.
fn parse_name(name: &str) -> Result<(DistrictCode, Milestone), String> {
    let expected = "must be districts/{code}/feedbackTemplates/{milestone}, e.g. \
                    districts/430302/feedbackTemplates/received";
    let mut parts = name.split('/');
    let (Some("districts"), Some(code), Some(COLLECTION), Some(word), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(expected.into());
    };
    let district = DistrictCode::parse(code).map_err(|error| format!("district: {error}"))?;
    let milestone = Milestone::parse(word).ok_or_else(|| {
        format!(
            "unknown milestone; one of {}",
            Milestone::ALL.map(Milestone::as_str).join(", ")
        )
    })?;
    Ok((district, milestone))
}

impl TryFrom<proto::SetFeedbackTemplateRequest> for SetFeedbackTemplate {
    type Error = Error;

    fn try_from(request: proto::SetFeedbackTemplateRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let named = violations.check("name", parse_name(&request.name));
        let text = match named {
            Some((_, milestone)) if !request.text.trim().is_empty() => violations
                .check("text", TemplateText::parse(milestone, &request.text))
                .map(Some),
            _ => Some(None),
        };
        violations.finish()?;
        match (named, text) {
            (Some((district, milestone)), Some(text)) => Ok(SetFeedbackTemplate {
                district,
                milestone,
                enabled: !request.disabled,
                text,
            }),
            _ => Err(Error::corrupt("a checked field went missing")),
        }
    }
}

fn render(template: &FeedbackTemplate) -> proto::FeedbackTemplate {
    let (updated_by, update_time) = match &template.updated {
        Some((subject, time)) => (subject.clone(), Some(timestamp(*time))),
        None => (String::new(), None),
    };
    proto::FeedbackTemplate {
        name: template_name(&template.district, template.milestone),
        milestone: template.milestone.to_proto() as i32,
        enabled: template.enabled,
        text: template.text.clone(),
        custom: template.custom,
        updated_by,
        update_time,
    }
}

pub(super) async fn set_feedback_template(
    service: &NoticesService,
    access: &Access,
    request: proto::SetFeedbackTemplateRequest,
) -> Result<proto::FeedbackTemplate, Error> {
    let command = SetFeedbackTemplate::try_from(request)?;
    let template = service
        .notices
        .set_feedback_template(access, command)
        .await?;
    Ok(render(&template))
}

pub(super) async fn list_feedback_templates(
    service: &NoticesService,
    access: &Access,
    request: proto::ListFeedbackTemplatesRequest,
) -> Result<proto::ListFeedbackTemplatesResponse, Error> {
    let mut violations = Violations::new();
    let district = violations.check(
        "parent",
        DistrictCode::parse_name(&request.parent).map_err(|error| error.to_string()),
    );
    violations.finish()?;
    let district = district.ok_or_else(|| Error::corrupt("a checked field went missing"))?;
    let templates = service
        .notices
        .list_feedback_templates(access, district)
        .await?;
    Ok(proto::ListFeedbackTemplatesResponse {
        templates: templates.iter().map(render).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_name_reads_back_into_its_district_and_milestone() {
        let district = DistrictCode::parse("430302").unwrap();
        let name = template_name(&district, Milestone::ReturnVisit);
        assert_eq!(name, "districts/430302/feedbackTemplates/return_visit");
        assert_eq!(parse_name(&name), Ok((district, Milestone::ReturnVisit)));
        assert!(parse_name("districts/430302/feedbackTemplates/rated").is_err());
        assert!(parse_name("districts/430302/templates/received").is_err());
        assert!(parse_name("districts/430302/feedbackTemplates/received/x").is_err());
    }
}
