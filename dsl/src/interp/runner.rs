//! The in-memory run loop over [`super::step`]. Map iterations and Parallel
//! branches run one after another (deterministic order); the durable engine
//! runs the same steps concurrently and persists what lies between them.
//!
//! Variables live in a stack of scopes: the workflow's, then one per
//! Parallel branch or Map iteration being run, which reads the scopes
//! around it and is dropped when it ends. A Distributed Map's iterations
//! are child executions and start from an empty stack.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::borrow::Cow;

use super::step::{self, Entered, Exit, OnError, RetryState, StepEnv};
use super::{context, Host, Outcome, RunOptions, TaskCall};
use crate::error::{names, StatesError};
use crate::model::*;
use crate::vars::{Assigned, Scopes};

pub(super) struct Runner<'a> {
    machine: &'a StateMachine,
    options: &'a RunOptions,
    host: &'a mut dyn Host,
    ctx: Value,
    scopes: Scopes,
    transitions: u64,
    deadline: Option<DateTime<Utc>>,
}

impl<'a> Runner<'a> {
    pub fn new(machine: &'a StateMachine, options: &'a RunOptions, host: &'a mut dyn Host) -> Self {
        let limit = match (machine.timeout_seconds, options.max_seconds) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let deadline = limit.map(|s| {
            options.start_time + chrono::Duration::seconds(s.min(i64::MAX as u64 / 1000) as i64)
        });
        Runner {
            machine,
            options,
            host,
            ctx: Value::Null,
            scopes: Scopes(vec![Map::new()]),
            transitions: 0,
            deadline,
        }
    }

    pub fn run(mut self, input: Value) -> Outcome {
        // Only built when something can read it (`$$` appears in the
        // definition); otherwise it stays null and every update is a no-op.
        if self.machine.uses_context {
            self.ctx = context::new(self.options, &input);
        }
        let result = crate::depth::check(&input, "The input to the execution")
            .map_err(StatesError::runtime)
            .and_then(|()| {
                super::pipeline::check_size(
                    &input,
                    self.options.payload_limit,
                    "input to the execution",
                )
            })
            .and_then(|()| self.run_scope(&self.machine.scope, input, true));
        match result {
            Ok(v) => Outcome::Succeeded(v),
            Err(e) => Outcome::Failed(e),
        }
    }

