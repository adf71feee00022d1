//! Feedback templates per district: switching a milestone's message off or
//! on, giving it the district's own text, and listing what a district's
//! reporters receive. District administrators of the district; every change
//! is audited in the transaction that makes it.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource};
use flatgov_vocabulary::DistrictCode;

use super::{Notices, record_audit};
use crate::domain::{Milestone, TemplateText, template};
use crate::error::Error;
use crate::store::{self, templates::TemplateRow};

/// A district's template to set, fully checked.
#[derive(Debug)]
pub struct SetFeedbackTemplate {
    pub district: DistrictCode,
    pub milestone: Milestone,
    pub enabled: bool,
    /// The district's own text; `None` for the built-in one.
    pub text: Option<TemplateText>,
}

/// What a district's reporters receive at one milestone.
#[derive(Debug, Clone)]
pub struct FeedbackTemplate {
    pub district: DistrictCode,
    pub milestone: Milestone,
    pub enabled: bool,
    /// The text in use: the district's own, else the built-in one.
    pub text: String,
    /// Whether the text is the district's own.
    pub custom: bool,
    /// Who last set it and when; `None` while the district never set it.
    pub updated: Option<(String, DateTime<Utc>)>,
}

impl FeedbackTemplate {
    fn built_in(district: DistrictCode, milestone: Milestone) -> Self {
        Self {
            district,
            milestone,
            enabled: true,
            text: template::built_in(milestone).to_owned(),
            custom: false,
            updated: None,
        }
    }

    fn from_row(district: DistrictCode, row: TemplateRow) -> Self {
        let custom = !row.text.is_empty();
        Self {
            district,
            milestone: row.milestone,
            enabled: row.enabled,
            text: if custom {
                row.text
            } else {
                template::built_in(row.milestone).to_owned()
            },
            custom,
            updated: Some((row.updated_by, row.update_time)),
        }
    }
}

/// The resource name of a district's template of a milestone.
pub fn template_name(district: &DistrictCode, milestone: Milestone) -> String {
    format!(
        "districts/{}/feedbackTemplates/{}",
        district.as_str(),
        milestone.as_str()
    )
}

/// A district out of the caller's reach answers as one never seen.
fn check_reach(access: &Access, district: &DistrictCode) -> Result<(), Error> {
    if access.reaches(&Resource::in_division(district.as_str())) {
        Ok(())
    } else {
        Err(Error::NotFound(format!(
            "district {} not found",
            district.as_str()
        )))
    }
}

impl Notices {
    /// Sets a district's template of a milestone: on or off, with its own
    /// text or the built-in one.
    pub async fn set_feedback_template(
        &self,
        access: &Access,
        command: SetFeedbackTemplate,
    ) -> Result<FeedbackTemplate, Error> {
        check_reach(access, &command.district)?;
        access
            .audit()
            .resource(template_name(&command.district, command.milestone));
        let mut transaction = store::begin(&self.pool, "saving a feedback template").await?;
        let row = store::templates::upsert(
            &mut transaction,
            command.district.as_str(),
            command.milestone,
            command.enabled,
            command
                .text
                .as_ref()
                .map(TemplateText::as_str)
                .unwrap_or(""),
            access.subject(),
        )
        .await?;
        record_audit(&mut transaction, access, "saving a feedback template").await?;
        store::commit(transaction, "saving a feedback template").await?;
        tracing::info!(
            district = command.district.as_str(),
            milestone = %command.milestone,
            enabled = command.enabled,
            custom = command.text.is_some(),
            "feedback template set"
        );
        Ok(FeedbackTemplate::from_row(command.district, row))
    }

    /// Every milestone's template in a district, in the order of a case's life.
    pub async fn list_feedback_templates(
        &self,
        access: &Access,
        district: DistrictCode,
    ) -> Result<Vec<FeedbackTemplate>, Error> {
        check_reach(access, &district)?;
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|source| Error::database("listing feedback templates", source))?;
        let mut rows = store::templates::for_district(&mut connection, district.as_str()).await?;
        Ok(Milestone::ALL
            .into_iter()
            .map(
                |milestone| match rows.iter().position(|row| row.milestone == milestone) {
                    Some(index) => FeedbackTemplate::from_row(district, rows.swap_remove(index)),
                    None => FeedbackTemplate::built_in(district, milestone),
                },
            )
            .collect())
    }
}
