use super::*;
use crate::domain::catalogue::tests::matter;
use crate::domain::item::ItemFields;
use crate::domain::item::ListItem;
use crate::domain::item::tests::{department, fields};
use crate::domain::kinds::ListKind;
use crate::domain::list::ListContent;
use crate::domain::list::tests::departments;
use crate::domain::version::tests::day;
use crate::domain::version::{DraftList, VersionNumber};

fn with(code: &str, change: impl FnOnce(&mut ItemFields)) -> ListItem {
    let mut item_fields = fields(code);
    change(&mut item_fields);
    ListItem::new(item_fields).unwrap()
}

fn publish(
    lists: &mut DutyLists,
    list: ListKind,
    number: u32,
    effective: u32,
    items: Vec<ListItem>,
) {
    let content = ListContent::new(list, items, &departments()).unwrap();
    let draft = DraftList::with_content(VersionNumber::new(number).unwrap(), content);
    lists.publish(&draft, day(effective), day(1)).unwrap();
}

/// Street facilities (block team, housing_construction competent) on the duty list
/// from day 10; illegal construction (urban_management leads) on the cooperation list
/// from day 10; night noise (public_security) added to the cooperation list on day 40.
pub(crate) fn lists() -> DutyLists {
    let mut lists = DutyLists::new();
    let facilities = with("SD-05-03", |item| {
        item.lead_department = Some(department("housing_construction"));
        item.cooperating_departments = [department("urban_management")].into();
    });
    publish(
        &mut lists,
        ListKind::SubdistrictDuty,
        1,
        10,
        vec![facilities],
    );
    let construction = with("SC-01-01", |item| {
        item.cooperating_departments = [department("natural_resources")].into();
        item.default_tier = Tier::Whistle;
        item.resolution_limit = WorkingDuration::parse("15d").unwrap();
    });
    let noise = with("SC-03-01", |item| {
        item.lead_department = Some(department("public_security"));
        item.default_tier = Tier::Whistle;
    });
    publish(
        &mut lists,
        ListKind::SubdistrictCooperation,
        1,
        10,
        vec![construction.clone()],
    );
    publish(
        &mut lists,
        ListKind::SubdistrictCooperation,
        2,
        40,
        vec![construction, noise],
    );
    lists
}

pub(crate) fn catalogue(lists: &DutyLists) -> MatterCatalogue {
    let mut quiet_neighbour = matter("neighbour_noise", "SC-03-01");
    quiet_neighbour = Matter::new(
        quiet_neighbour.code().clone(),
        "邻里噪声",
        None,
        quiet_neighbour.item(),
        Some(Tier::FrontLine),
    )
    .unwrap();
    MatterCatalogue::new(
        vec![
            matter("broken_street_light", "SD-05-03"),
            matter("damaged_manhole_cover", "SD-05-03"),
            matter("illegal_construction", "SC-01-01"),
            matter("night_noise", "SC-03-01"),
            quiet_neighbour,
        ],
        &lists.published_item_codes(),
    )
    .unwrap()
}

fn code(text: &str) -> MatterCode {
    MatterCode::parse(text).unwrap()
}

fn block_location() -> Location {
    Location::in_block(BlockCode::parse("430302001004017").unwrap())
        .with_areas([AreaId::parse("shaoshan-road-north").unwrap()])
}

fn exception(id: &str, place: PlaceRef, scope: ExceptionScope, lead: &str) -> PlaceException {
    PlaceException {
        id: ExceptionId::parse(id).unwrap(),
        place,
        scope,
        lead: Responsible::Department(department(lead)),
        cooperating: vec![Responsible::SubdistrictPlatform],
        tier: None,
        effective_from: day(1),
        effective_until: None,
        reason: "道路产权属部门".into(),
    }
}

fn street_item() -> ExceptionScope {
    ExceptionScope::Item(ItemCode::parse("SD-05-03").unwrap())
}

