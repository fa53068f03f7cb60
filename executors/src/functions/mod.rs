//! [`Functions`]: the deployed functions, their versions and aliases, and
//! the dispatch of an invocation to its runtime under the function's limits.
//!
//! The Task states' side (what a resource names, the `lambda:invoke`
//! shape, the engine's [`Executor`] port) is in `tasks`, the Prometheus
//! counters in `metrics`.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use sluice_dsl::function::{FunctionDef, Protocol, Runtime};
use sluice_engine::TaskError;

use crate::limits::Limiter;
use crate::meter::{LogRing, Meter, OUTPUT_CAP};
use crate::{http, lambda, names, process, wasm};

thread_local! {
    /// Set while this thread drives an invocation it may block on
    /// ([`sluice_engine::Executor::invoke_blocking`]): a wasm module then
    /// runs right here, not on another blocking thread.
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How often warm pools are topped up to `provisioned` and idle instances reaped.
const MAINTENANCE_EVERY: Duration = Duration::from_millis(500);

/// One version of a function, with its paths resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployed {
    pub def: FunctionDef,
    /// The catalog version; `None` for a definition loaded from a folder
    /// (it runs as `$LATEST`).
    pub version: Option<u64>,
    /// `codeDir`, absolute: the working directory of `process` functions.
    pub code_dir: PathBuf,
    /// `module`, absolute (`wasm`).
    pub module: Option<PathBuf>,
    /// The unpacked folders of the definition's `layers`, in order (set
    /// by whoever resolves packages).
    pub layers: Vec<PathBuf>,
}

impl Deployed {
    /// Relative `codeDir` and `module` are resolved against `base`; without
    /// a `codeDir`, `base` is the code folder.
    pub fn new(def: FunctionDef, version: Option<u64>, base: &Path) -> Deployed {
        let resolve = |p: &str| {
            if Path::new(p).is_absolute() {
                PathBuf::from(p)
            } else {
                base.join(p)
            }
        };
        let code_dir = def
            .code_dir
            .as_deref()
            .map_or_else(|| base.to_path_buf(), resolve);
        let module = def.module.as_deref().map(resolve);
        Deployed {
            def,
            version,
            code_dir,
            module,
            layers: Vec::new(),
        }
    }

    fn label(&self) -> String {
        self.version
            .map_or_else(|| "$LATEST".to_string(), |v| v.to_string())
    }
}

/// The folder of `deployed`'s layers (merged when several); a layer that
/// cannot be merged is logged and left out (the function then fails on
/// what it misses, with its own error).
fn opt_dir(deployed: &Deployed) -> Option<PathBuf> {
    process::layers::opt_dir(&deployed.layers).unwrap_or_else(|e| {
        tracing::error!(function = %deployed.def.name, error = %e, "cannot merge the function's layers");
        None
    })
}

/// The result of one invocation and what it cost.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<Value, TaskError>,
    pub meter: Meter,
}

impl Outcome {
    /// The JSON of `POST /api/v1/functions/{name}/invocations`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({ "meter": self.meter });
        match &self.result {
            Ok(r) => v["result"] = r.clone(),
            Err(e) => {
                // A Lambda function's error document shows as its message here.
                let cause =
                    crate::lambda::api::error_message(&e.cause).unwrap_or_else(|| e.cause.clone());
                v["error"] = json!(e.error);
                v["cause"] = json!(cause);
            }
        }
        v
    }
}

enum Runner {
    Stdio,
    Lambda(Box<lambda::Pool>),
    Wasm(tokio::sync::OnceCell<Arc<wasm::Prepared>>),
    Http,
}

struct Function {
    deployed: Deployed,
    label: String,
    env: Vec<(String, String)>,
    limiter: Limiter,
    runner: Runner,
}

