//! The port through which events come in. Source adapters (Kafka, AMQP,
//! object stores, cron, HTTP) turn what they receive into CloudEvents and
//! hand them to an [`EventSink`]; the engine implements it. A source
//! acknowledges a message to its broker only after `submit` returned `Ok`
//! for it: by then the event, its deduplication record and the executions
//! its rules start are durable, together.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::EngineError;

/// One event as a source received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    /// The source binding's name (`"http"` for `POST /api/v1/events`).
    pub source: String,
    /// The CloudEvent as JSON in structured mode (`specversion`, `id`,
    /// `source`, `type`, … at the top level; the payload under `data`,
    /// already decoded to JSON when it is JSON).
    pub event: Value,
}

/// What became of one submitted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum EventOutcome {
    /// Recorded; the rules it matched started these executions (maybe none).
    #[serde(rename_all = "camelCase")]
    Accepted { execution_ids: Vec<String> },
    /// The same CloudEvent `source` + `id` was accepted within the
    /// deduplication window: nothing was started again.
    #[serde(rename_all = "camelCase")]
    Duplicate { execution_ids: Vec<String> },
    /// Recorded in the dead-letter inbox with the reason (e.g. a rule's
    /// input template failed); other events are not held up.
    DeadLettered { reason: String },
}

/// A message a source could not turn into a CloudEvent at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub source: String,
    /// Why it was refused, naming the field and the fix.
    pub reason: String,
    /// The message as received (text when it was UTF-8, else base64).
    pub body: String,
    /// Broker coordinates, headers: whatever helps find the message again.
    #[serde(default)]
    pub metadata: Value,
}

/// Accepts events durably. Implementations must be cheap to call
/// concurrently; a call may wait while the engine is busy, which is how a
/// slow engine pauses consumption (back-pressure).
#[async_trait::async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// Records the events (in order) and starts the executions their rules
    /// match, durably; one outcome per event, in the same order.
    async fn submit(&self, events: Vec<InboundEvent>) -> Result<Vec<EventOutcome>, EngineError>;

    /// Records a message that could not be parsed in the dead-letter inbox.
    async fn dead_letter(&self, letter: DeadLetter) -> Result<(), EngineError>;

    /// A source's durable checkpoint under `key` (cron: the last fire time;
    /// bucket scanner: its listing state), as last stored by
    /// [`set_checkpoint`](Self::set_checkpoint). Sources never touch the
    /// store themselves. The default keeps nothing: sources then rely on
    /// deterministic event ids and deduplication alone.
    async fn checkpoint(&self, source: &str, key: &str) -> Result<Option<Value>, EngineError> {
        let _ = (source, key);
        Ok(None)
    }

    /// Stores (`Some`) or removes (`None`) a source's checkpoint durably.
    async fn set_checkpoint(
        &self,
        source: &str,
        key: &str,
        value: Option<Value>,
    ) -> Result<(), EngineError> {
        let _ = (source, key, value);
        Ok(())
    }

    /// Stores and removes several checkpoints of one source in one atomic,
    /// durable step (a bucket scanner's page of objects). The default
    /// stores them one by one.
    async fn set_checkpoints(
        &self,
        source: &str,
        entries: Vec<(String, Option<Value>)>,
    ) -> Result<(), EngineError> {
        for (key, value) in entries {
            self.set_checkpoint(source, &key, value).await?;
        }
        Ok(())
    }

    /// Up to `limit` of a source's checkpoints whose keys start with
    /// `prefix`, in byte order of the key, starting after the key `after`
    /// (from the first when `None`). Lets a source walk state that does not
    /// fit in memory (a bucket scanner compares a listing with the objects
    /// it saw last time). The default keeps nothing.
    async fn checkpoints(
        &self,
        source: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Value)>, EngineError> {
        let _ = (source, prefix, after, limit);
        Ok(Vec::new())
    }

    /// Whether any of these executions is still running (a schedule's
    /// `overlap: "skip"` asks before firing again). The default says no.
    async fn any_running(&self, execution_ids: &[String]) -> Result<bool, EngineError> {
        let _ = execution_ids;
        Ok(false)
    }
}
