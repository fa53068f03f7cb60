//! `protocol: "stdio"`: a fresh process per invocation, the event as JSON
//! on stdin, the result as JSON on stdout; a non-zero exit is an error
//! (named by a Lambda-style `{"errorType", "errorMessage"}` on stdout when
//! there is one). Blocking: call it from a blocking thread.

use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sluice_dsl::function::FunctionDef;
use sluice_engine::TaskError;

use crate::meter::OUTPUT_CAP;
use crate::names;

/// Largest result read from stdout (Step Functions' payload limit is 256 KiB;
/// the engine reports a larger one precisely).
const RESULT_CAP: u64 = 6 * 1024 * 1024;

/// What one run left behind, besides its result.
#[derive(Debug, Default)]
pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `ru_maxrss` of the process, in KiB.
    pub max_rss_kb: Option<u64>,
}

fn tail(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    let start = s.char_indices().rev().nth(500).map(|(i, _)| i).unwrap_or(0);
    s[start..].to_string()
}

/// How long the output may stay open after the process is gone: a
/// descendant that escaped every kill (no cgroups on the machine and a new
/// session) cannot hold the invocation past it.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// Reads up to `cap` bytes of a pipe on a thread of its own (and drains
/// the rest, so the writer never blocks on a full pipe).
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Capture {
    fn start(mut r: impl Read + Send + 'static, cap: u64) -> Capture {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = std::sync::mpsc::channel();
        let shared = buf.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            let mut taken = 0u64;
            loop {
                match r.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let keep = (n as u64).min(cap.saturating_sub(taken)) as usize;
                        if keep > 0 {
                            let mut b = shared.lock().unwrap_or_else(|p| p.into_inner());
                            b.extend_from_slice(&chunk[..keep]);
                            taken += keep as u64;
                        }
                    }
                }
            }
            let _ = tx.send(());
        });
        Capture { buf, done }
    }

    /// What was read once the pipe closed, or what was read by `grace`
    /// (the reader then ends when the last holder of the pipe does).
    fn finish(self, grace: Duration) -> Vec<u8> {
        let _ = self.done.recv_timeout(grace);
        std::mem::take(&mut *self.buf.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Runs the function once. `env` is the complete environment.
pub fn invoke(
    def: &FunctionDef,
    code_dir: &Path,
    env: &[(String, String)],
    event: &Value,
    timeout: Duration,
    isolation: Option<&super::sandbox::Isolation>,
    opt: Option<&Path>,
) -> (Result<Value, TaskError>, Run) {
    let mut run = Run::default();
    let fail = |cause: String| TaskError::new(names::TASK_FAILED, cause);
    let Some((program, args)) = def.command.split_first() else {
        return (Err(fail("the function has no command".into())), run);
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(code_dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout stops its children too.
        .process_group(0);
    let sandbox = match isolation {
        None => None,
        Some(iso) => {
            let needs = super::sandbox::Needs {
                code_dir,
                program,
                memory_mb: def.memory_mb,
                cpu_seconds: Some(timeout.as_secs() + 1),
                network: def.network,
                api_listener: false,
                opt,
            };
            match iso.prepare(&needs) {
                Ok(p) => Some(p),
                Err(e) => {
                    return (
                        Err(fail(format!(
                            "cannot prepare the sandbox of '{}': {e}",
                            def.name
                        ))),
                        run,
                    )
                }
            }
        }
    };
    if let Some(s) = &sandbox {
        let plan = s.plan.clone();
        // SAFETY: `enter` only makes system calls on buffers prepared above.
        unsafe {
            command.pre_exec(move || plan.enter());
        }
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            return (
                Err(fail(format!(
                    "cannot start function '{}' ({program}): {e}",
                    def.name
                ))),
                run,
            )
        }
    };
    let pid = child.id() as libc::pid_t;
    let input = event.to_string();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out_reader = Capture::start(child.stdout.take().expect("stdout is piped"), RESULT_CAP);
    let err_reader = Capture::start(
        child.stderr.take().expect("stderr is piped"),
        OUTPUT_CAP as u64,
    );

    // The watchdog kills the process group at the deadline, unless the
    // process has exited by then. `exited` is set while the process is a
    // zombie (waited for with WNOWAIT), so its pid cannot have been reused
    // when the watchdog signals it.
    let exited = Arc::new((Mutex::new(false), Condvar::new()));
    let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let exited = exited.clone();
        let timed_out = timed_out.clone();
        std::thread::spawn(move || {
            let (lock, cvar) = &*exited;
            let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            let (guard, _) = cvar
                .wait_timeout_while(guard, timeout, |done| !*done)
                .unwrap_or_else(|p| p.into_inner());
            if !*guard {
                timed_out.store(true, std::sync::atomic::Ordering::SeqCst);
                // SAFETY: plain syscall; the group exists while its leader is unreaped.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
        })
    };
    // Wait for the exit without reaping, tell the watchdog, then reap.
    // SAFETY: waitid/wait4 on our own child, with valid out-pointers.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        while libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        ) != 0
            && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {}
    }
    {
        let (lock, cvar) = &*exited;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cvar.notify_all();
    }
    let _ = watchdog.join();
    // Any children it left behind go with it: its process group, and
    // its cgroups for those that left the group.
    // SAFETY: the leader is still a zombie, so the group id is ours.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    if let Some(s) = &sandbox {
        s.cgroups.kill_all();
    }
    let mut status: libc::c_int = 0;
    // SAFETY: as above.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::wait4(pid, &mut status, 0, &mut usage);
        usage
    };
    // std's Child must not wait again: it was reaped above.
    std::mem::forget(child);
    run.max_rss_kb = Some(usage.ru_maxrss as u64);
    // The stdin writer ends when the process's end of the pipe is gone.
    drop(writer);
    run.stdout = out_reader.finish(OUTPUT_GRACE);
    run.stderr = err_reader.finish(OUTPUT_GRACE);
    if let Some(s) = &sandbox {
        if let Some(peak) = s.cgroups.peak_kb() {
            run.max_rss_kb = Some(peak);
        }
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
            && s.memory_exceeded(&String::from_utf8_lossy(&run.stderr))
        {
            let err = TaskError::new(
                names::MEMORY_EXCEEDED,
                format!(
                    "function '{}' needed more than its memoryMb ({} MiB) and was stopped",
                    def.name, def.memory_mb
                ),
            );
            return (Err(err), run);
        }
    }

    if timed_out.load(std::sync::atomic::Ordering::SeqCst) {
        let err = TaskError::new(
            names::TIMEOUT,
            format!(
                "function '{}' did not finish within {} s (its timeoutSeconds) and was stopped",
                def.name,
                timeout.as_secs_f64()
            ),
        );
        return (Err(err), run);
    }
    let result = result_of(def, status, &run);
    (result, run)
}

fn result_of(def: &FunctionDef, status: libc::c_int, run: &Run) -> Result<Value, TaskError> {
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !exited_ok {
        // Lambda's error shape on stdout names the error (Catch on "ValueError" works).
        if let Ok(v) = serde_json::from_slice::<Value>(&run.stdout) {
            if let Some(kind) = v.get("errorType").and_then(Value::as_str) {
                let message = v
                    .get("errorMessage")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                return Err(TaskError::new(kind, message));
            }
        }
        let how = if libc::WIFSIGNALED(status) {
            format!("was killed by signal {}", libc::WTERMSIG(status))
        } else {
            format!("exited with status {}", libc::WEXITSTATUS(status))
        };
        return Err(TaskError::new(
            names::TASK_FAILED,
            format!("function '{}' {how}: {}", def.name, tail(&run.stderr)),
        ));
    }
    if run.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&run.stdout).map_err(|e| {
        TaskError::new(
            names::INVALID_RESULT,
            format!(
                "function '{}' printed output that is not JSON ({e}): {}",
                def.name,
                tail(&run.stdout)
            ),
        )
    })
}
