//! The registry's configuration: the chassis' variables plus its own.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `BLOCKS_AREA_TOLERANCE_M2` | `1` | gaps, overlaps and parts outside at or below this area (m²) are not reported |
//! | `BLOCKS_HOUSEHOLDS_TARGET` | `350` | households a block is meant to hold |
//! | `BLOCKS_HOUSEHOLDS_BAND_FRACTION` | `0.5` | half-width of the accepted households band as a fraction of the target (a warning outside it) |
//! | `BLOCKS_REFRESH_INTERVAL_MS` | `1000` | how often a replica checks the registry revision in case a change notification was missed |
//! | `BLOCKS_HISTORY_CACHE_GENERATIONS` | `4` | retired generations whose lookup index is kept in memory for historical lookups |

use std::time::Duration;

use flatgov_config::{ConfigError, Env};
use flatgov_grpc::ChassisConfig;

use crate::domain::validation::ValidationSettings;

/// Everything the registry reads at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Database, NATS, auth, listeners, telemetry.
    pub chassis: ChassisConfig,
    /// The validation policy activation enforces (ValidateGeneration may override it per report).
    pub validation: ValidationSettings,
    /// The fallback poll of the registry revision; notifications usually arrive first.
    pub refresh_interval: Duration,
    /// How many retired generations' indexes to keep for historical lookups.
    pub history_cache_generations: usize,
}

impl Config {
    /// Reads the configuration, naming the first variable that is malformed.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let chassis = ChassisConfig::from_env(env, &crate::IDENTITY)?;
        let area_tolerance_m2: f64 = env.optional(
            "BLOCKS_AREA_TOLERANCE_M2",
            1.0,
            "a non-negative area in square metres",
        )?;
        if !(area_tolerance_m2.is_finite() && area_tolerance_m2 >= 0.0) {
            return Err(ConfigError::Malformed {
                name: "BLOCKS_AREA_TOLERANCE_M2",
                value: area_tolerance_m2.to_string(),
                reason: "must be a finite number of at least 0".into(),
                expected: "a non-negative area in square metres",
            });
        }
        let households_target: u32 = env.optional(
            "BLOCKS_HOUSEHOLDS_TARGET",
            350,
            "a whole number of households",
        )?;
        let households_band_fraction: f64 = env.optional(
            "BLOCKS_HOUSEHOLDS_BAND_FRACTION",
            0.5,
            "a fraction between 0 and 1, e.g. 0.5 for ±50 %",
        )?;
        if !(0.0..=1.0).contains(&households_band_fraction) {
            return Err(ConfigError::Malformed {
                name: "BLOCKS_HOUSEHOLDS_BAND_FRACTION",
                value: households_band_fraction.to_string(),
                reason: "must be between 0 and 1".into(),
                expected: "a fraction between 0 and 1, e.g. 0.5 for ±50 %",
            });
        }
        let refresh_interval_ms: u64 = env.optional(
            "BLOCKS_REFRESH_INTERVAL_MS",
            1000,
            "milliseconds, at least 10",
        )?;
        if refresh_interval_ms < 10 {
            return Err(ConfigError::Malformed {
                name: "BLOCKS_REFRESH_INTERVAL_MS",
                value: refresh_interval_ms.to_string(),
                reason: "must be at least 10".into(),
                expected: "milliseconds, at least 10",
            });
        }
        let history_cache_generations: usize = env.optional(
            "BLOCKS_HISTORY_CACHE_GENERATIONS",
            4,
            "a number of generations, at least 1",
        )?;
        Ok(Self {
            chassis,
            validation: ValidationSettings {
                area_tolerance_m2,
                households_target,
                households_band_fraction,
            },
            refresh_interval: Duration::from_millis(refresh_interval_ms),
            history_cache_generations: history_cache_generations.max(1),
        })
    }
}
