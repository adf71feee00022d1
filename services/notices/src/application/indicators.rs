//! The indicators of timely feedback and notice reach for a division.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource};
use flatgov_vocabulary::DivisionCode;

use super::Notices;
use crate::domain::Milestone;
use crate::error::Error;
use crate::store;
use crate::store::indicators::MilestoneCounts;

/// What the indicators are asked over.
#[derive(Debug)]
pub struct IndicatorsQuery {
    pub division: DivisionCode,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The counts behind each indicator.
#[derive(Debug)]
pub struct IndicatorsView {
    pub on_time_seconds: i64,
    /// Every milestone, in order, with zeros where nothing happened.
    pub feedback: Vec<(Milestone, MilestoneCounts)>,
    pub cases_verified: i64,
    pub return_visits: i64,
    pub notices: i64,
    pub blocks_targeted: i64,
    pub blocks_delivered: i64,
}

/// `part / whole`, 0 for nothing.
pub fn rate(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl Notices {
    /// The indicators of a division the caller reaches; NOT_FOUND for one
    /// out of reach, like one that does not exist.
    pub async fn indicators(
        &self,
        access: &Access,
        query: IndicatorsQuery,
    ) -> Result<IndicatorsView, Error> {
        if !access.reaches(&Resource::in_division(query.division.as_str())) {
            return Err(Error::NotFound(query.division.name()));
        }
        let on_time_seconds = i64::try_from(self.feedback_on_time.as_secs()).unwrap_or(i64::MAX);
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|source| Error::database("reading indicators", source))?;
        let division = query.division.as_str();
        let counted = store::indicators::feedback(
            &mut connection,
            division,
            query.start,
            query.end,
            on_time_seconds,
        )
        .await?;
        let feedback = Milestone::ALL
            .into_iter()
            .map(|milestone| {
                let counts = counted
                    .iter()
                    .find(|(found, _)| *found == milestone)
                    .map(|(_, counts)| counts.clone())
                    .unwrap_or_default();
                (milestone, counts)
            })
            .collect();
        let (cases_verified, return_visits) =
            store::indicators::return_visits(&mut connection, division, query.start, query.end)
                .await?;
        let (notices, blocks_targeted, blocks_delivered) =
            store::indicators::notice_reach(&mut connection, division, query.start, query.end)
                .await?;
        Ok(IndicatorsView {
            on_time_seconds,
            feedback,
            cases_verified,
            return_visits,
            notices,
            blocks_targeted,
            blocks_delivered,
        })
    }
}
