//! Who is responsible for a matter at a place (public: it only applies the
//! published lists and the place exceptions).

use chrono::{DateTime, Utc};
use flatgov_vocabulary::MatterCode;

use super::Duties;
use crate::domain::{Location, ResolveError, Responsibility};
use crate::error::Error;

/// Resolve `matter` at `location` under the lists in force `at`.
#[derive(Debug, Clone)]
pub struct ResolveResponsibility {
    pub matter: MatterCode,
    pub location: Location,
    pub at: DateTime<Utc>,
}

/// The answer, with the names a person reads it by.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub responsibility: Responsibility,
    /// Where it was asked about: roles are made concrete here.
    pub location: Location,
    /// The list item's name, in Chinese.
    pub item_name: String,
    /// The matter's name, in Chinese.
    pub matter_name: String,
}

pub async fn resolve(duties: &Duties, command: ResolveResponsibility) -> Result<Resolved, Error> {
    let rules = duties.rules.current(&duties.pool).await?;
    let responsibility =
        match rules
            .duty_rules()
            .resolve(&command.matter, &command.location, command.at)
        {
            Ok(responsibility) => responsibility,
            Err(ResolveError::UnknownMatter { matter }) => {
                return Err(Error::NotFound(format!(
                    "matter {matter} is not in the matter catalogue"
                )));
            }
            Err(error) => return Err(Error::FailedPrecondition(error.to_string())),
        };
    let item_name = rules
        .lists
        .history(responsibility.item.code.list())
        .version(responsibility.item.version)
        .and_then(|version| version.content().item(&responsibility.item.code))
        .map(|item| item.name().to_owned())
        .unwrap_or_default();
    let matter_name = rules
        .catalogue
        .get(&command.matter)
        .map(|matter| matter.name().to_owned())
        .unwrap_or_default();
    Ok(Resolved {
        responsibility,
        location: command.location,
        item_name,
        matter_name,
    })
}
