//! `process` + `protocol: "lambda"`: warm processes that speak the AWS
//! Lambda Runtime API ([`api`]). An instance serves one invocation at a
//! time and goes back to the pool afterwards; one that timed out or exited
//! is dropped (its process killed). The pool keeps `provisioned` instances
//! and stops idle ones after `idleSeconds`.

pub mod api;
mod output;
pub mod runtimes;

use axum::body::Bytes;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};

use sluice_dsl::function::FunctionDef;
use sluice_engine::TaskError;

use crate::meter::peak_rss_kb;
use crate::names;

/// Longest a new process may take to reach `invocation/next` when the
/// function's own timeout is longer (Lambda's init limit).
const INIT_LIMIT: Duration = Duration::from_secs(10);

/// One warm process and its Runtime API server.
pub struct Instance {
    jobs: mpsc::Sender<Job>,
    shared: Arc<api::Shared>,
    pid: u32,
    started: Instant,
    /// `Some(description)` once the process has exited.
    exited: watch::Receiver<Option<String>>,
    kill: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    output: Arc<output::Output>,
    last_used: Instant,
    /// Whether it has been given an invocation.
    served: bool,
    /// Started for the invocation that takes it first (not by the warm
    /// pool ahead of time): that invocation is a cold start even when the
    /// runtime finished its init before the invocation was handed over.
    on_demand: bool,
    /// The instance's sandbox (its cgroups go when it goes).
    sandbox: Option<crate::process::sandbox::Prepared>,
}

use api::Job;

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        self.server.abort();
    }
}

/// What an invocation on an instance reports besides its result.
#[derive(Debug, Default)]
pub struct Report {
    pub cold: bool,
    /// The instance's process id (none when it could not start).
    pub pid: Option<u32>,
    pub init_ms: f64,
    pub max_rss_kb: Option<u64>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub truncated: bool,
}

/// How an instance is started.
#[derive(Clone)]
pub struct Spec {
    pub def: FunctionDef,
    pub version: String,
    pub code_dir: PathBuf,
    pub env: Vec<(String, String)>,
    /// The Linux sandbox, when switched on.
    pub isolation: Option<Arc<crate::process::sandbox::Isolation>>,
    /// The function's layers as one folder, mounted at `/opt`.
    pub opt: Option<PathBuf>,
}

impl Instance {
    /// An error the function reported, as `Sandbox.MemoryExceeded` when it
    /// is its runtime's refused allocation under `RLIMIT_AS` (the process
    /// survives that, where a memory cgroup would have killed it).
    fn memory_error(&self, name: &str, memory_mb: u64, e: TaskError) -> TaskError {
        if self
            .sandbox
            .as_ref()
            .is_some_and(|s| s.memory_error_type(&e.error))
        {
            let mut m = memory_exceeded(name, memory_mb);
            m.cause = format!("{} ({}: {})", m.cause, e.error, e.cause);
            m
        } else {
            e
        }
    }