impl Function {
    fn new(deployed: Deployed, isolation: Option<Arc<process::sandbox::Isolation>>) -> Function {
        let label = deployed.label();
        let def = &deployed.def;
        let env = process::environment(def, &label, &deployed.code_dir);
        let runner = match (def.runtime, def.protocol) {
            (Runtime::Process, Protocol::Stdio) => Runner::Stdio,
            (Runtime::Process, Protocol::Lambda) => {
                Runner::Lambda(Box::new(lambda::Pool::new(lambda::Spec {
                    def: def.clone(),
                    version: label.clone(),
                    code_dir: deployed.code_dir.clone(),
                    env: env.clone(),
                    isolation,
                    opt: opt_dir(&deployed),
                })))
            }
            (Runtime::Wasm, _) => Runner::Wasm(tokio::sync::OnceCell::new()),
            (Runtime::Http, _) => Runner::Http,
        };
        Function {
            limiter: Limiter::new(def.concurrency, def.max_queued),
            label,
            env,
            runner,
            deployed,
        }
    }
}

#[derive(Default)]
struct Entry {
    versions: BTreeMap<u64, Arc<Function>>,
    aliases: BTreeMap<String, u64>,
}

impl Entry {
    fn resolve(&self, name: &str, qualifier: Option<&str>) -> Result<Arc<Function>, TaskError> {
        let missing = |what: String| Err(TaskError::new(names::NOT_FOUND, what));
        match qualifier {
            None | Some("$LATEST") => match self.versions.last_key_value() {
                Some((_, f)) => Ok(f.clone()),
                None => missing(format!("function '{name}' has no version")),
            },
            Some(q) => {
                let version = match q.parse::<u64>() {
                    Ok(v) => v,
                    Err(_) => match self.aliases.get(q) {
                        Some(v) => *v,
                        None => return missing(format!("function '{name}' has no alias '{q}'")),
                    },
                };
                match self.versions.get(&version) {
                    Some(f) => Ok(f.clone()),
                    None => missing(format!("function '{name}' has no version {version}")),
                }
            }
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Stats {
    invocations: u64,
    errors: u64,
    throttles: u64,
    timeouts: u64,
    cold: u64,
    duration_seconds: f64,
    init_seconds: f64,
    gb_seconds: f64,
}

/// A metric: name, type, help and how to read it from [`Stats`].
type Series = (&'static str, &'static str, &'static str, fn(&Stats) -> f64);

struct Inner {
    entries: RwLock<BTreeMap<String, Entry>>,
    logs: Mutex<BTreeMap<String, Arc<LogRing>>>,
    stats: Mutex<BTreeMap<String, Stats>>,
    http: reqwest::Client,
    /// False until the definitions are loaded: invocations wait for it
    /// (the engine may dispatch recovered tasks before the catalog is read).
    loaded: tokio::sync::watch::Sender<bool>,
    /// Linux sandboxing of `process` functions, when switched on.
    isolation: RwLock<Option<Arc<process::sandbox::Isolation>>>,
}

impl Inner {
    /// What `def` asks for that the current isolation cannot enforce.
    fn refusal(&self, def: &FunctionDef) -> Option<(&'static str, String)> {
        self.isolation
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|iso| iso.refusal(def))
    }
}

/// The deployed functions. Cheap to clone; implements the engine's
/// [`Executor`]. Create it inside a tokio runtime: it starts a task that
/// keeps warm pools at `provisioned` and reaps idle instances.
#[derive(Clone)]
pub struct Functions {
    inner: Arc<Inner>,
}

impl Default for Functions {
    fn default() -> Self {
        Functions::new()
    }
}

/// Where a request came from, for request ids and CloudEvent attributes.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// Stable across re-dispatches of one task attempt.
    pub request_id: String,
    pub execution_id: String,
    pub state: String,
}

impl Functions {
    pub fn new() -> Functions {
        let inner = Arc::new(Inner {
            entries: RwLock::new(BTreeMap::new()),
            logs: Mutex::new(BTreeMap::new()),
            stats: Mutex::new(BTreeMap::new()),
            http: http::client(),
            isolation: RwLock::new(None),
            loaded: tokio::sync::watch::Sender::new(true),
        });
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(maintain(Arc::downgrade(&inner)));
        }
        Functions { inner }
    }

    /// Like [`Functions::new`], but invocations wait (up to a minute) until
    /// [`Functions::loaded`] is called: for a server that reads its
    /// definitions from a store that the engine opens first.
    pub fn new_loading() -> Functions {
        let f = Functions::new();
        f.inner.loaded.send_replace(false);
        f
    }

    /// The definitions are in: waiting invocations go ahead.
    pub fn loaded(&self) {
        self.inner.loaded.send_replace(true);
    }

    /// Run `process` functions deployed from now on in the Linux sandbox
    /// ([`process::sandbox`]); returns its layers (what is in force and
    /// what is not on this machine), for the start-up log and `doctor`.
    pub fn enable_isolation(&self) -> Vec<process::sandbox::Layer> {
        self.use_isolation(process::sandbox::Isolation::get())
    }

    fn use_isolation(&self, iso: Arc<process::sandbox::Isolation>) -> Vec<process::sandbox::Layer> {
        let layers = iso.layers().to_vec();
        *self
            .inner
            .isolation
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(iso);
        layers
    }

    /// `--isolation off`: run `process` functions deployed from now on
    /// without namespaces, but with the limits that need none
    /// ([`process::sandbox::Isolation::fallback`]); returns its layers.
    pub fn run_unisolated(&self) -> Vec<process::sandbox::Layer> {
        self.use_isolation(process::sandbox::Isolation::fallback())
    }

    /// What `def` asks for that this server cannot enforce, as (JSON
    /// pointer, message): a deploy is refused with it, and a definition
    /// stored earlier fails its invocations with it.
    pub fn refusal(&self, def: &FunctionDef) -> Option<(&'static str, String)> {
        self.inner.refusal(def)
    }

    /// Replace every version and alias of `name`. Versions whose definition
    /// did not change keep their warm instances.
    pub fn install(&self, name: &str, versions: Vec<Deployed>, aliases: BTreeMap<String, u64>) {
        let isolation = self
            .inner
            .isolation
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut entries = self
            .inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let old = entries.remove(name).unwrap_or_default();
        let mut entry = Entry {
            aliases,
            ..Entry::default()
        };
        for d in versions {
            let key = d.version.unwrap_or(0);
            let f = match old.versions.get(&key) {
                Some(f) if f.deployed == d => f.clone(),
                _ => Arc::new(Function::new(d, isolation.clone())),
            };
            entry.versions.insert(key, f);
        }
        entries.insert(name.to_string(), entry);
    }

    /// Add (or replace) one definition as the only version of its name.
    pub fn add(&self, deployed: Deployed) {
        let name = deployed.def.name.clone();
        self.install(&name, vec![deployed], BTreeMap::new());
    }

    fn has(&self, name: &str) -> bool {
        self.inner
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(name)
    }

    /// Forget a function; its warm instances stop (in-flight invocations finish).
    pub fn remove(&self, name: &str) -> bool {
        let mut entries = self
            .inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner());
        entries.remove(name).is_some()
    }

