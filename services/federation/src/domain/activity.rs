//! The rules of joint theme activities: when one can be registered for,
//! who gets a place and who waits, when check-in is open, and when an
//! activity can be marked held.

use chrono::{DateTime, Duration, Utc};

use super::Invalid;
use super::kinds::{ActivityState, RegistrationStatus, require_state};

/// Check-in opens this long before the start, so early arrivals can be
/// received at the door.
pub const CHECK_IN_OPENS_BEFORE_START: Duration = Duration::hours(2);

/// The longest an activity may run (a summer camp, a month-long course).
pub const MAX_DURATION: Duration = Duration::days(31);

pub const MAX_CAPACITY: u32 = 100_000;

/// Checks an activity's start and end.
pub fn check_schedule(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), Invalid> {
    if end <= start {
        return Err(Invalid::new("must be after the start time"));
    }
    if end - start > MAX_DURATION {
        return Err(Invalid::new(format!(
            "is {} days after the start; an activity lasts at most {} days",
            (end - start).num_days(),
            MAX_DURATION.num_days()
        )));
    }
    Ok(())
}

pub fn check_capacity(capacity: u32) -> Result<u32, Invalid> {
    if capacity == 0 || capacity > MAX_CAPACITY {
        return Err(Invalid::new(format!(
            "is {capacity}; it must be 1 to {MAX_CAPACITY}"
        )));
    }
    Ok(capacity)
}

/// Where a new registration goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A place is free.
    Confirmed,
    /// Every place is taken: the registration waits in line.
    Waitlisted,
}

impl Placement {
    pub fn status(self) -> RegistrationStatus {
        match self {
            Placement::Confirmed => RegistrationStatus::Confirmed,
            Placement::Waitlisted => RegistrationStatus::Waitlisted,
        }
    }
}

/// `places_taken` counts confirmed and attended registrations. Nobody is
/// confirmed past capacity, and nobody is refused for lack of room.
pub fn placement(capacity: u32, places_taken: u32) -> Placement {
    if places_taken < capacity {
        Placement::Confirmed
    } else {
        Placement::Waitlisted
    }
}

/// Registration is open while the activity is published and has not ended.
pub fn check_registration_open(
    state: ActivityState,
    ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    require_state(
        "activity",
        state,
        &[ActivityState::Published],
        "registered for",
    )?;
    if now >= ends_at {
        return Err(format!(
            "activity ended at {}; registration is closed",
            ends_at.to_rfc3339()
        ));
    }
    Ok(())
}

/// What a check-in does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckIn {
    /// The participant is now recorded as attending.
    Record,
    /// They were already checked in; nothing changes.
    AlreadyCheckedIn,
}

/// Whether `registration` (the participant's live registration, if any)
/// may check in now.
pub fn check_in(
    state: ActivityState,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
    registration: Option<RegistrationStatus>,
) -> Result<CheckIn, String> {
    require_state(
        "activity",
        state,
        &[ActivityState::Published],
        "checked in to",
    )?;
    let opens = starts_at - CHECK_IN_OPENS_BEFORE_START;
    if now < opens {
        return Err(format!(
            "check-in opens at {}, two hours before the start",
            opens.to_rfc3339()
        ));
    }
    match registration {
        None | Some(RegistrationStatus::Cancelled) => {
            Err("the participant is not registered for this activity; register them first".into())
        }
        Some(RegistrationStatus::Waitlisted) => Err(
            "the participant is on the waitlist and holds no place; only confirmed registrations check in"
                .into(),
        ),
        Some(RegistrationStatus::Confirmed) => Ok(CheckIn::Record),
        Some(RegistrationStatus::Attended) => Ok(CheckIn::AlreadyCheckedIn),
    }
}

/// An activity is marked held once it has started.
pub fn check_completion(
    state: ActivityState,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    require_state(
        "activity",
        state,
        &[ActivityState::Published],
        "marked held",
    )?;
    if now < starts_at {
        return Err(format!(
            "activity starts at {}; it cannot be marked held before it starts",
            starts_at.to_rfc3339()
        ));
    }
    Ok(())
}

