//! # sluice-executors
//!
//! Runs the functions Task states call (`sluice:function:NAME[:ALIAS]`,
//! `arn:aws:lambda:…:function:NAME`, `arn:aws:states:::lambda:invoke`),
//! one module per runtime:
//!
//! - [`process`]: `protocol: "stdio"` (a fresh process per invocation) and
//!   `protocol: "lambda"` (warm processes speaking the AWS Lambda Runtime
//!   API, served by [`lambda`]);
//! - [`wasm`]: WASI preview 1 command modules in wasmtime;
//! - [`http`]: the event POSTed as a binary-mode CloudEvent;
//! - [`http_task`]: the HTTP Task (`arn:aws:states:::http:invoke`).
//!
//! [`Functions`] holds the deployed definitions (the binary feeds it from
//! the engine's catalog or a folder), applies `concurrency`/`maxQueued`
//! ([`limits`]), `timeoutSeconds`, warm pools and idle reaping, and meters
//! every invocation ([`meter`]). It implements the engine's [`Executor`].
//!
//! [`package`] stores uploaded code packages (zip, tar, tar.gz) that
//! functions run from instead of a `codeDir`.

mod functions;
pub mod http;
pub mod http_task;
pub mod lambda;
pub mod limits;
mod load;
pub mod meter;
pub mod names;
pub mod package;
pub mod process;
mod tls;
pub mod wasm;

pub use functions::{function_name, Caller, Deployed, Functions, Outcome};
pub use load::{absolute_body, load_dir};
pub use meter::Meter;
pub use sluice_engine::{Executor, TaskError, TaskInvocation};
