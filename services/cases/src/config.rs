//! The service's configuration: the chassis' variables plus its own, read once at start.

use std::path::PathBuf;
use std::time::Duration;

use chrono::TimeDelta;
use flatgov_config::{ConfigError, Env};
use flatgov_grpc::{ChassisConfig, ServiceIdentity};

use crate::domain::calendar::{WorkingCalendar, WorkingDuration, WorkingHours, YearCalendar};
use crate::domain::me_too::MeTooRule;
use crate::domain::sla::{
    DEFAULT_COORDINATION_MEETING, DEFAULT_FRONT_LINE, DEFAULT_WHISTLE, SlaPolicy, TimeLimits,
};

/// How the triage saga talks to the block registry and the duty lists.
#[derive(Debug, Clone)]
pub struct TriageSettings {
    /// Jobs worked on at once by one replica.
    pub concurrency: usize,
    /// Jobs claimed per pass.
    pub batch_size: i64,
    /// The first retry's delay after the block registry or the duty lists failed;
    /// doubles per attempt up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long one call to another service may take.
    pub call_timeout: Duration,
    /// How long a claimed job is reserved for its worker before another replica may
    /// take it over (a worker that died). Short, and renewed every quarter of it
    /// while the worker lives, so a killed replica's jobs wait seconds, not minutes.
    pub lease: Duration,
}

/// Everything the service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub chassis: ChassisConfig,
    /// The block registry, e.g. `http://blocks:50051`.
    pub blocks_url: String,
    /// The duty lists, e.g. `http://duties:50052`.
    pub duties_url: String,
    pub calendar: WorkingCalendar,
    pub sla: SlaPolicy,
    pub me_too: MeTooRule,
    pub triage: TriageSettings,
    /// How often the workers look for due work when no notification arrives.
    pub worker_poll: Duration,
    /// Whether `AdvanceTestClock` may move the clock (test deployments only).
    pub test_controls: bool,
    /// Months a reporter's contact is kept after their case closes
    /// (`CASES_REPORTER_CONTACT_RETENTION_MONTHS`), then erased.
    pub reporter_contact_retention_months: u32,
}

fn malformed(
    name: &'static str,
    value: &str,
    reason: impl ToString,
    expected: &'static str,
) -> ConfigError {
    ConfigError::Malformed {
        name,
        value: value.to_owned(),
        reason: reason.to_string(),
        expected,
    }
}

/// Reads `accept,resolve,rework` limits such as `2h,3d,2d`.
fn time_limits(
    env: &Env,
    name: &'static str,
    default: TimeLimits,
) -> Result<TimeLimits, ConfigError> {
    const EXPECTED: &str =
        "three working durations `accept,resolve,rework`, each <n>m, <n>h or <n>d, e.g. `2h,3d,2d`";
    let Some(text) = env.maybe::<String>(name, EXPECTED)? else {
        return Ok(default);
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [acceptance, resolution, rework] = parts.as_slice() else {
        return Err(malformed(name, &text, "expected three durations", EXPECTED));
    };
    let parse = |part: &str| {
        WorkingDuration::parse(part).map_err(|error| malformed(name, &text, error, EXPECTED))
    };
    Ok(TimeLimits {
        acceptance: parse(acceptance)?,
        resolution: parse(resolution)?,
        rework: parse(rework)?,
    })
}

/// The bundled calendar files, replaced or extended by `<year>.csv` files in `directory`.
fn calendar(
    hours: WorkingHours,
    directory: Option<PathBuf>,
) -> Result<WorkingCalendar, ConfigError> {
    const EXPECTED: &str = "a directory of <year>.csv holiday files (see crates/calendar/data)";
    let bundled = WorkingCalendar::bundled(hours.clone())
        .map_err(|error| malformed("CASES_CALENDAR_DIR", "(bundled)", error, EXPECTED))?;
    let Some(directory) = directory else {
        return Ok(bundled);
    };
    let shown = directory.display().to_string();
    let mut years: std::collections::BTreeMap<i32, YearCalendar> = bundled
        .loaded_years()
        .filter_map(|year| {
            bundled
                .schedule(year)
                .map(|schedule| (year, schedule.clone()))
        })
        .collect();
    let entries = std::fs::read_dir(&directory)
        .map_err(|error| malformed("CASES_CALENDAR_DIR", &shown, error, EXPECTED))?;
    for entry in entries {
        let path = entry
            .map_err(|error| malformed("CASES_CALENDAR_DIR", &shown, error, EXPECTED))?
            .path();
        let Some(year) = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .filter(|_| path.extension().is_some_and(|extension| extension == "csv"))
            .and_then(|stem| stem.parse::<i32>().ok())
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path).map_err(|error| {
            malformed(
                "CASES_CALENDAR_DIR",
                &path.display().to_string(),
                error,
                EXPECTED,
            )
        })?;
        let schedule = YearCalendar::parse(year, &text).map_err(|error| {
            malformed(
                "CASES_CALENDAR_DIR",
                &path.display().to_string(),
                error,
                EXPECTED,
            )
        })?;
        years.insert(year, schedule);
    }
    WorkingCalendar::new(hours, years.into_values())
        .map_err(|error| malformed("CASES_CALENDAR_DIR", &shown, error, EXPECTED))
}

