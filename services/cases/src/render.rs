//! Cases, records, meetings and indicators as the API shows them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use flatgov_proto::cases::v1 as proto;

use crate::access::Visibility;
use crate::convert;
use crate::domain::indicators::{Direction, DurationSummary, Indicators, Rate, RateKind, Rates};
use crate::domain::lifecycle::{Action, EscalationCause, TransitionRecord};
use crate::domain::sla;
use crate::domain::units::{BlockCode, assignee_name};
use crate::store::{Contact, MeetingRow, ReferralState, StoredCase, TriageStatus};

fn triage_status(status: TriageStatus) -> proto::TriageStatus {
    match status {
        TriageStatus::Pending => proto::TriageStatus::Pending,
        TriageStatus::Complete => proto::TriageStatus::Complete,
        TriageStatus::AwaitingClassification => proto::TriageStatus::AwaitingClassification,
        TriageStatus::UnknownMatter => proto::TriageStatus::UnknownMatter,
        TriageStatus::OutsideBlocks => proto::TriageStatus::OutsideBlocks,
        TriageStatus::DispatchRefused => proto::TriageStatus::DispatchRefused,
    }
}

/// The filter value of a proto triage status.
pub fn triage_status_from_proto(status: proto::TriageStatus) -> Option<TriageStatus> {
    TriageStatus::ALL
        .iter()
        .copied()
        .find(|candidate| triage_status(*candidate) == status)
}

fn referral_state(state: ReferralState) -> proto::ReferralState {
    match state {
        ReferralState::Pending => proto::ReferralState::Pending,
        ReferralState::Accepted => proto::ReferralState::Accepted,
        ReferralState::Declined => proto::ReferralState::Declined,
    }
}

