//! The engine's side of the [`EventSink`] port: durable ingest through the
//! single writer, the dead-letter inbox, the deduplication sweeper and the
//! event counters shown on `/metrics`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::EngineError;
use crate::events::{DeadLetter, EventOutcome, EventSink, InboundEvent};
use crate::runtime::Engine;
use crate::store::{get, keys, num};

/// One entry of the dead-letter inbox (`GET /api/v1/deadletters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterRecord {
    /// Sortable by arrival: milliseconds (20 digits), a counter, a random suffix.
    pub id: String,
    /// RFC 3339, when it was stored.
    pub at: String,
    /// The source binding it came through (`http` for `POST /api/v1/events`).
    pub source: String,
    /// Why it was refused, naming the field or rule and the fix.
    pub reason: String,
    /// The CloudEvent, when the message was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    /// The raw message, when it could not be turned into a CloudEvent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
}

/// One page of dead letters, oldest first.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterPage {
    pub dead_letters: Vec<DeadLetterRecord>,
    /// Pass as `after` for the next page.
    pub next_token: Option<String>,
}

/// Counts since the engine started, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct EventCounters {
    received: AtomicU64,
    matched: AtomicU64,
    duplicates: AtomicU64,
    dead_lettered: AtomicU64,
    executions_started: AtomicU64,
}

/// A snapshot of the event counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventStats {
    /// Events submitted and durably recorded (any outcome).
    pub received: u64,
    /// Accepted events that matched at least one rule.
    pub matched: u64,
    /// Events dropped as duplicates (same `source` + `id` within the window).
    pub duplicates: u64,
    /// Events and messages put in the dead-letter inbox.
    pub dead_lettered: u64,
    /// Executions started by trigger rules.
    pub executions_started: u64,
}

impl EventCounters {
    /// Count a durable batch of outcomes.
    pub(crate) fn count(&self, outcomes: &[EventOutcome]) {
        let add = |c: &AtomicU64, n: u64| {
            c.fetch_add(n, Ordering::Relaxed);
        };
        add(&self.received, outcomes.len() as u64);
        for o in outcomes {
            match o {
                EventOutcome::Accepted { execution_ids } => {
                    if !execution_ids.is_empty() {
                        add(&self.matched, 1);
                        add(&self.executions_started, execution_ids.len() as u64);
                    }
                }
                EventOutcome::Duplicate { .. } => add(&self.duplicates, 1),
                EventOutcome::DeadLettered { .. } => add(&self.dead_lettered, 1),
            }
        }
    }

    pub(crate) fn count_dead_letter(&self) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> EventStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EventStats {
            received: get(&self.received),
            matched: get(&self.matched),
            duplicates: get(&self.duplicates),
            dead_lettered: get(&self.dead_lettered),
            executions_started: get(&self.executions_started),
        }
    }
}

