//! Linux isolation of `process` functions (the engine runs as root).
//!
//! Each process starts in new mount, PID, IPC, UTS and (unless the
//! function has `"network": true`) network namespaces, sees only a
//! read-only view of the system directories, its code folder and its
//! interpreter's prefix, plus a private size-limited `/tmp`; it runs as
//! uid/gid 65534 inside a user namespace of its own, with
//! `PR_SET_NO_NEW_PRIVS`, in per-instance cgroups (memory → OOM kill,
//! reported as `Sandbox.MemoryExceeded`; pids against fork bombs; a CPU
//! quota), and with `RLIMIT_CPU` on one-shot processes.
//!
//! Without cgroups (none on the machine, or `SLUICE_SANDBOX_CGROUPS=off`)
//! memory falls back to `RLIMIT_AS` and processes to `RLIMIT_NPROC`; a
//! refused allocation is then recognised by what the runtime reports
//! ([`super::oom`]) and is still `Sandbox.MemoryExceeded`.
//!
//! Without a network, a `lambda` process still reaches its Runtime API:
//! the child creates the listener on 127.0.0.1:[`API_PORT`] inside its
//! network namespace and passes it to the engine over a socketpair
//! (SCM_RIGHTS), and the engine serves the API on it.
//!
//! The work happens in the child between fork and exec (`pre_exec`), so
//! everything it needs (paths as C strings, the cgroup files) is prepared
//! in the parent, and the child only makes system calls (no allocation).
//! `libc` rather than `nix`: the child-side code is a straight list of
//! raw syscalls on prepared buffers, which libc expresses directly.
//!
//! A layer that does not work on this machine (probed at start-up) is
//! left out and reported by [`Isolation::layers`]; the others still apply.

use serde::Serialize;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use sluice_dsl::function::{FunctionDef, Runtime};

/// The uid and gid functions run as (`nobody`).
pub const SANDBOX_UID: u32 = 65534;
/// Processes (and threads) one instance may have at once.
pub const PIDS_MAX: u64 = 128;
/// The port of the Runtime API inside a sandbox without network.
pub const API_PORT: u16 = 9001;
/// Set to `off` to leave cgroups alone (for instance where the engine's
/// cgroup is managed by someone else): memory and process limits then fall
/// back to `RLIMIT_AS` and `RLIMIT_NPROC`.
pub const CGROUPS_VAR: &str = "SLUICE_SANDBOX_CGROUPS";
/// Set to `off` to run sandboxed functions without the syscall filter
/// (for a runtime that needs one of the calls it refuses).
pub const SECCOMP_VAR: &str = "SLUICE_SANDBOX_SECCOMP";

/// One isolation layer and whether it is in force.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    pub name: &'static str,
    pub available: bool,
    /// How it is enforced, or why it is not.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cgroups {
    V1,
    V2,
    None,
}

/// What this machine supports, probed once.
#[derive(Debug)]
pub struct Isolation {
    ns_flags: libc::c_int,
    user_ns: bool,
    mounts: bool,
    cgroups: Cgroups,
    /// Per-controller base folders (`.../sluice`), v1: memory, pids, cpu; v2: one.
    memory_base: Option<PathBuf>,
    pids_base: Option<PathBuf>,
    cpu_base: Option<PathBuf>,
    root_dir: PathBuf,
    /// Functions run as [`SANDBOX_UID`] (when the engine is root).
    drop_uid: bool,
    /// The syscall filter ([`seccomp`]), when this machine takes one.
    seccomp: Option<Arc<seccompiler::BpfProgram>>,
    layers: Vec<Layer>,
}

static ISOLATION: OnceLock<Arc<Isolation>> = OnceLock::new();
static FALLBACK: OnceLock<Arc<Isolation>> = OnceLock::new();

/// The layers `sluice serve --isolation on` (the default) cannot do
/// without: it refuses to start when one is missing.
pub const REQUIRED: [&str; 5] = [
    "mount namespace",
    "PID namespace",
    "network namespace",
    "non-root uid",
    "filesystem view",
];

/// Host folders a sandboxed function sees, read-only (those that exist).
pub const SYSTEM_DIRS: [&str; 6] = ["/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin"];
/// Host files under `/etc` a sandboxed function sees, read-only.
pub const ETC_FILES: [&str; 7] = [
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/resolv.conf",
    "/etc/hosts",
];
/// Device nodes a sandboxed function sees.
pub const DEV_FILES: [&str; 4] = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"];