fn resolve_with(
    exceptions: Vec<PlaceException>,
    matter: &str,
    at: u32,
) -> Result<Responsibility, ResolveError> {
    let lists = lists();
    let catalogue = catalogue(&lists);
    let exceptions = PlaceExceptions::new(exceptions, &departments()).unwrap();
    DutyRules::new(&lists, &catalogue, &exceptions).resolve(
        &code(matter),
        &block_location(),
        day(at),
    )
}

#[test]
fn a_matter_resolves_to_its_items_lead_cooperators_tier_and_time_limits() {
    let responsibility = resolve_with(vec![], "broken_street_light", 20).unwrap();
    assert_eq!(
        responsibility,
        Responsibility {
            matter: code("broken_street_light"),
            item: ItemRef {
                code: ItemCode::parse("SD-05-03").unwrap(),
                version: VersionNumber::FIRST
            },
            lead: Responsible::BlockTeam,
            cooperating: vec![
                Responsible::Department(department("housing_construction")),
                Responsible::Department(department("urban_management")),
            ],
            tier: Tier::FrontLine,
            response_limit: WorkingDuration::parse("2h").unwrap(),
            resolution_limit: WorkingDuration::parse("3d").unwrap(),
            exception: None,
        }
    );
}

#[test]
fn a_cooperation_matter_is_led_by_its_department_with_the_subdistrict_cooperating() {
    let responsibility = resolve_with(vec![], "illegal_construction", 20).unwrap();
    assert_eq!(
        responsibility.lead,
        Responsible::Department(department("urban_management"))
    );
    assert_eq!(
        responsibility.cooperating,
        [
            Responsible::SubdistrictPlatform,
            Responsible::Department(department("natural_resources"))
        ]
    );
    assert_eq!(responsibility.tier, Tier::Whistle);
    assert_eq!(responsibility.resolution_limit.to_string(), "15d");
}

#[test]
fn a_matters_own_tier_overrides_its_items_default() {
    let responsibility = resolve_with(vec![], "neighbour_noise", 50).unwrap();
    assert_eq!(responsibility.tier, Tier::FrontLine);
    assert_eq!(
        resolve_with(vec![], "night_noise", 50).unwrap().tier,
        Tier::Whistle
    );
}

#[test]
fn an_unknown_matter_is_an_error() {
    assert_eq!(
        resolve_with(vec![], "alien_landing", 20),
        Err(ResolveError::UnknownMatter {
            matter: code("alien_landing")
        })
    );
}

#[test]
fn a_matter_whose_item_is_not_in_effect_yet_says_when_it_will_be() {
    let error = resolve_with(vec![], "night_noise", 20).unwrap_err();
    assert_eq!(
        error,
        ResolveError::ItemNotInEffect {
            matter: code("night_noise"),
            item: ItemCode::parse("SC-03-01").unwrap(),
            at: day(20),
            why: NotInEffect::NotYet {
                effective_from: day(40),
                version: VersionNumber::new(2).unwrap()
            },
        }
    );
    assert_eq!(
        error.to_string(),
        "matter night_noise falls under item SC-03-01, which is not in effect until 2025-02-09T00:00:00Z (v2) at 2025-01-20T00:00:00Z"
    );
    assert!(resolve_with(vec![], "night_noise", 40).is_ok());
}

#[test]
fn a_place_exception_wins_over_the_area_rule() {
    let road = exception(
        "shaoshan-road-lights",
        PlaceRef::Area(AreaId::parse("shaoshan-road-north").unwrap()),
        street_item(),
        "housing_construction",
    );
    let responsibility = resolve_with(vec![road], "broken_street_light", 20).unwrap();
    assert_eq!(
        responsibility.lead,
        Responsible::Department(department("housing_construction"))
    );
    assert_eq!(
        responsibility.cooperating,
        [Responsible::SubdistrictPlatform]
    );
    assert_eq!(
        responsibility.exception,
        Some(ExceptionId::parse("shaoshan-road-lights").unwrap())
    );
    assert_eq!(
        responsibility.item.code,
        ItemCode::parse("SD-05-03").unwrap(),
        "the item still says so"
    );
    assert_eq!(
        responsibility.response_limit.to_string(),
        "2h",
        "limits stay the item's"
    );
}