/// A case as `visibility` lets the caller see it; `contact` is shown only with full
/// visibility.
pub fn case(
    stored: &StoredCase,
    visibility: Visibility,
    contact: Option<&Contact>,
    now: DateTime<Utc>,
) -> proto::Case {
    let case = &stored.case;
    let block = stored.block();
    let full = visibility == Visibility::Full;
    let summary_only = visibility <= Visibility::Summary;
    let assignment = case.assignment();
    let next_deadline = sla::next_deadline(case).map(|pending| proto::Deadline {
        kind: convert::deadline_kind(pending.deadline) as i32,
        due: Some(convert::timestamp(pending.due)),
    });
    let responsibility = stored.extras.responsibility.as_ref();
    proto::Case {
        name: stored.name(),
        kind: convert::kind(case.kind()) as i32,
        channel: convert::channel(case.channel()) as i32,
        state: convert::case_state(case.state()) as i32,
        matter_code: case
            .matter()
            .code()
            .map(ToString::to_string)
            .unwrap_or_default(),
        tier: convert::optional_tier(case.tier()),
        location: if summary_only {
            None
        } else {
            case.location().map(convert::geo_point)
        },
        block: block.as_ref().map(BlockCode::name).unwrap_or_default(),
        community_code: block
            .as_ref()
            .map(|block| block.community().to_string())
            .unwrap_or_default(),
        subdistrict_code: block
            .as_ref()
            .map(|block| block.subdistrict().to_string())
            .unwrap_or_default(),
        description: if summary_only {
            String::new()
        } else {
            stored.description.clone()
        },
        attachments: if summary_only {
            Vec::new()
        } else {
            stored.attachments.clone()
        },
        urgent: stored.urgent,
        anonymous: stored.anonymous,
        reporter: contact.filter(|_| full).map(|contact| proto::Contact {
            name: contact.name.clone(),
            phone: contact.phone.clone(),
        }),
        assignee: assignment
            .map(|assignment| assignee_name(&assignment.assignee))
            .unwrap_or_default(),
        acceptance_due: assignment.map(|assignment| convert::timestamp(assignment.acceptance_due)),
        resolution_due: assignment.map(|assignment| convert::timestamp(assignment.resolution_due)),
        next_deadline,
        overdue: sla::is_overdue(case, now),
        triage_status: triage_status(stored.triage_status) as i32,
        triage_note: stored.triage_note.clone().unwrap_or_default(),
        dispatch_refusal: case.dispatch_refusal().map(|reason| {
            let details = stored.extras.refusal.as_ref();
            proto::DispatchRefusal {
                reason: details
                    .map(|details| details.reason.clone())
                    .unwrap_or_else(|| reason.to_string()),
                reason_code: details
                    .map(|details| details.reason_code.clone())
                    .unwrap_or_default(),
                responsible_instead: details
                    .and_then(|details| details.responsible_instead.as_ref())
                    .map(convert::unit),
                refusal: details
                    .map(|details| details.refusal.clone())
                    .unwrap_or_default(),
                attempted_assignee: details
                    .map(|details| details.attempted_assignee.clone())
                    .unwrap_or_default(),
            }
        }),
        me_too_count: case.me_too_count(),
        rework_count: case.rework_count(),
        extensions_granted: case.extensions_granted(),
        pending_extension: case
            .pending_extension()
            .map(|pending| proto::PendingExtension {
                until: Some(convert::timestamp(pending.until)),
                requested_by: pending
                    .requested_by
                    .staff_id()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            }),
        parking: case.parking().map(|parking| proto::Parking {
            reason: parking.reason.to_string(),
            review_on: parking.review_on.format("%Y-%m-%d").to_string(),
            resume_to: convert::case_state(parking.resume_to) as i32,
        }),
        rating: case
            .rating()
            .map(convert::rating)
            .unwrap_or(proto::Rating::Unspecified) as i32,
        rating_comment: if full {
            stored.rating_comment.clone().unwrap_or_default()
        } else {
            String::new()
        },
        closure: case
            .closure()
            .map(convert::closure)
            .unwrap_or(proto::Closure::Unspecified) as i32,
        referral: stored
            .extras
            .referral
            .as_ref()
            .map(|referral| proto::Referral {
                state: referral_state(referral.state) as i32,
                referral: referral.referral.clone().unwrap_or_default(),
                organisation: referral.organisation.clone().unwrap_or_default(),
                support_plan: referral.support_plan.clone().unwrap_or_default(),
                note: referral.note.clone().unwrap_or_default(),
                update_time: Some(convert::timestamp(referral.updated_at)),
            }),
        resolved_by: case
            .resolved_by()
            .map(|actor| {
                actor
                    .staff_id()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "system".to_owned())
            })
            .unwrap_or_default(),
        lead: responsibility.map(|responsibility| convert::unit(&responsibility.lead)),
        cooperating_departments: responsibility
            .map(|responsibility| {
                responsibility
                    .cooperating
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        version: case.version(),
        report_time: Some(convert::timestamp(case.reported_at())),
        update_time: Some(convert::timestamp(stored.updated_at)),
        resolution_note: if summary_only {
            String::new()
        } else {
            stored.resolution_note.clone().unwrap_or_default()
        },
        personal_data_redacted: !full,
    }
}

fn action_code(action: &Action) -> &'static str {
    match action {
        Action::Reported { .. } => "reported",
        Action::LocationOutsideBlocks => "location_outside_blocks",
        Action::Triaged { .. } => "triaged",
        Action::DispatchRefused => "dispatch_refused",
        Action::Dispatched { .. } => "dispatched",
        Action::Reclassified { .. } => "reclassified",
        Action::Accepted => "accepted",
        Action::WorkStarted => "work_started",
        Action::Resolved => "resolved",
        Action::Verified => "verified",
        Action::Reworked { .. } => "reworked",
        Action::Rated { .. } => "rated",
        Action::Closed { .. } => "closed",
        Action::ExtensionRequested { .. } => "extension_requested",
        Action::ExtensionApproved { .. } => "extension_approved",
        Action::ExtensionDenied => "extension_denied",
        Action::Parked { .. } => "parked",
        Action::Unparked { .. } => "unparked",
        Action::Escalated { .. } => "escalated",
        Action::Reassigned { .. } => "reassigned",
        Action::Rehomed { .. } => "rehomed",
        Action::MarkedOverdue { .. } => "marked_overdue",
        Action::MeTooLinked => "me_too_linked",
    }
}

fn assignment_details(
    details: &mut HashMap<String, String>,
    assignment: &crate::domain::lifecycle::Assignment,
) {
    details.insert("assignee".into(), assignee_name(&assignment.assignee));
    details.insert(
        "acceptance_due".into(),
        assignment.acceptance_due.to_rfc3339(),
    );
    details.insert(
        "resolution_due".into(),
        assignment.resolution_due.to_rfc3339(),
    );
}

