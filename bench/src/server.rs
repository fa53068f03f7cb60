//! A `sluice serve` child process on a free loopback port.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub base: String,
    binary: PathBuf,
    data: PathBuf,
    durability: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(900)))
        .build()
        .into()
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Server {
    pub fn start(binary: &Path, data: &Path, durability: &str) -> Result<Server> {
        let port = free_port()?;
        let child = Command::new(binary)
            .args(["serve", "--data"])
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--durability", durability])
            .env("SLUICE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            binary: binary.to_path_buf(),
            data: data.to_path_buf(),
            durability: durability.to_string(),
        };
        server.wait_for(|_| true, Duration::from_secs(60))?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Poll `/healthz` until it answers at all (503 while the store opens).
    pub fn wait_for_any_answer(&self, limit: Duration) -> Result<Duration> {
        let agent = agent();
        let start = Instant::now();
        while start.elapsed() < limit {
            if agent.get(format!("{}/healthz", self.base)).call().is_ok() {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        bail!("/healthz did not answer within {limit:?}")
    }

    /// Poll `/healthz` until it is 200 and `ok(body)`; returns how long that took.
    pub fn wait_for(&self, ok: impl Fn(&Value) -> bool, limit: Duration) -> Result<Duration> {
        let agent = agent();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(mut r) = agent.get(format!("{}/healthz", self.base)).call() {
                if r.status() == 200 {
                    let text = r.body_mut().read_to_string().unwrap_or_default();
                    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if ok(&body) {
                        return Ok(start.elapsed());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        bail!("/healthz did not answer as expected within {limit:?}")
    }

    /// SIGKILL, then start again on the same store; returns the new server
    /// and the moment it was spawned.
    pub fn kill_and_restart(mut self) -> Result<(Server, Instant)> {
        self.child.kill()?;
        self.child.wait()?;
        let port = free_port()?;
        let spawned = Instant::now();
        let child = Command::new(&self.binary)
            .args(["serve", "--data"])
            .arg(&self.data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--durability", &self.durability])
            .env("SLUICE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            binary: self.binary.clone(),
            data: self.data.clone(),
            durability: self.durability.clone(),
        };
        Ok((server, spawned))
    }

    pub fn put(&self, path: &str, body: &Value) -> Result<()> {
        let r = agent()
            .put(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .send(body.to_string())?;
        if r.status() != 200 {
            bail!("PUT {path} answered {}", r.status());
        }
        Ok(())
    }

    /// Resident memory of the server process (Linux `VmRSS`), in MiB.
    pub fn rss_mib(&self) -> Result<f64> {
        self.status_mib("VmRSS:")
    }

    /// The most resident memory the server process had (Linux `VmHWM`), in MiB.
    pub fn peak_rss_mib(&self) -> Result<f64> {
        self.status_mib("VmHWM:")
    }

    fn status_mib(&self, field: &str) -> Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no {field} in /proc/PID/status"))?;
        Ok(kb / 1024.0)
    }
}

/// Run `total` requests over `connections` keep-alive connections; each
/// request is `call(agent, i)`, which returns whether it succeeded.
/// Returns (elapsed, sorted latencies, failures).
pub fn load(
    total: usize,
    connections: usize,
    call: impl Fn(&ureq::Agent, usize) -> bool + Sync,
) -> (Duration, Vec<Duration>, usize) {
    let start = Instant::now();
    let per = total.div_ceil(connections);
    let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..connections)
            .map(|c| {
                let call = &call;
                s.spawn(move || {
                    let agent = agent();
                    let mut lat = Vec::with_capacity(per);
                    let mut failed = 0;
                    for i in (c * per)..((c + 1) * per).min(total) {
                        let t = Instant::now();
                        if call(&agent, i) {
                            lat.push(t.elapsed());
                        } else {
                            failed += 1;
                        }
                    }
                    (lat, failed)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = start.elapsed();
    let mut all: Vec<Duration> = results.iter().flat_map(|r| r.0.clone()).collect();
    all.sort();
    let failed = results.iter().map(|r| r.1).sum();
    (elapsed, all, failed)
}
