//! `sluice rule test --pattern P --event E`: does an event pattern match a
//! CloudEvent? Runs locally, no server needed (DESIGN.md, fixed interface:
//! exit 0 match, 1 no match with the failing field, 2 invalid input).

use clap::Subcommand;
use serde_json::Value;
use std::process::ExitCode;

use sluice_dsl::Pattern;

#[derive(Subcommand)]
pub enum RuleCommand {
    /// Test an event pattern against a CloudEvent (as JSON: attributes at
    /// the top level, the payload under "data"). Exit 0: match; 1: no match
    /// (the failing field is printed); 2: invalid pattern or event.
    Test {
        /// The event pattern: JSON text, or @FILE.
        #[arg(long)]
        pattern: String,
        /// The CloudEvent: JSON text, or @FILE.
        #[arg(long)]
        event: String,
    },
}

pub fn run(cmd: RuleCommand) -> ExitCode {
    let RuleCommand::Test { pattern, event } = cmd;
    let invalid = |msg: String| {
        eprintln!("{msg}");
        ExitCode::from(2)
    };
    let pattern = match crate::workflow_cmd::json_arg(&pattern, "--pattern") {
        Ok(v) => v,
        Err(e) => return invalid(format!("error: {e:#}")),
    };
    let event = match crate::workflow_cmd::json_arg(&event, "--event") {
        Ok(v) => v,
        Err(e) => return invalid(format!("error: {e:#}")),
    };
    let compiled = match Pattern::compile(&pattern, "") {
        Ok(p) => p,
        Err(problems) => return invalid(format!("error: the pattern is not valid:\n{problems}")),
    };
    if !event.is_object() {
        return invalid(format!(
            "error: --event must be a CloudEvent as a JSON object (\"specversion\", \"id\", \"source\", \"type\", \"data\", …), not {}",
            kind(&event)
        ));
    }
    match compiled.explain(&event) {
        Ok(()) => {
            println!("match");
            ExitCode::SUCCESS
        }
        Err(m) => {
            println!("no match: {m}");
            ExitCode::from(1)
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Object(_) => "an object",
    }
}
