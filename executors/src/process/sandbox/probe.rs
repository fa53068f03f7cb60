//! What this machine offers, probed once at first use.

use std::io;
use std::path::{Path, PathBuf};

use super::{Cgroups, Isolation, Layer, CGROUPS_VAR, PIDS_MAX, SANDBOX_UID};

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

/// The compiled filter, if a process can install it on this machine.
fn probe_seccomp() -> Result<seccompiler::BpfProgram, String> {
    use std::os::unix::process::CommandExt;
    if std::env::var(super::SECCOMP_VAR).as_deref() == Ok("off") {
        return Err(format!("turned off ({}=off)", super::SECCOMP_VAR));
    }
    let program = super::seccomp::program()?;
    let installed = std::sync::Arc::new(program.clone());
    let mut c = std::process::Command::new("/bin/true");
    // SAFETY: the filter is installed with prctl/seccomp only.
    unsafe {
        c.pre_exec(move || super::seccomp::install(&installed));
    }
    match c.status() {
        Ok(s) if s.success() => Ok(program),
        Ok(s) => Err(format!("a process with the filter did not run ({s})")),
        Err(e) => Err(format!("seccomp was refused on this machine: {e}")),
    }
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
    remove_stale(&dir);
    Some(dir)
}

/// Remove the instance folders a server killed with `kill -9` left
/// behind: those without processes, untouched for a minute (a folder of
/// another running server is younger, or has its process in it).
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(60));
        let empty = std::fs::read_to_string(path.join("cgroup.procs"))
            .is_ok_and(|procs| procs.trim().is_empty());
        if path.is_dir() && old && empty {
            let _ = std::fs::remove_dir(&path);
        }
    }
}

impl Isolation {
    pub(super) fn probe() -> Isolation {
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
        let seccomp = probe_seccomp();
        layers.push(Layer {
            name: "syscall filter",
            available: seccomp.is_ok(),
            detail: match &seccomp {
                Ok(_) => format!(
                    "seccomp: {} system calls a function never needs fail with EPERM (mount, unshare, ptrace, bpf, …)",
                    super::seccomp::DENIED.len()
                ),
                Err(e) => e.clone(),
            },
        });
        layers.push(Layer {
            name: "invocation end",
            available: true,
            detail: if memory_base.is_some() || pids_base.is_some() {
                "every process an invocation (or a lambda instance) started is killed with it: \
                 its process group and everything in its cgroups"
                    .into()
            } else {
                "its process group is killed with it; without cgroups a child in a new \
                 session is not, and its output is read for at most 0.5 s more"
                    .into()
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
            drop_uid: true,
            seccomp: seccomp.ok().map(std::sync::Arc::new),
            layers,
        }
    }
}
