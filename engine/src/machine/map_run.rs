//! Distributed Map runs: reading the items (`ItemReader`, through the
//! [`Buckets`](crate::Buckets) port after the batch is durable), one child
//! execution per item or batch — its own execution, linked to the parent
//! — and writing the results (`ResultWriter`) before the Map completes.

use serde_json::{json, Value};

use super::{resolve, state_type, Action, BucketOutcome, Machine};
use crate::api::{Execution, ParentLink, Status};
use crate::error::EngineError;
use crate::history::state_event;
use crate::ids::ExecutionId;
use crate::records::{ChildOf, ExecutionRecord, Fork, Frame, Phase, WriteSpec};
use crate::store::keys;
use sluice_dsl::interp::step::{self, ReadRequest, RetryState, StepEnv};
use sluice_dsl::map_run::ChildRun;
use sluice_dsl::model::{State, StateKind};
use sluice_dsl::{StateMachine, StatesError};

/// Child executions in flight at once when `MaxConcurrency` is 0, as on AWS.
pub(crate) const DEFAULT_CONCURRENCY: u64 = 10_000;

/// The region in ARNs (there is none; AWS's default).
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";

pub(crate) fn state_machine_arn(workflow: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{workflow}")
}

pub(crate) fn map_run_arn(workflow: &str, label: &str, run: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:mapRun:{workflow}/{label}:{run}")
}

pub(crate) fn execution_arn(workflow: &str, name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:{workflow}:{name}")
}

/// The Map's label: `Label`, or the state's name.
fn label(state: &State) -> String {
    match &state.kind {
        StateKind::Map(m) => m.label.clone().unwrap_or_else(|| state.name.clone()),
        _ => state.name.clone(),
    }
}

/// The bucket access of a frame reading or writing (also for recovery).
pub(crate) fn bucket_action(execution: &str, frame: &Frame) -> Action {
    match &frame.phase {
        Phase::Reading { attempt, request } => Action::ReadItems {
            execution: execution.to_string(),
            frame: frame.id,
            attempt: *attempt,
            request: request.clone(),
        },
        Phase::Writing {
            attempt, request, ..
        } => Action::WriteResults {
            execution: execution.to_string(),
            frame: frame.id,
            attempt: *attempt,
            bucket: request.bucket.clone(),
            files: request.files.clone(),
        },
        _ => unreachable!("bucket_action is only called for frames reading or writing"),
    }
}

