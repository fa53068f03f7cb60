//! Parallel branches and Map iterations: each child is its own durable
//! frame, so a crash mid-Map re-runs only the iterations that had not
//! finished.

use serde_json::{json, Value};

use super::{resolve, state_type, Machine};
use crate::error::EngineError;
use crate::history::state_event;
use crate::records::{Fork, Frame, Keyed, Phase};
use crate::store::keys;
use sluice_dsl::error::names;
use sluice_dsl::interp::step::{self, MapRequest, RetryState, StepEnv};
use sluice_dsl::model::{State, StateKind};

use sluice_dsl::{StateMachine, StatesError};

impl Machine<'_> {
    fn new_child(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        parent: &Frame,
        slot: usize,
        branch: usize,
        input: Value,
    ) -> Result<Frame, EngineError> {
        let state = resolve(machine, &parent.scope)
            .and_then(|s| s.get(&parent.state))
            .ok_or_else(|| EngineError::Storage("fork state vanished".into()))?;
        let mut scope = parent.scope.clone();
        scope.push((parent.state.clone(), branch));
        let child_scope = resolve(machine, &scope)
            .ok_or_else(|| EngineError::Storage("fork scope vanished".into()))?;
        let start = child_scope.start_at.clone();
        let start_type = child_scope.get(&start).map(state_type).unwrap_or("Pass");
        let rec = self.execution(execution)?;
        let id = rec.next_frame;
        rec.next_frame += 1;
        rec.frames += 1;
        let started = if matches!(state.kind, StateKind::Map(_)) {
            self.event(
                execution,
                parent.entered_event,
                "MapIterationStarted",
                json!({"name": state.name, "index": slot}),
            )?
        } else {
            parent.entered_event
        };
        let entered_event = self.event(
            execution,
            started,
            &state_event(start_type, false),
            json!({"name": start, "input": input}),
        )?;
        let mut scopes = parent.scopes.clone();
        scopes.push(parent.id);
        Ok(Frame {
            id,
            parent: Some((parent.id, slot)),
            scope,
            state: start,
            input,
            retry: RetryState::default(),
            phase: Phase::Ready,
            entered_event,
            attempts: 0,
            failed_fork: None,
            scopes,
        })
    }

    pub(super) fn fork_parallel(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        mut frame: Frame,
        state: &State,
        input: Value,
    ) -> Result<(), EngineError> {
        let StateKind::Parallel(p) = &state.kind else {
            unreachable!("fork_parallel on a Parallel state")
        };
        let n = p.branches.len();
        self.event(
            execution,
            frame.entered_event,
            "ParallelStateStarted",
            json!({"name": state.name}),
        )?;
        frame.phase = Phase::Fork(Fork {
            map: false,
            results: vec![None; n],
            pending: Vec::new(),
            next_item: n,
            running: n,
            max_concurrency: 0,
            tolerance: Default::default(),
            failures: 0,
            run: None,
            keyed: None,
        });
        self.save_frame(execution, &frame)?;
        for b in 0..n {
            let child = self.new_child(execution, machine, &frame, b, b, input.clone())?;
            self.enqueue(execution, &child)?;
        }
        Ok(())
    }

    pub(super) fn fork_map(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        mut frame: Frame,
        state: &State,
        req: MapRequest,
    ) -> Result<(), EngineError> {
        let n = req.items.len();
        self.event(
            execution,
            frame.entered_event,
            "MapStateStarted",
            json!({"name": state.name, "length": n}),
        )?;
        if n == 0 {
            return self.fork_complete(execution, machine, frame, state, Ok(json!([])));
        }
        if req.distributed {
            return self.fork_distributed(execution, machine, frame, state, req);
        }
        // What an earlier attempt of this state (a Retry) left.
        self.take_keyed_results(execution, frame.id)?;
        for (index, item) in req.items.into_iter().enumerate() {
            self.tx
                .put(keys::map_item(execution, frame.id, index), &item)?;
        }
        let input = std::mem::take(&mut frame.input);
        self.tx.put(keys::fork_input(execution, frame.id), &input)?;
        let mut fork = Fork::map(Vec::new(), req.max_concurrency, req.tolerance);
        fork.keyed = Some(Keyed { total: n, done: 0 });
        frame.phase = Phase::Fork(fork);
        self.start_iterations(execution, machine, &mut frame)?;
        self.save_frame(execution, &frame)
    }

    /// The state input of a keyed Map, back in its frame (it is needed
    /// to finish, fail, retry or catch).
    pub(super) fn restore_fork_input(
        &mut self,
        execution: &str,
        frame: &mut Frame,
    ) -> Result<(), EngineError> {
        if let Some(input) = self
            .tx
            .get::<Value>(&keys::fork_input(execution, frame.id))?
        {
            frame.input = input;
        }
        Ok(())
    }

    /// A keyed Map's results in item order; its records are removed.
    fn take_keyed_results(
        &mut self,
        execution: &str,
        frame: u64,
    ) -> Result<Vec<Result<Value, StatesError>>, EngineError> {
        let mut out = Vec::new();
        for key in self
            .tx
            .keys_with_prefix(&keys::map_results_prefix(execution, frame))?
        {
            let r: Option<Result<Value, StatesError>> = self.tx.get(&key)?;
            out.push(r.ok_or_else(|| EngineError::Storage(format!("corrupt record {key}")))?);
            self.tx.remove(key);
        }
        for key in self
            .tx
            .keys_with_prefix(&keys::map_items_prefix(execution, frame))?
        {
            self.tx.remove(key);
        }
        self.tx.remove(keys::fork_input(execution, frame));
        Ok(out)
    }

    /// Start Map iterations up to MaxConcurrency. The caller saves the
    /// frame: the children only run (and report) after the current command.
    pub(super) fn start_iterations(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        frame: &mut Frame,
    ) -> Result<(), EngineError> {
        if matches!(&frame.phase, Phase::Fork(f) if f.run.is_some()) {
            return self.start_distributed(execution, machine, frame);
        }
        loop {
            let Phase::Fork(fork) = &mut frame.phase else {
                return Ok(());
            };
            let limit = if fork.max_concurrency == 0 {
                usize::MAX
            } else {
                fork.max_concurrency as usize
            };
            if fork.running >= limit || fork.next_item >= fork.total() {
                return Ok(());
            }
            if self.over_budget() {
                // The rest are admitted by later commands.
                self.defer(execution, frame.id);
                return Ok(());
            }
            self.steps += 1;
            let index = fork.next_item;
            fork.next_item += 1;
            let item = if fork.keyed.is_some() {
                let done = keys::map_result(execution, frame.id, index);
                if self.tx.get::<Value>(&done)?.is_some() {
                    continue; // succeeded before a redrive
                }
                // The item stays until its iteration succeeds, for a redrive.
                self.tx
                    .get::<Value>(&keys::map_item(execution, frame.id, index))?
                    .ok_or_else(|| EngineError::Storage(format!("map item {index} is missing")))?
            } else {
                if fork.results[index].is_some() {
                    continue; // succeeded before a redrive
                }
                fork.pending[index].clone()
            };
            let Phase::Fork(fork) = &mut frame.phase else {
                unreachable!()
            };
            fork.running += 1;
            let child = self.new_child(execution, machine, frame, index, 0, item)?;
            self.enqueue(execution, &child)?;
        }
    }

    /// A branch or iteration ended; update its Parallel/Map frame.
    /// `definition` is the execution's workflow and version when the caller
    /// has it: a Distributed Map child runs its parent's, and reading the
    /// parent's record for it would cost a copy of the parent's input per
    /// child.
    pub(super) fn child_finished(
        &mut self,
        execution: &str,
        definition: Option<(String, u64)>,
        parent: u64,
        slot: usize,
        result: Result<Value, StatesError>,
    ) -> Result<(), EngineError> {
        let Some(mut frame) = self.load_frame(execution, parent)? else {
            return Ok(());
        };
        let (workflow, version) = match definition {
            Some(d) => d,
            None => {
                let e = &self.execution(execution)?.execution;
                (e.workflow.clone(), e.version)
            }
        };
        let machine = self.definition(&workflow, version)?;
        let state = resolve(&machine, &frame.scope)
            .and_then(|s| s.get(&frame.state))
            .ok_or_else(|| EngineError::Storage("fork state vanished".into()))?;
        let Phase::Fork(fork) = &mut frame.phase else {
            return Ok(());
        };
        if fork.run.is_some() {
            return self.distributed_child_finished(execution, &machine, frame, slot, result);
        }
        fork.running = fork.running.saturating_sub(1);
        let map = fork.map;
        if map {
            let kind = if result.is_ok() {
                "MapIterationSucceeded"
            } else {
                "MapIterationFailed"
            };
            self.event(
                execution,
                frame.entered_event,
                kind,
                json!({"name": state.name, "index": slot}),
            )?;
        }
        let Phase::Fork(fork) = &mut frame.phase else {
            unreachable!()
        };
        let failure = match &result {
            Err(e) if !map => Some(e.clone()),
            Err(e) => {
                fork.failures += 1;
                let total = fork.results.len() as u64;
                if e.error == names::RUNTIME || !fork.tolerance.tolerant() {
                    Some(e.clone())
                } else if fork.tolerance.exceeded(fork.failures, total) {
                    Some(step::map_threshold_error(state, fork.failures, total, e))
                } else {
                    None
                }
            }
            Ok(_) => None,
        };
        if let Some(k) = &mut fork.keyed {
            k.done += 1;
            if result.is_ok() {
                self.tx.remove(keys::map_item(execution, frame.id, slot));
            }
            self.tx
                .put(keys::map_result(execution, frame.id, slot), &result)?;
        } else {
            if result.is_ok() && map {
                fork.pending[slot] = Value::Null; // not needed again
            }
            fork.results[slot] = Some(result);
        }
        if let Some(e) = failure {
            self.restore_fork_input(execution, &mut frame)?;
            self.cancel_children(execution, frame.id)?;
            let kind = if map {
                "MapStateFailed"
            } else {
                "ParallelStateFailed"
            };
            self.event(
                execution,
                frame.entered_event,
                kind,
                json!({"name": state.name, "error": e.error, "cause": e.cause}),
            )?;
            let keyed = matches!(&frame.phase, Phase::Fork(f) if f.keyed.is_some());
            if self.state_failed(execution, &machine, &mut frame, state, e)? {
                // Caught: the Map's records are not needed again.
                if keyed {
                    self.take_keyed_results(execution, frame.id)?;
                }
                self.enqueue(execution, &frame)?;
            }
            return Ok(());
        }
        if map {
            self.start_iterations(execution, &machine, &mut frame)?;
        }
        let Phase::Fork(fork) = &mut frame.phase else {
            unreachable!()
        };
        let tolerance = fork.tolerance;
        let results: Vec<Result<Value, StatesError>> = match fork.keyed {
            Some(k) if k.done < k.total => return self.save_frame(execution, &frame),
            Some(_) => {
                self.restore_fork_input(execution, &mut frame)?;
                self.take_keyed_results(execution, frame.id)?
            }
            None if fork.results.iter().any(Option::is_none) => {
                return self.save_frame(execution, &frame)
            }
            None => fork
                .results
                .drain(..)
                .map(|r| r.expect("all present"))
                .collect(),
        };
        let output = if map {
            step::map_output(state, tolerance, results.len() as u64, results)
        } else {
            results
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        };
        let kind = if map {
            "MapStateSucceeded"
        } else {
            "ParallelStateSucceeded"
        };
        self.event(
            execution,
            frame.entered_event,
            kind,
            json!({"name": state.name}),
        )?;
        self.fork_complete(execution, &machine, frame, state, output)
    }

    /// Finish a Parallel/Map state with the combined output of its children.
    pub(super) fn fork_complete(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        mut frame: Frame,
        state: &State,
        output: Result<Value, StatesError>,
    ) -> Result<(), EngineError> {
        let mut ctx = self.context(execution, machine, &state.name)?;
        let vars = self.scopes(execution, machine, &frame)?;
        let mut env = StepEnv {
            context: &mut ctx,
            vars: &vars,
            rng: &mut self.rng,
            now: self.now,
            payload_limit: self.limits.payload_bytes,
            entered_event: Some(frame.entered_event),
        };
        let exit = output.and_then(|v| step::complete(state, frame.input.clone(), v, &mut env));
        let moved = match exit {
            Ok(exit) => self.exit_state(execution, machine, &mut frame, state, exit)?,
            Err(e) => self.state_failed(execution, machine, &mut frame, state, e)?,
        };
        if moved {
            self.enqueue(execution, &frame)?;
        }
        Ok(())
    }

    /// Redrive a failed Parallel/Map: keep the children that succeeded and
    /// run the others again, from the start of their branch or iteration.
    /// False when there is nothing to keep (the state then runs again whole).
    pub(super) fn refork(
        &mut self,
        execution: &str,
        frame: &mut Frame,
        mut fork: Fork,
    ) -> Result<bool, EngineError> {
        if fork.run.is_some() {
            return self.refork_distributed(execution, frame, fork);
        }
        if fork.keyed.is_some() {
            return self.refork_keyed(execution, frame, fork);
        }
        let kept = fork
            .results
            .iter()
            .filter(|r| matches!(r, Some(Ok(_))))
            .count();
        if kept == 0 || kept == fork.results.len() {
            return Ok(false);
        }
        let (workflow, version) = {
            let e = &self.execution(execution)?.execution;
            (e.workflow.clone(), e.version)
        };
        let machine = self.definition(&workflow, version)?;
        for r in &mut fork.results {
            if !matches!(r, Some(Ok(_))) {
                *r = None;
            }
        }
        fork.failures = 0;
        fork.running = 0;
        frame.retry = RetryState::default();
        let map = fork.map;
        if map {
            fork.next_item = 0;
            frame.phase = Phase::Fork(fork);
            self.start_iterations(execution, &machine, frame)?;
        } else {
            let slots: Vec<usize> = (0..fork.results.len())
                .filter(|&b| fork.results[b].is_none())
                .collect();
            fork.running = slots.len();
            frame.phase = Phase::Fork(fork);
            self.save_frame(execution, frame)?;
            for b in slots {
                let child =
                    self.new_child(execution, &machine, frame, b, b, frame.input.clone())?;
                self.enqueue(execution, &child)?;
            }
        }
        self.save_frame(execution, frame)?;
        Ok(true)
    }

    /// [`Machine::refork`] of a keyed Map: failed results are dropped and
    /// their iterations run again with the items kept for them.
    fn refork_keyed(
        &mut self,
        execution: &str,
        frame: &mut Frame,
        mut fork: Fork,
    ) -> Result<bool, EngineError> {
        let mut kept = 0;
        for key in self
            .tx
            .keys_with_prefix(&keys::map_results_prefix(execution, frame.id))?
        {
            match self.tx.get::<Result<Value, StatesError>>(&key)? {
                Some(Ok(_)) => kept += 1,
                _ => self.tx.remove(key),
            }
        }
        let total = fork.total();
        if kept == 0 || kept == total {
            self.take_keyed_results(execution, frame.id)?;
            return Ok(false);
        }
        let (workflow, version) = {
            let e = &self.execution(execution)?.execution;
            (e.workflow.clone(), e.version)
        };
        let machine = self.definition(&workflow, version)?;
        fork.keyed = Some(Keyed { total, done: kept });
        fork.failures = 0;
        fork.running = 0;
        fork.next_item = 0;
        frame.retry = RetryState::default();
        let input = std::mem::take(&mut frame.input);
        self.tx.put(keys::fork_input(execution, frame.id), &input)?;
        frame.phase = Phase::Fork(fork);
        self.start_iterations(execution, &machine, frame)?;
        self.save_frame(execution, frame)?;
        Ok(true)
    }

    /// Remove every descendant frame of `parent` (fail fast), and abort
    /// the running child executions of a Distributed Map.
    pub(super) fn cancel_children(
        &mut self,
        execution: &str,
        parent: u64,
    ) -> Result<(), EngineError> {
        self.abort_frame_children(execution, parent)?;
        for key in self.tx.keys_with_prefix(&keys::frame_prefix(execution))? {
            let Some(frame) = self.tx.get::<Frame>(&key)? else {
                continue;
            };
            if frame.parent.map(|(p, _)| p) == Some(parent) {
                self.cancel_children(execution, frame.id)?;
                self.drop_scope(execution, frame.id);
                self.tx.remove(key);
                let rec = self.execution(execution)?;
                rec.frames = rec.frames.saturating_sub(1);
            }
        }
        Ok(())
    }
}
