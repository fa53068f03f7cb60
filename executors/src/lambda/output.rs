//! The stdout and stderr of a warm process. They are read as they come, so
//! a chatty function never blocks on a full pipe, and drained when an
//! invocation ends: what the function printed before it answered (or
//! before it died) is then in that invocation's report, not in the next
//! one's. Each read and the append that follows happen under one lock, so
//! a drain sees every byte the process has written so far.

use std::io;
use std::sync::{Arc, Mutex};
use tokio::net::unix::pipe;

use crate::meter::CappedBuf;

enum Read {
    Data,
    Empty,
    Closed,
}

/// Both pipes and what was read from them since the last `take`.
pub struct Output {
    pipes: [Option<pipe::Receiver>; 2],
    bufs: Mutex<[CappedBuf; 2]>,
}

fn receiver(fd: Option<io::Result<std::os::fd::OwnedFd>>) -> Option<pipe::Receiver> {
    fd?.and_then(pipe::Receiver::from_owned_fd).ok()
}

impl Output {
    /// Takes the child's pipes and starts reading them (inside a tokio runtime).
    pub fn start(child: &mut tokio::process::Child) -> Arc<Output> {
        let output = Arc::new(Output {
            pipes: [
                receiver(child.stdout.take().map(|s| s.into_owned_fd())),
                receiver(child.stderr.take().map(|s| s.into_owned_fd())),
            ],
            bufs: Mutex::new([CappedBuf::default(), CappedBuf::default()]),
        });
        for i in 0..2 {
            let output = output.clone();
            tokio::spawn(async move { output.pump(i).await });
        }
        output
    }

    async fn pump(&self, i: usize) {
        let Some(pipe) = &self.pipes[i] else { return };
        let mut buf = vec![0u8; 8192];
        while pipe.readable().await.is_ok() {
            if let Read::Closed = self.read_once(i, &mut buf) {
                return;
            }
        }
    }

    fn read_once(&self, i: usize, buf: &mut [u8]) -> Read {
        let Some(pipe) = &self.pipes[i] else {
            return Read::Closed;
        };
        let mut bufs = self.bufs.lock().unwrap_or_else(|p| p.into_inner());
        match pipe.try_read(buf) {
            Ok(0) => Read::Closed,
            Ok(n) => {
                bufs[i].push(&buf[..n]);
                Read::Data
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Read::Empty,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Read::Data,
            Err(_) => Read::Closed,
        }
    }

    /// Read what is in the pipes now.
    pub fn drain(&self) {
        let mut buf = vec![0u8; 8192];
        for i in 0..2 {
            while let Read::Data = self.read_once(i, &mut buf) {}
        }
    }

    /// Drain, then hand over (stdout, stderr, truncated) and start afresh.
    pub fn take(&self) -> (Vec<u8>, Vec<u8>, bool) {
        self.drain();
        let mut bufs = self.bufs.lock().unwrap_or_else(|p| p.into_inner());
        let (out, t1) = bufs[0].take();
        let (err, t2) = bufs[1].take();
        (out, err, t1 || t2)
    }

    /// After the process exited: read stderr to its end first. `drain`
    /// alone can miss the last bytes, since tokio's `try_read` answers
    /// WouldBlock until the reactor has seen the pipe readable; awaiting
    /// readiness up to EOF (bounded by `limit`) gets the dying words too.
    pub async fn stderr_tail_after_exit(&self, limit: std::time::Duration) -> String {
        let _ = tokio::time::timeout(limit, self.read_to_end(1)).await;
        self.stderr_tail()
    }

    async fn read_to_end(&self, i: usize) {
        let Some(pipe) = &self.pipes[i] else { return };
        let mut buf = vec![0u8; 8192];
        while pipe.readable().await.is_ok() {
            if let Read::Closed = self.read_once(i, &mut buf) {
                return;
            }
        }
    }

    /// The last 500 characters of stderr, after a drain.
    pub fn stderr_tail(&self) -> String {
        self.drain();
        let bufs = self.bufs.lock().unwrap_or_else(|p| p.into_inner());
        let s = String::from_utf8_lossy(&bufs[1].bytes);
        let s = s.trim();
        let start = s.char_indices().rev().nth(500).map(|(i, _)| i).unwrap_or(0);
        s[start..].to_string()
    }
}
