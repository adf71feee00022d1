//! Per-client rate limits: a token bucket per key (an API client's id, or the
//! address of a caller without one), refilled continuously.
//!
//! The buckets live in the process: with several replicas behind a load balancer a
//! client gets each replica's allowance. That is deliberate — the limit protects the
//! services behind the gateway from a runaway client, it is not a billing meter — and
//! the services limit every caller again (`RATE_LIMIT_PER_SECOND`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A refusal: how long until the next request would be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, at least one (the `Retry-After` header's unit).
    pub fn seconds(&self) -> u64 {
        let whole = self.0.as_secs();
        let rounded_up = if self.0.subsec_nanos() > 0 {
            whole + 1
        } else {
            whole
        };
        rounded_up.max(1)
    }
}

struct Bucket {
    tokens: f64,
    refreshed: Instant,
}

/// Token buckets by key.
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
    /// When buckets were last swept of idle keys.
    swept: Mutex<Instant>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// Idle buckets are forgotten after this long (they are full again by then).
    const IDLE: Duration = Duration::from_secs(600);

    pub fn new() -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            swept: Mutex::new(Instant::now()),
        }
    }

    /// Takes one request from `key`'s bucket of `per_minute` (burst: a minute's worth).
    pub fn check(&self, key: &str, per_minute: u32) -> Result<(), RetryAfter> {
        self.check_at(key, per_minute, Instant::now())
    }

    fn check_at(&self, key: &str, per_minute: u32, now: Instant) -> Result<(), RetryAfter> {
        self.sweep(now);
        let capacity = f64::from(per_minute.max(1));
        let per_second = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            refreshed: now,
        });
        let elapsed = now
            .saturating_duration_since(bucket.refreshed)
            .as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.refreshed = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err(RetryAfter(Duration::from_secs_f64(missing / per_second)))
        }
    }

    fn sweep(&self, now: Instant) {
        let mut swept = self
            .swept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now.saturating_duration_since(*swept) < Self::IDLE {
            return;
        }
        *swept = now;
        drop(swept);
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|_, bucket| now.saturating_duration_since(bucket.refreshed) < Self::IDLE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_minute_in_a_burst_then_waits() {
        let limiter = RateLimiter::new();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("app", 3, start).is_ok());
        }
        let refusal = limiter.check_at("app", 3, start).expect_err("the fourth");
        assert_eq!(refusal.seconds(), 20);
        assert!(
            limiter
                .check_at("app", 3, start + Duration::from_secs(20))
                .is_ok()
        );
    }

    #[test]
    fn clients_do_not_share_a_bucket() {
        let limiter = RateLimiter::new();
        let start = Instant::now();
        assert!(limiter.check_at("a", 1, start).is_ok());
        assert!(limiter.check_at("a", 1, start).is_err());
        assert!(limiter.check_at("b", 1, start).is_ok());
    }
}
