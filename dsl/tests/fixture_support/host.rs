//! The scripted host the fixtures run against: a virtual clock that only
//! `sleep` moves, SplitMix64 randomness, scripted task answers, and a record
//! of every sleep and task call.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sluice_dsl::interp::{Host, TaskCall};
use sluice_dsl::{Random, SplitMix64, StatesError};

/// One scripted answer of a Task state.
#[derive(Clone)]
pub enum Response {
    Return(Value),
    Throw(StatesError),
}

/// A Task invocation as the host saw it.
pub struct SeenCall {
    pub state: String,
    pub payload: Value,
    pub retry_count: u32,
}

/// The test host: a virtual clock that only `sleep` moves, SplitMix64
/// randomness, scripted task answers, and a record of sleeps and calls.
pub struct TestHost {
    pub now: DateTime<Utc>,
    pub rng: SplitMix64,
    pub tasks: HashMap<String, Vec<Response>>,
    /// How many answers of each state were consumed.
    used: HashMap<String, usize>,
    pub sleeps: Vec<f64>,
    pub calls: Vec<SeenCall>,
}

impl TestHost {
    pub fn new(start: DateTime<Utc>, seed: u64, tasks: HashMap<String, Vec<Response>>) -> TestHost {
        TestHost {
            now: start,
            rng: SplitMix64(seed),
            tasks,
            used: HashMap::new(),
            sleeps: Vec::new(),
            calls: Vec::new(),
        }
    }
}

impl Host for TestHost {
    fn invoke(&mut self, call: &TaskCall) -> Result<Value, StatesError> {
        self.calls.push(SeenCall {
            state: call.state.to_string(),
            payload: call.payload.clone(),
            retry_count: call.retry_count,
        });
        let Some(list) = self.tasks.get(call.state) else {
            // No script: the task echoes its payload.
            return Ok(call.payload.clone());
        };
        let n = self.used.entry(call.state.to_string()).or_insert(0);
        // Answers are consumed in invocation order; the last one repeats.
        let answer = list[(*n).min(list.len() - 1)].clone();
        *n += 1;
        match answer {
            Response::Return(v) => Ok(v),
            Response::Throw(e) => Err(e),
        }
    }

    fn sleep(&mut self, seconds: f64) {
        self.sleeps.push(seconds);
        if seconds.is_finite() && seconds > 0.0 {
            let nanos = (seconds.min(1.0e9) * 1.0e9) as i64;
            if let Some(t) = self.now.checked_add_signed(Duration::nanoseconds(nanos)) {
                self.now = t;
            }
        }
    }

    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }

    fn random(&mut self) -> &mut dyn Random {
        &mut self.rng
    }
}
