//! A recording stand-in for the engine behind the `EventSink` port (the
//! brokers in these tests are real).
#![allow(dead_code)]

pub mod kafka;
pub mod s3;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_engine::EngineError;
use sluice_engine::{DeadLetter, EventOutcome, EventSink, InboundEvent};

#[derive(Default)]
pub struct RecordingSink {
    pub events: Mutex<Vec<InboundEvent>>,
    pub letters: Mutex<Vec<DeadLetter>>,
    /// Every submit attempt's event ids, accepted or not.
    pub attempts: Mutex<Vec<String>>,
    /// This many next submits fail.
    pub fail_next: AtomicUsize,
    /// The size of every submitted batch.
    pub batches: Mutex<Vec<usize>>,
    /// Checkpoints, as the engine would keep them.
    pub checkpoints: Mutex<std::collections::BTreeMap<(String, String), Value>>,
}

impl RecordingSink {
    pub fn new() -> Arc<Self> {
        Arc::new(RecordingSink::default())
    }
    pub fn events(&self) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.event.clone())
            .collect()
    }
    pub fn letters(&self) -> Vec<DeadLetter> {
        self.letters.lock().unwrap().clone()
    }
    pub fn ids(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["id"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

#[async_trait::async_trait]
impl EventSink for RecordingSink {
    async fn submit(&self, events: Vec<InboundEvent>) -> Result<Vec<EventOutcome>, EngineError> {
        self.attempts.lock().unwrap().extend(
            events
                .iter()
                .map(|e| e.event["id"].as_str().unwrap_or("").to_string()),
        );
        self.batches.lock().unwrap().push(events.len());
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(EngineError::Storage("test sink refuses this batch".into()));
        }
        let n = events.len();
        self.events.lock().unwrap().extend(events);
        Ok(vec![
            EventOutcome::Accepted {
                execution_ids: vec![]
            };
            n
        ])
    }
    async fn dead_letter(&self, letter: DeadLetter) -> Result<(), EngineError> {
        self.letters.lock().unwrap().push(letter);
        Ok(())
    }
    async fn checkpoint(&self, source: &str, key: &str) -> Result<Option<Value>, EngineError> {
        Ok(self
            .checkpoints
            .lock()
            .unwrap()
            .get(&(source.to_string(), key.to_string()))
            .cloned())
    }
    async fn set_checkpoint(
        &self,
        source: &str,
        key: &str,
        value: Option<Value>,
    ) -> Result<(), EngineError> {
        let k = (source.to_string(), key.to_string());
        let mut c = self.checkpoints.lock().unwrap();
        match value {
            Some(v) => c.insert(k, v),
            None => c.remove(&k),
        };
        Ok(())
    }
    async fn checkpoints(
        &self,
        source: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Value)>, EngineError> {
        let c = self.checkpoints.lock().unwrap();
        Ok(c.range((source.to_string(), prefix.to_string())..)
            .take_while(|((s, k), _)| s == source && k.starts_with(prefix))
            .filter(|((_, k), _)| after.is_none_or(|a| k.as_str() > a))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// Polls `cond` every 50 ms until it holds or `secs` pass.
pub async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
