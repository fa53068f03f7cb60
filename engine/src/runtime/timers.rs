//! The timer loop: fires due timers from the store as commands.

use super::*;

impl Engine {
    pub(super) async fn timer_loop(self) {
        let mut sent: HashSet<String> = HashSet::new();
        loop {
            let now = chrono::Utc::now().timestamp_millis();
            let mut next_due: Option<i64> = None;
            let mut still_there = HashSet::new();
            for item in self.inner.tree.scan_prefix(b"t/") {
                let Ok((k, v)) = item else { break };
                let key = String::from_utf8_lossy(&k).into_owned();
                let Some((due, execution, frame)) = parse_timer_key(&key) else {
                    continue;
                };
                if due > now {
                    next_due = Some(due);
                    break;
                }
                still_there.insert(key.clone());
                if sent.contains(&key) {
                    continue;
                }
                let Ok(timer) = serde_json::from_slice::<Timer>(&v) else {
                    continue;
                };
                sent.insert(key.clone());
                if self
                    .inner
                    .commands
                    .send(Command::Timer {
                        key,
                        timer,
                        execution,
                        frame,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            sent.retain(|k| still_there.contains(k));
            let sleep = match next_due {
                Some(due) => Duration::from_millis((due - now).clamp(1, 1000) as u64),
                None => Duration::from_secs(1),
            };
            tokio::select! {
                _ = self.inner.timers.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }
}

fn parse_timer_key(key: &str) -> Option<(i64, String, u64)> {
    let mut parts = key.split('/');
    parts.next()?; // "t"
    let due = parts.next()?.parse().ok()?;
    let execution = parts.next()?.to_string();
    let frame = parts.next()?.parse().ok()?;
    Some((due, execution, frame))
}