impl Config {
    /// Reads every variable, naming the first one that is missing or malformed.
    pub fn from_env(env: &Env, identity: &ServiceIdentity) -> Result<Self, ConfigError> {
        let chassis = ChassisConfig::from_env(env, identity)?;
        let blocks_url = env.optional(
            "BLOCKS_URL",
            "http://127.0.0.1:50051".to_owned(),
            "the block registry's gRPC URL, e.g. http://blocks:50051",
        )?;
        let duties_url = env.optional(
            "DUTIES_URL",
            "http://127.0.0.1:50052".to_owned(),
            "the duty lists' gRPC URL, e.g. http://duties:50052",
        )?;

        const HOURS_EXPECTED: &str =
            "working periods in China time, e.g. `08:30-12:00,14:30-17:30`";
        let hours_text = env.optional(
            "CASES_WORKING_HOURS",
            WorkingHours::default().to_string(),
            HOURS_EXPECTED,
        )?;
        let hours = WorkingHours::parse(&hours_text).map_err(|error| {
            malformed("CASES_WORKING_HOURS", &hours_text, error, HOURS_EXPECTED)
        })?;
        let calendar_directory = env.maybe::<PathBuf>(
            "CASES_CALENDAR_DIR",
            "a directory of <year>.csv holiday files",
        )?;
        let calendar = calendar(hours, calendar_directory)?;

        let sla = SlaPolicy::new(
            time_limits(env, "CASES_SLA_FRONT_LINE", DEFAULT_FRONT_LINE)?,
            time_limits(
                env,
                "CASES_SLA_COORDINATION_MEETING",
                DEFAULT_COORDINATION_MEETING,
            )?,
            time_limits(env, "CASES_SLA_WHISTLE", DEFAULT_WHISTLE)?,
        );

        const RADIUS_EXPECTED: &str = "metres in (0, 5000]";
        const WINDOW_EXPECTED: &str = "hours in [1, 2160]";
        let radius: f64 = env.optional("CASES_ME_TOO_RADIUS_METRES", 50.0, RADIUS_EXPECTED)?;
        let window_hours: i64 = env.optional("CASES_ME_TOO_WINDOW_HOURS", 72, WINDOW_EXPECTED)?;
        let me_too = MeTooRule::new(radius, TimeDelta::hours(window_hours)).map_err(|error| {
            malformed(
                "CASES_ME_TOO_RADIUS_METRES",
                &format!("{radius} m, {window_hours} h"),
                error,
                "a radius in (0, 5000] metres and CASES_ME_TOO_WINDOW_HOURS in [1, 2160]",
            )
        })?;

        let triage = TriageSettings {
            concurrency: env.optional(
                "CASES_TRIAGE_CONCURRENCY",
                32,
                "triage jobs worked on at once per replica, at least 1",
            )?,
            batch_size: 128,
            initial_backoff: Duration::from_millis(env.optional(
                "CASES_TRIAGE_RETRY_INITIAL_MS",
                1000,
                "milliseconds before the first triage retry",
            )?),
            max_backoff: Duration::from_millis(env.optional(
                "CASES_TRIAGE_RETRY_MAX_MS",
                60_000,
                "the longest pause between triage retries, in milliseconds",
            )?),
            call_timeout: Duration::from_millis(env.optional(
                "CASES_CALL_TIMEOUT_MS",
                5000,
                "milliseconds one call to the block registry or the duty lists may take",
            )?),
            lease: Duration::from_millis(env.optional(
                "CASES_TRIAGE_LEASE_MS",
                5000,
                "milliseconds a claimed triage job stays reserved for a worker that stopped renewing it",
            )?),
        };
        if triage.concurrency == 0 {
            return Err(malformed(
                "CASES_TRIAGE_CONCURRENCY",
                "0",
                "must be at least 1",
                "triage jobs worked on at once per replica, at least 1",
            ));
        }
        let worker_poll = Duration::from_millis(env.optional(
            "CASES_WORKER_POLL_MS",
            1000,
            "milliseconds between the workers' checks for due work when not woken",
        )?);
        let test_controls = match env
            .optional(
                "CASES_TEST_CONTROLS",
                "disabled".to_owned(),
                "`disabled` (production) or `enabled` (test deployments: AdvanceTestClock)",
            )?
            .as_str()
        {
            "disabled" => false,
            "enabled" => true,
            other => {
                return Err(malformed(
                    "CASES_TEST_CONTROLS",
                    other,
                    "unknown value",
                    "`disabled` (production) or `enabled` (test deployments: AdvanceTestClock)",
                ));
            }
        };
        let reporter_contact_retention_months = env.optional(
            "CASES_REPORTER_CONTACT_RETENTION_MONTHS",
            6,
            "months a reporter's contact is kept after their case closes before it is erased",
        )?;
        Ok(Self {
            chassis,
            blocks_url,
            duties_url,
            calendar,
            sla,
            me_too,
            triage,
            worker_poll,
            test_controls,
            reporter_contact_retention_months,
        })
    }
}
