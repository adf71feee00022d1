//! "Me too" (我也遇到) linking: several residents report the same broken street light.
//! A new report near an open case of the same matter, soon after it, is linked to that case
//! (which counts it) instead of becoming new work for the block team.
//!
//! Matching is a pure function over candidate cases the store fetched; the store narrows
//! the fetch with [`MeTooRule::bounding_box`] (an index-friendly latitude/longitude range),
//! and [`find_me_too`] decides with the exact great-circle distance.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::geo::{EARTH_MEAN_RADIUS_METRES, GeoPoint};
use crate::domain::lifecycle::{Case, CaseState};
use crate::domain::values::{CaseId, Matter, MatterCode};

/// A "me too" rule's settings were out of range.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum InvalidMeTooRule {
    /// The radius must be a finite number of metres in (0, 5,000].
    #[error("me-too radius {0} m is outside (0, 5000] metres")]
    Radius(f64),
    /// The window must be longer than zero and at most 90 days.
    #[error("me-too window of {seconds} s is outside (0, 90 days]")]
    Window {
        /// The window given, in seconds.
        seconds: i64,
    },
}

/// How near and how soon a report must be to count as "me too".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeTooRule {
    /// The largest distance, in metres, between the report and the open case's point.
    radius_metres: f64,
    /// The largest time, either way, between the report and the open case's own report.
    window: TimeDelta,
}

impl Default for MeTooRule {
    /// 50 metres and 72 hours: the same lamp post or the same stretch of a lane, within
    /// the time a front-line case is normally open.
    fn default() -> Self {
        Self {
            radius_metres: 50.0,
            window: TimeDelta::hours(72),
        }
    }
}

impl MeTooRule {
    /// The largest radius accepted: beyond a few hundred metres two reports are rarely the
    /// same thing; 5 km catches a misplaced decimal point.
    pub const MAX_RADIUS_METRES: f64 = 5000.0;

    /// A rule with `radius_metres` and `window`.
    pub fn new(radius_metres: f64, window: TimeDelta) -> Result<Self, InvalidMeTooRule> {
        if !radius_metres.is_finite()
            || radius_metres <= 0.0
            || radius_metres > Self::MAX_RADIUS_METRES
        {
            return Err(InvalidMeTooRule::Radius(radius_metres));
        }
        if window <= TimeDelta::zero() || window > TimeDelta::days(90) {
            return Err(InvalidMeTooRule::Window {
                seconds: window.num_seconds(),
            });
        }
        Ok(Self {
            radius_metres,
            window,
        })
    }

    /// The radius in metres.
    pub fn radius_metres(&self) -> f64 {
        self.radius_metres
    }

    /// The time window.
    pub fn window(&self) -> TimeDelta {
        self.window
    }

    /// A latitude/longitude box that contains every point within the radius of `centre`,
    /// for the store's indexed pre-selection: `(south, west, north, east)` in degrees. The
    /// box is slightly larger than the circle; [`find_me_too`] decides exactly. Near the
    /// poles or the antimeridian the longitude range widens to the whole circle.
    pub fn bounding_box(&self, centre: &GeoPoint) -> (f64, f64, f64, f64) {
        let latitude_span = (self.radius_metres / EARTH_MEAN_RADIUS_METRES).to_degrees();
        let south = (centre.latitude() - latitude_span).max(-90.0);
        let north = (centre.latitude() + latitude_span).min(90.0);
        let widest_latitude = south.abs().max(north.abs()).to_radians();
        let longitude_span = if widest_latitude.cos() > 1e-9 {
            latitude_span / widest_latitude.cos()
        } else {
            180.0
        };
        let west = centre.longitude() - longitude_span;
        let east = centre.longitude() + longitude_span;
        if west < -180.0 || east > 180.0 || longitude_span >= 180.0 {
            return (south, -180.0, north, 180.0);
        }
        (south, west, north, east)
    }
}

/// A new report, as far as matching needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingReport {
    /// Where it is.
    pub location: GeoPoint,
    /// Its matter. An unclassified report is never "me too": nobody can tell it is the
    /// same matter.
    pub matter: Matter,
    /// When it was received.
    pub at: DateTime<Utc>,
}

/// An existing case that a report might be linked to.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The case.
    pub case_id: CaseId,
    /// Its state (only open cases take "me too" reports; parked ones are open).
    pub state: CaseState,
    /// Its matter.
    pub matter: Matter,
    /// Its point, if it was reported with one.
    pub location: Option<GeoPoint>,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
}

impl Candidate {
    /// The candidate view of a case.
    pub fn of(case: &Case) -> Self {
        Self {
            case_id: case.id(),
            state: case.state(),
            matter: case.matter().clone(),
            location: case.location().copied(),
            reported_at: case.reported_at(),
        }
    }
}

/// The case a report is linked to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeTooMatch {
    /// The open case.
    pub case_id: CaseId,
    /// How far the report is from it, in metres.
    pub distance_metres: f64,
}

