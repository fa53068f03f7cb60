//! The code that runs in the child between fork and exec.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};

use super::SANDBOX_UID;

/// Everything the child needs, prepared in the parent.
pub struct Plan {
    pub(super) ns_flags: libc::c_int,
    pub(super) user_ns: bool,
    pub(super) procs_files: Vec<CString>,
    pub(super) pid_text: [u8; 0],
    pub(super) root: Option<CString>,
    pub(super) mkdirs: Vec<CString>,
    /// (source, target, is_dir)
    pub(super) binds: Vec<(CString, CString, bool)>,
    pub(super) tmp: CString,
    pub(super) tmp_options: CString,
    pub(super) proc_dir: CString,
    pub(super) work_dir: CString,
    pub(super) rlimits: Vec<(libc::__rlimit_resource_t, u64)>,
    pub(super) api_socket: Option<RawFd>,
    pub(super) root_user: bool,
    pub(super) seccomp: Option<std::sync::Arc<seccompiler::BpfProgram>>,
}

/// The server's listening sockets ([`close_in_children`]): the descriptor
/// in the high 32 bits, the TCP port in the low 16; 0 when unused.
static CLOSED_IN_CHILDREN: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Have every sandboxed child close the listening socket `fd` (bound to
/// `port`) first thing after the fork.
///
/// A fork copies every descriptor, `O_CLOEXEC` ones too, and they stay
/// open until the exec, after the sandbox's setup (namespaces, mounts),
/// which takes milliseconds. When the server was killed meanwhile
/// (`kill -9`), a child still in that setup held its listening port, and
/// the restarted server's bind failed with "address in use" (seen in 8 of
/// 15 kills under load). The child closes `fd` only while it still is a
/// listening socket on `port`: once the server closed its listener (at
/// shutdown, while dispatches still run), the number may name another
/// descriptor the child needs. False for stdio and when every slot is
/// taken.
pub fn close_in_children(fd: RawFd, port: u16) -> bool {
    if fd <= 2 {
        return false;
    }
    let packed = (fd as u64) << 32 | port as u64;
    CLOSED_IN_CHILDREN.iter().any(|slot| {
        slot.compare_exchange(0, packed, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    })
}

/// Whether `fd` is a listening TCP socket on `port` (async-signal-safe).
unsafe fn is_listener_on(fd: libc::c_int, port: u16) -> bool {
    let mut listening: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let r = libc::getsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ACCEPTCONN,
        (&mut listening as *mut libc::c_int).cast(),
        &mut len,
    );
    if r != 0 || listening == 0 {
        return false;
    }
    let mut addr: libc::sockaddr_storage = std::mem::zeroed();
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    if libc::getsockname(
        fd,
        (&mut addr as *mut libc::sockaddr_storage).cast(),
        &mut len,
    ) != 0
    {
        return false;
    }
    let bound = match addr.ss_family as libc::c_int {
        libc::AF_INET => {
            let a = &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
            u16::from_be(a.sin_port)
        }
        libc::AF_INET6 => {
            let a = &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
            u16::from_be(a.sin6_port)
        }
        _ => return false,
    };
    bound == port
}

/// `Err(errno)` of the last call.
pub(super) fn check(r: libc::c_int) -> io::Result<()> {
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
        for slot in &CLOSED_IN_CHILDREN {
            // An atomic load, getsockopt, getsockname and close: all
            // async-signal-safe.
            let packed = slot.load(Ordering::Acquire);
            if packed == 0 {
                continue;
            }
            let (fd, port) = ((packed >> 32) as libc::c_int, packed as u16);
            if is_listener_on(fd, port) {
                libc::close(fd);
            }
        }
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
                super::handover::send_listener(sock)?;
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
        // Last: the filter refuses some of the calls above.
        if let Some(program) = &self.seccomp {
            super::seccomp::install(program)?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn only_a_listening_socket_on_the_port_counts_as_the_servers_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fd = listener.as_raw_fd();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        // SAFETY: plain system calls on descriptors this test owns.
        unsafe {
            assert!(is_listener_on(fd, port));
            assert!(!is_listener_on(fd, port.wrapping_add(1)));
            // A connection on the same port (the accepted one) is not it.
            assert!(!is_listener_on(accepted.as_raw_fd(), port));
            assert!(!is_listener_on(client.as_raw_fd(), port));
            assert!(!is_listener_on(file.as_raw_fd(), port));
            assert!(!is_listener_on(-1, port));
        }
        assert!(!close_in_children(2, port), "stdio is never closed");
    }
}