/// Everything a sandboxed function sees of the host, for `sluice doctor`
/// and the documentation: nothing else is mounted in its root.
pub fn visible_paths() -> Vec<String> {
    let mut out: Vec<String> = SYSTEM_DIRS
        .iter()
        .chain(ETC_FILES.iter())
        .filter(|p| Path::new(p).exists())
        .map(|p| format!("{p} (read-only)"))
        .collect();
    out.extend(DEV_FILES.iter().map(|d| d.to_string()));
    out.push("the function's code folder or unpacked package (read-only)".into());
    out.push("its interpreter's folder, when outside /usr (read-only)".into());
    out.push("/opt: its layers, when it has any (read-only)".into());
    out.push("/tmp: private tmpfs of memoryMb (16 to 512 MiB)".into());
    out.push("/proc: its own PID namespace only".into());
    out
}

mod cgroups;
mod child;
mod handover;
mod probe;
pub mod seccomp;

pub use cgroups::InstanceCgroups;
pub use child::{close_in_children, Plan};

impl Isolation {
    /// The machine's isolation, probed on first use (and
    /// [`CGROUPS_VAR`] read then).
    pub fn get() -> Arc<Isolation> {
        ISOLATION
            .get_or_init(|| Arc::new(Isolation::probe()))
            .clone()
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// `--isolation off`: no namespaces and no change of uid, but the
    /// limits that need neither stay: the memory, process and CPU limits
    /// (cgroups, or rlimits without them), the clean environment, and the
    /// kill of everything an invocation started when it ends.
    pub fn fallback() -> Arc<Isolation> {
        FALLBACK
            .get_or_init(|| {
                let full = Isolation::get();
                let mut layers = vec![Layer {
                    name: "namespaces",
                    available: false,
                    detail: "--isolation off: functions share the engine's files, network, \
                             processes and uid"
                        .into(),
                }];
                layers.extend(
                    full.layers
                        .iter()
                        .filter(|l| {
                            matches!(
                                l.name,
                                "memory limit"
                                    | "process limit"
                                    | "CPU limit"
                                    | "invocation end"
                                    | "clean environment"
                            )
                        })
                        .cloned(),
                );
                Arc::new(Isolation {
                    ns_flags: 0,
                    user_ns: false,
                    mounts: false,
                    cgroups: full.cgroups,
                    memory_base: full.memory_base.clone(),
                    pids_base: full.pids_base.clone(),
                    cpu_base: full.cpu_base.clone(),
                    root_dir: full.root_dir.clone(),
                    drop_uid: false,
                    seccomp: None,
                    layers,
                })
            })
            .clone()
    }

    /// The [`REQUIRED`] layers this machine lacks.
    pub fn missing(&self) -> Vec<&Layer> {
        self.layers
            .iter()
            .filter(|l| !l.available && REQUIRED.contains(&l.name))
            .collect()
    }

    /// Why `def` cannot run here as it is written: what it asks for that
    /// this isolation cannot enforce, as (JSON pointer, message).
    pub fn refusal(&self, def: &FunctionDef) -> Option<(&'static str, String)> {
        if def.runtime == Runtime::Process && !def.layers.is_empty() && !self.mounts {
            return Some((
                "/layers",
                format!(
                    "function '{}' has layers, which are mounted at /opt inside the sandbox; \
                     this server runs process functions with --isolation off (no filesystem \
                     view). Run it with --isolation on, or put the layers' files in the code folder",
                    def.name
                ),
            ));
        }
        if def.runtime != Runtime::Process || def.network || self.private_network() {
            return None;
        }
        Some((
            "/network",
            format!(
                "function '{}' says \"network\": false (the default), which this server cannot \
                 enforce: it runs process functions with --isolation off, so they share its \
                 network. Set \"network\": true to grant the network, or run the server with \
                 --isolation on",
                def.name
            ),
        ))
    }

    /// Whether processes start in a network namespace of their own.
    pub fn private_network(&self) -> bool {
        self.ns_flags & libc::CLONE_NEWNET != 0
    }
}

/// A prepared sandbox for one process: install it on a Command, keep it
/// (and its cgroups) for the life of the process.
pub struct Prepared {
    pub plan: Arc<Plan>,
    pub cgroups: InstanceCgroups,
    /// Memory is limited by `RLIMIT_AS` rather than a cgroup.
    address_space_limited: bool,
    /// The parent's end of the socket the child sends its Runtime API
    /// listener through.
    api_parent: Option<OwnedFd>,
    api_child: Option<OwnedFd>,
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// This server's prefix of its instances' cgroup names: the pid alone is
/// not enough, since a server killed with `kill -9` leaves its folders
/// behind and a later server may get the same pid.
fn instance_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
    })
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

