//! Stored rows → API messages, as the caller may see them (the viewer
//! comes from `crate::access::viewer`).

use chrono::{DateTime, Utc};
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::enforcement::v1 as api;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;

use crate::domain::action::RectificationStatus;
use crate::domain::duty::{self, DutyGap};
use crate::domain::{
    ActionDetails, ActionKind, AgencyCode, AgencySelection, OperationState, Outcome, Viewer,
    WhistleSource,
};
use crate::events::api_outcome;
use crate::store::{ActionRow, AgencyRow, OfficerRow, OperationRecord, ShiftRow, UnitRow};

pub fn agency(row: &AgencyRow) -> api::Agency {
    api::Agency {
        name: format!("agencies/{}", row.code),
        code: row.code.clone(),
        display_name: row.display_name.clone(),
        display_name_en: row.display_name_en.clone(),
        active: row.active,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
        notes_sensitive_by_default: row.notes_sensitive_by_default,
        details_restricted_by_default: row.details_restricted_by_default,
    }
}

pub fn unit(row: &UnitRow) -> api::EnforcementUnit {
    api::EnforcementUnit {
        name: format!("agencies/{}/units/{}", row.agency_code, row.id),
        agency: format!("agencies/{}", row.agency_code),
        display_name: row.display_name.clone(),
        stationed_subdistrict_code: row.stationed_subdistrict_code.clone().unwrap_or_default(),
        on_duty: row.on_duty,
        active: row.active,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
        duty_desk: row.duty_desk,
        on_duty_now: row.on_duty_now,
    }
}

/// A shift of a unit's roster, with its span in China Standard Time for
/// display (zh-CN, and English).
pub fn shift(row: &ShiftRow) -> api::DutyShift {
    let unit = format!("agencies/{}/units/{}", row.agency_code, row.unit_id);
    let span = duty::ShiftSpan {
        starts_at: row.starts_at,
        ends_at: row.ends_at,
    };
    api::DutyShift {
        name: format!("{unit}/shifts/{}", row.id),
        officers: row
            .officers
            .iter()
            .map(|officer| format!("agencies/{}/officers/{officer}", row.agency_code))
            .collect(),
        unit,
        start_time: Some(timestamp(row.starts_at)),
        end_time: Some(timestamp(row.ends_at)),
        note: row.note.clone(),
        display_span: span.label_zh(),
        display_span_en: span.label_en(),
        create_time: Some(timestamp(row.created_at)),
    }
}

fn duty_gap(code: Option<&str>) -> api::DutyGap {
    match code {
        None => api::DutyGap::Unspecified,
        Some(code) => match DutyGap::parse(code) {
            Some(DutyGap::NoneOnDuty) => api::DutyGap::NoneOnDuty,
            Some(DutyGap::NotStationed) => api::DutyGap::NotStationed,
            None => api::DutyGap::NoGap,
        },
    }
}

/// The officer as `viewer` may see it (the caller reaches it already).
pub fn officer(row: &OfficerRow, viewer: &Viewer) -> api::Officer {
    let officer_agency = AgencyCode::parse(&row.agency_code).ok();
    let may_see_phone = officer_agency.is_some_and(|agency| viewer.may_see_officer_phone(&agency));
    api::Officer {
        name: format!("agencies/{}/officers/{}", row.agency_code, row.id),
        agency: format!("agencies/{}", row.agency_code),
        unit: row
            .unit_id
            .map(|unit| format!("agencies/{}/units/{unit}", row.agency_code))
            .unwrap_or_default(),
        display_name: row.display_name.clone(),
        badge_number: row.badge_number.clone(),
        phone: if may_see_phone {
            row.phone.clone()
        } else {
            String::new()
        },
        active: row.active,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
    }
}

