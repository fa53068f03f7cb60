//! # sluice-connectors
//!
//! Event sources and broker sinks (DESIGN.md, "connectors/"). Each source
//! module has a `run(binding, sink, status, shutdown)` that turns what its
//! broker delivers into CloudEvents, hands them to the engine through the
//! [`EventSink`] port, and acknowledges to the broker only after `submit`
//! returned `Ok` (the finalizer pattern). Messages that are not CloudEvents
//! and cannot be wrapped go to [`EventSink::dead_letter`] (and the binding's
//! broker dead-letter destination), then are acknowledged: they never block
//! the rest. Nothing here touches sled.

pub mod amqp;
pub mod bucket;
pub mod buckets;
pub mod cloudevent;
pub mod cron;
pub mod kafka;
pub mod manager;
pub mod object_events;
pub mod publish;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sluice_engine::EngineError;
use sluice_engine::{DeadLetter, EventSink, InboundEvent};

pub use status::{SourceStatus, StatusSnapshot};
pub use tokio_util::sync::CancellationToken;

/// One received message after conversion: its events, or why it has none.
pub(crate) struct Converted {
    pub events: Result<Vec<Value>, String>,
    /// For a dead letter: the body as text (or base64).
    pub body: String,
    /// Broker coordinates and headers, for a dead letter.
    pub metadata: Value,
}

/// Dead-letters the messages that failed to convert (through the sink,
/// which records them durably) and submits the others' events in order.
/// `Ok` means every message of the batch is settled and may be acked.
/// `on_poison` is called for each dead letter (the broker's own dead-letter
/// destination) before the sink records it.
pub(crate) async fn deliver(
    source: &str,
    sink: &Arc<dyn EventSink>,
    status: &SourceStatus,
    batch: Vec<Converted>,
) -> Result<Vec<DeadLetter>, EngineError> {
    let mut events = Vec::new();
    let mut letters = Vec::new();
    for c in batch {
        match c.events {
            Ok(evs) => events.extend(evs.into_iter().map(|event| InboundEvent {
                source: source.to_string(),
                event,
            })),
            Err(reason) => letters.push(DeadLetter {
                source: source.to_string(),
                reason,
                body: c.body,
                metadata: c.metadata,
            }),
        }
    }
    for l in &letters {
        sink.dead_letter(l.clone()).await?;
    }
    status.add_dead_lettered(letters.len() as u64);
    if !events.is_empty() {
        let n = events.len() as u64;
        sink.submit(events).await?;
        status.add_acked(n);
    }
    Ok(letters)
}

/// Exponential backoff for reconnects and failed submits: 200 ms doubling
/// to 10 s, reset after a success.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff {
            next: Duration::from_millis(200),
        }
    }
    pub fn reset(&mut self) {
        self.next = Duration::from_millis(200);
    }
    /// Waits the current delay (or until shutdown); false on shutdown.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let d = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(10));
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }
}
