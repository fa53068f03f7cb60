//! The host of `sluice workflow run --local`: mocked responses first, then
//! local functions; a virtual clock unless `--real-time`.

mod children;
mod functions;

pub use functions::{json_files, Functions};

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde_json::{json, Value};
use std::collections::HashMap;

use sluice_dsl::error::names;
use sluice_dsl::interp::step::{ReadRequest, WriteRequest};
use sluice_dsl::interp::{Host, TaskCall};
use sluice_dsl::mocks::TestCase;
use sluice_dsl::model::State;
use sluice_dsl::resource::{Resource, ResourceRef};
use sluice_dsl::{Random, StatesError};
use sluice_engine::Buckets;

/// Operating-system randomness for `States.UUID`, `States.MathRandom` and jitter.
struct OsRandom(rand::rngs::ThreadRng);

impl Random for OsRandom {
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

pub struct LocalHost {
    functions: Functions,
    /// Where Distributed Maps read items and write results.
    buckets: Option<sluice_connectors::buckets::ObjectBuckets>,
    /// Where `startExecution` tasks find their child workflows.
    workflows: Option<std::path::PathBuf>,
    /// How deep child executions are nested now.
    depth: u32,
    mocks: Option<TestCase>,
    /// Invocations so far per Task state, for mocked responses.
    invocations: HashMap<String, u32>,
    real_time: bool,
    clock: DateTime<Utc>,
    rng: OsRandom,
}

impl LocalHost {
    pub fn new(functions: Functions, mocks: Option<TestCase>, real_time: bool) -> Self {
        LocalHost {
            functions,
            buckets: None,
            workflows: None,
            depth: 0,
            mocks,
            invocations: HashMap::new(),
            real_time,
            clock: Utc::now(),
            rng: OsRandom(rand::rng()),
        }
    }

    /// Where `startExecution` tasks find child workflows.
    pub fn with_workflows(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.workflows = dir;
        self
    }

    /// Let Distributed Maps reach buckets.
    pub fn with_buckets(mut self, buckets: sluice_connectors::buckets::ObjectBuckets) -> Self {
        self.buckets = Some(buckets);
        self
    }

    /// Run a bucket access to its end (the local run is synchronous).
    fn block_on<T>(&self, f: impl std::future::Future<Output = T>) -> Result<T, StatesError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(f))
            .map_err(|e| StatesError::runtime(format!("cannot start an I/O runtime: {e}")))
    }

    pub fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.0.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}