/// A registration can be cancelled while it holds or waits for a place and
/// the activity has not been held.
pub fn check_cancellation(
    activity: ActivityState,
    registration: RegistrationStatus,
) -> Result<(), String> {
    require_state(
        "activity",
        activity,
        &[ActivityState::Draft, ActivityState::Published],
        "left",
    )?;
    require_state(
        "registration",
        registration,
        &[
            RegistrationStatus::Confirmed,
            RegistrationStatus::Waitlisted,
        ],
        "cancelled",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 28)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn the_last_place_is_confirmed_and_the_next_registration_waits() {
        assert_eq!(placement(2, 0), Placement::Confirmed);
        assert_eq!(placement(2, 1), Placement::Confirmed);
        assert_eq!(placement(2, 2), Placement::Waitlisted);
        assert_eq!(placement(2, 5), Placement::Waitlisted);
    }

    #[test]
    fn a_schedule_must_end_after_it_starts_and_within_a_month() {
        assert!(check_schedule(at(9), at(11)).is_ok());
        assert!(
            check_schedule(at(9), at(9))
                .unwrap_err()
                .0
                .contains("after the start")
        );
        let error = check_schedule(at(9), at(9) + Duration::days(40)).unwrap_err();
        assert!(error.0.contains("40 days"), "{error}");
    }

    #[test]
    fn capacity_is_one_to_a_hundred_thousand() {
        assert!(check_capacity(0).is_err());
        assert!(check_capacity(1).is_ok());
        assert!(check_capacity(100_001).is_err());
    }

    #[test]
    fn registration_needs_a_published_activity_that_has_not_ended() {
        assert!(check_registration_open(ActivityState::Published, at(12), at(11)).is_ok());
        let draft = check_registration_open(ActivityState::Draft, at(12), at(11)).unwrap_err();
        assert!(draft.contains("activity is draft"), "{draft}");
        let ended = check_registration_open(ActivityState::Published, at(12), at(12)).unwrap_err();
        assert!(ended.contains("registration is closed"), "{ended}");
    }

    #[test]
    fn checking_in_someone_not_registered_is_refused_with_the_reason() {
        let error = check_in(ActivityState::Published, at(10), at(10), None).unwrap_err();
        assert!(error.contains("not registered"), "{error}");
        let cancelled = check_in(
            ActivityState::Published,
            at(10),
            at(10),
            Some(RegistrationStatus::Cancelled),
        );
        assert!(cancelled.unwrap_err().contains("not registered"));
    }

    #[test]
    fn a_waitlisted_participant_cannot_check_in() {
        let error = check_in(
            ActivityState::Published,
            at(10),
            at(10),
            Some(RegistrationStatus::Waitlisted),
        )
        .unwrap_err();
        assert!(error.contains("waitlist"), "{error}");
    }

    #[test]
    fn check_in_opens_two_hours_before_the_start_and_is_idempotent() {
        let early = check_in(
            ActivityState::Published,
            at(10),
            at(7),
            Some(RegistrationStatus::Confirmed),
        );
        assert!(early.unwrap_err().contains("check-in opens"));
        assert_eq!(
            check_in(
                ActivityState::Published,
                at(10),
                at(8),
                Some(RegistrationStatus::Confirmed)
            ),
            Ok(CheckIn::Record)
        );
        assert_eq!(
            check_in(
                ActivityState::Published,
                at(10),
                at(11),
                Some(RegistrationStatus::Attended)
            ),
            Ok(CheckIn::AlreadyCheckedIn)
        );
        let held = check_in(
            ActivityState::Held,
            at(10),
            at(11),
            Some(RegistrationStatus::Confirmed),
        );
        assert!(held.unwrap_err().contains("activity is held"));
    }

    #[test]
    fn an_activity_is_marked_held_only_once_started() {
        assert!(check_completion(ActivityState::Published, at(10), at(10)).is_ok());
        let early = check_completion(ActivityState::Published, at(10), at(9)).unwrap_err();
        assert!(early.contains("before it starts"), "{early}");
        assert!(check_completion(ActivityState::Cancelled, at(10), at(11)).is_err());
    }

    #[test]
    fn attended_or_cancelled_registrations_cannot_be_cancelled() {
        assert!(
            check_cancellation(ActivityState::Published, RegistrationStatus::Waitlisted).is_ok()
        );
        let attended =
            check_cancellation(ActivityState::Published, RegistrationStatus::Attended).unwrap_err();
        assert!(attended.contains("registration is attended"), "{attended}");
        let held =
            check_cancellation(ActivityState::Held, RegistrationStatus::Confirmed).unwrap_err();
        assert!(held.contains("activity is held"), "{held}");
    }
}
