//! Linux isolation of `process` functions (the engine runs as root).
//!
//! Over 800 lines on purpose for now: issue 16 (item 7) splits it into a
//! `sandbox/` module (probe, cgroups, plan, pre-exec child code, fd
//! passing), alongside issue 17's isolation-by-default work on the same code.
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
    layers: Vec<Layer>,
}

static ISOLATION: OnceLock<Arc<Isolation>> = OnceLock::new();

fn probe_unshare(flag: libc::c_int) -> bool {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new("/bin/true");
    // SAFETY: unshare is async-signal-safe; nothing else runs in the child.
    unsafe {
        c.pre_exec(move || {
            if libc::unshare(flag) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.status().map(|s| s.success()).unwrap_or(false)
}

fn own_cgroup_v2() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(PathBuf::from("/sys/fs/cgroup").join(rel.trim_start_matches('/')))
}

/// Whether [`CGROUPS_VAR`] leaves cgroups on (unset, `on` or `off`).
fn cgroups_wanted() -> bool {
    match std::env::var(CGROUPS_VAR).as_deref() {
        Err(_) | Ok("" | "on") => true,
        Ok("off") => false,
        Ok(other) => {
            tracing::warn!(
                "{CGROUPS_VAR}={other:?} is neither \"on\" nor \"off\"; cgroups stay on"
            );
            true
        }
    }
}

fn make_base(dir: PathBuf) -> Option<PathBuf> {
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

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

    /// Whether processes start in a network namespace of their own.
    pub fn private_network(&self) -> bool {
        self.ns_flags & libc::CLONE_NEWNET != 0
    }

    fn probe() -> Isolation {
        let mut layers = Vec::new();
        // SAFETY: plain getter.
        let root = unsafe { libc::geteuid() } == 0;
        let mut ns_flags = 0;
        for (name, flag) in [
            ("mount namespace", libc::CLONE_NEWNS),
            ("PID namespace", libc::CLONE_NEWPID),
            ("IPC namespace", libc::CLONE_NEWIPC),
            ("UTS namespace", libc::CLONE_NEWUTS),
            ("network namespace", libc::CLONE_NEWNET),
        ] {
            let ok = root && probe_unshare(flag);
            if ok {
                ns_flags |= flag;
            }
            layers.push(Layer {
                name,
                available: ok,
                detail: if ok {
                    "a new one per process".into()
                } else if !root {
                    "needs the engine to run as root".into()
                } else {
                    "unshare() was refused on this machine".into()
                },
            });
        }
        let user_ns = root && probe_unshare(libc::CLONE_NEWUSER);
        layers.push(Layer {
            name: "user namespace",
            available: user_ns,
            detail: if user_ns {
                format!("uid/gid {SANDBOX_UID} inside and outside")
            } else {
                "unshare(CLONE_NEWUSER) was refused".into()
            },
        });
        layers.push(Layer {
            name: "non-root uid",
            available: root,
            detail: if root {
                format!("functions run as uid {SANDBOX_UID}")
            } else {
                "the engine is not root, so functions run as its uid".into()
            },
        });
        let mounts = ns_flags & libc::CLONE_NEWNS != 0;
        let root_dir = std::env::temp_dir().join("sluice-sandbox-root");
        let mounts = mounts && std::fs::create_dir_all(&root_dir).is_ok();
        layers.push(Layer {
            name: "filesystem view",
            available: mounts,
            detail: if mounts {
                "read-only system folders, code folder and interpreter; private size-limited /tmp"
                    .into()
            } else {
                "no mount namespace: functions see the host's files (as their uid allows)".into()
            },
        });
        let v2_root = Path::new("/sys/fs/cgroup/cgroup.controllers");
        let use_cgroups = cgroups_wanted();
        let (cgroups, memory_base, pids_base, cpu_base) = if !root || !use_cgroups {
            (Cgroups::None, None, None, None)
        } else if v2_root.exists() {
            let controllers = std::fs::read_to_string(v2_root).unwrap_or_default();
            let base = own_cgroup_v2().and_then(|own| make_base(own.join("sluice")));
            match base {
                Some(b) if controllers.contains("memory") => {
                    let _ = std::fs::write(b.join("cgroup.subtree_control"), "+memory +pids +cpu");
                    (Cgroups::V2, Some(b.clone()), Some(b.clone()), Some(b))
                }
                _ => (Cgroups::None, None, None, None),
            }
        } else if Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
            let m = make_base(PathBuf::from("/sys/fs/cgroup/memory/sluice"));
            let p = make_base(PathBuf::from("/sys/fs/cgroup/pids/sluice"));
            let c = make_base(PathBuf::from("/sys/fs/cgroup/cpu/sluice"));
            (
                if m.is_some() {
                    Cgroups::V1
                } else {
                    Cgroups::None
                },
                m,
                p,
                c,
            )
        } else {
            (Cgroups::None, None, None, None)
        };
        let version = match cgroups {
            Cgroups::V1 => "cgroup v1",
            Cgroups::V2 => "cgroup v2",
            Cgroups::None => "",
        };
        let no_cgroup = if use_cgroups {
            "no memory cgroup"
        } else {
            "cgroups turned off (SLUICE_SANDBOX_CGROUPS=off)"
        };
        layers.push(Layer {
            name: "memory limit",
            available: true,
            detail: if memory_base.is_some() {
                format!("{version} memory limit = memoryMb, OOM → Sandbox.MemoryExceeded")
            } else {
                format!(
                    "{no_cgroup}: RLIMIT_AS = memoryMb + 256 MiB of address space, \
                     a refused allocation → Sandbox.MemoryExceeded \
                     (runtimes that reserve much address space, like V8 or Go, may not start)"
                )
            },
        });
        layers.push(Layer {
            name: "process limit",
            available: true,
            detail: if pids_base.is_some() {
                format!("{version} pids.max = {PIDS_MAX} per instance")
            } else {
                format!("no pids cgroup: RLIMIT_NPROC = {PIDS_MAX} (per uid)")
            },
        });
        layers.push(Layer {
            name: "CPU limit",
            available: true,
            detail: if cpu_base.is_some() {
                format!("{version} quota of one CPU per instance; RLIMIT_CPU on stdio processes")
            } else {
                "RLIMIT_CPU on stdio processes".into()
            },
        });
        layers.push(Layer {
            name: "clean environment",
            available: true,
            detail: "only the Lambda variables and the function's env".into(),
        });
        Isolation {
            ns_flags,
            user_ns,
            mounts,
            cgroups,
            memory_base,
            pids_base,
            cpu_base,
            root_dir,
            layers,
        }
    }
}

/// The cgroup folders of one instance; removed when dropped.
#[derive(Debug)]
pub struct InstanceCgroups {
    dirs: Vec<PathBuf>,
    memory: Option<PathBuf>,
    v2: bool,
}

impl InstanceCgroups {
    /// Whether the memory limit was hit (the kernel refused or OOM-killed).
    pub fn memory_exceeded(&self) -> bool {
        let Some(m) = &self.memory else { return false };
        if self.v2 {
            let events = std::fs::read_to_string(m.join("memory.events")).unwrap_or_default();
            events.lines().any(|l| {
                let mut w = l.split_whitespace();
                matches!((w.next(), w.next()), (Some("oom_kill" | "max"), Some(n)) if n != "0")
            })
        } else {
            let fail = std::fs::read_to_string(m.join("memory.failcnt")).unwrap_or_default();
            fail.trim().parse::<u64>().unwrap_or(0) > 0
                || std::fs::read_to_string(m.join("memory.oom_control"))
                    .unwrap_or_default()
                    .lines()
                    .any(|l| l.starts_with("oom_kill ") && !l.ends_with(" 0"))
        }
    }

    /// Peak memory of the instance, in KiB.
    pub fn peak_kb(&self) -> Option<u64> {
        let m = self.memory.as_ref()?;
        let file = if self.v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        std::fs::read_to_string(m.join(file))
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(|b| b / 1024)
    }
}

impl Drop for InstanceCgroups {
    fn drop(&mut self) {
        let dirs = std::mem::take(&mut self.dirs);
        if dirs.is_empty() {
            return;
        }
        // The processes may take a moment to be gone after SIGKILL.
        std::thread::spawn(move || {
            for _ in 0..100 {
                if dirs
                    .iter()
                    .all(|d| std::fs::remove_dir(d).is_ok() || !d.exists())
                {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
    }
}

/// Everything the child needs, prepared in the parent.
pub struct Plan {
    ns_flags: libc::c_int,
    user_ns: bool,
    procs_files: Vec<CString>,
    pid_text: [u8; 0],
    root: Option<CString>,
    mkdirs: Vec<CString>,
    /// (source, target, is_dir)
    binds: Vec<(CString, CString, bool)>,
    tmp: CString,
    tmp_options: CString,
    proc_dir: CString,
    work_dir: CString,
    rlimits: Vec<(libc::__rlimit_resource_t, u64)>,
    api_socket: Option<RawFd>,
    root_user: bool,
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
            std::process::id(),
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
            let mut sources: Vec<PathBuf> = ["/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin"]
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
            let files = [
                "/etc/ld.so.cache",
                "/etc/localtime",
                "/etc/passwd",
                "/etc/group",
                "/etc/nsswitch.conf",
                "/etc/resolv.conf",
                "/etc/hosts",
            ];
            add_dir(Path::new("/etc"), &mut dirs);
            for f in files.iter().map(Path::new).filter(|f| f.exists()) {
                binds.push((cstr(f), cstr(&join_root(root, f)), false));
            }
            for d in ["/dev", "/tmp", "/proc"] {
                add_dir(Path::new(d), &mut dirs);
            }
            for f in ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"] {
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
            root_user: unsafe { libc::geteuid() } == 0,
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
        let fd = recv_fd(sock.as_raw_fd())?;
        // SAFETY: the fd was just received and is owned here.
        let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
        listener.set_nonblocking(true)?;
        Ok(listener)
    }
}

fn recv_fd(sock: RawFd) -> io::Result<RawFd> {
    // Wait at most 10 s for the child to send it.
    let mut pfd = libc::pollfd {
        fd: sock,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    if unsafe { libc::poll(&mut pfd, 1, 10_000) } <= 0 {
        return Err(io::Error::other(
            "the sandboxed process did not create its Runtime API listener",
        ));
    }
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u8; 64];
    // SAFETY: msghdr filled with valid buffers of the stated sizes.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() as _;
        if libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(io::Error::other("the sandboxed process sent no listener"));
        }
        Ok(std::ptr::read_unaligned(
            libc::CMSG_DATA(cmsg).cast::<RawFd>(),
        ))
    }
}

/// `Err(errno)` of the last call.
fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Write the decimal `n` into `buf`, returning the used part (no allocation).
fn decimal(mut n: u64, buf: &mut [u8; 24]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

fn write_file(path: &std::ffi::CStr, data: &[u8]) -> io::Result<()> {
    // SAFETY: valid C string and buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let r = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Plan {
    /// Runs in the child between fork and exec. Only system calls on
    /// prepared buffers.
    ///
    /// # Safety
    /// Call only from a `pre_exec` hook.
    pub unsafe fn enter(&self) -> io::Result<()> {
        let _ = &self.pid_text;
        let mut buf = [0u8; 24];
        let pid = decimal(libc::getpid() as u64, &mut buf);
        for f in &self.procs_files {
            write_file(f, pid)?;
        }
        for (resource, value) in &self.rlimits {
            let lim = libc::rlimit {
                rlim_cur: *value,
                rlim_max: *value,
            };
            check(libc::setrlimit(*resource, &lim))?;
        }
        if self.ns_flags != 0 {
            check(libc::unshare(self.ns_flags))?;
        }
        if let Some(root) = &self.root {
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                c"tmpfs".as_ptr(),
                root.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                c"size=1m,mode=755".as_ptr().cast(),
            ))?;
            // The private /tmp first: a code folder that lives under /tmp is
            // then bound inside it, not hidden by it.
            libc::mkdir(self.tmp.as_ptr(), 0o755);
            check(libc::mount(
                c"tmpfs".as_ptr(),
                self.tmp.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                self.tmp_options.as_ptr().cast(),
            ))?;
            for d in &self.mkdirs {
                libc::mkdir(d.as_ptr(), 0o755);
            }
            for (src, dst, is_dir) in &self.binds {
                if !is_dir {
                    let fd = libc::open(
                        dst.as_ptr(),
                        libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                        0o644,
                    );
                    if fd >= 0 {
                        libc::close(fd);
                    }
                } else {
                    libc::mkdir(dst.as_ptr(), 0o755);
                }
                if libc::mount(
                    src.as_ptr(),
                    dst.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) != 0
                {
                    continue;
                }
                check(libc::mount(
                    std::ptr::null(),
                    dst.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID,
                    std::ptr::null(),
                ))?;
            }
        }
        if self.ns_flags & libc::CLONE_NEWUTS != 0 {
            let name = b"sluice";
            check(libc::sethostname(name.as_ptr().cast(), name.len()))?;
        }
        if self.ns_flags & libc::CLONE_NEWNET != 0 {
            loopback_up()?;
            if let Some(sock) = self.api_socket {
                send_listener(sock)?;
            }
        }
        if self.ns_flags & libc::CLONE_NEWPID != 0 {
            // The caller is not in the new PID namespace; its next child
            // is (as PID 1). This process stays as a small reaper that
            // exits with the child's status.
            let child = libc::fork();
            if child < 0 {
                return Err(io::Error::last_os_error());
            }
            if child > 0 {
                libc::close_range(0, libc::c_uint::MAX, 0);
                let mut status = 0;
                loop {
                    let r = libc::waitpid(child, &mut status, 0);
                    if r == child {
                        break;
                    }
                    if r < 0 && *libc::__errno_location() != libc::EINTR {
                        libc::_exit(127);
                    }
                }
                if libc::WIFEXITED(status) {
                    libc::_exit(libc::WEXITSTATUS(status));
                }
                // Die the same way (the engine reads the signal).
                let sig = libc::WTERMSIG(status);
                libc::signal(sig, libc::SIG_DFL);
                libc::kill(libc::getpid(), sig);
                libc::_exit(128 + sig);
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if self.root.is_some() {
                check(libc::mount(
                    c"proc".as_ptr(),
                    self.proc_dir.as_ptr(),
                    c"proc".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    std::ptr::null(),
                ))?;
            }
        }
        // chroot rather than pivot_root (which gVisor does not fully
        // support): the process ends with no capability outside its own
        // user namespace, so it cannot chroot back out; the host's tree
        // stays mounted only in this private mount namespace. It happens
        // inside the new user namespace when there is one (unshare of a
        // user namespace is refused inside a chroot), else before the uid
        // changes (chroot needs the capability).
        let mut chrooted = false;
        if let (Some(root), false) = (&self.root, self.user_ns && self.root_user) {
            check(libc::chroot(root.as_ptr()))?;
            chrooted = true;
        }
        if self.root_user {
            let id = SANDBOX_UID;
            check(libc::setgroups(0, std::ptr::null()))?;
            check(libc::setresgid(id, id, id))?;
            check(libc::setresuid(id, id, id))?;
            // Keep /proc/self writable by the process itself (for the maps below).
            libc::prctl(libc::PR_SET_DUMPABLE, 1);
            if self.user_ns {
                check(libc::unshare(libc::CLONE_NEWUSER))?;
                let mut line = [0u8; 64];
                let n = decimal(id as u64, &mut buf).len();
                let text = decimal(id as u64, &mut buf);
                line[..n].copy_from_slice(text);
                line[n] = b' ';
                line[n + 1..2 * n + 1].copy_from_slice(text);
                line[2 * n + 1..2 * n + 3].copy_from_slice(b" 1");
                let map = &line[..2 * n + 3];
                write_file(c"/proc/self/setgroups", b"deny")?;
                write_file(c"/proc/self/uid_map", map)?;
                write_file(c"/proc/self/gid_map", map)?;
            }
        }
        if let (Some(root), false) = (&self.root, chrooted) {
            check(libc::chroot(root.as_ptr()))?;
        }
        check(libc::chdir(self.work_dir.as_ptr()))?;
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
        Ok(())
    }
}

/// `ip link set lo up`, inside the new network namespace.
unsafe fn loopback_up() -> io::Result<()> {
    let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
    if s < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut req: libc::ifreq = std::mem::zeroed();
    for (i, b) in b"lo".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    req.ifr_ifru.ifru_flags =
        (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as libc::c_short;
    let r = libc::ioctl(s, libc::SIOCSIFFLAGS, &req);
    libc::close(s);
    check(r)
}

/// Create the Runtime API listener in this (new) network namespace and
/// hand it to the engine over `sock`.
unsafe fn send_listener(sock: RawFd) -> io::Result<()> {
    let l = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
    if l < 0 {
        return Err(io::Error::last_os_error());
    }
    let one: libc::c_int = 1;
    libc::setsockopt(
        l,
        libc::SOL_SOCKET,
        libc::SO_REUSEADDR,
        (&one as *const libc::c_int).cast(),
        4,
    );
    let mut addr: libc::sockaddr_in = std::mem::zeroed();
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_port = API_PORT.to_be();
    addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
    check(libc::bind(
        l,
        (&addr as *const libc::sockaddr_in).cast(),
        std::mem::size_of::<libc::sockaddr_in>() as u32,
    ))?;
    check(libc::listen(l, 16))?;
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u8; 64];
    let mut msg: libc::msghdr = std::mem::zeroed();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as _;
    let cmsg = libc::CMSG_FIRSTHDR(&msg);
    (*cmsg).cmsg_level = libc::SOL_SOCKET;
    (*cmsg).cmsg_type = libc::SCM_RIGHTS;
    (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
    std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), l);
    let r = libc::sendmsg(sock, &msg, 0);
    libc::close(l);
    libc::close(sock);
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
