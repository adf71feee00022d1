//! Coordinate systems as Chinese apps send them, and conversion to the
//! platform's own (WGS84, which CGCS2000 equals to within centimetres).
//!
//! Why this exists: WeChat mini-programs, Amap (高德) and Tencent Maps report
//! positions in GCJ-02, the obfuscated "Mars" system every map licensed in
//! mainland China must use; Baidu Maps adds a second offset on top (BD-09).
//! Both are hundreds of metres from the true WGS84 position — more than a
//! block is wide — so a point must be converted before it is located.
//!
//! GCJ-02 is not published as a formula by its owner; the transform here is the
//! public reconstruction every open implementation uses (the one in
//! `googollee/eviltransform`, whose test vectors the tests below repeat; the
//! BD-09 vectors are `wandergis/coordtransform`'s). It
//! applies inside mainland China's bounding rectangle only; outside it GCJ-02
//! equals WGS84. GCJ-02 → WGS84 has no closed form: it is inverted by fixed-point
//! iteration to well under a millimetre. BD-09 ⇄ GCJ-02 is Baidu's rotation and
//! shift; its inverse is iterated the same way.

use std::f64::consts::PI;

/// The system a longitude/latitude pair is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CoordinateSystem {
    /// WGS84 (GPS) or CGCS2000 (China's national datum, within centimetres of
    /// WGS84): the platform's own system, in which every boundary is stored.
    #[default]
    Wgs84,
    /// GCJ-02: WeChat, Amap (高德), Tencent Maps and Apple Maps in mainland China.
    Gcj02,
    /// BD-09: Baidu Maps.
    Bd09,
}

impl CoordinateSystem {
    /// A stable lower-case name, used by command-line options and HTTP parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wgs84 => "wgs84",
            Self::Gcj02 => "gcj02",
            Self::Bd09 => "bd09",
        }
    }

    /// Reads a name as people write it: `wgs84`, `cgcs2000`, `gcj02`, `gcj-02`,
    /// `bd09`, `bd-09` (any case). `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        let normalised: String = value
            .trim()
            .chars()
            .filter(|character| *character != '-' && *character != '_')
            .flat_map(char::to_lowercase)
            .collect();
        match normalised.as_str() {
            "wgs84" | "cgcs2000" | "epsg4326" | "epsg4490" => Some(Self::Wgs84),
            "gcj02" => Some(Self::Gcj02),
            "bd09" | "bd09ll" => Some(Self::Bd09),
            _ => None,
        }
    }

    /// Converts `(longitude, latitude)` written in this system to WGS84.
    pub fn to_wgs84(self, longitude: f64, latitude: f64) -> (f64, f64) {
        match self {
            Self::Wgs84 => (longitude, latitude),
            Self::Gcj02 => gcj02_to_wgs84(longitude, latitude),
            Self::Bd09 => {
                let (gcj_longitude, gcj_latitude) = bd09_to_gcj02(longitude, latitude);
                gcj02_to_wgs84(gcj_longitude, gcj_latitude)
            }
        }
    }

    /// Converts a WGS84 `(longitude, latitude)` to this system.
    pub fn from_wgs84(self, longitude: f64, latitude: f64) -> (f64, f64) {
        match self {
            Self::Wgs84 => (longitude, latitude),
            Self::Gcj02 => wgs84_to_gcj02(longitude, latitude),
            Self::Bd09 => {
                let (gcj_longitude, gcj_latitude) = wgs84_to_gcj02(longitude, latitude);
                gcj02_to_bd09(gcj_longitude, gcj_latitude)
            }
        }
    }
}

impl std::fmt::Display for CoordinateSystem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Krasovsky 1940 semi-major axis and eccentricity², the constants of the GCJ-02 reconstruction.
const KRASOVSKY_A: f64 = 6_378_245.0;
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

/// Baidu's angle factor.
const BD_X_PI: f64 = PI * 3000.0 / 180.0;

/// Iterations stop once a step moves the estimate less than this (degrees, ~0.01 mm).
const INVERSE_TOLERANCE: f64 = 1e-10;
const INVERSE_MAX_STEPS: usize = 30;

/// True outside the rectangle in which GCJ-02 is offset (there GCJ-02 = WGS84).
pub fn outside_china(longitude: f64, latitude: f64) -> bool {
    !(72.004..=137.8347).contains(&longitude) || !(0.8293..=55.8271).contains(&latitude)
}

fn offset_latitude(x: f64, y: f64) -> f64 {
    let mut offset = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    offset += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    offset += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    offset += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    offset
}

