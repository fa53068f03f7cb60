//! EXPRESS executions, the writer's part: a durable start record and a
//! durable end record, nothing in between. The run itself happens in
//! memory ([`Action::RunExpress`], `runtime/express.rs`), with no frames,
//! no timers and no stored history; a crash before the end record runs it
//! again from its input (at least once, as Step Functions documents for
//! EXPRESS workflows).

use serde_json::Value;
use std::sync::Arc;

use super::{now_string, Action, Machine};
use crate::api::Status;
use crate::error::EngineError;
use crate::records::ExecutionRecord;
use crate::store::keys;
use sluice_dsl::{StateMachine, StatesError};

/// How long an EXPRESS execution may run: Step Functions' limit.
pub const EXPRESS_MAX_SECONDS: u64 = 300;

/// An EXPRESS execution to run in memory, as its start record holds it.
#[derive(Debug, Clone)]
pub(crate) struct ExpressRun {
    pub execution: String,
    pub workflow: String,
    pub name: String,
    pub input: Value,
    pub started_ms: i64,
    pub machine: Arc<StateMachine>,
}

/// How an EXPRESS run ended.
#[derive(Debug, Clone)]
pub(crate) enum ExpressEnd {
    Succeeded(Value),
    Failed(StatesError),
    TimedOut(StatesError),
}

impl Machine<'_> {
    /// Refuse what EXPRESS workflows cannot run (the waiting task
    /// patterns), with the JSON pointers of the states.
    pub(super) fn check_express(definition: &Value) -> Result<(), EngineError> {
        let problems = sluice_dsl::resource::express_unsupported(definition);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Invalid(problems))
        }
    }

    /// The start of an EXPRESS execution, whose record `rec` the caller
    /// built: stored with its name and RUNNING marker, then run once the
    /// batch is durable.
    pub(super) fn start_express(
        &mut self,
        mut rec: ExecutionRecord,
        machine: Arc<StateMachine>,
    ) -> Result<(), EngineError> {
        let id = rec.execution.execution_id.to_string();
        rec.express = true;
        rec.frames = 0;
        self.saved.entry(id.clone()).or_insert(None);
        if let Some(link) = &rec.child_of {
            self.tx
                .put(keys::child(&link.execution, rec.started_ms, &id), &0)?;
        }
        let e = &rec.execution;
        self.tx.put(keys::name(&e.workflow, &e.name), &id)?;
        self.tx.mark_new(keys::running(&id));
        self.tx.put(keys::running(&id), &true)?;
        self.actions
            .push(Action::RunExpress(Box::new(express_run(&rec, machine))));
        self.executions.insert(id, rec);
        Ok(())
    }

    /// An EXPRESS run ended in memory: record its end. A run whose
    /// execution is no longer RUNNING (stopped meanwhile, or a second run
    /// after a recovery) changes nothing.
    pub fn express_done(&mut self, execution: &str, end: ExpressEnd) -> Result<(), EngineError> {
        let rec = match self.execution(execution) {
            Ok(rec) => rec,
            Err(EngineError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if rec.status() != Status::Running || !rec.express {
            tracing::debug!(execution, "an EXPRESS run ended after its execution did");
            return Ok(());
        }
        let (status, result) = match end {
            ExpressEnd::Succeeded(output) => (Status::Succeeded, Ok(output)),
            ExpressEnd::Failed(e) => (Status::Failed, Err(e)),
            ExpressEnd::TimedOut(e) => (Status::TimedOut, Err(e)),
        };
        self.end_express(execution, status, result)
    }

    /// Set the end of an EXPRESS execution's record (also for a stop).
    pub(super) fn end_express(
        &mut self,
        execution: &str,
        status: Status,
        result: Result<Value, StatesError>,
    ) -> Result<(), EngineError> {
        let now = now_string(self.now);
        let rec = self.execution(execution)?;
        rec.execution.status = status;
        rec.execution.stopped_at = Some(now);
        match &result {
            Ok(output) => rec.execution.output = Some(output.clone()),
            Err(e) => {
                rec.execution.error = (!e.error.is_empty()).then(|| e.error.clone());
                rec.execution.cause = (!e.cause.is_empty()).then(|| e.cause.clone());
            }
        }
        self.tx.remove(keys::running(execution));
        self.actions.push(Action::Finished {
            execution: execution.to_string(),
        });
        self.report_to_parent(execution, result)
    }
}

/// The run of an EXPRESS execution's record (at its start, or again at
/// recovery).
pub(crate) fn express_run(rec: &ExecutionRecord, machine: Arc<StateMachine>) -> ExpressRun {
    let e = &rec.execution;
    ExpressRun {
        execution: e.execution_id.to_string(),
        workflow: e.workflow.clone(),
        name: e.name.clone(),
        input: e.input.clone(),
        started_ms: rec.started_ms,
        machine,
    }
}
