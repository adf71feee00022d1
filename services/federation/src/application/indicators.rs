//! Indicators per organisation over a period: activities held and
//! attendance, people supported and measures delivered, referrals and
//! their time to acceptance, rights requests resolved, proposals submitted
//! and answered, applications accepted. Computed from the recorded facts,
//! so any past period can be asked; counts only, no personal data.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::App;
use crate::domain::codes::{OrganisationCode, organisation_name};
use crate::error::{Error, Result};
use crate::store::indicators as store;

/// A period `[from, to)`, optionally of one organisation.
#[derive(Debug)]
pub struct IndicatorQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub only: Option<OrganisationCode>,
}

/// One organisation's indicators (or the federation's total).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrganisationIndicators {
    /// `organisations/{code}`; empty for the total.
    pub organisation: String,
    pub activities_held: u32,
    pub activities_led: u32,
    pub registrations: u32,
    pub attendance: u32,
    pub attendance_rate: f64,
    pub people_supported: u32,
    pub measures_committed: u32,
    pub measures_delivered: u32,
    pub support_plans_led: u32,
    pub referrals_accepted: u32,
    pub referrals_declined: u32,
    pub mean_seconds_to_accept: f64,
    pub p90_seconds_to_accept: f64,
    pub rights_requests_received: u32,
    pub rights_requests_resolved: u32,
    pub rights_requests_closed: u32,
    pub mean_seconds_to_resolve: f64,
    pub proposals_submitted: u32,
    pub proposals_co_signed: u32,
    pub proposals_answered: u32,
    pub applications_accepted: u32,
}

/// Every organisation's indicators and their total.
#[derive(Debug)]
pub struct Indicators {
    pub organisations: Vec<OrganisationIndicators>,
    /// Sums over the organisations listed (a co-organised activity and a
    /// person helped by several organisations counted once).
    pub total: OrganisationIndicators,
}

fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

