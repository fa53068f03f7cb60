//! # sluice-dsl
//!
//! Everything users write as JSON, and its pure evaluation: Amazon States
//! Language workflows (parsing, validation with JSON-pointer problems, the
//! I/O pipeline, JSONPath, intrinsic functions, Choice rules, Retry/Catch
//! policy) and an in-memory interpreter. No I/O and no async: callers supply
//! task results, time and randomness.

pub mod child;
pub mod choice;
pub mod depth;
pub mod error;
pub mod eventbridge;
pub mod function;
pub mod interp;
pub mod intrinsic;
pub mod jsonata;
pub mod map_run;
pub mod mocks;
pub mod model;
pub mod path;
pub mod pattern;
pub mod query;
pub mod resource;
pub mod retry;
pub mod source;
pub mod template;
mod text;
pub mod timestamp;
pub mod trigger;
pub mod vars;

pub use error::{Problem, Problems, StatesError};
pub use model::StateMachine;
pub use path::Path;
pub use pattern::{Pattern, PatternSet};
pub use trigger::TriggerRule;

/// A source of randomness, supplied by the caller so this crate stays pure
/// and tests stay deterministic (`States.MathRandom`, `States.UUID`, jitter).
pub trait Random {
    fn next_u64(&mut self) -> u64;
    /// A float uniformly distributed in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A small deterministic generator (SplitMix64) for tests and benchmarks.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl Random for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
