//! Configuration read once from environment variables.
//!
//! Every variable a flatgov process reads goes through [`Env::required`] or
//! [`Env::optional`] with its name as a string literal, so the deployment
//! checks can list them from the source and the README can document each one.
//! A missing or malformed variable stops the process at start with an error
//! that names it and says what was expected.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// Why a configuration value could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {name} is required ({expected})")]
    Missing {
        name: &'static str,
        expected: &'static str,
    },
    #[error("environment variable {name}={value:?} is invalid: {reason} ({expected})")]
    Malformed {
        name: &'static str,
        value: String,
        reason: String,
        expected: &'static str,
    },
}

/// A source of configuration variables: the process environment, or a fixed
/// map in tests so they never race on `std::env`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overrides: Option<HashMap<String, String>>,
}

impl Env {
    /// Reads the process environment.
    pub fn process() -> Self {
        Self { overrides: None }
    }

    /// Reads only the given pairs (for tests and for embedding a service).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            overrides: Some(
                pairs
                    .into_iter()
                    .map(|(key, value)| (key.into(), value.into()))
                    .collect(),
            ),
        }
    }

    /// Returns a copy with one variable set, leaving the rest as they are.
    /// Only meaningful for a map-backed `Env`; a process env is first copied.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        let map = self
            .overrides
            .get_or_insert_with(|| std::env::vars().collect::<HashMap<_, _>>());
        map.insert(name.to_owned(), value.into());
        self
    }

    fn raw(&self, name: &str) -> Option<String> {
        let value = match &self.overrides {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|value| !value.trim().is_empty())
    }

    /// A variable that must be set. `expected` describes a valid value for
    /// the error message, e.g. `"a postgres:// URL"`.
    pub fn required<T>(&self, name: &'static str, expected: &'static str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let value = self
            .raw(name)
            .ok_or(ConfigError::Missing { name, expected })?;
        parse(name, value, expected)
    }

    /// A variable with a default used when it is unset or empty.
    pub fn optional<T>(
        &self,
        name: &'static str,
        default: T,
        expected: &'static str,
    ) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.raw(name) {
            Some(value) => parse(name, value, expected),
            None => Ok(default),
        }
    }

    /// A variable that may be absent altogether.
    pub fn maybe<T>(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.raw(name)
            .map(|value| parse(name, value, expected))
            .transpose()
    }
}

fn parse<T>(name: &'static str, value: String, expected: &'static str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    value
        .trim()
        .parse::<T>()
        .map_err(|error| ConfigError::Malformed {
            name,
            reason: error.to_string(),
            value,
            expected,
        })
}

/// A secret that never prints: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself; call sites that reveal it are easy to grep for.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: FromStr> FromStr for Secret<T> {
    type Err = T::Err;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        value.parse().map(Secret)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_required_variable_is_named_in_the_error() {
        let env = Env::from_pairs::<&str, &str>([]);
        let error = env
            .required::<String>("DATABASE_URL", "a postgres:// URL")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable DATABASE_URL is required (a postgres:// URL)"
        );
    }

    #[test]
    fn a_malformed_variable_is_named_with_its_value_and_the_reason() {
        let env = Env::from_pairs([("DATABASE_MAX_CONNECTIONS", "ten")]);
        let error = env
            .optional::<u32>("DATABASE_MAX_CONNECTIONS", 10, "a positive integer")
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("DATABASE_MAX_CONNECTIONS=\"ten\""),
            "{message}"
        );
        assert!(message.contains("invalid digit"), "{message}");
    }

    #[test]
    fn an_unset_or_blank_optional_variable_takes_its_default() {
        let env = Env::from_pairs([("LOG_FORMAT", "  ")]);
        assert_eq!(env.optional("LOG_FORMAT", 7u8, "a number").unwrap(), 7);
        assert_eq!(env.optional("OTHER", 3u8, "a number").unwrap(), 3);
        assert_eq!(env.maybe::<u8>("OTHER", "a number").unwrap(), None);
    }

    #[test]
    fn a_secret_never_prints_its_value() {
        let secret: Secret<String> = "hunter2".parse().unwrap();
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "hunter2");
    }
}
