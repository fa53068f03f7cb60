//! `runtime: "wasm"`: WASI preview 1 command modules in wasmtime. The
//! module is compiled once per function version (the "precompiled module");
//! every invocation gets a fresh instance from the pooling allocator with
//! the event on stdin and its stdout as the result. Time is bounded by
//! epoch interruption (a ticker thread advances the epoch every
//! [`EPOCH_TICK`]) → `States.Timeout`; memory by `StoreLimits` →
//! `Sandbox.MemoryExceeded`. No files, sockets or environment of the host
//! are visible to the module.

use serde_json::Value;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use sluice_dsl::function::FunctionDef;
use sluice_engine::TaskError;

use crate::meter::OUTPUT_CAP;
use crate::names;

/// Granularity of wasm deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Instances (and linear memories) the pool holds at once, across all
/// wasm functions; more concurrent invocations wait for `concurrency`.
const POOL_INSTANCES: u32 = 256;

/// Largest linear memory any wasm function may have (its `memoryMb`
/// applies below this).
const MAX_MEMORY: usize = 4 << 30;

/// Bytes of each pooled linear memory (and table) zeroed in place when
/// its instance ends, and kept resident: at most 256 × 1 MiB + 64 KiB.
const KEEP_RESIDENT: usize = 1 << 20;
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

/// Largest result a module may print.
const RESULT_CAP: usize = 6 * 1024 * 1024;

struct Host {
    wasi: WasiP1Ctx,
    limits: Limits,
}

/// `StoreLimits`, and a note of whether it refused memory, so the failure
/// that follows is reported as `Sandbox.MemoryExceeded`.
struct Limits {
    inner: StoreLimits,
    refused: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.inner.memory_growing(current, desired, maximum)?;
        self.refused |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }
}

/// The wasmtime engine all wasm functions share.
pub struct WasmEngine {
    engine: Engine,
    linker: Linker<Host>,
}

static SHARED: OnceLock<Result<Arc<WasmEngine>, String>> = OnceLock::new();

impl WasmEngine {
    /// The process-wide engine (and its epoch ticker), created on first use.
    pub fn shared() -> Result<Arc<WasmEngine>, TaskError> {
        SHARED
            .get_or_init(|| {
                WasmEngine::new()
                    .map(Arc::new)
                    .map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(|e| {
                TaskError::new(
                    names::TASK_FAILED,
                    format!("cannot start the WebAssembly engine: {e}"),
                )
            })
    }

    fn new() -> wasmtime::Result<WasmEngine> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(POOL_INSTANCES)
            .total_memories(POOL_INSTANCES)
            .total_tables(POOL_INSTANCES)
            .max_memory_size(MAX_MEMORY)
            // A freed slot's first pages are zeroed with memset and stay
            // resident, instead of an madvise and page faults on reuse
            // (still zeroed: nothing crosses from one invocation to the next).
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT_TABLE);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("sluice-wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |h: &mut Host| &mut h.wasi)?;
        Ok(WasmEngine { engine, linker })
    }

    /// Compile a module and link it against WASI, once per function version.
    pub fn prepare(&self, path: &Path) -> Result<Prepared, TaskError> {
        let fail = |m: String| TaskError::new(names::TASK_FAILED, m);
        let bytes = std::fs::read(path)
            .map_err(|e| fail(format!("cannot read the module {}: {e}", path.display())))?;
        let module = Module::new(&self.engine, &bytes).map_err(|e| {
            fail(format!(
                "{} is not a valid WebAssembly module: {e:#}",
                path.display()
            ))
        })?;
        let pre = self.linker.instantiate_pre(&module).map_err(|e| {
            fail(format!(
                "{} needs imports other than WASI preview 1: {e:#}",
                path.display()
            ))
        })?;
        Ok(Prepared {
            pre,
            engine: self.engine.clone(),
        })
    }
}

/// A compiled, linked module, ready for fresh instances.
pub struct Prepared {
    pre: InstancePre<Host>,
    engine: Engine,
}

/// What a run left behind besides its result.
#[derive(Debug, Default)]
pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Peak linear memory, in KiB.
    pub memory_kb: u64,
}

impl Prepared {
    /// Run `_start` once with the event on stdin. Blocking.
    pub fn invoke(
        &self,
        def: &FunctionDef,
        event: &Value,
        timeout: Duration,
    ) -> (Result<Value, TaskError>, Run) {
        let mut run = Run::default();
        let stdout = MemoryOutputPipe::new(RESULT_CAP);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAP);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdin(MemoryInputPipe::new(event.to_string()))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .arg(&def.name);
        for (k, v) in &def.env {
            wasi.env(k, v);
        }
        let limits = Limits {
            inner: StoreLimitsBuilder::new()
                .memory_size((def.memory_mb as usize).saturating_mul(1 << 20))
                .instances(1)
                .build(),
            refused: false,
        };
        let mut store = Store::new(
            &self.engine,
            Host {
                wasi: wasi.build_p1(),
                limits,
            },
        );
        store.limiter(|h| &mut h.limits);
        let ticks = (timeout.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let outcome = self.pre.instantiate(&mut store).and_then(|instance| {
            let memory = instance.get_memory(&mut store, "memory");
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
            let r = start.call(&mut store, ());
            if let Some(m) = memory {
                run.memory_kb = (m.data_size(&store) / 1024) as u64;
            }
            r
        });
        let refused = store.data().limits.refused;
        drop(store);
        run.stdout = stdout.contents().to_vec();
        run.stderr = stderr.contents().to_vec();
        let name = &def.name;
        let exit = match outcome {
            Ok(()) => 0,
            Err(e) => {
                if let Some(exit) = e.downcast_ref::<I32Exit>() {
                    exit.0
                } else if refused {
                    return (
                        Err(TaskError::new(
                            names::MEMORY_EXCEEDED,
                            format!(
                                "function '{name}' needed more than its memoryMb ({} MiB)",
                                def.memory_mb
                            ),
                        )),
                        run,
                    );
                } else if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                    return (
                        Err(TaskError::new(
                            names::TIMEOUT,
                            format!("function '{name}' did not finish within {} s (its timeoutSeconds) and was stopped", timeout.as_secs_f64()),
                        )),
                        run,
                    );
                } else {
                    return (
                        Err(TaskError::new(
                            names::TASK_FAILED,
                            format!("function '{name}' trapped: {e:#}"),
                        )),
                        run,
                    );
                }
            }
        };
        let result = if exit != 0 {
            match serde_json::from_slice::<Value>(&run.stdout) {
                Ok(v) if v.get("errorType").is_some_and(Value::is_string) => Err(TaskError::new(
                    v["errorType"].as_str().unwrap_or_default(),
                    v.get("errorMessage")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                )),
                _ => Err(TaskError::new(
                    names::TASK_FAILED,
                    format!(
                        "function '{name}' exited with status {exit}: {}",
                        String::from_utf8_lossy(&run.stderr).trim()
                    ),
                )),
            }
        } else if run.stdout.iter().all(u8::is_ascii_whitespace) {
            Ok(Value::Null)
        } else {
            serde_json::from_slice(&run.stdout).map_err(|e| {
                TaskError::new(
                    names::INVALID_RESULT,
                    format!("function '{name}' printed output that is not JSON: {e}"),
                )
            })
        };
        (result, run)
    }
}
