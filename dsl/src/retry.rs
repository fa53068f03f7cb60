//! Retry and Catch policy: which errors a retrier or catcher handles, and how
//! long to wait before each retry.

use crate::error::names;
use crate::model::ResultPath;
use crate::Random;

/// `JitterStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    #[default]
    None,
    /// The delay is drawn uniformly from `[0, computed delay)`.
    Full,
}

/// One entry of a `Retry` array.
#[derive(Debug, Clone)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    /// Seconds before the first retry (default 1).
    pub interval_seconds: u64,
    /// Retries allowed by this retrier (default 3; 0 means never).
    pub max_attempts: u64,
    /// Multiplier of the interval per retry (default 2.0).
    pub backoff_rate: f64,
    /// Upper bound of any single delay, in seconds.
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

impl Default for Retrier {
    fn default() -> Self {
        Retrier {
            error_equals: Vec::new(),
            interval_seconds: 1,
            max_attempts: 3,
            backoff_rate: 2.0,
            max_delay_seconds: None,
            jitter: Jitter::None,
        }
    }
}

impl Retrier {
    /// The delay in seconds before retry number `retry` (0 for the first
    /// retry of this retrier): `IntervalSeconds × BackoffRate^retry`, capped
    /// by `MaxDelaySeconds`, then jittered.
    pub fn delay_seconds(&self, retry: u64, rng: &mut dyn Random) -> f64 {
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        let mut delay = self.interval_seconds as f64 * self.backoff_rate.powi(exponent);
        if let Some(max) = self.max_delay_seconds {
            delay = delay.min(max as f64);
        }
        if !delay.is_finite() {
            delay = f64::MAX;
        }
        match self.jitter {
            Jitter::None => delay,
            Jitter::Full => delay * rng.next_f64(),
        }
    }
}

/// One entry of a `Catch` array.
#[derive(Debug, Clone)]
pub struct Catcher {
    /// `Assign` of the catcher: variables set when it catches.
    pub assign: Option<crate::model::Shape>,
    /// `Output` of a JSONata catcher (default: the error output).
    pub output: Option<crate::query::JTemplate>,
    pub error_equals: Vec<String>,
    /// Where the error output `{"Error","Cause"}` goes in the state's input.
    pub result_path: ResultPath,
    pub next: String,
}

/// Does an `ErrorEquals` list handle `error`? AWS's rules, as it runs them:
/// - `States.ALL` matches every error except `States.Runtime`, which is
///   terminal. (The guide also calls `States.DataLimitExceeded` terminal,
///   but executions recorded against AWS show `States.ALL` catching a task
///   result over the size limit; see docs/asl-compatibility.md.)
/// - `States.TaskFailed` matches every error except `States.Timeout` and
///   `States.DataLimitExceeded`.
/// - Any other name matches itself exactly.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    if error == names::RUNTIME {
        return false;
    }
    error_equals.iter().any(|name| match name.as_str() {
        names::ALL => true,
        names::TASK_FAILED => error != names::TIMEOUT && error != names::DATA_LIMIT_EXCEEDED,
        other => other == error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SplitMix64;

    #[test]
    fn exponential_backoff_with_cap() {
        let r = Retrier {
            interval_seconds: 3,
            backoff_rate: 2.0,
            max_delay_seconds: Some(10),
            ..Default::default()
        };
        let mut rng = SplitMix64(1);
        let d: Vec<f64> = (0..4).map(|n| r.delay_seconds(n, &mut rng)).collect();
        assert_eq!(d, vec![3.0, 6.0, 10.0, 10.0]);
    }

    #[test]
    fn full_jitter_stays_below_the_delay() {
        let r = Retrier {
            interval_seconds: 4,
            jitter: Jitter::Full,
            ..Default::default()
        };
        let mut rng = SplitMix64(9);
        for n in 0..5 {
            let d = r.delay_seconds(n, &mut rng);
            assert!((0.0..4.0 * 2f64.powi(n as i32)).contains(&d));
        }
    }

    #[test]
    fn matching_rules() {
        let all = vec!["States.ALL".to_string()];
        assert!(error_matches(&all, "ValueError"));
        assert!(error_matches(&all, "States.Timeout"));
        assert!(!error_matches(&all, "States.Runtime"));
        assert!(error_matches(&all, "States.DataLimitExceeded"));
        assert!(!error_matches(
            &["States.TaskFailed".to_string()],
            "States.DataLimitExceeded"
        ));
        let tf = vec!["States.TaskFailed".to_string()];
        assert!(error_matches(&tf, "ValueError"));
        assert!(!error_matches(&tf, "States.Timeout"));
        assert!(error_matches(
            &["States.DataLimitExceeded".to_string()],
            "States.DataLimitExceeded"
        ));
    }
}
