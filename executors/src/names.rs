//! Error names functions fail with, besides the ASL predefined ones
//! (`States.Timeout`, `States.TaskFailed`) and the function's own.

pub use sluice_dsl::error::names::{RUNTIME, TASK_FAILED, TIMEOUT};

/// Too many invocations in flight and in the queue.
pub const THROTTLED: &str = "Sluice.Throttled";
/// The function went over `memoryMb`.
pub const MEMORY_EXCEEDED: &str = "Sandbox.MemoryExceeded";
/// The definition asks for a limit this server cannot enforce
/// (`network: false` under `--isolation off`).
pub const NOT_ENFORCEABLE: &str = "Sandbox.NotEnforceable";
/// No function of that name (or alias/version) is deployed.
pub const NOT_FOUND: &str = "Sluice.FunctionNotFound";
/// A `lambda` process exited, or never reached the Runtime API.
pub const EXIT_ERROR: &str = "Runtime.ExitError";
/// The runtime client reported `/init/error`.
pub const INIT_ERROR: &str = "Runtime.InitError";
/// The function answered, but not with JSON where JSON was needed.
pub const INVALID_RESULT: &str = "Runtime.InvalidResult";
/// `http`: the server answered 5xx (retryable).
pub const HTTP_SERVER_ERROR: &str = "Sluice.HttpServerError";
/// `http`: the server answered 4xx without naming an error.
pub const HTTP_CLIENT_ERROR: &str = "Sluice.HttpClientError";
/// `http`: the server could not be reached (retryable).
pub const HTTP_UNAVAILABLE: &str = "Sluice.HttpUnavailable";
