//! Indicators per organisation and period.

use std::collections::HashMap;

use chrono::Duration;
use flatgov_auth::policy::Access;
use flatgov_proto::federation::v1 as proto;

use super::activities::count;
use super::{Checks, FederationService, required_time};
use crate::domain::codes::{organisation_name, parse_organisation_reference};
use crate::error::{Error, Result};
use crate::store::indicators as store;

/// The longest period one call may cover.
const MAX_PERIOD_DAYS: i64 = 5 * 366;

fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

pub async fn get_indicators(
    service: &FederationService,
    _access: &Access,
    request: proto::GetIndicatorsRequest,
) -> Result<proto::GetIndicatorsResponse> {
    let mut checks = Checks::new();
    let from = checks.check(
        "start_time",
        required_time(request.start_time.as_ref()).map(Some),
    );
    let to = checks.check(
        "end_time",
        required_time(request.end_time.as_ref()).map(Some),
    );
    let only = if request.organisation.trim().is_empty() {
        None
    } else {
        checks.check(
            "organisation",
            parse_organisation_reference(&request.organisation).map(Some),
        )
    };
    if let (Some(from), Some(to)) = (from, to) {
        if to <= from {
            checks.fail("end_time", "must be after the start time");
        } else if to - from > Duration::days(MAX_PERIOD_DAYS) {
            checks.fail("end_time", "the period may cover at most five years");
        }
    }
    checks.finish()?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(Error::invalid("start_time", "must be set"));
    };
    let context = "computing indicators";
    let mut connection = service.connection(context).await?;
    let codes = store::organisation_codes(&mut connection)
        .await
        .map_err(Error::database(context))?;
    if let Some(only) = &only
        && !codes.iter().any(|code| code == only.as_str())
    {
        return Err(Error::NotFound(format!(
            "{} is not a member organisation",
            organisation_name(only.as_str())
        )));
    }
    let activities: HashMap<Option<String>, store::ActivityCounts> =
        store::activities(&mut connection, from, to)
            .await
            .map_err(Error::database(context))?
            .into_iter()
            .map(|row| (row.organisation.clone(), row))
            .collect();
    let people = store::people_supported(&mut connection, from, to)
        .await
        .map_err(Error::database(context))?;
    let committed = store::measures_committed(&mut connection, from, to)
        .await
        .map_err(Error::database(context))?;
    let delivered = store::measures_delivered(&mut connection, from, to)
        .await
        .map_err(Error::database(context))?;
    let plans = store::plans_led(&mut connection, from, to)
        .await
        .map_err(Error::database(context))?;
    let referrals: HashMap<Option<String>, store::ReferralCounts> =
        store::referrals(&mut connection, from, to)
            .await
            .map_err(Error::database(context))?
            .into_iter()
            .map(|row| (row.organisation.clone(), row))
            .collect();
    let rights_received = store::rights_received(&mut connection, from, to)
        .await
        .map_err(Error::database(context))?;
    let rights_closed: HashMap<String, store::RightsCounts> =
        store::rights_closed(&mut connection, from, to)
            .await
            .map_err(Error::database(context))?
            .into_iter()
            .map(|row| (row.organisation.clone(), row))
            .collect();
    let submitted = store::proposals_submitted(&mut connection, from, to)
        .await
        .map_err(Error::database(context))?;
    let co_signed = store::proposals_co_signed(&mut connection, from, to)
        .await
        .map_err(Error::database(context))?;
    let answered = store::proposals_answered(&mut connection, from, to)
        .await
        .map_err(Error::database(context))?;
    let applications = store::applications_accepted(&mut connection, from, to)
        .await
        .map_err(Error::database(context))?;

    let get =
        |counts: &HashMap<String, i64>, code: &str| count(counts.get(code).copied().unwrap_or(0));
    let mut organisations = Vec::new();
    let mut total = proto::OrganisationIndicators::default();
    let mut total_resolve_seconds = 0.0;
    for code in codes.iter().filter(|code| {
        only.as_ref()
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
        let row = proto::OrganisationIndicators {
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
    if only.is_none() {
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
    if only.is_none() {
        total.mean_seconds_to_resolve = if total.rights_requests_closed == 0 {
            0.0
        } else {
            total_resolve_seconds / f64::from(total.rights_requests_closed)
        };
    }
    Ok(proto::GetIndicatorsResponse {
        organisations,
        total: Some(total),
    })
}