/// The open case `report` should be linked to, if any: same classified matter, a point
/// within the radius (inclusive), reported within the window (inclusive, either way). The
/// nearest wins; at equal distance the earliest reported, then the smallest id, so the
/// answer does not depend on the order of `candidates`.
pub fn find_me_too<'candidate>(
    rule: &MeTooRule,
    report: &IncomingReport,
    candidates: impl IntoIterator<Item = &'candidate Candidate>,
) -> Option<MeTooMatch> {
    let report_matter: &MatterCode = report.matter.code()?;
    let mut best: Option<(f64, DateTime<Utc>, CaseId)> = None;
    for candidate in candidates {
        if !candidate.state.is_open() || candidate.matter.code() != Some(report_matter) {
            continue;
        }
        let Some(location) = candidate.location else {
            continue;
        };
        if (report.at - candidate.reported_at).abs() > rule.window {
            continue;
        }
        let distance = report.location.haversine_metres(&location);
        if distance > rule.radius_metres {
            continue;
        }
        let key = (distance, candidate.reported_at, candidate.case_id);
        let better = match &best {
            None => true,
            Some(current) => key.partial_cmp(current) == Some(std::cmp::Ordering::Less),
        };
        if better {
            best = Some(key);
        }
    }
    best.map(|(distance_metres, _, case_id)| MeTooMatch {
        case_id,
        distance_metres,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    /// Roughly 1 metre of latitude, in degrees.
    const METRE: f64 = 1.0 / 111_195.0;

    fn here() -> GeoPoint {
        GeoPoint::new(27.8600, 112.9000).unwrap()
    }

    fn north_of_here(metres: f64) -> GeoPoint {
        GeoPoint::new(here().latitude() + metres * METRE, here().longitude()).unwrap()
    }

    fn noon() -> DateTime<Utc> {
        "2025-03-03T04:00:00Z".parse().unwrap()
    }

    fn drain() -> Matter {
        Matter::Classified(MatterCode::parse("env_drain").unwrap())
    }

    fn report() -> IncomingReport {
        IncomingReport {
            location: here(),
            matter: drain(),
            at: noon(),
        }
    }

    fn candidate(id: u128, location: GeoPoint, hours_earlier: i64) -> Candidate {
        Candidate {
            case_id: CaseId::from_uuid(Uuid::from_u128(id)),
            state: CaseState::InProgress,
            matter: drain(),
            location: Some(location),
            reported_at: noon() - TimeDelta::hours(hours_earlier),
        }
    }

    fn matched(candidates: &[Candidate]) -> Option<CaseId> {
        find_me_too(&MeTooRule::default(), &report(), candidates).map(|found| found.case_id)
    }

    fn id(number: u128) -> CaseId {
        CaseId::from_uuid(Uuid::from_u128(number))
    }

    #[test]
    fn the_default_rule_is_fifty_metres_and_three_days() {
        let rule = MeTooRule::default();
        assert_eq!(rule.radius_metres(), 50.0);
        assert_eq!(rule.window(), TimeDelta::hours(72));
    }

    #[test]
    fn a_rule_with_a_non_positive_or_absurd_radius_or_window_is_refused() {
        for radius in [0.0, -5.0, f64::NAN, f64::INFINITY, 5000.5] {
            assert!(
                matches!(
                    MeTooRule::new(radius, TimeDelta::hours(1)),
                    Err(InvalidMeTooRule::Radius(_))
                ),
                "{radius}"
            );
        }
        for window in [TimeDelta::zero(), TimeDelta::hours(-1), TimeDelta::days(91)] {
            assert!(matches!(
                MeTooRule::new(50.0, window),
                Err(InvalidMeTooRule::Window { .. })
            ));
        }
        assert!(MeTooRule::new(5000.0, TimeDelta::days(90)).is_ok());
    }

    #[test]
    fn a_report_thirty_metres_from_an_open_case_of_the_same_matter_is_linked_to_it() {
        let found = find_me_too(
            &MeTooRule::default(),
            &report(),
            &[candidate(1, north_of_here(30.0), 5)],
        )
        .unwrap();
        assert_eq!(found.case_id, id(1));
        assert!(
            (found.distance_metres - 30.0).abs() < 0.1,
            "{}",
            found.distance_metres
        );
    }

    #[test]
    fn a_report_beyond_the_radius_becomes_new_work() {
        assert_eq!(matched(&[candidate(1, north_of_here(51.0), 5)]), None);
        assert_eq!(
            matched(&[candidate(1, north_of_here(49.9), 5)]),
            Some(id(1))
        );
    }

    #[test]
    fn a_report_outside_the_time_window_becomes_new_work() {
        assert_eq!(matched(&[candidate(1, here(), 73)]), None);
        assert_eq!(
            matched(&[candidate(1, here(), 72)]),
            Some(id(1)),
            "inclusive"
        );
        assert_eq!(
            matched(&[candidate(1, here(), -2)]),
            Some(id(1)),
            "a case recorded slightly after the report still matches"
        );
    }

    #[test]
    fn a_different_or_unclassified_matter_never_matches() {
        let mut lamp = candidate(1, here(), 1);
        lamp.matter = Matter::Classified(MatterCode::parse("env_lamp").unwrap());
        let mut unclassified = candidate(2, here(), 1);
        unclassified.matter = Matter::Unclassified;
        assert_eq!(matched(&[lamp, unclassified]), None);

        let unclassified_report = IncomingReport {
            matter: Matter::Unclassified,
            ..report()
        };
        let mut unclassified_case = candidate(3, here(), 1);
        unclassified_case.matter = Matter::Unclassified;
        assert_eq!(
            find_me_too(
                &MeTooRule::default(),
                &unclassified_report,
                &[unclassified_case]
            ),
            None
        );
    }

    #[test]
    fn a_closed_case_takes_no_me_too_but_a_parked_one_does() {
        let mut closed = candidate(1, here(), 1);
        closed.state = CaseState::Closed;
        assert_eq!(matched(&[closed]), None);
        let mut parked = candidate(2, here(), 1);
        parked.state = CaseState::Parked;
        assert_eq!(matched(&[parked]), Some(id(2)));
    }

    #[test]
    fn a_case_reported_without_a_point_cannot_be_matched_by_distance() {
        let mut no_point = candidate(1, here(), 1);
        no_point.location = None;
        assert_eq!(matched(&[no_point]), None);
    }

    #[test]
    fn the_nearest_open_case_wins_whatever_the_order() {
        let far = candidate(1, north_of_here(40.0), 1);
        let near = candidate(2, north_of_here(10.0), 1);
        assert_eq!(matched(&[far.clone(), near.clone()]), Some(id(2)));
        assert_eq!(matched(&[near, far]), Some(id(2)));
    }

    #[test]
    fn at_equal_distance_the_earliest_reported_case_wins() {
        let newer = candidate(1, north_of_here(10.0), 1);
        let older = candidate(2, north_of_here(10.0), 20);
        assert_eq!(matched(&[newer.clone(), older.clone()]), Some(id(2)));
        assert_eq!(matched(&[older, newer]), Some(id(2)));
    }

    #[test]
    fn a_candidate_is_read_off_a_case() {
        use crate::domain::lifecycle::{Actor, CaseKind, Channel, NewCase, Place};
        let new_case = NewCase {
            id: id(9),
            kind: CaseKind::Problem,
            channel: Channel::ResidentApp,
            matter: drain(),
            place: Place::Point(here()),
        };
        let (case, _) = Case::report(new_case, Actor::Resident, noon());
        let candidate = Candidate::of(&case);
        assert_eq!(candidate.case_id, id(9));
        assert_eq!(candidate.location, Some(here()));
        assert_eq!(matched(&[candidate]), Some(id(9)));
    }

    #[test]
    fn the_bounding_box_contains_every_point_within_the_radius() {
        let rule = MeTooRule::new(500.0, TimeDelta::hours(1)).unwrap();
        for latitude in [-60.0, 0.0, 27.86, 45.0, 70.0] {
            let centre = GeoPoint::new(latitude, 112.9).unwrap();
            let (south, west, north, east) = rule.bounding_box(&centre);
            for step in 0..32 {
                let bearing = f64::from(step) * std::f64::consts::TAU / 32.0;
                let angle = 499.0 / EARTH_MEAN_RADIUS_METRES;
                let latitude_a = centre.latitude().to_radians();
                let latitude_b = (latitude_a.sin() * angle.cos()
                    + latitude_a.cos() * angle.sin() * bearing.cos())
                .asin();
                let longitude_b = centre.longitude().to_radians()
                    + (bearing.sin() * angle.sin() * latitude_a.cos())
                        .atan2(angle.cos() - latitude_a.sin() * latitude_b.sin());
                let point =
                    GeoPoint::new(latitude_b.to_degrees(), longitude_b.to_degrees()).unwrap();
                assert!(centre.haversine_metres(&point) <= 500.0);
                assert!(
                    (south..=north).contains(&point.latitude())
                        && (west..=east).contains(&point.longitude()),
                    "{latitude}: {point:?} outside {south},{west},{north},{east}"
                );
            }
            assert!(
                north - south < 0.01,
                "the box stays small: {}",
                north - south
            );
        }
    }

    #[test]
    fn the_bounding_box_widens_to_all_longitudes_at_the_pole_and_the_antimeridian() {
        let rule = MeTooRule::default();
        let pole = GeoPoint::new(90.0, 0.0).unwrap();
        assert_eq!(rule.bounding_box(&pole).1, -180.0);
        let antimeridian = GeoPoint::new(0.0, 179.9999).unwrap();
        let (_, west, _, east) = rule.bounding_box(&antimeridian);
        assert_eq!((west, east), (-180.0, 180.0));
    }
}