    /// Start the process and its API server; does not wait for its init.
    pub async fn start(spec: &Spec) -> Result<Instance, TaskError> {
        // Before the spawn: a fast runtime asks for work before `start` returns.
        let started = Instant::now();
        let fail = |m: String| TaskError::new(names::EXIT_ERROR, m);
        let (program, args) = spec
            .def
            .command
            .split_first()
            .ok_or_else(|| fail("the function has no command".into()))?;
        let mut sandbox = match &spec.isolation {
            None => None,
            Some(iso) => Some(
                iso.prepare(&crate::process::sandbox::Needs {
                    code_dir: &spec.code_dir,
                    program,
                    memory_mb: spec.def.memory_mb,
                    cpu_seconds: None,
                    network: spec.def.network,
                    api_listener: true,
                    opt: spec.opt.as_deref(),
                })
                .map_err(|e| {
                    fail(format!(
                        "cannot prepare the sandbox of '{}': {e}",
                        spec.def.name
                    ))
                })?,
            ),
        };
        // Without a network namespace the Runtime API listens on a loopback
        // port of the host; with one, the sandboxed child creates the
        // listener inside its namespace and hands it over (after spawn).
        let inside = sandbox.as_ref().is_some_and(|s| s.needs_api_listener());
        let (listener, address) = if inside {
            (
                None,
                format!("127.0.0.1:{}", crate::process::sandbox::API_PORT),
            )
        } else {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| fail(format!("cannot open a port for the Runtime API: {e}")))?;
            let a = l
                .local_addr()
                .map_err(|e| fail(format!("cannot read the Runtime API port: {e}")))?;
            (Some(l), a.to_string())
        };
        let (jobs_tx, jobs_rx) = mpsc::channel(1);
        let shared = api::Shared::new(jobs_rx);
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .current_dir(&spec.code_dir)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", &address)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(s) = &sandbox {
            let plan = s.plan.clone();
            // SAFETY: `enter` only makes system calls on prepared buffers.
            unsafe {
                command.pre_exec(move || plan.enter());
            }
        }
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Err(fail(format!(
                    "cannot start function '{}' ({program}): {e}",
                    spec.def.name
                )));
            }
        };
        let pid = child.id().unwrap_or(0);
        let listener = match listener {
            Some(l) => l,
            None => {
                let mut s = sandbox.take();
                let (received, s) = tokio::task::spawn_blocking(move || {
                    let r = s.as_mut().map(|s| s.receive_listener());
                    (r, s)
                })
                .await
                .map_err(|e| fail(format!("the sandbox hand-over stopped: {e}")))?;
                sandbox = s;
                let std_listener = received
                    .unwrap_or_else(|| Err(std::io::Error::other("no sandbox")))
                    .map_err(|e| fail(format!("function '{}': {e}", spec.def.name)))?;
                tokio::net::TcpListener::from_std(std_listener)
                    .map_err(|e| fail(format!("cannot serve the sandbox's Runtime API: {e}")))?
            }
        };
        let router = api::router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let output = output::Output::start(&mut child);
        let (exit_tx, exit_rx) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s,
                _ = kill_rx => {
                    // The whole group: the runtime client and anything it started.
                    // SAFETY: plain syscall on our own child's group.
                    unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
                    child.wait().await
                }
            };
            let text = match status {
                Ok(s) => s.to_string(),
                Err(e) => format!("could not be waited for: {e}"),
            };
            let _ = exit_tx.send(Some(text));
        });
        Ok(Instance {
            jobs: jobs_tx,
            shared,
            pid,
            started,
            exited: exit_rx,
            kill: Some(kill_tx),
            server,
            sandbox,
            output,
            last_used: Instant::now(),
            served: false,
            on_demand: true,
        })
    }

    pub fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }

    /// Run one invocation. `Err(_, true)` means the instance is no longer
    /// usable (timed out, exited) and must be dropped.
    pub async fn invoke(
        &mut self,
        spec: &Spec,
        event: &Value,
        request_id: &str,
        timeout: Duration,
    ) -> (Result<Value, TaskError>, Report, bool) {
        let initializing = !self.shared.is_ready();
        let mut report = Report {
            cold: initializing || (self.on_demand && !self.served),
            pid: (self.pid != 0).then_some(self.pid),
            ..Report::default()
        };
        // What it printed between invocations is not this one's; what it
        // printed while starting is the first one's.
        if self.served {
            self.output.take();
        }
        self.served = true;
        let started = Instant::now();
        let deadline = started + timeout;
        let deadline_ms = SystemTime::now()
            .checked_add(timeout)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as u64);
        let (reply_tx, reply_rx) = oneshot::channel();
        // The client puts the id into URL paths verbatim; idempotency keys
        // have '/' in them.
        let request_id: String = request_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.:".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let job = Job {
            request_id,
            event: Bytes::from(event.to_string()),
            deadline_ms,
            function_arn: crate::process::function_arn(&spec.def.name, &spec.version),
            trace_id: format!(
                "Root=1-{:08x}-{};Parent={};Sampled=0",
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                &uuid::Uuid::new_v4().simple().to_string()[..24],
                &uuid::Uuid::new_v4().simple().to_string()[..16]
            ),
            reply: reply_tx,
        };
        let name = &spec.def.name;
        let mut broken = false;
        let mut exited = self.exited.clone();
        let mut exit_cause = false;
        let mut result = if self.jobs.send(job).await.is_err() {
            broken = true;
            Err(TaskError::new(
                names::EXIT_ERROR,
                format!("function '{name}': its instance stopped"),
            ))
        } else {
            // A cold instance also has to finish its init, within INIT_LIMIT.
            let init_deadline = if initializing {
                self.started + INIT_LIMIT.max(timeout)
            } else {
                deadline
            };
            tokio::select! {
                r = reply_rx => match r {
                    Ok(Ok(body)) => parse_result(name, &body),
                    Ok(Err(e)) => Err(self.memory_error(name, spec.def.memory_mb, e)),
                    Err(_) => { broken = true; Err(TaskError::new(names::EXIT_ERROR, format!("function '{name}': its Runtime API stopped"))) }
                },
                status = exited.wait_for(Option::is_some) => {
                    broken = true;
                    let status = status.map(|s| s.clone().unwrap_or_default()).unwrap_or_default();
                    let init = self.shared.init_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let init = if self.sandbox.as_ref().is_some_and(|s| s.cgroups.memory_exceeded()) {
                        Some(memory_exceeded(name, spec.def.memory_mb))
                    } else {
                        init
                    };
                    // Its stderr is appended below, once read to the end.
                    exit_cause = init.is_none();
                    Err(init.unwrap_or_else(|| TaskError::new(
                        names::EXIT_ERROR,
                        format!("function '{name}' exited ({status}) during the invocation: "),
                    )))
                },
                _ = tokio::time::sleep_until(deadline.max(init_deadline).into()) => {
                    broken = true;
                    Err(TaskError::new(
                        names::TIMEOUT,
                        format!("function '{name}' did not answer within {} s (its timeoutSeconds) and was stopped", timeout.as_secs_f64()),
                    ))
                }
            }
        };
        if exit_cause {
            let stderr = self
                .output
                .stderr_tail_after_exit(Duration::from_millis(500))
                .await;
            if let Err(e) = &mut result {
                if self
                    .sandbox
                    .as_ref()
                    .is_some_and(|s| s.memory_exceeded(&stderr))
                {
                    *e = memory_exceeded(name, spec.def.memory_mb);
                    e.cause.push_str(": ");
                }
                e.cause.push_str(&stderr);
            }
        }
        if report.cold {
            let ready = *self
                .shared
                .ready_at
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            report.init_ms = ready.map_or(0.0, |r| {
                r.saturating_duration_since(self.started).as_secs_f64() * 1000.0
            });
        }
        report.max_rss_kb = self
            .sandbox
            .as_ref()
            .and_then(|s| s.cgroups.peak_kb())
            .or_else(|| peak_rss_kb(self.pid));
        // Everything it printed before it answered (or stopped).
        (report.stdout, report.stderr, report.truncated) = self.output.take();
        self.last_used = Instant::now();
        (result, report, broken || self.has_exited())
    }
}