fn join_root(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// What a process function needs from the host's filesystem.
pub struct Needs<'a> {
    pub code_dir: &'a Path,
    pub program: &'a str,
    pub memory_mb: u64,
    pub cpu_seconds: Option<u64>,
    pub network: bool,
    /// A Runtime API listener must be created inside the sandbox.
    pub api_listener: bool,
    /// The function's layers, mounted read-only at `/opt`.
    pub opt: Option<&'a Path>,
}

/// The folder an interpreter lives in, two levels up from its binary
/// (`/opt/python/bin/python3` → `/opt/python`), when outside the system folders.
fn program_prefix(program: &str) -> Option<PathBuf> {
    let path = if program.contains('/') {
        PathBuf::from(program)
    } else {
        crate::process::PATH
            .split(':')
            .map(|d| Path::new(d).join(program))
            .find(|p| p.exists())?
    };
    let real = path.canonicalize().ok()?;
    let prefix = real.parent()?.parent()?.to_path_buf();
    let system = ["/usr", "/bin", "/lib", "/lib64", "/sbin"];
    if system.iter().any(|s| real.starts_with(s)) || prefix == Path::new("/") {
        None
    } else {
        Some(prefix)
    }
}

impl Isolation {
    pub fn prepare(&self, needs: &Needs<'_>) -> io::Result<Prepared> {
        let id = format!(
            "{}-{}",
            instance_prefix(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut cgroups = InstanceCgroups {
            dirs: Vec::new(),
            memory: None,
            v2: self.cgroups == Cgroups::V2,
        };
        let mut procs_files = Vec::new();
        let memory_bytes = needs.memory_mb << 20;
        let mut rlimits: Vec<(libc::__rlimit_resource_t, u64)> = vec![(libc::RLIMIT_CORE, 0)];
        if let Some(s) = needs.cpu_seconds {
            rlimits.push((libc::RLIMIT_CPU, s));
        }
        match self.cgroups {
            Cgroups::V2 => {
                if let Some(base) = &self.memory_base {
                    let dir = base.join(&id);
                    std::fs::create_dir(&dir)?;
                    std::fs::write(dir.join("memory.max"), memory_bytes.to_string())?;
                    let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                    let _ = std::fs::write(dir.join("pids.max"), PIDS_MAX.to_string());
                    let _ = std::fs::write(dir.join("cpu.max"), "100000 100000");
                    procs_files.push(cstr(&dir.join("cgroup.procs")));
                    cgroups.memory = Some(dir.clone());
                    cgroups.dirs.push(dir);
                }
            }
            Cgroups::V1 => {
                if let Some(base) = &self.memory_base {
                    let dir = base.join(&id);
                    std::fs::create_dir(&dir)?;
                    std::fs::write(dir.join("memory.limit_in_bytes"), memory_bytes.to_string())?;
                    let _ = std::fs::write(
                        dir.join("memory.memsw.limit_in_bytes"),
                        memory_bytes.to_string(),
                    );
                    procs_files.push(cstr(&dir.join("cgroup.procs")));
                    cgroups.memory = Some(dir.clone());
                    cgroups.dirs.push(dir);
                }
                if let Some(base) = &self.pids_base {
                    let dir = base.join(&id);
                    if std::fs::create_dir(&dir).is_ok()
                        && std::fs::write(dir.join("pids.max"), PIDS_MAX.to_string()).is_ok()
                    {
                        procs_files.push(cstr(&dir.join("cgroup.procs")));
                        cgroups.dirs.push(dir);
                    }
                }
                if let Some(base) = &self.cpu_base {
                    let dir = base.join(&id);
                    if std::fs::create_dir(&dir).is_ok() {
                        let _ = std::fs::write(dir.join("cpu.cfs_period_us"), "100000");
                        let _ = std::fs::write(dir.join("cpu.cfs_quota_us"), "100000");
                        procs_files.push(cstr(&dir.join("cgroup.procs")));
                        cgroups.dirs.push(dir);
                    }
                }
            }
            Cgroups::None => {}
        }
        if self.memory_base.is_none() {
            rlimits.push((libc::RLIMIT_AS, memory_bytes + (256 << 20)));
        }
        if self.pids_base.is_none() {
            rlimits.push((libc::RLIMIT_NPROC, PIDS_MAX));
        }
        let mut ns_flags = self.ns_flags;
        if needs.network {
            ns_flags &= !libc::CLONE_NEWNET;
        }
        let (api_parent, api_child) = if needs.api_listener && ns_flags & libc::CLONE_NEWNET != 0 {
            let mut fds = [0 as RawFd; 2];
            // SAFETY: socketpair writes two fds into the array.
            if unsafe {
                libc::socketpair(
                    libc::AF_UNIX,
                    libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                    0,
                    fds.as_mut_ptr(),
                )
            } != 0
            {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: both fds were just created and are owned here.
            unsafe {
                (
                    Some(OwnedFd::from_raw_fd(fds[0])),
                    Some(OwnedFd::from_raw_fd(fds[1])),
                )
            }
        } else {
            (None, None)
        };

        let mut mkdirs = Vec::new();
        let mut binds = Vec::new();
        let root = self.mounts.then(|| self.root_dir.clone());
        if let Some(root) = &root {
            let mut dirs: Vec<PathBuf> = Vec::new();
            let add_dir = |p: &Path, dirs: &mut Vec<PathBuf>| {
                let mut acc = PathBuf::from("/");
                for c in p.components().skip(1) {
                    acc.push(c);
                    if !dirs.contains(&acc) {
                        dirs.push(acc.clone());
                    }
                }
            };
            let mut sources: Vec<PathBuf> = SYSTEM_DIRS
                .iter()
                .map(PathBuf::from)
                .filter(|p| p.exists())
                .collect();
            if let Some(prefix) = program_prefix(needs.program) {
                sources.push(prefix);
            }
            sources.push(needs.code_dir.to_path_buf());
            for p in &sources {
                add_dir(p, &mut dirs);
                // A symlink (e.g. /bin → usr/bin) is re-created by binding its target's path.
                binds.push((cstr(p), cstr(&join_root(root, p)), true));
            }
            if let Some(opt) = needs.opt {
                add_dir(Path::new("/opt"), &mut dirs);
                binds.push((cstr(opt), cstr(&root.join("opt")), true));
            }
            add_dir(Path::new("/etc"), &mut dirs);
            for f in ETC_FILES.iter().map(Path::new).filter(|f| f.exists()) {
                binds.push((cstr(f), cstr(&join_root(root, f)), false));
            }
            for d in ["/dev", "/tmp", "/proc"] {
                add_dir(Path::new(d), &mut dirs);
            }
            for f in DEV_FILES {
                binds.push((
                    cstr(Path::new(f)),
                    cstr(&join_root(root, Path::new(f))),
                    false,
                ));
            }
            mkdirs = dirs.iter().map(|d| cstr(&join_root(root, d))).collect();
        }
        let plan = Plan {
            ns_flags,
            user_ns: self.user_ns,
            procs_files,
            pid_text: [],
            root: root.as_deref().map(cstr),
            mkdirs,
            binds,
            tmp: cstr(
                &root
                    .as_deref()
                    .map_or_else(|| PathBuf::from("/tmp"), |r| r.join("tmp")),
            ),
            tmp_options: CString::new(format!(
                "size={}m,mode=1777",
                needs.memory_mb.clamp(16, 512)
            ))
            .unwrap_or_default(),
            proc_dir: cstr(
                &root
                    .as_deref()
                    .map_or_else(|| PathBuf::from("/proc"), |r| r.join("proc")),
            ),
            work_dir: cstr(needs.code_dir),
            rlimits,
            api_socket: api_child.as_ref().map(AsRawFd::as_raw_fd),
            // SAFETY: plain getter.
            root_user: self.drop_uid && unsafe { libc::geteuid() } == 0,
            seccomp: self.seccomp.clone(),
        };
        Ok(Prepared {
            plan: Arc::new(plan),
            cgroups,
            address_space_limited: self.memory_base.is_none(),
            api_parent,
            api_child,
        })
    }
}

impl Prepared {
    /// Whether the memory limit stopped the process: the cgroup's
    /// counters say so, or under `RLIMIT_AS` its stderr shows a refused
    /// allocation.
    pub fn memory_exceeded(&self, stderr: &str) -> bool {
        self.cgroups.memory_exceeded()
            || (self.address_space_limited && super::oom::stderr_shows_refused_allocation(stderr))
    }

    /// Whether a Lambda error type the function reported is its runtime's
    /// refused allocation under `RLIMIT_AS`.
    pub fn memory_error_type(&self, error_type: &str) -> bool {
        self.address_space_limited && super::oom::is_memory_error_type(error_type)
    }

    /// Whether the Runtime API must be served on a listener that the
    /// child creates in its network namespace.
    pub fn needs_api_listener(&self) -> bool {
        self.api_parent.is_some()
    }

    /// After spawning: the listener the child created on
    /// 127.0.0.1:[`API_PORT`] in its own network namespace.
    pub fn receive_listener(&mut self) -> io::Result<std::net::TcpListener> {
        drop(self.api_child.take());
        let Some(sock) = &self.api_parent else {
            return Err(io::Error::other("no listener was asked for"));
        };
        let fd = handover::recv_fd(sock.as_raw_fd())?;
        // SAFETY: the fd was just received and is owned here.
        let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
        listener.set_nonblocking(true)?;
        Ok(listener)
    }
}