#[test]
fn an_exception_for_another_place_does_not_apply() {
    let elsewhere = exception(
        "other-block",
        PlaceRef::Block(BlockCode::parse("430302001004018").unwrap()),
        street_item(),
        "housing_construction",
    );
    let responsibility = resolve_with(vec![elsewhere], "broken_street_light", 20).unwrap();
    assert_eq!(responsibility.lead, Responsible::BlockTeam);
    assert_eq!(responsibility.exception, None);
}

#[test]
fn an_exception_for_another_item_does_not_apply() {
    let other_item = exception(
        "construction-here",
        PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
        ExceptionScope::Item(ItemCode::parse("SC-01-01").unwrap()),
        "natural_resources",
    );
    assert_eq!(
        resolve_with(vec![other_item], "broken_street_light", 20)
            .unwrap()
            .exception,
        None
    );
}

#[test]
fn the_most_specific_place_wins_among_exceptions() {
    let subdistrict = exception(
        "by-subdistrict",
        PlaceRef::Subdistrict(SubdistrictCode::parse("430302001").unwrap()),
        street_item(),
        "civil_affairs",
    );
    let community = exception(
        "by-community",
        PlaceRef::Community(CommunityCode::parse("430302001004").unwrap()),
        street_item(),
        "market_supervision",
    );
    let block = exception(
        "by-block",
        PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
        street_item(),
        "public_security",
    );
    let area = exception(
        "by-area",
        PlaceRef::Area(AreaId::parse("shaoshan-road-north").unwrap()),
        street_item(),
        "housing_construction",
    );
    let all = vec![subdistrict.clone(), community.clone(), block.clone(), area];
    let winner = |exceptions: Vec<PlaceException>| {
        resolve_with(exceptions, "broken_street_light", 20)
            .unwrap()
            .exception
            .map(|id| id.to_string())
    };
    assert_eq!(winner(all).as_deref(), Some("by-area"));
    assert_eq!(
        winner(vec![subdistrict.clone(), block, community.clone()]).as_deref(),
        Some("by-block")
    );
    assert_eq!(
        winner(vec![subdistrict.clone(), community]).as_deref(),
        Some("by-community")
    );
    assert_eq!(winner(vec![subdistrict]).as_deref(), Some("by-subdistrict"));
}

#[test]
fn a_matter_exception_wins_over_an_item_exception_at_the_same_place() {
    let place = PlaceRef::Block(BlockCode::parse("430302001004017").unwrap());
    let for_item = exception("item-wide", place.clone(), street_item(), "civil_affairs");
    let for_matter = exception(
        "lights-only",
        place,
        ExceptionScope::Matter(code("broken_street_light")),
        "housing_construction",
    );
    let lights = resolve_with(
        vec![for_item.clone(), for_matter.clone()],
        "broken_street_light",
        20,
    )
    .unwrap();
    assert_eq!(lights.exception.unwrap().as_str(), "lights-only");
    let covers = resolve_with(vec![for_item, for_matter], "damaged_manhole_cover", 20).unwrap();
    assert_eq!(covers.exception.unwrap().as_str(), "item-wide");
}

#[test]
fn a_more_specific_place_wins_even_over_a_matter_scoped_exception() {
    let broad_but_precise = exception(
        "subdistrict-lights",
        PlaceRef::Subdistrict(SubdistrictCode::parse("430302001").unwrap()),
        ExceptionScope::Matter(code("broken_street_light")),
        "civil_affairs",
    );
    let narrow = exception(
        "block-facilities",
        PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
        street_item(),
        "housing_construction",
    );
    let winner = resolve_with(vec![broad_but_precise, narrow], "broken_street_light", 20).unwrap();
    assert_eq!(winner.exception.unwrap().as_str(), "block-facilities");
}

