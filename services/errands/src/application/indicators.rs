//! Indicators for a place and a period: errands by matter and block, those
//! decided within the promised limit, the speed-up rate (便民事项办理提速率) and
//! the mean working time saved against the statutory limit, returns for
//! missing materials, trips saved, and each department's time to decide.
//! Counted over the errands the caller reaches, never showing a resident.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use uuid::Uuid;

use super::Errands;
use crate::domain::trips_saved;
use crate::error::Error;
use crate::policy::Reach;
use crate::store::{self, DatabaseContext as _, ErrandFilter};

#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentFigures {
    pub department: String,
    pub decisions: u32,
    pub mean_working_hours_to_decide: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figures {
    pub requested: u32,
    /// (matter, block) → errands.
    pub by_matter_and_block: BTreeMap<(String, String), u32>,
    pub decided: u32,
    pub within_promised_limit: u32,
    pub speed_up_rate: f64,
    pub mean_working_days_saved: f64,
    pub returns: u32,
    pub errands_returned: u32,
    pub missing_material_notices: u32,
    pub trips_saved: u32,
    pub resident_trips: u32,
    pub departments: Vec<DepartmentFigures>,
}

fn count(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

pub async fn indicators(
    errands: &Errands,
    access: &Access,
    division_prefix: Option<String>,
    period: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Figures, Error> {
    const CONTEXT: &str = "counting errands";
    let reach = Reach::of(access);
    let filter = ErrandFilter {
        division_prefix,
        state: None,
        requested_between: Some(period),
    };
    let mut connection = errands.pool.acquire().await.context(CONTEXT)?;
    let rows = store::all(&mut connection, &filter, reach.as_ref()).await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let decisions = store::decisions_of(&mut connection, &ids).await?;
    let notices = store::notices_of(&mut connection, &ids).await?;
    // The usual trips of each errand's matter, from the version it ran under.
    let mut usual_trips: BTreeMap<(i32, String), u32> = BTreeMap::new();
    for row in &rows {
        let key = (row.catalogue_version, row.matter_code.clone());
        if usual_trips.contains_key(&key) {
            continue;
        }
        let trips = store::load_catalogue(&mut connection, key.0, Some(&key.1))
            .await?
            .and_then(|(_, mut matters)| matters.pop())
            .map(|matter| matter.usual_trips)
            .ok_or_else(|| Error::corrupt(format!("errand {} names no stored matter", row.id)))?;
        usual_trips.insert(key, trips);
    }
    drop(connection);

    let mut figures = Figures {
        requested: count(rows.len()),
        ..Figures::default()
    };
    let mut faster = 0u32;
    let mut days_saved = 0.0;
    let hours_per_day = errands.hours_per_day();
    for row in &rows {
        *figures
            .by_matter_and_block
            .entry((row.matter_code.clone(), row.block_code.clone()))
            .or_default() += 1;
        figures.returns += u32::try_from(row.returns).unwrap_or_default();
        if row.returns > 0 {
            figures.errands_returned += 1;
        }
        let trips = u32::try_from(row.resident_trips).unwrap_or_default();
        figures.resident_trips += trips;
        if row.told_time.is_some() {
            let usual = usual_trips
                .get(&(row.catalogue_version, row.matter_code.clone()))
                .copied()
                .unwrap_or_default();
            figures.trips_saved += trips_saved(usual, trips);
        }
        let (Some(decided), Some(statutory), Some(promised)) =
            (row.decide_time, row.statutory_due, row.promised_due)
        else {
            continue;
        };
        figures.decided += 1;
        if decided <= promised {
            figures.within_promised_limit += 1;
        }
        if decided < statutory {
            faster += 1;
        }
        days_saved += errands.working_hours_between(decided, statutory)? / hours_per_day;
    }
    if figures.decided > 0 {
        figures.speed_up_rate = f64::from(faster) / f64::from(figures.decided);
        figures.mean_working_days_saved = days_saved / f64::from(figures.decided);
    }
    figures.missing_material_notices = u32::try_from(notices).unwrap_or_default();
    let mut by_department: BTreeMap<String, (u32, f64)> = BTreeMap::new();
    for decision in &decisions {
        let hours = errands.working_hours_between(decision.submit_time, decision.decide_time)?;
        let entry = by_department
            .entry(decision.department.clone())
            .or_default();
        entry.0 += 1;
        entry.1 += hours;
    }
    figures.departments = by_department
        .into_iter()
        .map(|(department, (decisions, hours))| DepartmentFigures {
            department,
            decisions,
            mean_working_hours_to_decide: hours / f64::from(decisions),
        })
        .collect();
    Ok(figures)
}
