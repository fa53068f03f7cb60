//! The in-memory run loop. Map iterations and Parallel branches run one after
//! another (deterministic order); the durable engine runs them concurrently.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::borrow::Cow;

use super::pipeline::{check_size, error_output, merge_result, select, shape};
use super::{context, Host, Outcome, RunOptions, TaskCall};
use crate::error::{names, StatesError};
use crate::model::*;
use crate::path::preview;
use crate::retry::{error_matches, Catcher, Retrier};

pub(super) struct Runner<'a> {
    machine: &'a StateMachine,
    options: &'a RunOptions,
    host: &'a mut dyn Host,
    ctx: Value,
    transitions: u64,
    deadline: Option<DateTime<Utc>>,
}

/// Where a state sends the run.
enum Step<'s> {
    Next(&'s str, Value),
    End(Value),
}

impl<'a> Runner<'a> {
    pub fn new(machine: &'a StateMachine, options: &'a RunOptions, host: &'a mut dyn Host) -> Self {
        let deadline = machine
            .timeout_seconds
            .map(|s| options.start_time + chrono::Duration::seconds(s.min(i64::MAX as u64) as i64));
        Runner {
            machine,
            options,
            host,
            ctx: Value::Null,
            transitions: 0,
            deadline,
        }
    }

    pub fn run(mut self, input: Value) -> Outcome {
        self.ctx = context::new(self.options, &input);
        let result = check_size(&input, self.options.payload_limit, "input to the execution")
            .and_then(|()| self.run_scope(&self.machine.scope, input));
        match result {
            Ok(v) => Outcome::Succeeded(v),
            Err(e) => Outcome::Failed(e),
        }
    }