fn offset_longitude(x: f64, y: f64) -> f64 {
    let mut offset = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    offset += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    offset += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    offset += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    offset
}

/// WGS84 → GCJ-02 (identity outside China).
pub fn wgs84_to_gcj02(longitude: f64, latitude: f64) -> (f64, f64) {
    if outside_china(longitude, latitude) {
        return (longitude, latitude);
    }
    let mut delta_latitude = offset_latitude(longitude - 105.0, latitude - 35.0);
    let mut delta_longitude = offset_longitude(longitude - 105.0, latitude - 35.0);
    let radians = latitude / 180.0 * PI;
    let magic = 1.0 - KRASOVSKY_EE * radians.sin() * radians.sin();
    let sqrt_magic = magic.sqrt();
    delta_latitude = (delta_latitude * 180.0)
        / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    delta_longitude = (delta_longitude * 180.0) / (KRASOVSKY_A / sqrt_magic * radians.cos() * PI);
    (longitude + delta_longitude, latitude + delta_latitude)
}

/// GCJ-02 → WGS84, inverting [`wgs84_to_gcj02`] by fixed-point iteration.
pub fn gcj02_to_wgs84(longitude: f64, latitude: f64) -> (f64, f64) {
    invert(longitude, latitude, wgs84_to_gcj02)
}

/// GCJ-02 → BD-09 (Baidu).
pub fn gcj02_to_bd09(longitude: f64, latitude: f64) -> (f64, f64) {
    let (x, y) = (longitude, latitude);
    let radius = (x * x + y * y).sqrt() + 0.000_02 * (y * BD_X_PI).sin();
    let angle = y.atan2(x) + 0.000_003 * (x * BD_X_PI).cos();
    (radius * angle.cos() + 0.0065, radius * angle.sin() + 0.006)
}

/// BD-09 → GCJ-02, inverting [`gcj02_to_bd09`] by fixed-point iteration.
pub fn bd09_to_gcj02(longitude: f64, latitude: f64) -> (f64, f64) {
    invert(longitude, latitude, gcj02_to_bd09)
}

