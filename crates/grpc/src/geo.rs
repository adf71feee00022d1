//! Points in requests: every RPC that takes a `flatgov.type.v1.GeoPoint`
//! reads it through [`point_in_wgs84`], so a GCJ-02 point from a WeChat
//! mini-program or a BD-09 point from Baidu is converted to the platform's
//! own system (WGS84/CGCS2000) before anything locates a block with it, and
//! every service checks the same ranges with the same field names.

use flatgov_proto::flatgov::r#type::v1 as types;
use flatgov_vocabulary::CoordinateSystem;

use crate::error::Violations;

/// The vocabulary's system for the proto enum; `None` for a value this
/// release does not know (a newer client's system is refused, never guessed).
pub fn coordinate_system(value: i32) -> Option<CoordinateSystem> {
    match types::CoordinateSystem::try_from(value).ok()? {
        types::CoordinateSystem::Unspecified => Some(CoordinateSystem::Wgs84),
        types::CoordinateSystem::Gcj02 => Some(CoordinateSystem::Gcj02),
        types::CoordinateSystem::Bd09 => Some(CoordinateSystem::Bd09),
    }
}

/// The proto enum for a vocabulary system (WGS84 is the unspecified value).
pub fn coordinate_system_value(system: CoordinateSystem) -> types::CoordinateSystem {
    match system {
        CoordinateSystem::Wgs84 => types::CoordinateSystem::Unspecified,
        CoordinateSystem::Gcj02 => types::CoordinateSystem::Gcj02,
        CoordinateSystem::Bd09 => types::CoordinateSystem::Bd09,
    }
}

/// `point` as WGS84 `(longitude, latitude)`, or `None` after recording under
/// `field` (`location`, `points[3]`, …) what is wrong: a coordinate out of
/// range or not finite, or an unknown coordinate system.
pub fn point_in_wgs84(
    violations: &mut Violations,
    field: &str,
    point: &types::GeoPoint,
) -> Option<(f64, f64)> {
    let (longitude, latitude) = (point.longitude, point.latitude);
    let longitude = violations.check(
        format!("{field}.longitude"),
        if longitude.is_finite() && (-180.0..=180.0).contains(&longitude) {
            Ok(longitude)
        } else {
            Err(format!(
                "must be a finite number in [-180, 180], found {longitude}"
            ))
        },
    );
    let latitude = violations.check(
        format!("{field}.latitude"),
        if latitude.is_finite() && (-90.0..=90.0).contains(&latitude) {
            Ok(latitude)
        } else {
            Err(format!(
                "must be a finite number in [-90, 90], found {latitude} (are longitude and latitude swapped?)"
            ))
        },
    );
    let system = violations.check(
        format!("{field}.coordinate_system"),
        coordinate_system(point.coordinate_system).ok_or(
            "must be COORDINATE_SYSTEM_UNSPECIFIED (WGS84/CGCS2000), COORDINATE_SYSTEM_GCJ02 or COORDINATE_SYSTEM_BD09",
        ),
    );
    let (longitude, latitude) = longitude.zip(latitude)?;
    Some(system?.to_wgs84(longitude, latitude))
}

/// A WGS84 point as the proto message, written in `system` (an answer in
/// the system the caller asked for).
pub fn point_in(system: CoordinateSystem, longitude: f64, latitude: f64) -> types::GeoPoint {
    let (converted_longitude, converted_latitude) = system.from_wgs84(longitude, latitude);
    types::GeoPoint {
        longitude: converted_longitude,
        latitude: converted_latitude,
        coordinate_system: coordinate_system_value(system) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gcj02_point_is_read_as_its_wgs84_position() {
        let mut violations = Violations::new();
        // googollee/eviltransform's Shanghai vector.
        let point = types::GeoPoint {
            longitude: 121.531541859215,
            latitude: 31.17530398364597,
            coordinate_system: types::CoordinateSystem::Gcj02 as i32,
        };
        let (longitude, latitude) =
            point_in_wgs84(&mut violations, "location", &point).expect("valid");
        assert!(violations.is_empty());
        assert!((longitude - 121.5272106).abs() < 1e-7);
        assert!((latitude - 31.1774276).abs() < 1e-7);
    }

    #[test]
    fn an_unknown_system_and_a_bad_latitude_are_each_named() {
        let mut violations = Violations::new();
        let point = types::GeoPoint {
            longitude: 112.9,
            latitude: 127.8,
            coordinate_system: 99,
        };
        assert_eq!(point_in_wgs84(&mut violations, "points[2]", &point), None);
        let fields: Vec<String> = violations
            .into_vec()
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(
            fields,
            vec!["points[2].latitude", "points[2].coordinate_system"]
        );
    }

    #[test]
    fn an_answer_is_written_in_the_system_asked_for() {
        let wgs = point_in(CoordinateSystem::Wgs84, 112.93, 27.86);
        assert_eq!((wgs.longitude, wgs.latitude), (112.93, 27.86));
        assert_eq!(wgs.coordinate_system, 0);
        let gcj = point_in(CoordinateSystem::Gcj02, 112.93, 27.86);
        assert_eq!(gcj.coordinate_system, types::CoordinateSystem::Gcj02 as i32);
        let mut violations = Violations::new();
        let back = point_in_wgs84(&mut violations, "point", &gcj).expect("valid");
        assert!((back.0 - 112.93).abs() < 1e-9 && (back.1 - 27.86).abs() < 1e-9);
    }
}