    fn run_scope(&mut self, scope: &Scope, mut input: Value) -> Result<Value, StatesError> {
        let mut name: &str = &scope.start_at;
        loop {
            let state = scope
                .get(name)
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
                context::enter_state(&mut self.ctx, &state.name, &now);
            }
            match self.run_state(state, input)? {
                Step::Next(next, out) => {
                    name = next;
                    input = out;
                }
                Step::End(out) => return Ok(out),
            }
        }
    }

    fn finish<'s>(&self, state: &'s State, output: Value) -> Result<Step<'s>, StatesError> {
        check_size(
            &output,
            self.options.payload_limit,
            &format!("output of state '{}'", state.name),
        )?;
        Ok(match &state.transition {
            Some(Transition::Next(n)) => Step::Next(n, output),
            _ => Step::End(output),
        })
    }

    fn run_state<'s>(&mut self, state: &'s State, raw: Value) -> Result<Step<'s>, StatesError> {
        match &state.kind {
            StateKind::Pass(p) => {
                let effective = select(&state.input_path, &raw, &self.ctx, "InputPath")?;
                let result = match &p.result {
                    Some(r) => r.clone(),
                    None => shape(
                        p.parameters.as_ref(),
                        effective,
                        &self.ctx,
                        self.host.random(),
                    )?,
                };
                let merged = merge_result(&p.result_path, raw, result)?;
                let out =
                    select(&state.output_path, &merged, &self.ctx, "OutputPath")?.into_owned();
                self.finish(state, out)
            }
            StateKind::Choice(c) => {
                let effective = select(&state.input_path, &raw, &self.ctx, "InputPath")?;
                let mut next = None;
                for branch in &c.choices {
                    if branch.condition.evaluate(&effective, &self.ctx)? {
                        next = Some(branch.next.as_str());
                        break;
                    }
                }
                let next = match next.or(c.default.as_deref()) {
                    Some(n) => n,
                    None => {
                        return Err(StatesError::new(
                            names::NO_CHOICE_MATCHED,
                            format!(
                            "No Choice Rules matched and no Default was specified in state '{}'",
                            state.name
                        ),
                        ))
                    }
                };
                let out =
                    select(&state.output_path, &effective, &self.ctx, "OutputPath")?.into_owned();
                check_size(
                    &out,
                    self.options.payload_limit,
                    &format!("output of state '{}'", state.name),
                )?;
                Ok(Step::Next(next, out))
            }
            StateKind::Wait(w) => {
                let effective =
                    select(&state.input_path, &raw, &self.ctx, "InputPath")?.into_owned();
                let seconds = self.wait_seconds(w, &effective)?;
                if seconds > 0.0 {
                    self.host.sleep(seconds);
                }
                let out =
                    select(&state.output_path, &effective, &self.ctx, "OutputPath")?.into_owned();
                self.finish(state, out)
            }
            StateKind::Succeed => {
                let effective = select(&state.input_path, &raw, &self.ctx, "InputPath")?;
                let out =
                    select(&state.output_path, &effective, &self.ctx, "OutputPath")?.into_owned();
                check_size(
                    &out,
                    self.options.payload_limit,
                    &format!("output of state '{}'", state.name),
                )?;
                Ok(Step::End(out))
            }
            StateKind::Fail(f) => {
                let error = self.fail_string(f.error.as_ref(), &raw, "ErrorPath")?;
                let cause = self.fail_string(f.cause.as_ref(), &raw, "CausePath")?;
                Err(StatesError::new(error, cause))
            }
            StateKind::Task(t) => self.with_retry(state, &t.result, raw, |r, raw, retries| {
                r.task_attempt(state, t, raw, retries)
            }),
            StateKind::Parallel(p) => self.with_retry(state, &p.result, raw, |r, raw, _| {
                r.parallel_attempt(state, p, raw)
            }),
            StateKind::Map(m) => self.with_retry(state, &m.result, raw, |r, raw, _| {
                r.map_attempt(state, m, raw)
            }),
        }
    }

    fn fail_string(
        &mut self,
        src: Option<&StringSource>,
        raw: &Value,
        field: &str,
    ) -> Result<String, StatesError> {
        let value = match src {
            None => return Ok(String::new()),
            Some(StringSource::Fixed(s)) => return Ok(s.clone()),
            Some(StringSource::Path(p)) => p.select(raw, &self.ctx)?,
            Some(StringSource::Intrinsic(f)) => f.eval(raw, &self.ctx, self.host.random())?,
        };
        match value {
            Value::String(s) => Ok(s),
            other => Err(StatesError::runtime(format!(
                "{field} must select a string, found {}",
                preview(&other)
            ))),
        }
    }

    fn wait_seconds(&mut self, w: &WaitState, input: &Value) -> Result<f64, StatesError> {
        let until = |runner: &mut Self, t: DateTime<chrono::FixedOffset>| {
            let ms = (t.to_utc() - runner.host.now()).num_milliseconds();
            (ms.max(0) as f64) / 1000.0
        };
        match w {
            WaitState::Seconds(s) => Ok(*s as f64),
            WaitState::Timestamp(t) => Ok(until(self, *t)),
            WaitState::SecondsPath(p) => {
                let v = p.select(input, &self.ctx)?;
                match v.as_u64() {
                    Some(n) => Ok(n as f64),
                    None => Err(StatesError::runtime(format!(
                        "Wait SecondsPath '{p}' must select a non-negative whole number of seconds, found {}",
                        preview(&v)
                    ))),
                }
            }
            WaitState::TimestampPath(p) => {
                let v = p.select(input, &self.ctx)?;
                match v.as_str().and_then(crate::timestamp::parse) {
                    Some(t) => Ok(until(self, t)),
                    None => Err(StatesError::runtime(format!(
                        "Wait TimestampPath '{p}' must select an RFC 3339 timestamp such as \"2024-03-14T01:59:00Z\", found {}",
                        preview(&v)
                    ))),
                }
            }
        }
    }

    fn dynamic_u64(
        &self,
        d: &Option<Dynamic<u64>>,
        input: &Value,
        field: &str,
    ) -> Result<Option<u64>, StatesError> {
        match d {
            None => Ok(None),
            Some(Dynamic::Fixed(n)) => Ok(Some(*n)),
            Some(Dynamic::Path(p)) => {
                let v = p.select(input, &self.ctx)?;
                v.as_u64().map(Some).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "{field} '{p}' must select a non-negative whole number, found {}",
                        preview(&v)
                    ))
                })
            }
        }
    }

    /// Run `attempt` under the state's Retry and Catch policy.
    fn with_retry<'s>(
        &mut self,
        state: &'s State,
        policy: &'s ResultHandling,
        raw: Value,
        mut attempt: impl FnMut(&mut Self, &Value, u32) -> Result<Value, StatesError>,
    ) -> Result<Step<'s>, StatesError> {
        let mut used = vec![0u64; policy.retry.len()];
        let mut retries: u32 = 0;
        loop {
            let error = match attempt(self, &raw, retries) {
                Ok(result) => {
                    let merged = merge_result(&policy.result_path, raw, result)?;
                    let out =
                        select(&state.output_path, &merged, &self.ctx, "OutputPath")?.into_owned();
                    return self.finish(state, out);
                }
                Err(e) => e,
            };
            if let Some(delay) =
                next_retry(&policy.retry, &mut used, &error.error, self.host.random())
            {
                retries += 1;
                self.host.sleep(delay);
                if self.machine.uses_context {
                    context::set_retry_count(&mut self.ctx, retries);
                }
                continue;
            }
            return match find_catcher(&policy.catch, &error.error) {
                Some(c) => {
                    let out = merge_result(&c.result_path, raw, error_output(&error))?;
                    check_size(
                        &out,
                        self.options.payload_limit,
                        &format!("output of state '{}'", state.name),
                    )?;
                    Ok(Step::Next(&c.next, out))
                }
                None => Err(error),
            };
        }
    }

    fn task_attempt(
        &mut self,
        state: &State,
        t: &TaskState,
        raw: &Value,
        retry_count: u32,
    ) -> Result<Value, StatesError> {
        let effective = select(&state.input_path, raw, &self.ctx, "InputPath")?;
        let token = t.wait_for_task_token.then(|| uuid_from(self.host.random()));
        context::set_task_token(&mut self.ctx, token.as_deref());
        let payload = shape(
            t.parameters.as_ref(),
            effective.clone(),
            &self.ctx,
            self.host.random(),
        );
        context::set_task_token(&mut self.ctx, None);
        let payload = payload?;
        check_size(
            &payload,
            self.options.payload_limit,
            &format!("input to task '{}'", state.name),
        )?;
        let timeout_seconds =
            self.dynamic_u64(&t.timeout_seconds, &effective, "TimeoutSecondsPath")?;
        let heartbeat_seconds =
            self.dynamic_u64(&t.heartbeat_seconds, &effective, "HeartbeatSecondsPath")?;
        let call = TaskCall {
            state: &state.name,
            resource: &t.resource,
            payload: &payload,
            retry_count,
            task_token: token.as_deref(),
            timeout_seconds,
            heartbeat_seconds,
        };
        let result = self.host.invoke(&call)?;
        check_size(
            &result,
            self.options.payload_limit,
            &format!("result of task '{}'", state.name),
        )?;
        shape(
            t.result.result_selector.as_ref(),
            Cow::Owned(result),
            &self.ctx,
            self.host.random(),
        )
    }

    fn parallel_attempt(
        &mut self,
        state: &State,
        p: &ParallelState,
        raw: &Value,
    ) -> Result<Value, StatesError> {
        let effective = select(&state.input_path, raw, &self.ctx, "InputPath")?;
        let branch_input = shape(
            p.parameters.as_ref(),
            effective,
            &self.ctx,
            self.host.random(),
        )?;
        let mut outputs = Vec::with_capacity(p.branches.len());
        for branch in &p.branches {
            let saved = self.ctx.get("State").cloned();
            let out = self.run_scope(branch, branch_input.clone());
            self.restore_state_ctx(saved);
            outputs.push(out?);
        }
        shape(
            p.result.result_selector.as_ref(),
            Cow::Owned(Value::Array(outputs)),
            &self.ctx,
            self.host.random(),
        )
    }

    fn map_attempt(
        &mut self,
        state: &State,
        m: &MapState,
        raw: &Value,
    ) -> Result<Value, StatesError> {
        let effective = select(&state.input_path, raw, &self.ctx, "InputPath")?.into_owned();
        let items = match &m.items_path {
            None => effective.clone(),
            Some(p) => p.select(&effective, &self.ctx)?,
        };
        let Value::Array(items) = items else {
            return Err(StatesError::runtime(format!(
                "Map state '{}': ItemsPath must select an array, found {}",
                state.name,
                preview(&items)
            )));
        };
        let tolerated_count = self.dynamic_u64(
            &m.tolerated_failure_count,
            &effective,
            "ToleratedFailureCountPath",
        )?;
        let tolerated_pct = match &m.tolerated_failure_percentage {
            None => None,
            Some(Dynamic::Fixed(p)) => Some(*p),
            Some(Dynamic::Path(p)) => {
                let v = p.select(&effective, &self.ctx)?;
                Some(v.as_f64().filter(|f| (0.0..=100.0).contains(f)).ok_or_else(|| {
                    StatesError::runtime(format!("ToleratedFailurePercentagePath '{p}' must select a number from 0 to 100"))
                })?)
            }
        };
        let tolerant = tolerated_count.is_some() || tolerated_pct.is_some();
        let total = items.len();
        let mut outputs = Vec::with_capacity(total);
        let mut failures = 0u64;
        for (index, item) in items.into_iter().enumerate() {
            context::set_map_item(&mut self.ctx, Some((index, &item)));
            let input = match &m.item_selector {
                Some(t) => t.evaluate(&effective, &self.ctx, self.host.random()),
                None => Ok(item),
            };
            context::set_map_item(&mut self.ctx, None);
            let saved = self.ctx.get("State").cloned();
            let out = input.and_then(|input| self.run_scope(&m.processor, input));
            self.restore_state_ctx(saved);
            match out {
                Ok(v) => outputs.push(v),
                Err(e) if !tolerant || e.error == names::RUNTIME => return Err(e),
                Err(e) => {
                    failures += 1;
                    let over_count = tolerated_count.is_some_and(|c| failures > c);
                    let over_pct =
                        tolerated_pct.is_some_and(|p| failures as f64 * 100.0 / total as f64 > p);
                    // With both set, the Map fails when either threshold is exceeded.
                    if over_count || over_pct {
                        return Err(StatesError::new(
                            names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                            format!(
                                "Map state '{}' exceeded its tolerated failures: {failures} of {total} iterations failed; the last failed with {}: {}",
                                state.name, e.error, e.cause
                            ),
                        ));
                    }
                    outputs.push(error_output(&e));
                }
            }
        }
        shape(
            m.result.result_selector.as_ref(),
            Cow::Owned(Value::Array(outputs)),
            &self.ctx,
            self.host.random(),
        )
    }

    fn restore_state_ctx(&mut self, saved: Option<Value>) {
        if let (Some(saved), Value::Object(map)) = (saved, &mut self.ctx) {
            map.insert("State".into(), saved);
        }
    }
}

/// Pick the first retrier that matches `error`; if it has attempts left,
/// count one and return the delay. A matching but exhausted retrier ends the
/// search: later retriers are not consulted (AWS semantics).
fn next_retry(
    retriers: &[Retrier],
    used: &mut [u64],
    error: &str,
    rng: &mut dyn crate::Random,
) -> Option<f64> {
    let i = retriers
        .iter()
        .position(|r| error_matches(&r.error_equals, error))?;
    if used[i] >= retriers[i].max_attempts {
        return None;
    }
    let delay = retriers[i].delay_seconds(used[i], rng);
    used[i] += 1;
    Some(delay)
}

fn find_catcher<'c>(catchers: &'c [Catcher], error: &str) -> Option<&'c Catcher> {
    catchers
        .iter()
        .find(|c| error_matches(&c.error_equals, error))
}

fn uuid_from(rng: &mut dyn crate::Random) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}