/// Finds `p` with `forward(p) = target`: start at the target and move by the
/// residual until it vanishes. Both offsets vary slowly (their derivatives are
/// far below 1), so each step gains several digits.
fn invert(
    target_longitude: f64,
    target_latitude: f64,
    forward: fn(f64, f64) -> (f64, f64),
) -> (f64, f64) {
    let (mut longitude, mut latitude) = (target_longitude, target_latitude);
    for _ in 0..INVERSE_MAX_STEPS {
        let (mapped_longitude, mapped_latitude) = forward(longitude, latitude);
        let (step_longitude, step_latitude) = (
            mapped_longitude - target_longitude,
            mapped_latitude - target_latitude,
        );
        longitude -= step_longitude;
        latitude -= step_latitude;
        if step_longitude.abs() < INVERSE_TOLERANCE && step_latitude.abs() < INVERSE_TOLERANCE {
            break;
        }
    }
    (longitude, latitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Great-circle distance in metres (spherical; plenty for metre-level checks).
    fn metres(first: (f64, f64), second: (f64, f64)) -> f64 {
        let radius = 6_371_008.8;
        let (longitude_a, latitude_a) = (first.0.to_radians(), first.1.to_radians());
        let (longitude_b, latitude_b) = (second.0.to_radians(), second.1.to_radians());
        let half_chord = ((latitude_b - latitude_a) / 2.0).sin().powi(2)
            + latitude_a.cos()
                * latitude_b.cos()
                * ((longitude_b - longitude_a) / 2.0).sin().powi(2);
        2.0 * radius * half_chord.sqrt().asin()
    }

    /// googollee/eviltransform's published vectors (go/transform_test.go):
    /// (WGS84 lon, lat) → (GCJ-02 lon, lat) in Shanghai, Shenzhen and Beijing.
    const GCJ02_VECTORS: [((f64, f64), (f64, f64)); 3] = [
        (
            (121.5272106, 31.1774276),
            (121.531541859215, 31.17530398364597),
        ),
        (
            (113.912316, 22.543847),
            (113.9171764808363, 22.540796131694766),
        ),
        (
            (116.377817, 39.911954),
            (116.38404722455657, 39.91334545536069),
        ),
    ];

    /// wandergis/coordtransform's published vectors (README and test/app.js):
    /// GCJ-02 (116.404, 39.915) → BD-09, and BD-09 (116.404, 39.915) → GCJ-02.
    const GCJ02_TO_BD09: ((f64, f64), (f64, f64)) =
        ((116.404, 39.915), (116.41036949371029, 39.92133699351021));
    const BD09_TO_GCJ02: ((f64, f64), (f64, f64)) =
        ((116.404, 39.915), (116.39762729119315, 39.90865673957631));

    #[test]
    fn wgs84_to_gcj02_matches_the_published_vectors() {
        for (wgs, gcj) in GCJ02_VECTORS {
            let converted = wgs84_to_gcj02(wgs.0, wgs.1);
            assert!(
                (converted.0 - gcj.0).abs() < 1e-9,
                "{converted:?} vs {gcj:?}"
            );
            assert!(
                (converted.1 - gcj.1).abs() < 1e-9,
                "{converted:?} vs {gcj:?}"
            );
        }
    }

    #[test]
    fn gcj02_back_to_wgs84_lands_within_a_millimetre_of_the_true_position() {
        for (wgs, gcj) in GCJ02_VECTORS {
            let back = CoordinateSystem::Gcj02.to_wgs84(gcj.0, gcj.1);
            assert!(metres(back, wgs) < 0.001, "{back:?} vs {wgs:?}");
        }
    }

    #[test]
    fn bd09_conversions_match_the_published_vectors() {
        let (gcj, bd) = GCJ02_TO_BD09;
        let converted = gcj02_to_bd09(gcj.0, gcj.1);
        assert!((converted.0 - bd.0).abs() < 1e-9, "{converted:?} vs {bd:?}");
        assert!((converted.1 - bd.1).abs() < 1e-9, "{converted:?} vs {bd:?}");
        // The published inverse is Baidu's closed-form approximation, good to
        // well under a metre; ours iterates to the exact inverse.
        let (bd, gcj) = BD09_TO_GCJ02;
        let converted = bd09_to_gcj02(bd.0, bd.1);
        assert!(metres(converted, gcj) < 1.0, "{converted:?} vs {gcj:?}");
        let forward = gcj02_to_bd09(converted.0, converted.1);
        assert!(metres(forward, bd) < 0.001, "{forward:?} vs {bd:?}");
    }

    #[test]
    fn every_system_round_trips_through_wgs84_near_xiangtan() {
        for system in [
            CoordinateSystem::Wgs84,
            CoordinateSystem::Gcj02,
            CoordinateSystem::Bd09,
        ] {
            for (longitude, latitude) in [(112.93, 27.86), (112.9011, 27.8234), (112.97, 27.9)] {
                let (there_longitude, there_latitude) = system.from_wgs84(longitude, latitude);
                let back = system.to_wgs84(there_longitude, there_latitude);
                assert!(
                    metres(back, (longitude, latitude)) < 0.001,
                    "{system}: {back:?}"
                );
            }
        }
    }

    #[test]
    fn the_offsets_are_hundreds_of_metres_in_china_and_nothing_abroad() {
        let xiangtan = (112.93, 27.86);
        let gcj = wgs84_to_gcj02(xiangtan.0, xiangtan.1);
        let bd = CoordinateSystem::Bd09.from_wgs84(xiangtan.0, xiangtan.1);
        assert!((200.0..1_000.0).contains(&metres(gcj, xiangtan)));
        assert!(metres(bd, xiangtan) > metres(gcj, xiangtan));
        let tokyo = (139.767125, 35.681236);
        assert_eq!(wgs84_to_gcj02(tokyo.0, tokyo.1), tokyo);
        assert_eq!(CoordinateSystem::Gcj02.to_wgs84(tokyo.0, tokyo.1), tokyo);
    }

    #[test]
    fn names_are_read_as_people_write_them() {
        assert_eq!(
            CoordinateSystem::parse("GCJ-02"),
            Some(CoordinateSystem::Gcj02)
        );
        assert_eq!(
            CoordinateSystem::parse("bd09"),
            Some(CoordinateSystem::Bd09)
        );
        assert_eq!(
            CoordinateSystem::parse("CGCS2000"),
            Some(CoordinateSystem::Wgs84)
        );
        assert_eq!(
            CoordinateSystem::parse("wgs84"),
            Some(CoordinateSystem::Wgs84)
        );
        assert_eq!(CoordinateSystem::parse("mars"), None);
        for system in [
            CoordinateSystem::Wgs84,
            CoordinateSystem::Gcj02,
            CoordinateSystem::Bd09,
        ] {
            assert_eq!(CoordinateSystem::parse(system.as_str()), Some(system));
        }
    }
}
