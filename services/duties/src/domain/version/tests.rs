use super::*;
use crate::domain::item::tests::item;
use crate::domain::list::tests::departments;
use chrono::TimeZone;

pub(crate) fn day(day_of_2025: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::days(i64::from(day_of_2025) - 1)
}

pub(crate) fn draft(list: ListKind, number: u32, codes: &[&str]) -> DraftList {
    let items = codes.iter().map(|code| item(code)).collect();
    DraftList::with_content(
        VersionNumber::new(number).unwrap(),
        ListContent::new(list, items, &departments()).unwrap(),
    )
}

fn code(text: &str) -> ItemCode {
    ItemCode::parse(text).unwrap()
}

#[test]
fn version_numbers_start_at_one() {
    assert_eq!(VersionNumber::new(0), None);
    assert_eq!(VersionNumber::FIRST.get(), 1);
    assert_eq!(VersionNumber::FIRST.next().to_string(), "v2");
}

#[test]
fn a_published_version_is_in_effect_from_its_effective_instant() {
    let mut history = ListHistory::new(ListKind::SubdistrictDuty);
    history
        .publish(
            &draft(ListKind::SubdistrictDuty, 1, &["SD-01-01"]),
            day(10),
            day(1),
        )
        .unwrap();
    assert!(history.in_effect_at(day(9)).is_none());
    assert_eq!(history.in_effect_at(day(10)).unwrap().number().get(), 1);
    assert_eq!(history.in_effect_at(day(300)).unwrap().number().get(), 1);
}

#[test]
fn a_new_version_takes_over_at_its_effective_instant_and_the_old_one_stays_in_history() {
    let mut history = ListHistory::new(ListKind::SubdistrictDuty);
    history
        .publish(
            &draft(ListKind::SubdistrictDuty, 1, &["SD-01-01"]),
            day(10),
            day(1),
        )
        .unwrap();
    history
        .publish(
            &draft(ListKind::SubdistrictDuty, 2, &["SD-01-02"]),
            day(20),
            day(15),
        )
        .unwrap();
    assert_eq!(history.in_effect_at(day(19)).unwrap().number().get(), 1);
    assert_eq!(history.in_effect_at(day(20)).unwrap().number().get(), 2);
    assert_eq!(history.versions().len(), 2);
    assert!(history.version(VersionNumber::FIRST).is_some());
}

#[test]
fn publishing_a_version_effective_before_the_current_one_is_refused_and_changes_nothing() {
    let mut history = ListHistory::new(ListKind::SubdistrictDuty);
    history
        .publish(
            &draft(ListKind::SubdistrictDuty, 1, &["SD-01-01"]),
            day(10),
            day(1),
        )
        .unwrap();
    let before = history.clone();
    let error = history
        .publish(
            &draft(ListKind::SubdistrictDuty, 2, &["SD-01-02"]),
            day(5),
            day(2),
        )
        .unwrap_err();
    assert!(matches!(
        error,
        PublishError::EffectiveNotAfterCurrent { requested, current_effective_from, .. }
            if requested == day(5) && current_effective_from == day(10)
    ));
    assert!(error.to_string().contains("must take effect after it"));
    assert_eq!(history, before);
}

#[test]
fn publishing_a_version_effective_at_the_same_instant_as_the_current_one_is_refused() {
    let mut history = ListHistory::new(ListKind::SubdistrictDuty);
    history
        .publish(&draft(ListKind::SubdistrictDuty, 1, &[]), day(10), day(1))
        .unwrap();
    assert!(matches!(
        history.publish(&draft(ListKind::SubdistrictDuty, 2, &[]), day(10), day(2)),
        Err(PublishError::EffectiveNotAfterCurrent { .. })
    ));
}

#[test]
fn a_version_effective_before_a_future_version_already_published_is_refused() {
    let mut history = ListHistory::new(ListKind::SubdistrictDuty);
    history
        .publish(&draft(ListKind::SubdistrictDuty, 1, &[]), day(10), day(1))
        .unwrap();
    history
        .publish(&draft(ListKind::SubdistrictDuty, 2, &[]), day(100), day(2))
        .unwrap();
    assert!(
        history
            .check_publish(&draft(ListKind::SubdistrictDuty, 3, &[]), day(50))
            .is_err()
    );
}

#[test]
fn a_refused_publication_names_both_versions_and_their_instants() {
    let mut history = ListHistory::new(ListKind::SubdistrictCooperation);
    history
        .publish(
            &draft(ListKind::SubdistrictCooperation, 1, &[]),
            day(10),
            day(1),
        )
        .unwrap();
    let error = history
        .check_publish(&draft(ListKind::SubdistrictCooperation, 2, &[]), day(3))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "subdistrict_cooperation v2 cannot take effect at 2025-01-03T00:00:00Z: the current version v1 takes effect at 2025-01-10T00:00:00Z, and a new version must take effect after it"
    );
}

#[test]
fn republishing_a_version_number_is_refused() {
    let mut history = ListHistory::new(ListKind::SubdistrictDuty);
    history
        .publish(&draft(ListKind::SubdistrictDuty, 2, &[]), day(10), day(1))
        .unwrap();
    assert_eq!(
        history.check_publish(&draft(ListKind::SubdistrictDuty, 2, &[]), day(20)),
        Err(PublishError::NumberNotAfterCurrent {
            list: ListKind::SubdistrictDuty,
            number: VersionNumber::new(2).unwrap(),
            current_number: VersionNumber::new(2).unwrap(),
        })
    );
}