#[test]
fn an_exception_applies_only_within_its_effective_window() {
    let mut temporary = exception(
        "roadworks",
        PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
        street_item(),
        "housing_construction",
    );
    temporary.effective_from = day(15);
    temporary.effective_until = Some(day(30));
    let at = |when| {
        resolve_with(vec![temporary.clone()], "broken_street_light", when)
            .unwrap()
            .exception
            .is_some()
    };
    assert!(!at(14));
    assert!(at(15));
    assert!(at(29));
    assert!(!at(30));
}

#[test]
fn an_exception_can_change_the_tier() {
    let mut escalated = exception(
        "market-street",
        PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
        street_item(),
        "urban_management",
    );
    escalated.tier = Some(Tier::CoordinationMeeting);
    let responsibility = resolve_with(vec![escalated], "broken_street_light", 20).unwrap();
    assert_eq!(responsibility.tier, Tier::CoordinationMeeting);
}

#[test]
fn two_disagreeing_named_area_exceptions_are_a_conflict_and_agreeing_ones_are_not() {
    let road = exception(
        "road",
        PlaceRef::Area(AreaId::parse("shaoshan-road-north").unwrap()),
        street_item(),
        "housing_construction",
    );
    let mut park = exception(
        "park",
        PlaceRef::Area(AreaId::parse("riverside-park").unwrap()),
        street_item(),
        "urban_management",
    );
    let lists = lists();
    let catalogue = catalogue(&lists);
    let exceptions =
        PlaceExceptions::new(vec![road.clone(), park.clone()], &departments()).unwrap();
    let in_both = block_location().with_areas([AreaId::parse("riverside-park").unwrap()]);
    let rules = DutyRules::new(&lists, &catalogue, &exceptions);
    assert_eq!(
        rules.resolve(&code("broken_street_light"), &in_both, day(20)),
        Err(ResolveError::ConflictingExceptions {
            matter: code("broken_street_light"),
            first: ExceptionId::parse("park").unwrap(),
            second: ExceptionId::parse("road").unwrap(),
        })
    );
    park.lead = road.lead.clone();
    let agreeing = PlaceExceptions::new(vec![road, park], &departments()).unwrap();
    let rules = DutyRules::new(&lists, &catalogue, &agreeing);
    let resolved = rules
        .resolve(&code("broken_street_light"), &in_both, day(20))
        .unwrap();
    assert_eq!(resolved.exception.unwrap().as_str(), "park");
}

#[test]
fn a_location_known_only_by_subdistrict_gets_subdistrict_exceptions_only() {
    let block = exception(
        "by-block",
        PlaceRef::Block(BlockCode::parse("430302001004017").unwrap()),
        street_item(),
        "public_security",
    );
    let lists = lists();
    let catalogue = catalogue(&lists);
    let exceptions = PlaceExceptions::new(vec![block], &departments()).unwrap();
    let coarse = Location::in_subdistrict(SubdistrictCode::parse("430302001").unwrap());
    let resolved = DutyRules::new(&lists, &catalogue, &exceptions)
        .resolve(&code("broken_street_light"), &coarse, day(20))
        .unwrap();
    assert_eq!(resolved.exception, None);
}

#[test]
fn every_problem_in_a_set_of_exceptions_is_reported() {
    let place = PlaceRef::Block(BlockCode::parse("430302001004017").unwrap());
    let first = exception(
        "first",
        place.clone(),
        street_item(),
        "housing_construction",
    );
    let mut overlapping = exception("second", place.clone(), street_item(), "urban_management");
    overlapping.effective_from = day(5);
    let mut later = exception("third", place.clone(), street_item(), "urban_management");
    later.effective_from = day(5);
    later.effective_until = Some(day(5));
    later.reason = " ".into();
    later.cooperating = vec![
        Responsible::Department(department("nobody")),
        later.lead.clone(),
        Responsible::SubdistrictPlatform,
        Responsible::SubdistrictPlatform,
    ];
    let duplicate = exception(
        "first",
        place,
        ExceptionScope::Matter(code("night_noise")),
        "public_security",
    );
    let invalid = PlaceExceptions::new(vec![first, overlapping, later, duplicate], &departments())
        .unwrap_err();
    let messages: Vec<String> = invalid.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "exception second: overlaps exception first for the same place and scope",
            "exception third: the reason must not be empty",
            "exception third: effective_until 2025-01-05T00:00:00Z is not after effective_from 2025-01-05T00:00:00Z",
            "exception third: the lead department urban_management is also listed as cooperating",
            "exception third: the subdistrict platform is listed twice as cooperating",
            "exception third: unknown department nobody",
            "exception first: duplicate exception id",
        ]
    );
}