fn memory_exceeded(name: &str, memory_mb: u64) -> TaskError {
    TaskError::new(
        names::MEMORY_EXCEEDED,
        format!(
            "function '{name}' needed more than its memoryMb ({memory_mb} MiB) and was stopped"
        ),
    )
}

fn parse_result(name: &str, body: &[u8]) -> Result<Value, TaskError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| {
        TaskError::new(
            names::INVALID_RESULT,
            format!("function '{name}' answered with a body that is not JSON: {e}"),
        )
    })
}

/// The warm instances of one function version.
pub struct Pool {
    spec: Spec,
    idle: Mutex<Vec<Instance>>,
    /// Instances started and not yet dropped (idle or busy).
    live: std::sync::atomic::AtomicU64,
}

impl Pool {
    pub fn new(spec: Spec) -> Pool {
        Pool {
            spec,
            idle: Mutex::new(Vec::new()),
            live: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn live_count(&self) -> u64 {
        self.live.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn acquire(&self) -> Result<Instance, TaskError> {
        loop {
            let candidate = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match candidate {
                Some(i) if i.has_exited() => self.discard(i),
                Some(i) => return Ok(i),
                None => break,
            }
        }
        let i = Instance::start(&self.spec).await?;
        self.live.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(i)
    }

    fn discard(&self, i: Instance) {
        self.live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        drop(i);
    }

    pub async fn invoke(
        &self,
        event: &Value,
        request_id: &str,
        timeout: Duration,
    ) -> (Result<Value, TaskError>, Report) {
        let mut instance = match self.acquire().await {
            Ok(i) => i,
            Err(e) => {
                return (
                    Err(e),
                    Report {
                        cold: true,
                        ..Report::default()
                    },
                )
            }
        };
        let (result, report, broken) = instance
            .invoke(&self.spec, event, request_id, timeout)
            .await;
        if broken {
            self.discard(instance);
        } else {
            // Most recently used on top: the oldest idle ones are reaped first.
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(instance);
        }
        (result, report)
    }

    /// Start instances until `provisioned` are alive; stop idle ones above
    /// that which have waited longer than `idleSeconds`.
    pub async fn maintain(&self) {
        let idle_limit = Duration::from_secs(self.spec.def.idle_seconds);
        let provisioned = self.spec.def.provisioned;
        let reaped: Vec<Instance> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let mut keep_extra = self.live_count().saturating_sub(provisioned);
            let mut reaped = Vec::new();
            // Oldest first (the bottom of the stack).
            let mut i = 0;
            while i < idle.len() {
                let dead = idle[i].has_exited();
                if dead || (keep_extra > 0 && idle[i].last_used.elapsed() >= idle_limit) {
                    reaped.push(idle.remove(i));
                    keep_extra = keep_extra.saturating_sub(1);
                } else {
                    i += 1;
                }
            }
            reaped
        };
        for r in reaped {
            tracing::debug!(function = %self.spec.def.name, "idle instance stopped");
            self.discard(r);
        }
        while self.live_count() < provisioned {
            match Instance::start(&self.spec).await {
                Ok(mut i) => {
                    i.on_demand = false;
                    self.live.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    self.idle
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(0, i);
                }
                Err(e) => {
                    tracing::warn!(function = %self.spec.def.name, error = %e, "cannot start a provisioned instance");
                    break;
                }
            }
        }
    }
}