pub async fn compute(app: &App, query: &IndicatorQuery) -> Result<Indicators> {
    let context = "computing indicators";
    let mut connection = app.connection(context).await?;
    let codes = store::organisation_codes(&mut connection).await?;
    if let Some(only) = &query.only
        && !codes.iter().any(|code| code == only.as_str())
    {
        return Err(Error::NotFound(format!(
            "{} is not a member organisation",
            organisation_name(only.as_str())
        )));
    }
    let activities: HashMap<Option<String>, store::ActivityCounts> =
        store::activities(&mut connection, query.from, query.to)
            .await?
            .into_iter()
            .map(|row| (row.organisation.clone(), row))
            .collect();
    let people = store::people_supported(&mut connection, query.from, query.to).await?;
    let committed = store::measures_committed(&mut connection, query.from, query.to).await?;
    let delivered = store::measures_delivered(&mut connection, query.from, query.to).await?;
    let plans = store::plans_led(&mut connection, query.from, query.to).await?;
    let referrals: HashMap<Option<String>, store::ReferralCounts> =
        store::referrals(&mut connection, query.from, query.to)
            .await?
            .into_iter()
            .map(|row| (row.organisation.clone(), row))
            .collect();
    let rights_received = store::rights_received(&mut connection, query.from, query.to).await?;
    let rights_closed: HashMap<String, store::RightsCounts> =
        store::rights_closed(&mut connection, query.from, query.to)
            .await?
            .into_iter()
            .map(|row| (row.organisation.clone(), row))
            .collect();
    let submitted = store::proposals_submitted(&mut connection, query.from, query.to).await?;
    let co_signed = store::proposals_co_signed(&mut connection, query.from, query.to).await?;
    let answered = store::proposals_answered(&mut connection, query.from, query.to).await?;
    let applications = store::applications_accepted(&mut connection, query.from, query.to).await?;

    let get =
        |counts: &HashMap<String, i64>, code: &str| count(counts.get(code).copied().unwrap_or(0));
    let mut organisations = Vec::new();
    let mut total = OrganisationIndicators::default();
    let mut total_resolve_seconds = 0.0;
    for code in codes.iter().filter(|code| {
        query
            .only
            .as_ref()
            .is_none_or(|only| only.as_str() == code.as_str())
    }) {
        let activity = activities
            .get(&Some(code.clone()))
            .cloned()
            .unwrap_or_default();
        let referral = referrals
            .get(&Some(code.clone()))
            .cloned()
            .unwrap_or_default();
        let rights = rights_closed.get(code).cloned().unwrap_or_default();
        let row = OrganisationIndicators {
            organisation: organisation_name(code),
            activities_held: count(activity.held),
            activities_led: count(activity.led),
            registrations: count(activity.registrations),
            attendance: count(activity.attendance),
            attendance_rate: ratio(count(activity.attendance), count(activity.registrations)),
            people_supported: count(people.get(&Some(code.clone())).copied().unwrap_or(0)),
            measures_committed: get(&committed, code),
            measures_delivered: get(&delivered, code),
            support_plans_led: get(&plans, code),
            referrals_accepted: count(referral.accepted),
            referrals_declined: count(referral.declined),
            mean_seconds_to_accept: referral.mean_seconds_to_accept.unwrap_or(0.0),
            p90_seconds_to_accept: referral.p90_seconds_to_accept.unwrap_or(0.0),
            rights_requests_received: get(&rights_received, code),
            rights_requests_resolved: count(rights.resolved),
            rights_requests_closed: count(rights.closed),
            mean_seconds_to_resolve: if rights.closed == 0 {
                0.0
            } else {
                rights.total_seconds_to_resolve / rights.closed as f64
            },
            proposals_submitted: get(&submitted, code),
            proposals_co_signed: get(&co_signed, code),
            proposals_answered: get(&answered, code),
            applications_accepted: get(&applications, code),
        };
        total.activities_led += row.activities_led;
        total.measures_committed += row.measures_committed;
        total.measures_delivered += row.measures_delivered;
        total.support_plans_led += row.support_plans_led;
        total.referrals_accepted += row.referrals_accepted;
        total.referrals_declined += row.referrals_declined;
        total.rights_requests_received += row.rights_requests_received;
        total.rights_requests_resolved += row.rights_requests_resolved;
        total.rights_requests_closed += row.rights_requests_closed;
        total_resolve_seconds += rights.total_seconds_to_resolve;
        total.proposals_submitted += row.proposals_submitted;
        total.proposals_co_signed += row.proposals_co_signed;
        total.proposals_answered += row.proposals_answered;
        total.applications_accepted += row.applications_accepted;
        total.people_supported += row.people_supported;
        total.activities_held += row.activities_held;
        total.registrations += row.registrations;
        total.attendance += row.attendance;
        organisations.push(row);
    }
    if query.only.is_none() {
        // Federation-wide: an activity co-organised by three organisations
        // is one activity, a person helped by two is one person.
        let overall_activities = activities.get(&None).cloned().unwrap_or_default();
        total.activities_held = count(overall_activities.held);
        total.registrations = count(overall_activities.registrations);
        total.attendance = count(overall_activities.attendance);
        total.people_supported = count(people.get(&None).copied().unwrap_or(0));
        let overall = referrals.get(&None).cloned().unwrap_or_default();
        total.mean_seconds_to_accept = overall.mean_seconds_to_accept.unwrap_or(0.0);
        total.p90_seconds_to_accept = overall.p90_seconds_to_accept.unwrap_or(0.0);
    } else if let Some(row) = organisations.first() {
        total = row.clone();
    }
    total.attendance_rate = ratio(total.attendance, total.registrations);
    if query.only.is_none() {
        total.mean_seconds_to_resolve = if total.rights_requests_closed == 0 {
            0.0
        } else {
            total_resolve_seconds / f64::from(total.rights_requests_closed)
        };
    }
    Ok(Indicators {
        organisations,
        total,
    })
}
