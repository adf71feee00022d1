//! Points on the earth and the distance between them.

use serde::{Deserialize, Serialize};

/// The mean earth radius (IUGG), in metres, used by [`GeoPoint::haversine_metres`].
pub const EARTH_MEAN_RADIUS_METRES: f64 = 6_371_008.8;

/// Why a pair of numbers is not a point on the earth.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum InvalidPoint {
    /// The latitude was not a finite number in −90…90 degrees.
    #[error("latitude {0} is outside -90..=90 degrees")]
    Latitude(f64),
    /// The longitude was not a finite number in −180…180 degrees.
    #[error("longitude {0} is outside -180..=180 degrees")]
    Longitude(f64),
}

/// A WGS-84 point in decimal degrees (what phones and the 12345 platform report). The
/// coordinates are finite and in range by construction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoint", into = "RawPoint")]
pub struct GeoPoint {
    latitude: f64,
    longitude: f64,
}

/// The unchecked wire shape of a point, for serde.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct RawPoint {
    latitude: f64,
    longitude: f64,
}

impl TryFrom<RawPoint> for GeoPoint {
    type Error = InvalidPoint;

    fn try_from(raw: RawPoint) -> Result<Self, Self::Error> {
        GeoPoint::new(raw.latitude, raw.longitude)
    }
}

impl From<GeoPoint> for RawPoint {
    fn from(point: GeoPoint) -> Self {
        RawPoint {
            latitude: point.latitude,
            longitude: point.longitude,
        }
    }
}

impl GeoPoint {
    /// A point from latitude and longitude in decimal degrees.
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, InvalidPoint> {
        if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
            return Err(InvalidPoint::Latitude(latitude));
        }
        if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
            return Err(InvalidPoint::Longitude(longitude));
        }
        Ok(Self {
            latitude,
            longitude,
        })
    }

    /// Latitude in decimal degrees.
    pub fn latitude(&self) -> f64 {
        self.latitude
    }

    /// Longitude in decimal degrees.
    pub fn longitude(&self) -> f64 {
        self.longitude
    }

    /// The great-circle distance to `other` in metres, by the haversine formula on a sphere
    /// of the mean earth radius. Within a district the error against the ellipsoid is well
    /// under 0.5 %, far below the radius a "me too" rule is set to.
    pub fn haversine_metres(&self, other: &GeoPoint) -> f64 {
        let latitude_a = self.latitude.to_radians();
        let latitude_b = other.latitude.to_radians();
        let delta_latitude = latitude_b - latitude_a;
        let delta_longitude = (other.longitude - self.longitude).to_radians();
        let half_chord = (delta_latitude / 2.0).sin().powi(2)
            + latitude_a.cos() * latitude_b.cos() * (delta_longitude / 2.0).sin().powi(2);
        let central_angle = 2.0 * half_chord.sqrt().min(1.0).asin();
        EARTH_MEAN_RADIUS_METRES * central_angle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_or_non_finite_coordinates_are_refused() {
        assert_eq!(
            GeoPoint::new(90.5, 0.0).unwrap_err(),
            InvalidPoint::Latitude(90.5)
        );
        assert_eq!(
            GeoPoint::new(0.0, -180.01).unwrap_err(),
            InvalidPoint::Longitude(-180.01)
        );
        assert!(GeoPoint::new(f64::NAN, 0.0).is_err());
        assert!(GeoPoint::new(0.0, f64::INFINITY).is_err());
        assert!(GeoPoint::new(-90.0, 180.0).is_ok());
    }

    #[test]
    fn one_thousandth_of_a_degree_of_latitude_is_about_111_metres() {
        let a = GeoPoint::new(27.8600, 112.9000).unwrap();
        let b = GeoPoint::new(27.8610, 112.9000).unwrap();
        let distance = a.haversine_metres(&b);
        assert!((distance - 111.2).abs() < 0.5, "{distance}");
    }

    #[test]
    fn a_degree_of_longitude_shrinks_with_the_cosine_of_latitude() {
        let a = GeoPoint::new(60.0, 10.0).unwrap();
        let b = GeoPoint::new(60.0, 11.0).unwrap();
        let distance = a.haversine_metres(&b);
        // 111.195 km × cos 60° ≈ 55.6 km
        assert!((distance - 55_597.0).abs() < 50.0, "{distance}");
    }

    #[test]
    fn distance_is_symmetric_and_zero_to_itself() {
        let xiangtan = GeoPoint::new(27.8297, 112.9441).unwrap();
        let changsha = GeoPoint::new(28.2282, 112.9388).unwrap();
        assert_eq!(xiangtan.haversine_metres(&xiangtan), 0.0);
        let there = xiangtan.haversine_metres(&changsha);
        let back = changsha.haversine_metres(&xiangtan);
        assert!((there - back).abs() < 1e-6);
        assert!((there - 44_300.0).abs() < 300.0, "{there}");
    }

    #[test]
    fn antipodal_points_are_half_the_circumference_apart() {
        let a = GeoPoint::new(0.0, 0.0).unwrap();
        let b = GeoPoint::new(0.0, 180.0).unwrap();
        let expected = std::f64::consts::PI * EARTH_MEAN_RADIUS_METRES;
        assert!((a.haversine_metres(&b) - expected).abs() < 1.0);
    }

    #[test]
    fn a_deserialised_point_is_range_checked() {
        let error =
            serde_json::from_str::<GeoPoint>(r#"{"latitude":91,"longitude":0}"#).unwrap_err();
        assert!(error.to_string().contains("latitude"), "{error}");
    }
}