/// One record as the history shows it.
pub fn record(record: &TransitionRecord) -> proto::CaseRecord {
    let mut details = HashMap::new();
    match &record.action {
        Action::Reported {
            kind,
            channel,
            matter,
            block,
        } => {
            details.insert("kind".into(), kind.to_string());
            details.insert("channel".into(), channel.to_string());
            if let Some(code) = matter.code() {
                details.insert("matter_code".into(), code.to_string());
            }
            if let Some(block) = block {
                details.insert("block".into(), block.to_string());
            }
        }
        Action::Triaged {
            block,
            matter,
            tier,
        } => {
            details.insert("block".into(), block.to_string());
            details.insert("matter_code".into(), matter.to_string());
            details.insert("tier".into(), tier.to_string());
        }
        Action::Dispatched { tier, assignment } | Action::Reassigned { tier, assignment } => {
            details.insert("tier".into(), tier.to_string());
            assignment_details(&mut details, assignment);
        }
        Action::Reclassified { matter, tier } => {
            details.insert("matter_code".into(), matter.to_string());
            details.insert("tier".into(), tier.to_string());
        }
        Action::Reworked {
            trigger,
            resolution_due,
        } => {
            details.insert("trigger".into(), trigger.to_string());
            details.insert("resolution_due".into(), resolution_due.to_rfc3339());
        }
        Action::Rated { rating } => {
            details.insert("rating".into(), rating.to_string());
        }
        Action::Closed { closure } => {
            details.insert("closure".into(), closure.to_string());
        }
        Action::ExtensionRequested { until } => {
            details.insert("until".into(), until.to_rfc3339());
        }
        Action::ExtensionApproved { resolution_due } => {
            details.insert("resolution_due".into(), resolution_due.to_rfc3339());
        }
        Action::Parked { review_on } => {
            details.insert("review_on".into(), review_on.format("%Y-%m-%d").to_string());
        }
        Action::Unparked { resolution_due } => {
            if let Some(due) = resolution_due {
                details.insert("resolution_due".into(), due.to_rfc3339());
            }
        }
        Action::Escalated {
            from_tier,
            to_tier,
            cause,
            assignment,
        } => {
            details.insert("from_tier".into(), from_tier.to_string());
            details.insert("to_tier".into(), to_tier.to_string());
            let cause = match cause {
                EscalationCause::Overdue { deadline } => format!("overdue_{deadline}"),
                EscalationCause::Manual => "manual".to_owned(),
                EscalationCause::MeetingActionOverdue { .. } => "meeting_action_overdue".to_owned(),
            };
            details.insert("cause".into(), cause);
            assignment_details(&mut details, assignment);
        }
        Action::Rehomed {
            from_block,
            to_block,
            assignment,
        } => {
            details.insert("from_block".into(), from_block.to_string());
            details.insert("to_block".into(), to_block.to_string());
            if let Some(assignment) = assignment {
                assignment_details(&mut details, assignment);
            }
        }
        Action::MarkedOverdue { deadline, due } => {
            details.insert("deadline".into(), deadline.to_string());
            details.insert("due".into(), due.to_rfc3339());
        }
        Action::LocationOutsideBlocks
        | Action::DispatchRefused
        | Action::Accepted
        | Action::WorkStarted
        | Action::Resolved
        | Action::Verified
        | Action::ExtensionDenied
        | Action::MeTooLinked => {}
    }
    proto::CaseRecord {
        sequence: record.sequence,
        from_state: record
            .from
            .map(convert::case_state)
            .unwrap_or(proto::CaseState::Unspecified) as i32,
        to_state: convert::case_state(record.to) as i32,
        action: action_code(&record.action).to_owned(),
        actor: Some(convert::actor(&record.actor)),
        reason: record
            .reason
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        occurred_at: Some(convert::timestamp(record.at)),
        details,
    }
}

