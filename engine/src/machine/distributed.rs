//! The run of a Distributed Map: one child execution per item (or batch),
//! started up to `MaxConcurrency` at a time. The Map's frame keeps only
//! counters ([`MapRun`]); each item and the child of each slot are records
//! of their own, so a run of 10,000 items costs a small frame update per
//! child instead of rewriting 10,000 items each time.

use serde_json::{json, Value};

use super::Machine;
use crate::api::Status;
use crate::error::EngineError;
use crate::records::{Fork, Frame, MapRun, Phase};
use crate::store::keys;
use sluice_dsl::error::names;
use sluice_dsl::interp::step::{self, MapRequest};
use sluice_dsl::model::{State, StateKind};
use sluice_dsl::{StateMachine, StatesError};

/// A Map run's child execution id and how it ended.
type ChildOutcome = (String, Result<Value, StatesError>);

impl Machine<'_> {
    /// Start a Distributed Map's run over `req.items`.
    pub(super) fn fork_distributed(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        mut frame: Frame,
        state: &State,
        req: MapRequest,
    ) -> Result<(), EngineError> {
        let n = req.items.len();
        let run = self.map_run_started(execution, &frame, state, n)?;
        for (index, item) in req.items.into_iter().enumerate() {
            self.tx
                .put(keys::map_item(execution, frame.id, index), &item)?;
        }
        let concurrency = match req.max_concurrency {
            0 => super::map_run::DEFAULT_CONCURRENCY,
            m => m,
        };
        // Kept aside while the run goes on: each child's end rewrites
        // the frame, which then stays small.
        let input = std::mem::take(&mut frame.input);
        self.tx.put(keys::fork_input(execution, frame.id), &input)?;
        let mut fork = Fork::map(Vec::new(), concurrency, req.tolerance);
        fork.run = Some(MapRun {
            id: run,
            total: n,
            succeeded: 0,
        });
        frame.phase = Phase::Fork(fork);
        self.start_distributed(execution, machine, &mut frame)?;
        self.save_frame(execution, &frame)
    }

    /// Start children up to `MaxConcurrency`; slots whose child already
    /// succeeded (before a redrive) are skipped. The caller saves the frame.
    pub(super) fn start_distributed(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        frame: &mut Frame,
    ) -> Result<(), EngineError> {
        loop {
            let Phase::Fork(fork) = &mut frame.phase else {
                return Ok(());
            };
            let total = fork.run.as_ref().map_or(0, |r| r.total);
            if fork.running >= fork.max_concurrency as usize || fork.next_item >= total {
                return Ok(());
            }
            let index = fork.next_item;
            fork.next_item += 1;
            if self.slot_succeeded(execution, frame.id, index)? {
                continue;
            }
            let item: Value = self
                .tx
                .get(&keys::map_item(execution, frame.id, index))?
                .unwrap_or(Value::Null);
            if let Phase::Fork(fork) = &mut frame.phase {
                fork.running += 1;
            }
            let child = self.start_map_child(execution, machine, frame, index, item)?;
            self.tx
                .put(keys::map_slot(execution, frame.id, index), &child)?;
            self.run_map_child(&child)?;
        }
    }

    fn slot_succeeded(
        &mut self,
        execution: &str,
        frame: u64,
        index: usize,
    ) -> Result<bool, EngineError> {
        let Some(child) = self
            .tx
            .get::<String>(&keys::map_slot(execution, frame, index))?
        else {
            return Ok(false);
        };
        Ok(matches!(
            self.execution(&child).map(|r| r.status()),
            Ok(Status::Succeeded)
        ))
    }

    /// A child execution of the run ended.
    pub(super) fn distributed_child_finished(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        mut frame: Frame,
        slot: usize,
        result: Result<Value, StatesError>,
    ) -> Result<(), EngineError> {
        let state = super::resolve(machine, &frame.scope)
            .and_then(|s| s.get(&frame.state))
            .ok_or_else(|| EngineError::Storage("map state vanished".into()))?;
        let Phase::Fork(fork) = &mut frame.phase else {
            return Ok(());
        };
        let Some(run) = fork.run.as_mut() else {
            return Ok(());
        };
        fork.running = fork.running.saturating_sub(1);
        let total = run.total as u64;
        let failure = match &result {
            Ok(_) => {
                run.succeeded += 1;
                self.tx.remove(keys::map_item(execution, frame.id, slot));
                None
            }
            Err(e) => {
                fork.failures += 1;
                if e.error == names::RUNTIME || !fork.tolerance.tolerant() {
                    Some(e.clone())
                } else if fork.tolerance.exceeded(fork.failures, total) {
                    Some(step::map_threshold_error(state, fork.failures, total, e))
                } else {
                    None
                }
            }
        };
        if let Some(e) = failure {
            self.restore_fork_input(execution, &mut frame)?;
            self.tx.remove(keys::fork_input(execution, frame.id));
            return self.map_run_failed(execution, machine, frame, state, e);
        }
        self.start_distributed(execution, machine, &mut frame)?;
        let Phase::Fork(fork) = &frame.phase else {
            return Ok(());
        };
        let done = fork.run.as_ref().map_or(0, |r| r.succeeded) + fork.failures as usize;
        if fork.running > 0 || done < total as usize {
            return self.save_frame(execution, &frame);
        }
        let tolerance = fork.tolerance;
        self.restore_fork_input(execution, &mut frame)?;
        self.tx.remove(keys::fork_input(execution, frame.id));
        let outcomes = self.map_run_outcomes(execution, frame.id)?;
        if matches!(&state.kind, StateKind::Map(m) if m.result_writer.is_some()) {
            return self.write_results(execution, machine, frame, state, outcomes);
        }
        let results = outcomes.into_iter().map(|(_, r)| r).collect();
        let output = step::map_output(state, tolerance, total, results);
        self.map_run_ended(execution, &frame, state, output.as_ref().err())?;
        if output.is_ok() {
            self.drop_map_run(execution, frame.id)?;
        }
        self.fork_complete(execution, machine, frame, state, output)
    }

    /// The run failed past its tolerance: abort the children still running.
    fn map_run_failed(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        mut frame: Frame,
        state: &State,
        e: StatesError,
    ) -> Result<(), EngineError> {
        self.save_frame(execution, &frame)?;
        self.abort_frame_children(execution, frame.id)?;
        self.map_run_ended(execution, &frame, state, Some(&e))?;
        self.event(
            execution,
            frame.entered_event,
            "MapStateFailed",
            json!({"name": state.name, "error": e.error, "cause": e.cause}),
        )?;
        if self.state_failed(execution, machine, &mut frame, state, e)? {
            self.enqueue(execution, &frame)?;
        }
        Ok(())
    }

    /// `MapRunSucceeded` or `MapRunFailed` in the parent's history.
    pub(super) fn map_run_ended(
        &mut self,
        execution: &str,
        frame: &Frame,
        state: &State,
        error: Option<&StatesError>,
    ) -> Result<(), EngineError> {
        let (kind, details) = match error {
            None => ("MapRunSucceeded", json!({"name": state.name})),
            Some(e) => (
                "MapRunFailed",
                json!({"name": state.name, "error": e.error, "cause": e.cause}),
            ),
        };
        self.event(execution, frame.entered_event, kind, details)?;
        Ok(())
    }

    /// Each slot's child and how it ended, in item order.
    pub(super) fn map_run_outcomes(
        &mut self,
        execution: &str,
        frame: u64,
    ) -> Result<Vec<ChildOutcome>, EngineError> {
        let mut out = Vec::new();
        for child in self.slot_children(execution, frame)? {
            let e = self.execution(&child)?.execution.clone();
            let outcome = match e.status {
                Status::Succeeded => Ok(e.output.unwrap_or(Value::Null)),
                _ => Err(StatesError::new(
                    e.error.unwrap_or_default(),
                    e.cause.unwrap_or_default(),
                )),
            };
            out.push((child, outcome));
        }
        Ok(out)
    }

    /// A run that succeeded needs its items and slots no more (the children
    /// stay listed under the parent, `keys::child`).
    pub(super) fn drop_map_run(&mut self, execution: &str, frame: u64) -> Result<(), EngineError> {
        for prefix in [
            keys::map_slots_prefix(execution, frame),
            keys::map_items_prefix(execution, frame),
        ] {
            for key in self.tx.keys_with_prefix(&prefix)? {
                self.tx.remove(key);
            }
        }
        Ok(())
    }

    /// The children of the run that are still running.
    pub(super) fn running_map_children(
        &mut self,
        execution: &str,
        frame: u64,
    ) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        for child in self.slot_children(execution, frame)? {
            if matches!(
                self.execution(&child).map(|r| r.status()),
                Ok(Status::Running)
            ) {
                out.push(child);
            }
        }
        Ok(out)
    }

    /// The child execution of each slot that has one, in item order.
    fn slot_children(&mut self, execution: &str, frame: u64) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        for key in self
            .tx
            .keys_with_prefix(&keys::map_slots_prefix(execution, frame))?
        {
            if let Some(child) = self.tx.get::<String>(&key)? {
                out.push(child);
            }
        }
        Ok(out)
    }

    /// Redrive a failed Distributed Map: the slots whose child succeeded are
    /// kept, the others run again with a new child.
    pub(super) fn refork_distributed(
        &mut self,
        execution: &str,
        frame: &mut Frame,
        mut fork: Fork,
    ) -> Result<bool, EngineError> {
        let (workflow, version) = {
            let e = &self.execution(execution)?.execution;
            (e.workflow.clone(), e.version)
        };
        let machine = self.definition(&workflow, version)?;
        let succeeded = self
            .map_run_outcomes(execution, frame.id)?
            .iter()
            .filter(|(_, r)| r.is_ok())
            .count();
        let Some(run) = fork.run.as_mut() else {
            return Ok(false);
        };
        if succeeded == 0 || succeeded == run.total {
            return Ok(false);
        }
        run.succeeded = succeeded;
        fork.failures = 0;
        fork.running = 0;
        fork.next_item = 0;
        frame.retry = Default::default();
        frame.phase = Phase::Fork(fork);
        self.start_distributed(execution, &machine, frame)?;
        self.save_frame(execution, frame)?;
        Ok(true)
    }
}