#[test]
fn a_draft_of_another_list_cannot_be_published_into_a_history() {
    let mut history = ListHistory::new(ListKind::SubdistrictDuty);
    assert!(matches!(
        history.publish(&draft(ListKind::ResidentsNegative, 1, &[]), day(1), day(1)),
        Err(PublishError::WrongList { .. })
    ));
}

#[test]
fn a_draft_based_on_a_published_version_has_its_items_and_the_next_number() {
    let mut lists = DutyLists::new();
    let published = lists
        .publish(
            &draft(ListKind::SubdistrictDuty, 1, &["SD-01-01"]),
            day(1),
            day(1),
        )
        .unwrap();
    let mut next = DraftList::based_on(published);
    assert_eq!(next.number().get(), 2);
    next.content_mut()
        .put(item("SD-01-02"), &departments())
        .unwrap();
    assert_eq!(next.content().len(), 2);
    assert_eq!(
        lists
            .history(ListKind::SubdistrictDuty)
            .latest()
            .unwrap()
            .content()
            .len(),
        1,
        "editing the draft leaves the published version alone"
    );
}

#[test]
fn an_item_in_the_version_in_effect_is_in_effect() {
    let mut lists = DutyLists::new();
    lists
        .publish(
            &draft(ListKind::SubdistrictDuty, 1, &["SD-01-01"]),
            day(10),
            day(1),
        )
        .unwrap();
    let status = lists.in_effect_at(day(10)).item_status(code("SD-01-01"));
    let ItemStatus::InEffect { item, version } = status else {
        panic!("expected in effect, got {status:?}");
    };
    assert_eq!(item.code(), code("SD-01-01"));
    assert_eq!(version.number(), VersionNumber::FIRST);
}

#[test]
fn an_item_only_in_a_later_version_is_not_yet_in_effect() {
    let mut lists = DutyLists::new();
    lists
        .publish(
            &draft(ListKind::SubdistrictCooperation, 1, &["SC-01-01"]),
            day(10),
            day(1),
        )
        .unwrap();
    lists
        .publish(
            &draft(
                ListKind::SubdistrictCooperation,
                2,
                &["SC-01-01", "SC-01-02"],
            ),
            day(20),
            day(1),
        )
        .unwrap();
    assert_eq!(
        lists.in_effect_at(day(15)).item_status(code("SC-01-02")),
        ItemStatus::NotInEffect(NotInEffect::NotYet {
            effective_from: day(20),
            version: VersionNumber::new(2).unwrap()
        })
    );
    assert_eq!(
        lists.in_effect_at(day(5)).item_status(code("SC-01-01")),
        ItemStatus::NotInEffect(NotInEffect::NotYet {
            effective_from: day(10),
            version: VersionNumber::FIRST
        }),
        "before any version takes effect"
    );
    assert!(
        lists
            .in_effect_at(day(20))
            .item_status(code("SC-01-02"))
            .in_effect()
            .is_some()
    );
}

#[test]
fn an_item_dropped_by_the_version_in_effect_is_withdrawn() {
    let mut lists = DutyLists::new();
    lists
        .publish(
            &draft(ListKind::SubdistrictDuty, 1, &["SD-01-01", "SD-01-02"]),
            day(10),
            day(1),
        )
        .unwrap();
    lists
        .publish(
            &draft(ListKind::SubdistrictDuty, 2, &["SD-01-01"]),
            day(20),
            day(1),
        )
        .unwrap();
    assert_eq!(
        lists.in_effect_at(day(25)).item_status(code("SD-01-02")),
        ItemStatus::NotInEffect(NotInEffect::Withdrawn {
            since: day(20),
            version: VersionNumber::new(2).unwrap()
        })
    );
}

#[test]
fn an_item_no_version_ever_had_was_never_published() {
    let mut lists = DutyLists::new();
    lists
        .publish(
            &draft(ListKind::SubdistrictDuty, 1, &["SD-01-01"]),
            day(10),
            day(1),
        )
        .unwrap();
    assert_eq!(
        lists.in_effect_at(day(25)).item_status(code("SD-09-09")),
        ItemStatus::NotInEffect(NotInEffect::NeverPublished)
    );
    assert_eq!(
        lists.in_effect_at(day(25)).item_status(code("RN-01-01")),
        ItemStatus::NotInEffect(NotInEffect::NeverPublished)
    );
}

#[test]
fn every_item_code_ever_published_is_known() {
    let mut lists = DutyLists::new();
    lists
        .publish(
            &draft(ListKind::SubdistrictDuty, 1, &["SD-01-01", "SD-01-02"]),
            day(10),
            day(1),
        )
        .unwrap();
    lists
        .publish(
            &draft(ListKind::SubdistrictDuty, 2, &["SD-01-01"]),
            day(20),
            day(1),
        )
        .unwrap();
    lists
        .publish(
            &draft(ListKind::ResidentsNegative, 1, &["RN-01-01"]),
            day(20),
            day(1),
        )
        .unwrap();
    let known: Vec<String> = lists
        .published_item_codes()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(known, ["SD-01-01", "SD-01-02", "RN-01-01"]);
}