fn state(code: &str) -> api::OperationState {
    match OperationState::parse(code) {
        Some(OperationState::ResolvingAgencies) => api::OperationState::ResolvingAgencies,
        Some(OperationState::Open) => api::OperationState::Open,
        Some(OperationState::Concluded) => api::OperationState::Concluded,
        Some(OperationState::FollowUp) => api::OperationState::FollowUp,
        Some(OperationState::Cancelled) => api::OperationState::Cancelled,
        None => api::OperationState::Unspecified,
    }
}

pub fn action_kind(kind: ActionKind) -> api::ActionKind {
    match kind {
        ActionKind::Inspection => api::ActionKind::Inspection,
        ActionKind::RectificationOrder => api::ActionKind::RectificationOrder,
        ActionKind::PenaltyDecision => api::ActionKind::PenaltyDecision,
        ActionKind::Seizure => api::ActionKind::Seizure,
        ActionKind::Referral => api::ActionKind::Referral,
        ActionKind::RectificationCheck => api::ActionKind::RectificationCheck,
    }
}

/// A staff id (token subject), shown only to viewers who may see people.
fn staff_id(subject: &str, viewer: &Viewer) -> String {
    if viewer.may_see_people() {
        subject.to_owned()
    } else {
        String::new()
    }
}

/// The action as `viewer` may see it.
pub fn action(row: &ActionRow, viewer: &Viewer) -> api::Action {
    use api::action::Details;
    let operation = format!("operations/{}", row.operation_id);
    let recorded_by_agency = AgencyCode::parse(&row.agency_code).ok();
    let may_see_notes = recorded_by_agency
        .as_ref()
        .is_some_and(|agency| viewer.may_see_notes(agency, row.notes_sensitive));
    let may_see_details = recorded_by_agency
        .as_ref()
        .is_some_and(|agency| viewer.may_see_details(agency, row.details_restricted));
    // Evidence (photographs of findings, of people, of seized goods) says
    // what the notes and the details say: shown only to whoever may see both.
    let may_see_attachments = may_see_notes && may_see_details;
    let shown = if may_see_details {
        row.details.0.clone()
    } else {
        row.details.0.without_restricted_parts()
    };
    let details = match &shown {
        ActionDetails::Inspection {
            findings,
            violation_found,
        } => Details::Inspection(api::Inspection {
            findings: findings.clone(),
            violation_found: *violation_found,
        }),
        ActionDetails::RectificationOrder {
            requirement,
            deadline,
            document_number,
        } => {
            let status = match RectificationStatus::of(
                row.rectification_complied,
                row.rectification_overdue_at.is_some(),
            ) {
                RectificationStatus::Pending => api::RectificationStatus::Pending,
                RectificationStatus::Overdue => api::RectificationStatus::Overdue,
                RectificationStatus::Complied => api::RectificationStatus::Complied,
                RectificationStatus::NotComplied => api::RectificationStatus::NotComplied,
            };
            Details::RectificationOrder(api::RectificationOrder {
                requirement: requirement.clone(),
                deadline: Some(timestamp(*deadline)),
                document_number: document_number.clone(),
                status: status as i32,
                overdue_time: optional_timestamp(row.rectification_overdue_at),
            })
        }
        ActionDetails::PenaltyDecision {
            legal_basis,
            penalty,
            fine_fen,
            decision_number,
        } => Details::PenaltyDecision(api::PenaltyDecision {
            legal_basis: legal_basis.clone(),
            penalty: penalty.clone(),
            fine_fen: *fine_fen,
            decision_number: decision_number.clone(),
        }),
        ActionDetails::Seizure {
            items,
            legal_basis,
            document_number,
        } => Details::Seizure(api::Seizure {
            items: items.clone(),
            legal_basis: legal_basis.clone(),
            document_number: document_number.clone(),
        }),
        ActionDetails::Referral {
            referred_to,
            reason,
        } => Details::Referral(api::Referral {
            referred_to: referred_to.clone(),
            reason: reason.clone(),
        }),
        ActionDetails::RectificationCheck {
            rectification_order,
            complied,
            findings,
        } => Details::RectificationCheck(api::RectificationCheck {
            rectification_order: format!("{operation}/actions/{rectification_order}"),
            complied: *complied,
            findings: findings.clone(),
        }),
    };
    api::Action {
        name: format!("{operation}/actions/{}", row.id),
        agency: format!("agencies/{}", row.agency_code),
        kind: ActionKind::parse(&row.kind)
            .map(action_kind)
            .unwrap_or(api::ActionKind::Unspecified) as i32,
        recorded_by: staff_id(&row.recorded_by, viewer),
        record_time: Some(timestamp(row.recorded_at)),
        summary: row.summary.clone(),
        notes: if may_see_notes {
            row.notes.clone()
        } else {
            String::new()
        },
        notes_sensitive: row.notes_sensitive,
        notes_redacted: !may_see_notes && !row.notes.is_empty(),
        details_restricted: row.details_restricted,
        details_redacted: !may_see_details && shown != row.details.0,
        attachments: if may_see_attachments {
            row.attachments
                .0
                .iter()
                .map(|attachment| api::Attachment {
                    uri: attachment.uri.clone(),
                    media_type: attachment.media_type.clone(),
                    description: attachment.description.clone(),
                    sha256: attachment.sha256.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
        attachments_redacted: !may_see_attachments && !row.attachments.0.is_empty(),
        details: Some(details),
    }
}

/// Whether the operation is overdue at `now`: an agency past its report-in
/// deadline without a report while it is open, or an overdue unchecked
/// rectification order.
pub fn is_overdue(record: &OperationRecord, now: DateTime<Utc>) -> bool {
    let operation_state = OperationState::parse(&record.operation.state);
    let late_agency = operation_state == Some(OperationState::Open)
        && record
            .summonses
            .iter()
            .any(|summons| summons.reported_at.is_none() && summons.report_in_due < now);
    let overdue_order =
        operation_state != Some(OperationState::Cancelled) && record.operation.overdue_orders > 0;
    late_agency || overdue_order
}

/// The operation as `viewer` may see it.
pub fn operation(record: &OperationRecord, viewer: &Viewer, now: DateTime<Utc>) -> api::Operation {
    let row = &record.operation;
    let show_people = viewer.may_see_people();
    let summons = record
        .summonses
        .iter()
        .map(|summons| {
            let summons_state = match (summons.reported_at, summons.marked_late_at) {
                (Some(_), _) => api::SummonsState::ReportedIn,
                (None, Some(_)) => api::SummonsState::Late,
                (None, None) if summons.report_in_due < now && row.state == "open" => {
                    api::SummonsState::Late
                }
                (None, None) => api::SummonsState::AwaitingReport,
            };
            api::Summons {
                agency: format!("agencies/{}", summons.agency_code),
                lead: row.lead_agency.as_deref() == Some(summons.agency_code.as_str()),
                state: summons_state as i32,
                summon_time: Some(timestamp(summons.summoned_at)),
                report_in_deadline: Some(timestamp(summons.report_in_due)),
                report_in_time: optional_timestamp(summons.reported_at),
                reported_on_time: summons
                    .reported_at
                    .is_some_and(|at| at <= summons.report_in_due),
                marked_late_time: optional_timestamp(summons.marked_late_at),
                officers: record
                    .officers
                    .iter()
                    .filter(|officer| officer.agency_code == summons.agency_code)
                    // Viewers who may not see people learn how many
                    // officers came, never who.
                    .map(|officer| {
                        if !show_people {
                            return api::DispatchedOfficer::default();
                        }
                        api::DispatchedOfficer {
                            officer: format!(
                                "agencies/{}/officers/{}",
                                officer.agency_code, officer.officer_id
                            ),
                            display_name: officer.display_name.clone(),
                            badge_number: officer.badge_number.clone(),
                        }
                    })
                    .collect(),
                unit: summons
                    .unit_id
                    .map(|unit| format!("agencies/{}/units/{unit}", summons.agency_code))
                    .unwrap_or_default(),
                // A report note is a note: shown where ordinary notes are.
                report_note: if show_people {
                    summons.report_note.clone()
                } else {
                    String::new()
                },
                actions_recorded: u32::try_from(summons.actions_recorded).unwrap_or(u32::MAX),
                // Units are a public directory: shown to all who see the
                // operation.
                summoned_unit: summons
                    .summoned_unit_id
                    .map(|unit| format!("agencies/{}/units/{unit}", summons.agency_code))
                    .unwrap_or_default(),
                duty_gap: duty_gap(summons.duty_gap.as_deref()) as i32,
            }
        })
        .collect();
    let conclusion = row.concluded_at.map(|concluded_at| api::Conclusion {
        outcome: row
            .outcome
            .as_deref()
            .and_then(Outcome::parse)
            .map(api_outcome)
            .unwrap_or(api::OperationOutcome::Unspecified) as i32,
        summary: row.conclusion_summary.clone().unwrap_or_default(),
        conclude_time: Some(timestamp(concluded_at)),
        concluded_by: staff_id(row.concluded_by.as_deref().unwrap_or_default(), viewer),
    });
    let cancellation = row.cancelled_at.map(|cancelled_at| api::Cancellation {
        reason: row.cancel_reason.clone().unwrap_or_default(),
        cancel_time: Some(timestamp(cancelled_at)),
        cancelled_by: staff_id(row.cancelled_by.as_deref().unwrap_or_default(), viewer),
    });
    api::Operation {
        name: format!("operations/{}", row.id),
        case: row.case_name.clone().unwrap_or_default(),
        state: state(&row.state) as i32,
        source: match WhistleSource::parse(&row.source) {
            Some(WhistleSource::CaseEscalation) => api::WhistleSource::CaseEscalation,
            Some(WhistleSource::Direct) => api::WhistleSource::Direct,
            None => api::WhistleSource::Unspecified,
        } as i32,
        subdistrict_code: row.subdistrict_code.clone(),
        block_code: row.block_code.clone().unwrap_or_default(),
        location: row
            .longitude
            .zip(row.latitude)
            .map(|(longitude, latitude)| GeoPoint {
                longitude,
                latitude,
                ..Default::default()
            }),
        matter_code: row.matter_code.clone().unwrap_or_default(),
        description: row.description.clone(),
        urgent: row.urgent,
        lead_agency: row
            .lead_agency
            .as_ref()
            .map(|lead| format!("agencies/{lead}"))
            .unwrap_or_default(),
        summons,
        agency_selection: match row
            .agency_selection
            .as_deref()
            .and_then(AgencySelection::parse)
        {
            Some(AgencySelection::Requested) => api::AgencySelection::Requested,
            Some(AgencySelection::DutyLists) => api::AgencySelection::DutyLists,
            Some(AgencySelection::DefaultSet) => api::AgencySelection::DefaultSet,
            None => api::AgencySelection::Unspecified,
        } as i32,
        agency_selection_note: row.agency_selection_note.clone(),
        blown_by: staff_id(&row.blown_by, viewer),
        blow_time: Some(timestamp(row.blown_at)),
        actions: record
            .actions
            .iter()
            .map(|action_row| action(action_row, viewer))
            .collect(),
        conclusion,
        cancellation,
        ratings: record
            .ratings
            .iter()
            .map(|rating| api::AgencyRating {
                agency: format!("agencies/{}", rating.agency_code),
                score: u32::try_from(rating.score).unwrap_or(0),
                comment: rating.comment.clone(),
                rate_time: Some(timestamp(rating.rated_at)),
                rated_by: staff_id(&rating.rated_by, viewer),
            })
            .collect(),
        overdue: is_overdue(record, now),
        follow_up_open_time: optional_timestamp(row.follow_up_opened_at),
        update_time: Some(timestamp(row.updated_at)),
    }
}