/// A meeting.
pub fn meeting(meeting: &MeetingRow) -> proto::Meeting {
    proto::Meeting {
        name: meeting.name(),
        case: meeting.case_id.resource_name(),
        subdistrict_code: meeting.subdistrict_code.clone(),
        scheduled_for: Some(convert::timestamp(meeting.scheduled_for)),
        location: meeting.location.clone(),
        participants: meeting.participants.clone(),
        agenda: meeting.agenda.clone(),
        state: if meeting.state == "decided" {
            proto::MeetingState::Decided
        } else {
            proto::MeetingState::Scheduled
        } as i32,
        decision: meeting.decision.clone().unwrap_or_default(),
        actions: meeting
            .actions
            .iter()
            .map(|action| proto::MeetingAction {
                description: action.description.clone(),
                owner: action.owner.clone(),
                due: Some(convert::timestamp(action.due)),
                name: action.name(&meeting.name()),
                state: match action.state.as_str() {
                    "done" => proto::MeetingActionState::Done,
                    "overdue" => proto::MeetingActionState::Overdue,
                    _ => proto::MeetingActionState::Open,
                } as i32,
                done_time: action.done_at.map(convert::timestamp),
                overdue_time: action.overdue_at.map(convert::timestamp),
            })
            .collect(),
        attendees: meeting.attendees.clone(),
        decide_time: meeting.decided_at.map(convert::timestamp),
        create_time: Some(convert::timestamp(meeting.created_at)),
        scheduled_by: meeting.scheduled_by.clone(),
    }
}

fn rate(rate: Rate) -> proto::RateValue {
    proto::RateValue {
        numerator: rate.numerator,
        denominator: rate.denominator,
        percent: rate.percent(),
    }
}

fn durations(summary: &DurationSummary) -> proto::DurationSummary {
    proto::DurationSummary {
        count: summary.count,
        mean: summary.mean.map(convert::duration),
        p90: summary.p90.map(convert::duration),
    }
}

fn rate_name(kind: RateKind) -> &'static str {
    match kind {
        RateKind::Response => "response",
        RateKind::Resolution => "resolution",
        RateKind::Satisfaction => "satisfaction",
        RateKind::ClosedOnTime => "closed_on_time",
        RateKind::Rework => "rework",
        RateKind::Extension => "extension",
        RateKind::Whistle => "whistle",
    }
}

fn monthly_rates(month: &crate::domain::indicators::MonthlyRates) -> proto::MonthlyRates {
    let Rates {
        response,
        resolution,
        satisfaction,
        closed_on_time,
        rework,
        extension,
        whistle,
    } = month.rates;
    proto::MonthlyRates {
        month: month.month.to_string(),
        received: month.received,
        disputes_received: month.disputes_received,
        hazards_received: month.hazards_received,
        response_rate: Some(rate(response)),
        resolution_rate: Some(rate(resolution)),
        satisfaction_rate: Some(rate(satisfaction)),
        closed_on_time_rate: Some(rate(closed_on_time)),
        rework_rate: Some(rate(rework)),
        extension_rate: Some(rate(extension)),
        whistle_rate: Some(rate(whistle)),
        changes: month
            .changes
            .iter()
            .map(|change| proto::RateChange {
                rate: rate_name(change.kind).to_owned(),
                points: change.points,
                direction: match change.direction {
                    Direction::Up => "up",
                    Direction::Down => "down",
                    Direction::Flat => "flat",
                }
                .to_owned(),
                improved: change.improved,
            })
            .collect(),
    }
}

/// One group's indicators.
pub fn indicator_group(key: String, indicators: &Indicators) -> proto::IndicatorGroup {
    proto::IndicatorGroup {
        key,
        received: indicators.received,
        dismissed: indicators.dismissed,
        response_rate: Some(rate(indicators.rates.response)),
        resolution_rate: Some(rate(indicators.rates.resolution)),
        satisfaction_rate: Some(rate(indicators.rates.satisfaction)),
        closed_on_time_rate: Some(rate(indicators.rates.closed_on_time)),
        rework_rate: Some(rate(indicators.rates.rework)),
        extension_rate: Some(rate(indicators.rates.extension)),
        whistle_rate: Some(rate(indicators.rates.whistle)),
        overdue: indicators.overdue,
        parked: indicators.parked,
        me_too_reports: indicators.me_too_reports,
        time_to_accept: Some(durations(&indicators.time_to_accept)),
        time_to_resolve: Some(durations(&indicators.time_to_resolve)),
        disputes_resolved: indicators.disputes_resolved,
        hazards_resolved: indicators.hazards_resolved,
        monthly: indicators.monthly.iter().map(monthly_rates).collect(),
        parked_aging: Some(proto::ParkedAging {
            under_30_days: indicators.parked_aging.under_30_days,
            from_30_to_90_days: indicators.parked_aging.from_30_to_90_days,
            from_90_to_180_days: indicators.parked_aging.from_90_to_180_days,
            over_180_days: indicators.parked_aging.over_180_days,
            oldest: indicators.parked_aging.oldest.map(convert::duration),
        }),
        overdue_meeting_actions: indicators.overdue_meeting_actions,
    }
}