impl Machine<'_> {
    /// An `ItemReader` must read before the Map can start.
    pub(super) fn read_items(
        &mut self,
        execution: &str,
        mut frame: Frame,
        request: ReadRequest,
    ) -> Result<(), EngineError> {
        frame.attempts += 1;
        frame.phase = Phase::Reading {
            attempt: frame.attempts,
            request,
        };
        self.actions.push(bucket_action(execution, &frame));
        self.save_frame(execution, &frame)
    }

    /// A bucket access of a Distributed Map ended.
    pub fn bucket_done(
        &mut self,
        execution: &str,
        frame_id: u64,
        attempt: u32,
        outcome: BucketOutcome,
    ) -> Result<(), EngineError> {
        let Some((mut frame, machine)) = self.running_frame(execution, frame_id)? else {
            return Ok(());
        };
        let current = match &frame.phase {
            Phase::Reading { attempt, .. } | Phase::Writing { attempt, .. } => *attempt,
            _ => return Ok(()), // stale: the frame moved on
        };
        if current != attempt {
            return Ok(());
        }
        let state = resolve(&machine, &frame.scope)
            .and_then(|s| s.get(&frame.state))
            .ok_or_else(|| EngineError::Storage("map state vanished".into()))?;
        let result: Result<(), StatesError> = match (outcome, frame.phase.clone()) {
            (BucketOutcome::Items(items), Phase::Reading { .. }) => match items {
                Err(e) => Err(e),
                Ok(items) => {
                    let mut ctx = self.context(execution, &machine, &state.name)?;
                    let vars = self.scopes(execution, &machine, &frame)?;
                    let mut env = StepEnv {
                        context: &mut ctx,
                        vars: &vars,
                        rng: &mut self.rng,
                        now: self.now,
                        payload_limit: self.limits.payload_bytes,
                        entered_event: Some(frame.entered_event),
                    };
                    match step::items_read(state, &frame.input, items, &mut env) {
                        Ok(req) => {
                            self.fork_map(execution, &machine, frame, state, req)?;
                            return self.drain();
                        }
                        Err(e) => Err(e),
                    }
                }
            },
            (
                BucketOutcome::Written(r),
                Phase::Writing {
                    request, failure, ..
                },
            ) => match (r, failure) {
                (Ok(()), None) => {
                    self.map_run_ended(execution, &frame, state, None)?;
                    self.drop_map_run(execution, frame.id)?;
                    self.fork_complete(execution, &machine, frame, state, Ok(request.details))?;
                    return self.drain();
                }
                (Ok(()), Some(e)) | (Err(e), _) => {
                    self.map_run_ended(execution, &frame, state, Some(&e))?;
                    Err(e)
                }
            },
            _ => return Ok(()),
        };
        if let Err(e) = result {
            if self.state_failed(execution, &machine, &mut frame, state, e)? {
                self.enqueue(execution, &frame)?;
            }
        }
        self.drain()
    }

    /// The Map starts its run of child executions.
    pub(super) fn map_run_started(
        &mut self,
        execution: &str,
        frame: &Frame,
        state: &State,
        items: usize,
    ) -> Result<String, EngineError> {
        let run = step::uuid(&mut self.rng);
        let workflow = self.execution(execution)?.execution.workflow.clone();
        let arn = map_run_arn(&workflow, &label(state), &run);
        self.event(
            execution,
            frame.entered_event,
            "MapRunStarted",
            json!({"name": state.name, "mapRunArn": arn, "mapRunId": run, "items": items}),
        )?;
        Ok(run)
    }

    /// Create the child execution of slot `index` of a Distributed Map;
    /// returns its id (its first frame is queued by `run_map_child`).
    pub(super) fn start_map_child(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        parent: &Frame,
        index: usize,
        input: Value,
    ) -> Result<String, EngineError> {
        let Phase::Fork(Fork { run: Some(run), .. }) = &parent.phase else {
            return Err(EngineError::Storage(
                "a map child started outside a map run".into(),
            ));
        };
        let map_run = Some(run.id.clone());
        let (workflow, version) = {
            let e = &self.execution(execution)?.execution;
            (e.workflow.clone(), e.version)
        };
        let mut scope = parent.scope.clone();
        scope.push((parent.state.clone(), 0));
        let processor = resolve(machine, &scope)
            .ok_or_else(|| EngineError::Storage("map processor vanished".into()))?;
        let start = processor.start_at.clone();
        let start_type = processor.get(&start).map(state_type).unwrap_or("Pass");
        let id = ExecutionId::new();
        let idk = id.to_string();
        let started_ms = self.now.timestamp_millis();
        let rec = ExecutionRecord {
            execution: Execution {
                execution_id: id.clone(),
                workflow,
                version,
                name: idk.clone(),
                status: Status::Running,
                input: input.clone(),
                output: None,
                error: None,
                cause: None,
                started_at: super::now_string(self.now),
                stopped_at: None,
                redrive_count: 0,
                parent: Some(ParentLink {
                    execution_id: execution.to_string(),
                    state: parent.state.clone(),
                    index: Some(index as u64),
                    map_run_id: map_run,
                }),
            },
            started_ms,
            last_event: 0,
            history_bytes: 0,
            next_frame: 1,
            frames: 1,
            child_of: Some(ChildOf {
                execution: execution.to_string(),
                frame: parent.id,
                slot: Some(index),
                attempt: 0,
            }),
            express: false,
        };
        self.saved.entry(idk.clone()).or_insert(None);
        self.executions.insert(idk.clone(), rec);
        self.tx
            .put(keys::child(execution, started_ms, &idk), &index)?;
        self.tx.mark_new(keys::running(&idk));
        self.tx.mark_new(keys::frame(&idk, 0));
        self.tx.put(keys::running(&idk), &true)?;
        let started = self.event(
            &idk,
            0,
            "ExecutionStarted",
            json!({"input": input, "name": idk, "version": version, "parentExecutionId": execution, "index": index}),
        )?;
        let entered = self.event(
            &idk,
            started,
            &state_event(start_type, false),
            json!({"name": start, "input": input}),
        )?;
        let frame = Frame {
            id: 0,
            parent: None,
            scope,
            state: start,
            input,
            retry: RetryState::default(),
            phase: Phase::Ready,
            entered_event: entered,
            attempts: 0,
            failed_fork: None,
            scopes: Vec::new(),
        };
        self.save_frame(&idk, &frame)?;
        Ok(idk)
    }

    /// Let a child execution created by `start_map_child` run.
    pub(super) fn run_map_child(&mut self, child: &str) -> Result<(), EngineError> {
        self.queue.push((child.to_string(), 0));
        Ok(())
    }

    /// A child execution ended: tell the parent that waits for it.
    pub(super) fn report_to_parent(
        &mut self,
        execution: &str,
        result: Result<Value, StatesError>,
    ) -> Result<(), EngineError> {
        if self.aborting.contains(execution) {
            return Ok(());
        }
        let rec = self.execution(execution)?;
        let Some(link) = rec.child_of.clone() else {
            return Ok(());
        };
        // A Map child runs its parent's workflow version.
        let definition = (rec.execution.workflow.clone(), rec.execution.version);
        if !self.is_running(&link.execution)? {
            return Ok(());
        }
        match link.slot {
            Some(slot) => {
                self.child_finished(&link.execution, Some(definition), link.frame, slot, result)
            }
            None => self.report_task_parent(execution, &link),
        }
    }

    /// Abort the running child executions of every Distributed Map of
    /// `execution` (it ended).
    pub(super) fn abort_map_children(&mut self, execution: &str) -> Result<(), EngineError> {
        for key in self.tx.keys_with_prefix(&keys::frame_prefix(execution))? {
            if let Some(frame) = self.tx.get::<Frame>(&key)? {
                self.abort_frame_children(execution, frame.id)?;
            }
        }
        Ok(())
    }

    /// Abort the running child executions of one Distributed Map frame.
    pub(super) fn abort_frame_children(
        &mut self,
        execution: &str,
        frame: u64,
    ) -> Result<(), EngineError> {
        for child in self.running_map_children(execution, frame)? {
            self.aborting.insert(child.clone());
            let e = StatesError::new(
                "States.Aborted",
                format!("the Map run of execution {execution} ended, so this child execution was aborted"),
            );
            let r = self.fail_execution(&child, Status::Aborted, &e);
            self.aborting.remove(&child);
            r?;
        }
        Ok(())
    }

    /// Every child of a Distributed Map with a `ResultWriter` is done:
    /// write the results, then complete (or fail) the Map.
    pub(super) fn write_results(
        &mut self,
        execution: &str,
        machine: &StateMachine,
        mut frame: Frame,
        state: &State,
        outcomes: Vec<(String, Result<Value, StatesError>)>,
    ) -> Result<(), EngineError> {
        let Phase::Fork(fork) = &frame.phase else {
            return Ok(());
        };
        let (tolerance, total) = (fork.tolerance, outcomes.len() as u64);
        let run = fork.run.as_ref().map(|r| r.id.clone()).unwrap_or_default();
        let results: Vec<Result<Value, StatesError>> =
            outcomes.iter().map(|(_, r)| r.clone()).collect();
        let failure = step::map_output(state, tolerance, total, results).err();
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
        let request = match step::write_request(state, &frame.input, &mut env) {
            Ok(Some(r)) => r,
            Ok(None) => return Err(EngineError::Storage("a ResultWriter vanished".into())),
            Err(e) => {
                if self.state_failed(execution, machine, &mut frame, state, e)? {
                    self.enqueue(execution, &frame)?;
                }
                return Ok(());
            }
        };
        let workflow = self.execution(execution)?.execution.workflow.clone();
        let mut runs = Vec::with_capacity(total as usize);
        for (child, outcome) in outcomes {
            let e = self.execution(&child)?.execution.clone();
            runs.push(ChildRun {
                execution_arn: execution_arn(&format!("{workflow}/{}", label(state)), &e.name),
                name: e.name,
                input: e.input,
                outcome,
                start_date: e.started_at,
                stop_date: e.stopped_at.unwrap_or_default(),
            });
        }
        let arn = map_run_arn(&workflow, &label(state), &run);
        let (files, details) = sluice_dsl::map_run::result_files(
            &arn,
            &run,
            &state_machine_arn(&workflow),
            &request,
            &runs,
        );
        frame.attempts += 1;
        frame.phase = Phase::Writing {
            attempt: frame.attempts,
            request: WriteSpec {
                bucket: request.bucket,
                files,
                details,
            },
            failure,
        };
        self.actions.push(bucket_action(execution, &frame));
        self.save_frame(execution, &frame)
    }
}
