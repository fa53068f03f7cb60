//! `startExecution` tasks in a `--local` run: the child workflow is the file
//! `NAME.asl.json` (or `NAME.json`) in the workflows folder (by default the
//! folder of the workflow being run), run to its end in this process.

use serde_json::Value;
use std::path::PathBuf;

use sluice_dsl::child::{self, ChildSummary};
use sluice_dsl::error::names;
use sluice_dsl::interp::{run, Host, Outcome, RunOptions, TaskCall};
use sluice_dsl::resource::StartWait;
use sluice_dsl::{StateMachine, StatesError};

const REGION_ACCOUNT: &str = "us-east-1:000000000000";

/// Find and run the child; `depth` bounds workflows that start themselves.
pub fn start(
    host: &mut dyn Host,
    dir: Option<&PathBuf>,
    call: &TaskCall,
    wait: StartWait,
    depth: &mut u32,
) -> Result<Value, StatesError> {
    let request = child::start_request(call.payload)?;
    let name = request
        .workflow
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let Some(dir) = dir else {
        return Err(StatesError::new(
            names::TASK_FAILED,
            "no folder of workflows to start children from",
        ));
    };
    let file = [format!("{name}.asl.json"), format!("{name}.json")]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            StatesError::new(
                "StepFunctions.StateMachineDoesNotExistException",
                format!("state '{}' starts workflow '{name}', but neither {name}.asl.json nor {name}.json is in {}; pass --workflows DIR", call.state, dir.display()),
            )
        })?;
    let text = std::fs::read_to_string(&file).map_err(|e| {
        StatesError::new(
            names::TASK_FAILED,
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    let machine = StateMachine::from_json(&text).map_err(|p| {
        StatesError::new(
            names::TASK_FAILED,
            format!("{} is not a valid workflow: {p}", file.display()),
        )
    })?;
    if *depth >= 20 {
        return Err(StatesError::new(
            names::TASK_FAILED,
            "child executions nested more than 20 deep; check for a workflow that starts itself",
        ));
    }
    let exec_name = request
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-child", call.state));
    let arn = format!("arn:aws:states:{REGION_ACCOUNT}:execution:{name}:{exec_name}");
    let start_date = sluice_dsl::timestamp::format(host.now());
    if wait == StartWait::No || call.task_token.is_some() {
        // Not awaited: the child still runs to its end here, before the parent goes on.
        *depth += 1;
        let options = RunOptions {
            execution_name: exec_name.clone(),
            state_machine_name: name.clone(),
            start_time: host.now(),
            ..RunOptions::default()
        };
        let _ = run(&machine, request.input.clone(), &options, host);
        *depth -= 1;
        return Ok(child::started(&arn, &start_date));
    }
    *depth += 1;
    let options = RunOptions {
        execution_name: exec_name.clone(),
        state_machine_name: name.clone(),
        start_time: host.now(),
        ..RunOptions::default()
    };
    let outcome = run(&machine, request.input.clone(), &options, host);
    *depth -= 1;
    let summary = ChildSummary {
        execution_arn: arn,
        state_machine_arn: format!("arn:aws:states:{REGION_ACCOUNT}:stateMachine:{name}"),
        name: exec_name,
        input: request.input,
        outcome: match outcome {
            Outcome::Succeeded(v) => Ok(v),
            Outcome::Failed(e) => Err((
                if e.error == names::TIMEOUT {
                    "TIMED_OUT"
                } else {
                    "FAILED"
                }
                .to_string(),
                e,
            )),
        },
        start_date,
        stop_date: sluice_dsl::timestamp::format(host.now()),
    };
    child::awaited_result(&summary, wait)
}