    /// The names of the deployed functions.
    pub fn names(&self) -> Vec<String> {
        let entries = self.inner.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.keys().cloned().collect()
    }

    /// Warm instances (idle, alive) of the latest version of `name`, for
    /// `lambda` functions; 0 for others.
    pub fn warm_instances(&self, name: &str) -> usize {
        let entries = self.inner.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(name)
            .and_then(|e| e.versions.last_key_value())
            .map_or(0, |(_, f)| match &f.runner {
                Runner::Lambda(pool) => pool.idle_count(),
                _ => 0,
            })
    }

    /// The last `limit` invocations of `name`, oldest first.
    pub fn logs(&self, name: &str, limit: usize) -> Vec<Meter> {
        let logs = self.inner.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.get(name).map(|l| l.last(limit)).unwrap_or_default()
    }

    /// Invoke `name` (at `qualifier`: a version, an alias or `$LATEST`).
    /// `timeout` may shorten the function's `timeoutSeconds`, never lengthen it.
    pub async fn invoke(
        &self,
        name: &str,
        qualifier: Option<&str>,
        event: &Value,
        caller: &Caller,
        timeout: Option<u64>,
    ) -> Outcome {
        let mut meter = Meter {
            function: name.to_string(),
            request_id: caller.request_id.clone(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ..Meter::default()
        };
        if !*self.inner.loaded.borrow() {
            let mut loaded = self.inner.loaded.subscribe();
            let _ = tokio::time::timeout(Duration::from_secs(60), loaded.wait_for(|l| *l)).await;
        }
        // A definition stored a moment ago reaches the executors through
        // the catalog's change feed: give it a second before answering
        // that nothing of that name is deployed.
        let deadline = Instant::now() + Duration::from_secs(1);
        while !self.has(name) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let found = {
            let entries = self.inner.entries.read().unwrap_or_else(|p| p.into_inner());
            match entries.get(name) {
                Some(e) => e.resolve(name, qualifier),
                None => {
                    let known: Vec<&str> = entries.keys().map(String::as_str).collect();
                    Err(TaskError::new(
                        names::NOT_FOUND,
                        format!(
                            "no function named '{name}' is deployed{}",
                            if known.is_empty() {
                                String::new()
                            } else {
                                format!(" (deployed: {})", known.join(", "))
                            }
                        ),
                    ))
                }
            }
        };
        let function = match found {
            Ok(f) => f,
            Err(e) => {
                meter.error = Some(e.error.clone());
                return Outcome {
                    result: Err(e),
                    meter,
                };
            }
        };
        meter.version = function.label.clone();
        let def = &function.deployed.def;
        let timeout = Duration::from_secs(
            timeout
                .unwrap_or(def.timeout_seconds)
                .min(def.timeout_seconds)
                .max(1),
        );
        let result = match function.limiter.acquire(name, timeout).await {
            Err(e) => Err(e),
            Ok(_permit) => {
                let started = Instant::now();
                let r = run(&self.inner, &function, event, caller, timeout, &mut meter).await;
                meter.duration_ms = started.elapsed().as_secs_f64() * 1000.0 - meter.init_ms;
                meter.duration_ms = meter.duration_ms.max(0.0);
                r
            }
        };
        meter.finish_cost(def.memory_mb);
        meter.error = result.as_ref().err().map(|e| e.error.clone());
        self.record(&meter);
        Outcome { result, meter }
    }

    fn record(&self, meter: &Meter) {
        {
            let mut stats = self.inner.stats.lock().unwrap_or_else(|p| p.into_inner());
            let s = stats.entry(meter.function.clone()).or_default();
            s.invocations += 1;
            match meter.error.as_deref() {
                None => {}
                Some(names::THROTTLED) => s.throttles += 1,
                Some(names::TIMEOUT) => {
                    s.timeouts += 1;
                    s.errors += 1
                }
                Some(_) => s.errors += 1,
            }
            s.cold += meter.cold as u64;
            s.duration_seconds += meter.duration_ms / 1000.0;
            s.init_seconds += meter.init_ms / 1000.0;
            s.gb_seconds += meter.gb_seconds;
        }
        let ring = {
            let mut logs = self.inner.logs.lock().unwrap_or_else(|p| p.into_inner());
            logs.entry(meter.function.clone()).or_default().clone()
        };
        tracing::debug!(function = %meter.function, cold = meter.cold, duration_ms = meter.duration_ms, error = ?meter.error, "function invoked");
        ring.push(meter.clone());
    }

    /// Keep warm pools at `provisioned` and stop idle instances now (also
    /// done in the background every half second).
    pub async fn maintain_now(&self) {
        maintain_once(&self.inner).await;
    }
}

async fn maintain(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(MAINTENANCE_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        maintain_once(&inner).await;
    }
}

async fn maintain_once(inner: &Inner) {
    let functions: Vec<Arc<Function>> = {
        let entries = inner.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .values()
            .flat_map(|e| e.versions.values().cloned())
            .collect()
    };
    for f in functions {
        if let Runner::Lambda(pool) = &f.runner {
            pool.maintain().await;
        }
    }
}

async fn run(
    inner: &Inner,
    function: &Function,
    event: &Value,
    caller: &Caller,
    timeout: Duration,
    meter: &mut Meter,
) -> Result<Value, TaskError> {
    let deployed = &function.deployed;
    let def = &deployed.def;
    if let Some((_, message)) = inner.refusal(def) {
        return Err(TaskError::new(names::NOT_ENFORCEABLE, message));
    }
    match &function.runner {
        Runner::Stdio => {
            meter.runtime = "process".into();
            meter.cold = true;
            let mut env = function.env.clone();
            env.push(("SLUICE_IDEMPOTENCY_KEY".into(), caller.request_id.clone()));
            env.push(("AWS_LAMBDA_REQUEST_ID".into(), caller.request_id.clone()));
            let (def, dir, event) = (def.clone(), deployed.code_dir.clone(), event.clone());
            let opt = opt_dir(deployed);
            let isolation = inner
                .isolation
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let joined = tokio::task::spawn_blocking(move || {
                process::stdio::invoke(
                    &def,
                    &dir,
                    &env,
                    &event,
                    timeout,
                    isolation.as_deref(),
                    opt.as_deref(),
                )
            })
            .await;
            let (result, run) = joined.map_err(|e| {
                TaskError::new(
                    names::TASK_FAILED,
                    format!("the function runner stopped: {e}"),
                )
            })?;
            meter.max_memory_kb = run.max_rss_kb;
            meter.set_output(&run.stdout, &run.stderr, OUTPUT_CAP);
            // The result is on stdout; keep only the log (stderr) then.
            if result.is_ok() {
                meter.stdout.clear();
            }
            result
        }
        Runner::Lambda(pool) => {
            meter.runtime = "process".into();
            let (result, report) = pool.invoke(event, &caller.request_id, timeout).await;
            meter.cold = report.cold;
            meter.instance = report.pid;
            meter.init_ms = report.init_ms;
            meter.max_memory_kb = report.max_rss_kb;
            meter.set_output(&report.stdout, &report.stderr, OUTPUT_CAP);
            meter.truncated |= report.truncated;
            result
        }
        Runner::Wasm(cell) => {
            meter.runtime = "wasm".into();
            let Some(path) = deployed.module.clone() else {
                return Err(TaskError::new(
                    names::TASK_FAILED,
                    format!("function '{}' has no module", def.name),
                ));
            };
            let init = Instant::now();
            let mut compiled_now = false;
            let prepared = cell
                .get_or_try_init(|| async {
                    compiled_now = true;
                    let engine = wasm::WasmEngine::shared()?;
                    tokio::task::spawn_blocking(move || engine.prepare(&path))
                        .await
                        .map_err(|e| {
                            TaskError::new(names::TASK_FAILED, format!("compiling stopped: {e}"))
                        })?
                        .map(Arc::new)
                })
                .await?
                .clone();
            if compiled_now {
                meter.cold = true;
                meter.init_ms = init.elapsed().as_secs_f64() * 1000.0;
            }
            let (result, run) = if INLINE.get() {
                // Out of the caller's `block_on` for the module's run: WASI
                // blocks on the runtime itself.
                tokio::task::block_in_place(|| prepared.invoke(def, event, timeout))
            } else {
                let (def, event) = (def.clone(), event.clone());
                tokio::task::spawn_blocking(move || prepared.invoke(&def, &event, timeout))
                    .await
                    .map_err(|e| {
                        TaskError::new(names::TASK_FAILED, format!("the wasm runner stopped: {e}"))
                    })?
            };
            meter.max_memory_kb = Some(run.memory_kb);
            meter.set_output(
                if result.is_ok() { &[] } else { &run.stdout },
                &run.stderr,
                OUTPUT_CAP,
            );
            result
        }
        Runner::Http => {
            meter.runtime = "http".into();
            let source = if caller.execution_id.is_empty() {
                "sluice/functions".to_string()
            } else {
                format!("sluice/executions/{}", caller.execution_id)
            };
            let attributes = http::Attributes {
                id: &caller.request_id,
                source: &source,
                subject: &caller.state,
            };
            let (result, body) = http::invoke(&inner.http, def, &attributes, event, timeout).await;
            if result.is_err() {
                meter.set_output(&body, &[], OUTPUT_CAP);
            }
            result
        }
    }
}

mod metrics;
mod tasks;
pub use tasks::function_name;