#[test]
fn exceptions_for_the_same_place_and_scope_may_follow_each_other_in_time() {
    let place = PlaceRef::Block(BlockCode::parse("430302001004017").unwrap());
    let mut before = exception(
        "before",
        place.clone(),
        street_item(),
        "housing_construction",
    );
    before.effective_until = Some(day(30));
    let mut after = exception("after", place, street_item(), "urban_management");
    after.effective_from = day(30);
    assert!(PlaceExceptions::new(vec![before, after], &departments()).is_ok());
}

#[test]
fn a_location_known_by_its_block_gets_its_community_and_subdistrict_exceptions() {
    let community = exception(
        "by-community",
        PlaceRef::Community(CommunityCode::parse("430302001004").unwrap()),
        street_item(),
        "market_supervision",
    );
    let lists = lists();
    let catalogue = catalogue(&lists);
    let exceptions = PlaceExceptions::new(vec![community], &departments()).unwrap();
    let by_block_only = Location::in_block(BlockCode::parse("430302001004017").unwrap());
    let resolved = DutyRules::new(&lists, &catalogue, &exceptions)
        .resolve(&code("broken_street_light"), &by_block_only, day(20))
        .unwrap();
    assert_eq!(resolved.exception.unwrap().as_str(), "by-community");
    let neighbour = Location::in_block(BlockCode::parse("430302001005001").unwrap());
    let resolved = DutyRules::new(&lists, &catalogue, &exceptions)
        .resolve(&code("broken_street_light"), &neighbour, day(20))
        .unwrap();
    assert_eq!(resolved.exception, None, "a block of another community");
}

#[test]
fn a_location_from_divisions_is_decided_by_the_most_specific_one_given() {
    let block = BlockCode::parse("430302001004017").unwrap();
    let location = Location::from_divisions(
        Some(SubdistrictCode::parse("430302001").unwrap()),
        None,
        Some(block),
    )
    .unwrap();
    assert_eq!(location, Location::in_block(block));
    assert_eq!(
        location.community().map(CommunityCode::as_str),
        Some("430302001004")
    );
    let community = Location::from_divisions(
        None,
        Some(CommunityCode::parse("430302001004").unwrap()),
        None,
    )
    .unwrap();
    assert_eq!(
        community.subdistrict().map(SubdistrictCode::as_str),
        Some("430302001")
    );
    assert_eq!(community.block(), None);
    assert_eq!(
        Location::from_divisions(None, None, None).unwrap(),
        Location::unknown()
    );
}

#[test]
fn divisions_that_do_not_nest_are_refused_naming_both() {
    let error = Location::from_divisions(
        None,
        Some(CommunityCode::parse("430302001005").unwrap()),
        Some(BlockCode::parse("430302001004017").unwrap()),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "block 430302001004017 is not in community 430302001005"
    );
    let error = Location::from_divisions(
        Some(SubdistrictCode::parse("430302002").unwrap()),
        None,
        Some(BlockCode::parse("430302001004017").unwrap()),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "block 430302001004017 is not in subdistrict 430302002"
    );
    let error = Location::from_divisions(
        Some(SubdistrictCode::parse("430302002").unwrap()),
        Some(CommunityCode::parse("430302001004").unwrap()),
        None,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "community 430302001004 is not in subdistrict 430302002"
    );
}
