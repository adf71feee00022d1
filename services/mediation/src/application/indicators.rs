//! Indicators of the linkage: disputes received, success per level,
//! agreements performed, time to agreement, judicial confirmation, and the
//! monthly trend of disputes (one of the "three downs").

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource};

use super::Mediation;
use crate::error::Error;
use crate::store::{self, DatabaseContext as _, IndicatorRows};

#[derive(Debug, Clone)]
pub struct GetIndicators {
    /// A subdistrict or community code; `None` for the whole district.
    pub division: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

pub async fn get(
    mediation: &Mediation,
    access: &Access,
    command: &GetIndicators,
) -> Result<IndicatorRows, Error> {
    let reaches = match &command.division {
        Some(code) => access.reaches(&Resource::in_division(code)),
        None => access.unlimited(),
    };
    if !reaches {
        // The same answer as for a division that does not exist.
        return Err(Error::NotFound(format!(
            "no indicators of {} for the caller",
            command.division.as_deref().unwrap_or("the district")
        )));
    }
    let mut connection = mediation
        .pool
        .acquire()
        .await
        .context("measuring indicators")?;
    Ok(store::indicators(
        &mut connection,
        command.division.as_deref(),
        command.start,
        command.end,
    )
    .await?)
}