impl Host for LocalHost {
    fn invoke(&mut self, call: &TaskCall) -> Result<Value, StatesError> {
        let count = self.invocations.entry(call.state.to_string()).or_insert(0);
        let invocation = *count;
        *count += 1;
        if let Some(mocks) = &self.mocks {
            match mocks.response(call.state, invocation) {
                Some(Ok(response)) => return response.to_result(),
                Some(Err(message)) => return Err(StatesError::runtime(message)),
                None => {}
            }
        }
        let parsed = ResourceRef::parse(call.resource).map_err(StatesError::runtime)?;
        if parsed.wait_for_task_token {
            return Err(StatesError::runtime(format!(
                "state '{}' waits for a task token, and a --local run cannot receive callbacks; mock it with --mocks or run it on `sluice serve`",
                call.state
            )));
        }
        let timeout = call.timeout_seconds;
        let key = format!("local/{}/{invocation}", call.state);
        match parsed.resource {
            Resource::Function { name, alias } => self.functions.invoke(&name, alias.as_deref(), call.payload, timeout, &key),
            Resource::LambdaInvoke => {
                let (name, qualifier) = call.payload.get("FunctionName").and_then(sluice_executors::function_name).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "state '{}' uses arn:aws:states:::lambda:invoke, which needs Parameters.FunctionName",
                        call.state
                    ))
                })?;
                let event = call.payload.get("Payload").cloned().unwrap_or_else(|| json!({}));
                let payload = self.functions.invoke(&name, qualifier.as_deref(), &event, timeout, &key)?;
                Ok(json!({"ExecutedVersion": qualifier.unwrap_or_else(|| "$LATEST".into()), "Payload": payload, "StatusCode": 200}))
            }
            Resource::HttpInvoke => self.functions.http_invoke(call.payload, timeout),
            Resource::StartExecution { wait } => {
                let dir = self.workflows.clone();
                let mut depth = self.depth;
                let r = children::start(self, dir.as_ref(), call, wait, &mut depth);
                self.depth = depth;
                r
            }
            other => Err(StatesError::new(
                names::TASK_FAILED,
                format!("'{other}' cannot run in a --local run yet; give state '{}' a mocked response with --mocks", call.state),
            )),
        }
    }

    fn sleep(&mut self, seconds: f64) {
        if self.real_time {
            std::thread::sleep(std::time::Duration::from_secs_f64(seconds.min(1e9)));
        }
        self.clock += chrono::Duration::milliseconds((seconds * 1000.0).min(1e15) as i64);
    }

    fn now(&mut self) -> DateTime<Utc> {
        if self.real_time {
            self.clock = Utc::now();
        }
        self.clock
    }

    fn random(&mut self) -> &mut dyn Random {
        &mut self.rng
    }

    fn read_items(&mut self, request: &ReadRequest) -> Result<Vec<Value>, StatesError> {
        let Some(buckets) = &self.buckets else {
            return Err(StatesError::new(names::ITEM_READER_FAILED, "no buckets"));
        };
        self.block_on(sluice_engine_items(buckets, request))?
    }

    fn write_results(
        &mut self,
        state: &State,
        request: &WriteRequest,
        outcomes: &[Result<Value, StatesError>],
    ) -> Result<Value, StatesError> {
        let run = self.uuid();
        let Some(buckets) = &self.buckets else {
            return Err(StatesError::new(names::RESULT_WRITER_FAILED, "no buckets"));
        };
        let now = sluice_dsl::timestamp::format(self.clock);
        let machine = format!(
            "arn:aws:states:us-east-1:000000000000:stateMachine:{}",
            state.name
        );
        let map_run = format!(
            "arn:aws:states:us-east-1:000000000000:mapRun:local/{}:{run}",
            state.name
        );
        let children = sluice_dsl::map_run::in_memory_children(
            outcomes,
            |i| {
                format!(
                    "arn:aws:states:us-east-1:000000000000:execution:local/{}:{i}",
                    state.name
                )
            },
            &now,
        );
        let (files, details) =
            sluice_dsl::map_run::result_files(&map_run, &run, &machine, request, &children);
        self.block_on(async {
            for (key, body) in files {
                let bytes = serde_json::to_vec(&body).unwrap_or_default();
                buckets
                    .put(&request.bucket, &key, bytes)
                    .await
                    .map_err(|e| StatesError::new(names::RESULT_WRITER_FAILED, e.cause))?;
            }
            Ok::<_, StatesError>(())
        })??;
        Ok(details)
    }
}

/// The items of an `ItemReader`, read through the bucket port.
async fn sluice_engine_items(
    buckets: &sluice_connectors::buckets::ObjectBuckets,
    request: &ReadRequest,
) -> Result<Vec<Value>, StatesError> {
    use sluice_dsl::model::ReaderSource;
    let failed = |e: sluice_engine::TaskError| StatesError::new(names::ITEM_READER_FAILED, e.cause);
    match &request.source {
        ReaderSource::Listing => Ok(buckets
            .list(&request.bucket, &request.key, request.max_items)
            .await
            .map_err(failed)?
            .iter()
            .map(|o| o.to_item())
            .collect()),
        ReaderSource::Object(format) => {
            let bytes = buckets
                .get(&request.bucket, &request.key)
                .await
                .map_err(failed)?;
            sluice_dsl::map_run::parse_items(format, &bytes, &request.key, request.max_items)
        }
    }
}