    /// Run `scope` from its start. `input_checked`: the input already passed
    /// the size check (the execution input does; a branch's or an
    /// iteration's does not).
    fn run_scope(
        &mut self,
        scope: &Scope,
        mut input: Value,
        mut input_checked: bool,
    ) -> Result<Value, StatesError> {
        let mut name = scope.start_at.clone();
        loop {
            let state = scope
                .get(&name)
                .ok_or_else(|| StatesError::runtime(format!("no state named '{name}'")))?;
            self.transitions += 1;
            if self.transitions > self.options.max_transitions {
                return Err(StatesError::runtime(format!(
                    "the execution exceeded {} state transitions; check for a loop",
                    self.options.max_transitions
                )));
            }
            if let Some(deadline) = self.deadline {
                if self.host.now() >= deadline {
                    return Err(StatesError::new(
                        names::TIMEOUT,
                        "The execution timed out (TimeoutSeconds)",
                    ));
                }
            }
            if self.machine.uses_context {
                let now = crate::timestamp::format(self.host.now());
                let retries = matches!(
                    state.kind,
                    StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_)
                );
                context::enter_state(&mut self.ctx, &state.name, &now, retries);
            }
            self.host.state_entered(state, &input);
            let exit = self.run_state(state, input, input_checked)?;
            self.host.state_exited(state, &exit.output);
            self.assign(state, exit.assigned)?;
            match exit.next {
                Some(next) => {
                    name = next;
                    input = exit.output;
                    // Every state checks the size of the output it hands on.
                    input_checked = true;
                }
                None => return Ok(exit.output),
            }
        }
    }

    /// Apply what a state assigned to the innermost scope.
    fn assign(&mut self, state: &State, assigned: Option<Assigned>) -> Result<(), StatesError> {
        let (Some(assigned), Some(scope)) = (assigned, self.scopes.0.last_mut()) else {
            return Ok(());
        };
        crate::vars::apply(&state.name, scope, assigned)
    }

    /// Run one state to its exit, retrying and catching as its policy says.
    fn run_state(
        &mut self,
        state: &State,
        raw: Value,
        input_checked: bool,
    ) -> Result<Exit, StatesError> {
        if !matches!(
            state.kind,
            StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_)
        ) {
            return self.run_simple(state, raw, input_checked);
        }
        let mut retry = RetryState::default();
        loop {
            let attempt = self.attempt(state, &raw, retry.retries);
            let error = match attempt {
                Ok(exit) => return Ok(exit),
                Err(e) => e,
            };
            let now = self.host.now();
            let mut env = self.env_at(now);
            match step::on_error(state, raw.clone(), error, &mut retry, &mut env) {
                OnError::Retry { delay_seconds } => {
                    self.host.sleep(delay_seconds);
                    if self.machine.uses_context {
                        context::set_retry_count(&mut self.ctx, retry.retries);
                    }
                }
                OnError::Caught(exit) => return Ok(exit),
                OnError::Fail(e) => return Err(e),
            }
        }
    }

    /// What a step may read and change, as of `now`.
    fn env_at(&mut self, now: DateTime<Utc>) -> StepEnv<'_> {
        StepEnv {
            context: &mut self.ctx,
            vars: &self.scopes,
            rng: self.host.random(),
            now,
            payload_limit: self.options.payload_limit,
            entered_event: None,
        }
    }

    /// Pass, Choice, Wait, Succeed and Fail: no Retry or Catch, so one
    /// attempt that may consume the input (no copy of it is kept).
    fn run_simple(
        &mut self,
        state: &State,
        raw: Value,
        input_checked: bool,
    ) -> Result<Exit, StatesError> {
        let now = self.host.now();
        let mut env = self.env_at(now);
        match step::enter_owned(state, raw, input_checked, &mut env)? {
            Entered::Done(exit) => Ok(exit),
            Entered::Wait {
                until,
                output,
                assigned,
            } => self.wait_then_finish(state, until, output, assigned, now),
            _ => unreachable!("only Task, Parallel and Map states run tasks or children"),
        }
    }

    /// A Wait state: let the host's clock reach `until`, then leave.
    fn wait_then_finish(
        &mut self,
        state: &State,
        until: DateTime<Utc>,
        output: Value,
        assigned: Option<Assigned>,
        now: DateTime<Utc>,
    ) -> Result<Exit, StatesError> {
        let ms = (until - self.host.now()).num_milliseconds();
        if ms > 0 {
            self.host.sleep(ms as f64 / 1000.0);
        }
        let env = self.env_at(now);
        step::finish(state, output, assigned, &env)
    }

    /// One attempt at a state: enter it, do what it asks, complete it.
    fn attempt(&mut self, state: &State, raw: &Value, retries: u32) -> Result<Exit, StatesError> {
        let now = self.host.now();
        let mut env = self.env_at(now);
        let mut entered = step::enter(state, raw, retries, &mut env)?;
        if let Entered::ReadItems(request) = &entered {
            let items = self.host.read_items(request)?;
            let now = self.host.now();
            let mut env = self.env_at(now);
            entered = Entered::Map(step::items_read(state, raw, items, &mut env)?);
        }
        let result = match entered {
            Entered::Done(exit) => return Ok(exit),
            Entered::Wait {
                until,
                output,
                assigned,
            } => {
                return self.wait_then_finish(state, until, output, assigned, now);
            }
            Entered::Task(request) => {
                let StateKind::Task(t) = &state.kind else {
                    unreachable!("only Task states request tasks")
                };
                let call = TaskCall {
                    state: &state.name,
                    resource: &t.resource,
                    payload: &request.payload,
                    retry_count: retries,
                    task_token: request.task_token.as_deref(),
                    timeout_seconds: request.timeout_seconds,
                    heartbeat_seconds: request.heartbeat_seconds,
                };
                self.host.invoke(&call)?
            }
            Entered::Parallel { input } => {
                let StateKind::Parallel(p) = &state.kind else {
                    unreachable!("only Parallel states fork branches")
                };
                let mut outputs = Vec::with_capacity(p.branches.len());
                for branch in &p.branches {
                    outputs.push(self.run_child(branch, input.clone(), false)?);
                }
                Value::Array(outputs)
            }
            Entered::Map(request) => self.run_map(state, raw, request)?,
            Entered::ReadItems(_) => unreachable!("items were read above"),
        };
        let now = self.host.now();
        let mut env = self.env_at(now);
        step::complete_cow(state, Cow::Borrowed(raw), result, &mut env)
    }

    /// Run a branch or iteration in a scope of its own (for a Distributed
    /// Map, with no outer variables at all).
    fn run_child(
        &mut self,
        scope: &Scope,
        input: Value,
        isolated: bool,
    ) -> Result<Value, StatesError> {
        let saved_state = self.ctx.get("State").cloned();
        let outer = if isolated {
            std::mem::take(&mut self.scopes.0)
        } else {
            Vec::new()
        };
        self.scopes.0.push(Map::new());
        let out = self.run_scope(scope, input, false);
        self.scopes.0.pop();
        if isolated {
            self.scopes.0 = outer;
        }
        if let (Some(saved), Value::Object(map)) = (saved_state, &mut self.ctx) {
            map.insert("State".into(), saved);
        }
        out
    }

    fn run_map(
        &mut self,
        state: &State,
        raw: &Value,
        request: step::MapRequest,
    ) -> Result<Value, StatesError> {
        let StateKind::Map(m) = &state.kind else {
            unreachable!("only Map states iterate")
        };
        let total = request.items.len() as u64;
        let mut outcomes = Vec::with_capacity(request.items.len());
        let mut failures = 0;
        for item in request.items {
            let out = self.run_child(&m.processor, item, request.distributed);
            failures += u64::from(out.is_err());
            outcomes.push(out);
            // Stop as soon as the Map has failed, as AWS does.
            if request.tolerance.exceeded(failures, total) {
                break;
            }
        }
        let now = self.host.now();
        let mut env = self.env_at(now);
        let writer = step::write_request(state, raw, &mut env)?;
        match writer {
            None => step::map_output(state, request.tolerance, total, outcomes),
            Some(w) => {
                // The results go to the bucket even when the Map fails.
                let failed =
                    step::map_output(state, request.tolerance, total, outcomes.clone()).err();
                let details = self.host.write_results(state, &w, &outcomes)?;
                match failed {
                    Some(e) => Err(e),
                    None => Ok(details),
                }
            }
        }
    }
}
