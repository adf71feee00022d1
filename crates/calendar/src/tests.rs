use super::*;

/// An instant given as China Standard Time local `YYYY-MM-DD HH:MM`.
fn local(text: &str) -> DateTime<Utc> {
    from_china_local(NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap())
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn time(text: &str) -> NaiveTime {
    NaiveTime::parse_from_str(text, "%H:%M").unwrap()
}

fn calendar() -> WorkingCalendar {
    WorkingCalendar::bundled(WorkingHours::default()).unwrap()
}

fn hours(count: u32) -> WorkingDuration {
    WorkingDuration::hours(count).unwrap()
}

fn days(count: u32) -> WorkingDuration {
    WorkingDuration::days(count).unwrap()
}

/// The local deadline for `duration` from local `start`, asserting it needed no assumption.
fn due(start: &str, duration: WorkingDuration) -> String {
    let reckoning = calendar().add(local(start), duration).unwrap();
    assert!(
        !reckoning.is_provisional(),
        "{:?}",
        reckoning.years_without_data
    );
    to_china_local(reckoning.value)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[test]
fn china_standard_time_is_eight_hours_ahead_of_utc() {
    let instant = "2025-03-02T23:00:00Z".parse::<DateTime<Utc>>().unwrap();
    assert_eq!(
        to_china_local(instant),
        NaiveDateTime::parse_from_str("2025-03-03 07:00", "%Y-%m-%d %H:%M").unwrap()
    );
    assert_eq!(from_china_local(to_china_local(instant)), instant);
}

#[test]
fn the_default_day_is_half_past_eight_to_noon_and_half_past_two_to_half_past_five() {
    let hours = WorkingHours::default();
    assert_eq!(hours.to_string(), "08:30-12:00,14:30-17:30");
    assert_eq!(hours.per_day(), TimeDelta::minutes(390));
    assert_eq!(hours.close_of_business(), time("17:30"));
    assert_eq!(
        WorkingHours::parse("08:30-12:00, 14:30-17:30").unwrap(),
        hours
    );
}

#[test]
fn working_hours_are_sorted_and_may_touch_but_not_overlap() {
    let sorted = WorkingHours::parse("14:00-17:00,09:00-12:00").unwrap();
    assert_eq!(sorted.to_string(), "09:00-12:00,14:00-17:00");
    assert!(WorkingHours::parse("09:00-12:00,12:00-13:00").is_ok());
    assert_eq!(
        WorkingHours::parse("09:00-12:30,12:00-17:00").unwrap_err(),
        InvalidWorkingHours::Overlapping {
            first: WorkPeriod {
                start: time("09:00"),
                end: time("12:30")
            },
            second: WorkPeriod {
                start: time("12:00"),
                end: time("17:00")
            },
        }
    );
    assert_eq!(
        WorkingHours::parse("12:00-09:00").unwrap_err(),
        InvalidWorkingHours::EmptyPeriod {
            start: time("12:00"),
            end: time("09:00")
        }
    );
    assert_eq!(
        WorkingHours::new([]).unwrap_err(),
        InvalidWorkingHours::NoPeriods
    );
    for malformed in [
        "",
        "9-12",
        "08:30",
        "08:30-25:00",
        "08:30-12:00;14:30-17:30",
    ] {
        assert_eq!(
            WorkingHours::parse(malformed).unwrap_err(),
            InvalidWorkingHours::Malformed {
                text: malformed.to_owned()
            },
            "{malformed}"
        );
    }
}

#[test]
fn a_working_duration_reads_minutes_hours_and_days() {
    assert_eq!(
        WorkingDuration::parse("30m").unwrap().span(),
        WorkingSpan::Minutes(30)
    );
    assert_eq!(
        WorkingDuration::parse("4h").unwrap().span(),
        WorkingSpan::Minutes(240)
    );
    assert_eq!(
        WorkingDuration::parse("5d").unwrap().span(),
        WorkingSpan::Days(5)
    );
    assert_eq!(WorkingDuration::parse("120m").unwrap().to_string(), "2h");
    assert_eq!(WorkingDuration::parse("90m").unwrap().to_string(), "90m");
    assert_eq!(
        WorkingDuration::parse("0h").unwrap_err(),
        InvalidWorkingDuration::Zero
    );
    assert!(matches!(
        WorkingDuration::parse("366d").unwrap_err(),
        InvalidWorkingDuration::TooLong { max: "365d", .. }
    ));
    assert!(matches!(
        WorkingDuration::hours(u32::MAX).unwrap_err(),
        InvalidWorkingDuration::TooLong { .. }
    ));
    for malformed in ["", "h", "4", "4 hours", "-4h", "+4h", "4w", "4.5h", "四h"] {
        assert_eq!(
            WorkingDuration::parse(malformed).unwrap_err(),
            InvalidWorkingDuration::Malformed {
                text: malformed.to_owned()
            },
            "{malformed}"
        );
    }
}

#[test]
fn the_bundled_schedules_follow_the_state_council_notices() {
    let calendar = calendar();
    assert_eq!(calendar.loaded_years().collect::<Vec<_>>(), [2025, 2026]);
    let count = |year: i32, kind: DayKind| {
        calendar
            .schedule(year)
            .unwrap()
            .entries()
            .filter(|entry| entry.kind == kind)
            .count()
    };
    // 2025: 1 + 8 + 3 + 5 + 3 + 8 days off; 5 swapped working days.
    assert_eq!(count(2025, DayKind::Holiday), 28);
    assert_eq!(count(2025, DayKind::Workday), 5);
    // 2026: 3 + 9 + 3 + 5 + 3 + 3 + 7 days off; 6 swapped working days.
    assert_eq!(count(2026, DayKind::Holiday), 33);
    assert_eq!(count(2026, DayKind::Workday), 6);
}

#[test]
fn the_2026_spring_festival_break_runs_nine_days_with_a_saturday_worked_either_side() {
    let calendar = calendar();
    let working = |text: &str| calendar.is_working_day(date(text)).value;
    assert!(working("2026-02-13"), "friday before the break");
    assert!(working("2026-02-14"), "saturday worked before the break");
    for day in 15..=23 {
        assert!(!working(&format!("2026-02-{day}")), "february {day}");
    }
    assert!(working("2026-02-24"), "tuesday after the break");
    assert!(working("2026-02-28"), "saturday worked after the break");
    assert!(!working("2026-03-01"), "an ordinary sunday");
}

#[test]
fn a_holiday_on_a_weekday_is_off_and_a_swapped_sunday_is_worked() {
    let calendar = calendar();
    let national_day_friday = calendar.is_working_day(date("2025-10-03"));
    assert!(!national_day_friday.value);
    assert!(!national_day_friday.is_provisional());
    assert!(calendar.is_working_day(date("2025-09-28")).value);
    assert!(!calendar.is_working_day(date("2025-09-27")).value);
}

#[test]
fn a_year_without_a_schedule_follows_the_ordinary_week_and_says_so() {
    let calendar = calendar();
    let new_year_2027 = calendar.is_working_day(date("2027-01-01"));
    assert!(new_year_2027.value, "a friday, assumed worked");
    assert_eq!(new_year_2027.years_without_data, BTreeSet::from([2027]));
    assert!(!calendar.is_working_day(date("2027-01-02")).value);
}

#[test]
fn working_time_is_counted_only_inside_working_periods() {
    let calendar = calendar();
    assert!(calendar.is_working_time(local("2025-03-03 08:30")).value);
    assert!(calendar.is_working_time(local("2025-03-03 11:59")).value);
    assert!(!calendar.is_working_time(local("2025-03-03 12:00")).value);
    assert!(!calendar.is_working_time(local("2025-03-03 13:00")).value);
    assert!(
        !calendar.is_working_time(local("2025-03-01 10:00")).value,
        "saturday"
    );
}

#[test]
fn two_working_hours_in_a_morning_end_the_same_morning() {
    assert_eq!(due("2025-03-03 09:00", hours(2)), "2025-03-03 11:00");
}

#[test]
fn working_hours_skip_the_lunch_break() {
    assert_eq!(due("2025-03-03 11:00", hours(2)), "2025-03-03 15:30");
}

#[test]
fn a_limit_that_uses_up_the_morning_exactly_ends_at_noon_not_after_lunch() {
    assert_eq!(due("2025-03-03 09:00", hours(3)), "2025-03-03 12:00");
}

#[test]
fn a_report_before_opening_time_starts_counting_at_half_past_eight() {
    assert_eq!(due("2025-03-03 07:00", hours(1)), "2025-03-03 09:30");
    assert_eq!(due("2025-03-03 13:00", hours(1)), "2025-03-03 15:30");
}

#[test]
fn a_report_in_the_evening_starts_counting_the_next_working_morning() {
    assert_eq!(due("2025-03-03 21:00", hours(1)), "2025-03-04 09:30");
    assert_eq!(
        due("2025-03-07 18:00", hours(1)),
        "2025-03-10 09:30",
        "friday evening"
    );
}

#[test]
fn minutes_and_seconds_of_the_start_are_kept() {
    let start = local("2025-03-03 09:00") + TimeDelta::seconds(17);
    let deadline = calendar()
        .add(start, WorkingDuration::minutes(30).unwrap())
        .unwrap();
    assert_eq!(
        deadline.value,
        local("2025-03-03 09:30") + TimeDelta::seconds(17)
    );
}

#[test]
fn a_case_reported_friday_afternoon_before_national_day_is_due_on_the_swapped_sunday() {
    // 2.5 h on Friday 26 September 2025, then 1.5 h on Sunday 28 September (worked).
    assert_eq!(due("2025-09-26 15:00", hours(4)), "2025-09-28 10:00");
}

#[test]
fn a_case_due_on_the_eve_of_national_day_is_due_after_the_holiday() {
    // 1.5 h on Tuesday 30 September 2025; 1–8 October off; 2.5 h on Thursday 9 October.
    assert_eq!(due("2025-09-30 16:00", hours(4)), "2025-10-09 11:00");
}

#[test]
fn a_case_due_friday_afternoon_before_national_day_is_due_after_the_holiday() {
    // Day 1 is the swapped Sunday 28 September, days 2–3 are 29–30 September, then the
    // eight-day break, days 4–5 are 9–10 October.
    assert_eq!(due("2025-09-26 15:00", days(5)), "2025-10-10 17:30");
}

#[test]
fn the_day_a_case_is_reported_does_not_count_as_a_working_day() {
    assert_eq!(due("2025-03-03 09:00", days(1)), "2025-03-04 17:30");
    assert_eq!(due("2025-03-03 07:00", days(1)), "2025-03-04 17:30");
}

#[test]
fn a_report_on_a_weekend_is_due_at_close_of_business_on_the_next_working_day() {
    assert_eq!(due("2025-03-01 10:00", days(1)), "2025-03-03 17:30");
}

#[test]
fn a_report_on_a_holiday_counts_from_the_first_working_day_after_it() {
    assert_eq!(due("2025-10-03 10:00", days(1)), "2025-10-09 17:30");
}

#[test]
fn a_swapped_saturday_counts_as_a_working_day() {
    assert_eq!(due("2026-02-13 10:00", days(1)), "2026-02-14 17:30");
    assert_eq!(due("2026-02-13 10:00", days(2)), "2026-02-24 17:30");
}

#[test]
fn a_report_at_night_in_utc_is_counted_on_its_local_date() {
    // 17:00 UTC on Sunday 2 March is 01:00 on Monday 3 March in China.
    let start = "2025-03-02T17:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let deadline = calendar().add(start, days(1)).unwrap().value;
    assert_eq!(deadline, local("2025-03-04 17:30"));
}

#[test]
fn a_deadline_that_runs_into_a_year_without_a_schedule_is_provisional() {
    let calendar = calendar();
    let deadline = calendar.add(local("2026-12-31 10:00"), days(2)).unwrap();
    assert_eq!(deadline.value, local("2027-01-04 17:30"));
    assert_eq!(deadline.years_without_data, BTreeSet::from([2027]));
    let inside = calendar.add(local("2026-12-30 10:00"), days(1)).unwrap();
    assert!(!inside.is_provisional());
}

#[test]
fn a_newer_schedule_can_be_loaded_next_to_the_bundled_ones() {
    let mut schedules: Vec<YearCalendar> = BUNDLED_CALENDAR_FILES
        .iter()
        .map(|(year, text)| YearCalendar::parse(*year, text).unwrap())
        .collect();
    schedules.push(YearCalendar::parse(2027, "date,kind,name\n2027-01-01,holiday,元旦\n").unwrap());
    let calendar = WorkingCalendar::new(WorkingHours::default(), schedules).unwrap();
    let deadline = calendar.add(local("2026-12-31 10:00"), days(2)).unwrap();
    assert_eq!(deadline.value, local("2027-01-05 17:30"));
    assert!(!deadline.is_provisional());
}

#[test]
fn the_same_year_cannot_be_loaded_twice() {
    let schedule = YearCalendar::parse(2027, "date,kind,name\n2027-01-01,holiday,元旦\n").unwrap();
    assert_eq!(
        WorkingCalendar::new(WorkingHours::default(), [schedule.clone(), schedule]).unwrap_err(),
        CalendarError::DuplicateYear { year: 2027 }
    );
}

#[test]
fn other_working_hours_move_the_close_of_business() {
    let calendar = WorkingCalendar::new(WorkingHours::parse("09:00-17:00").unwrap(), []).unwrap();
    let deadline = calendar.add(local("2030-03-04 10:00"), days(1)).unwrap();
    assert_eq!(deadline.value, local("2030-03-05 17:00"));
    let by_hours = calendar.add(local("2030-03-04 10:00"), hours(8)).unwrap();
    assert_eq!(by_hours.value, local("2030-03-05 10:00"));
}

#[test]
fn elapsed_working_time_leaves_out_lunch_nights_and_holidays() {
    let calendar = calendar();
    let between = |start: &str, end: &str| {
        calendar
            .working_time_between(local(start), local(end))
            .unwrap()
            .value
    };
    assert_eq!(
        between("2025-03-03 09:00", "2025-03-03 15:00"),
        TimeDelta::minutes(210)
    );
    assert_eq!(
        between("2025-09-30 16:00", "2025-10-09 09:30"),
        TimeDelta::minutes(150)
    );
    assert_eq!(
        between("2025-03-01 08:00", "2025-03-02 20:00"),
        TimeDelta::zero()
    );
    assert_eq!(
        between("2025-03-03 12:10", "2025-03-03 12:50"),
        TimeDelta::zero()
    );
    assert_eq!(
        between("2025-03-03 10:00", "2025-03-03 10:00"),
        TimeDelta::zero()
    );
    assert_eq!(
        between("2025-03-03 00:00", "2025-03-10 00:00"),
        TimeDelta::minutes(5 * 390)
    );
}

#[test]
fn elapsed_working_time_refuses_an_interval_that_ends_before_it_starts() {
    let error = calendar()
        .working_time_between(local("2025-03-03 10:00"), local("2025-03-03 09:00"))
        .unwrap_err();
    assert_eq!(
        error,
        CalendarError::EndBeforeStart {
            start: local("2025-03-03 10:00"),
            end: local("2025-03-03 09:00")
        }
    );
}

#[test]
fn elapsed_working_time_into_a_year_without_a_schedule_is_provisional() {
    let elapsed = calendar()
        .working_time_between(local("2026-12-31 09:00"), local("2027-01-01 09:00"))
        .unwrap();
    assert_eq!(elapsed.value, TimeDelta::minutes(360 + 30));
    assert_eq!(elapsed.years_without_data, BTreeSet::from([2027]));
}

#[test]
fn adding_working_time_and_measuring_it_back_agree_around_the_holidays() {
    let calendar = calendar();
    let mut start = local("2025-09-24 07:45");
    let end_of_sweep = local("2025-10-14 00:00");
    let durations = [1, 45, 210, 390, 391, 1000, 2500]
        .map(|minutes| WorkingDuration::minutes(minutes).unwrap());
    while start < end_of_sweep {
        for duration in durations {
            let WorkingSpan::Minutes(minutes) = duration.span() else {
                unreachable!("only minutes are swept");
            };
            let deadline = calendar.add(start, duration).unwrap().value;
            let measured = calendar
                .working_time_between(start, deadline)
                .unwrap()
                .value;
            assert_eq!(
                measured,
                TimeDelta::minutes(i64::from(minutes)),
                "{start} + {duration}"
            );
            assert!(
                calendar
                    .is_working_time(deadline - TimeDelta::seconds(1))
                    .value
            );
        }
        start += TimeDelta::minutes(97);
    }
}

#[test]
fn a_day_counted_deadline_is_always_close_of_business_on_a_working_day() {
    let calendar = calendar();
    let mut start = local("2025-01-20 10:00");
    while start < local("2026-03-10 00:00") {
        let deadline = calendar.add(start, days(3)).unwrap().value;
        let deadline_local = to_china_local(deadline);
        assert_eq!(deadline_local.time(), time("17:30"));
        assert!(calendar.is_working_day(deadline_local.date()).value);
        let working_days_in_between = (1..)
            .map(|offset| to_china_local(start).date() + TimeDelta::days(offset))
            .take_while(|day| *day <= deadline_local.date())
            .filter(|day| calendar.is_working_day(*day).value)
            .count();
        assert_eq!(working_days_in_between, 3, "{start}");
        start += TimeDelta::hours(11);
    }
}

#[test]
fn a_calendar_of_nothing_but_holidays_gives_up_instead_of_searching_forever() {
    let schedules = (2030..=2040).map(|year| {
        let mut text = String::from("date,kind,name\n");
        let mut day = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        while day.year() == year {
            text.push_str(&format!("{day},holiday,x\n"));
            day = day.succ_opt().unwrap();
        }
        YearCalendar::parse(year, &text).unwrap()
    });
    let calendar = WorkingCalendar::new(WorkingHours::default(), schedules).unwrap();
    assert_eq!(
        calendar
            .add(local("2030-01-02 10:00"), hours(1))
            .unwrap_err(),
        CalendarError::NoWorkingTime {
            from: date("2030-01-02"),
            days: 3660
        }
    );
    assert!(matches!(
        calendar
            .add(local("2030-01-02 10:00"), days(1))
            .unwrap_err(),
        CalendarError::NoWorkingTime { .. }
    ));
}