#[async_trait::async_trait]
impl EventSink for Engine {
    async fn submit(&self, events: Vec<InboundEvent>) -> Result<Vec<EventOutcome>, EngineError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.ingest(events).await
    }

    async fn dead_letter(&self, letter: DeadLetter) -> Result<(), EngineError> {
        self.store_dead_letter(letter).await.map(|_| ())
    }

    async fn checkpoint(&self, source: &str, key: &str) -> Result<Option<Value>, EngineError> {
        get(self.tree(), &keys::checkpoint(source, key))
    }

    async fn set_checkpoint(
        &self,
        source: &str,
        key: &str,
        value: Option<Value>,
    ) -> Result<(), EngineError> {
        self.store_keys(vec![(keys::checkpoint(source, key), value)])
            .await
    }

    async fn set_checkpoints(
        &self,
        source: &str,
        entries: Vec<(String, Option<Value>)>,
    ) -> Result<(), EngineError> {
        let entries = entries
            .into_iter()
            .map(|(k, v)| (keys::checkpoint(source, &k), v))
            .collect();
        self.store_keys(entries).await
    }

    async fn checkpoints(
        &self,
        source: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Value)>, EngineError> {
        let base = keys::checkpoint(source, "");
        let start = match after {
            // The smallest key greater than `after`.
            Some(a) => {
                let mut k = keys::checkpoint(source, a).into_bytes();
                k.push(0);
                k
            }
            None => keys::checkpoint(source, prefix).into_bytes(),
        };
        let full_prefix = keys::checkpoint(source, prefix);
        let mut out = Vec::new();
        for item in self.tree().range(start..) {
            let (k, v) = item?;
            if !k.starts_with(full_prefix.as_bytes()) || out.len() >= limit {
                break;
            }
            let key = String::from_utf8_lossy(&k[base.len()..]).into_owned();
            out.push((key, serde_json::from_slice(&v)?));
        }
        Ok(out)
    }

    async fn any_running(&self, execution_ids: &[String]) -> Result<bool, EngineError> {
        for id in execution_ids {
            match self.execution(id) {
                Ok(e) if e.status == crate::api::Status::Running => return Ok(true),
                Ok(_) | Err(EngineError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }
}

impl Engine {
    /// Event counters since start-up.
    pub fn event_stats(&self) -> EventStats {
        self.event_counters().snapshot()
    }

    /// Dead letters oldest first, `limit` (1 to 1000) at a time, after the
    /// id `after` (the previous page's `next_token`).
    pub fn dead_letters(
        &self,
        limit: usize,
        after: Option<&str>,
    ) -> Result<DeadLetterPage, EngineError> {
        let limit = limit.clamp(1, crate::MAX_PAGE);
        let start = match after {
            Some(id) => format!("q/{id}\u{0}"),
            None => "q/".to_string(),
        };
        let mut dead_letters = Vec::new();
        let mut more = false;
        for item in self.tree().range(start.as_bytes()..b"q0".as_slice()) {
            let (_, v) = item?;
            if dead_letters.len() == limit {
                more = true;
                break;
            }
            dead_letters.push(serde_json::from_slice::<DeadLetterRecord>(&v)?);
        }
        let next_token = more
            .then(|| dead_letters.last().map(|d| d.id.clone()))
            .flatten();
        Ok(DeadLetterPage {
            dead_letters,
            next_token,
        })
    }

    pub fn dead_letter_record(&self, id: &str) -> Result<Option<DeadLetterRecord>, EngineError> {
        get(self.tree(), &keys::dead_letter(id))
    }

    /// Delete these dead letters; returns how many existed.
    pub async fn delete_dead_letters(&self, ids: Vec<String>) -> Result<usize, EngineError> {
        self.delete_dead_letter_ids(ids).await
    }

    /// Drop deduplication records older than the window; returns how many.
    /// The engine runs this by itself periodically.
    pub async fn prune_dedupe(&self) -> Result<usize, EngineError> {
        let before_ms = chrono::Utc::now().timestamp_millis() - self.dedupe_window_ms();
        let mut total = 0;
        // About 10,000 records per writer command: a `dy/` key holds up
        // to a thousand, a `dx/` key (older versions) one.
        let per_key = crate::machine::DEDUPE_INDEX_CHUNK;
        for (prefix, take) in [
            (keys::DEDUPE_BATCHES, 10_000 / per_key),
            (keys::DEDUPE_LEGACY, 10_000),
        ] {
            let end = format!("{prefix}{}", num(before_ms.max(0) as u64));
            loop {
                let mut batch = Vec::new();
                for k in self
                    .tree()
                    .range(prefix.as_bytes()..end.as_bytes())
                    .keys()
                    .take(take)
                {
                    batch.push(String::from_utf8_lossy(&k?).into_owned());
                }
                if batch.is_empty() {
                    break;
                }
                total += self.prune_dedupe_keys(batch, before_ms).await?;
            }
        }
        Ok(total)
    }

    /// Runs [`Engine::prune_dedupe`] every so often while the engine lives.
    pub(crate) async fn dedupe_sweeper(self) {
        let every = Duration::from_millis((self.dedupe_window_ms() / 4).clamp(1000, 60_000) as u64);
        loop {
            tokio::time::sleep(every).await;
            match self.prune_dedupe().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(records = n, "expired deduplication records dropped"),
                Err(EngineError::ShuttingDown) => return,
                Err(e) => tracing::warn!(error = %e, "pruning deduplication records failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::NoTasks;
    use crate::{Durability, EngineConfig};
    use serde_json::json;
    use std::sync::Arc;

    fn open(dir: &std::path::Path, window: Duration) -> Engine {
        let mut config = EngineConfig::new(dir);
        config.durability = Durability::Process;
        config.dedupe_window = window;
        Engine::open(config, Arc::new(NoTasks)).unwrap()
    }

    fn event(id: &str) -> InboundEvent {
        InboundEvent {
            source: "test".into(),
            event: json!({"specversion": "1.0", "id": id, "source": "s", "type": "t"}),
        }
    }

    fn count(engine: &Engine, prefix: &str) -> usize {
        engine.tree().scan_prefix(prefix).count()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_batch_indexes_its_deduplication_records_by_age_under_one_key() {
        // The background sweeper may prune too (its first pass is after
        // 1 s): the test checks what is left, not who pruned it.
        let window = Duration::from_millis(1500);
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path(), window);
        let out = engine
            .submit(vec![event("a"), event("b"), event("c")])
            .await
            .unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(count(&engine, "d/"), 3);
        let index: Vec<(sled::IVec, sled::IVec)> = engine
            .tree()
            .scan_prefix(keys::DEDUPE_BATCHES)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(index.len(), 1, "one age index key for the batch");
        let listed: Vec<String> = serde_json::from_slice(&index[0].1).unwrap();
        assert_eq!(listed, ["a", "b", "c"].map(|id| keys::dedupe("s", id)));
        // Past the window "a" arrives again and is accepted anew: its record
        // is refreshed and indexed by the new batch, so it outlives the old
        // index key, which goes with "b" and "c".
        tokio::time::sleep(window + Duration::from_millis(100)).await;
        let again = engine.submit(vec![event("a")]).await.unwrap();
        assert!(matches!(again[0], EventOutcome::Accepted { .. }));
        engine.prune_dedupe().await.unwrap();
        let left: Vec<sled::IVec> = engine
            .tree()
            .scan_prefix("d/")
            .keys()
            .map(Result::unwrap)
            .collect();
        assert_eq!(left, [keys::dedupe("s", "a").as_bytes()]);
        assert_eq!(count(&engine, "dy/"), 1);
        tokio::time::sleep(window + Duration::from_millis(100)).await;
        engine.prune_dedupe().await.unwrap();
        assert_eq!(count(&engine, "d/") + count(&engine, "dy/"), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn more_records_than_a_chunk_take_more_index_keys() {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path(), Duration::from_secs(3600));
        let n = crate::machine::DEDUPE_INDEX_CHUNK + 1;
        let events = (0..n).map(|i| event(&i.to_string())).collect();
        engine.submit(events).await.unwrap();
        let sizes: Vec<usize> = engine
            .tree()
            .scan_prefix(keys::DEDUPE_BATCHES)
            .values()
            .map(|v| {
                serde_json::from_slice::<Vec<String>>(&v.unwrap())
                    .unwrap()
                    .len()
            })
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), n);
        assert_eq!(sizes.len(), 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn records_indexed_one_by_one_by_older_versions_are_pruned_too() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let tree = db.open_tree("sluice").unwrap();
            let dkey = keys::dedupe("s", "old");
            let rec = json!({"at_ms": 1000, "execution_ids": []});
            tree.insert(dkey.as_str(), serde_json::to_vec(&rec).unwrap())
                .unwrap();
            let ik = format!("{}{}/s/old", keys::DEDUPE_LEGACY, num(1000));
            tree.insert(ik.as_str(), serde_json::to_vec(&dkey).unwrap())
                .unwrap();
            db.flush().unwrap();
        }
        let engine = open(dir.path(), Duration::from_secs(60));
        assert_eq!(engine.prune_dedupe().await.unwrap(), 1);
        assert_eq!(count(&engine, "d/") + count(&engine, "dx/"), 0);
    }
}
