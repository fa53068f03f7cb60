//! Events in: deduplicate by CloudEvent `source` + `id`, match every trigger
//! rule, build each execution's input, and start the executions — all in
//! the batch that records the event, so an acknowledged event has started
//! exactly its executions. Events whose templates or starts fail go to the
//! dead-letter inbox with the reason; the others in the batch go on.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;

use super::Machine;
use crate::api::StartRequest;
use crate::catalog::{Document, DocumentMeta};
use crate::error::EngineError;
use crate::events::{DeadLetter, EventOutcome, InboundEvent};
use crate::ingest::DeadLetterRecord;
use crate::store::{keys, num};
use sluice_dsl::{PatternSet, TriggerRule};

/// The trigger rules, compiled, with their index; rebuilt when a trigger
/// document changes.
pub(crate) struct TriggerTable {
    rules: Vec<TriggerRule>,
    set: PatternSet,
}

/// Kept per CloudEvent `source` + `id` for the deduplication window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DedupeRecord {
    /// When the event was accepted, ms since the epoch.
    pub at_ms: i64,
    pub execution_ids: Vec<String>,
}

/// Most `d/` keys in one `dy/` entry (a few tens of KB of JSON).
pub(crate) const DEDUPE_INDEX_CHUNK: usize = 1000;

/// An age index entry: the `d/` keys of one batch (`dy/`), or of one
/// record (`dx/`, older versions).
#[derive(Deserialize)]
#[serde(untagged)]
enum DedupeIndex {
    Batch(Vec<String>),
    One(String),
}

/// The event's CloudEvent `source` and `id`, both required non-empty strings.
fn identity(event: &Value) -> Result<(&str, &str), String> {
    let Value::Object(map) = event else {
        return Err("the event is not a JSON object; a CloudEvent has \"specversion\", \"id\", \"source\" and \"type\"".into());
    };
    let attr = |name: &str| {
        match map.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
        _ => Err(format!("the CloudEvent attribute '{name}' is missing or not a non-empty string; it is required (spec 1.0)")),
    }
    };
    Ok((attr("source")?, attr("id")?))
}

/// The execution a rule starts for an event: the same name however often
/// the event arrives, so a start can never double (names are unique per
/// workflow; 80 characters at most).
pub(crate) fn execution_name(rule: &str, source: &str, id: &str) -> String {
    let mut h = Sha256::new();
    for part in [rule, source, id] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let prefix: String = rule.chars().take(55).collect();
    format!("{prefix}-{hex}")
}

impl Machine<'_> {
    fn triggers(&mut self) -> Result<Arc<TriggerTable>, EngineError> {
        if let Some(t) = &self.definitions.triggers {
            return Ok(t.clone());
        }
        let prefix = keys::document_prefix("trigger");
        let mut rules = Vec::new();
        for key in self.tx.keys_with_prefix(&prefix)? {
            let name = &key[prefix.len()..];
            let Some(meta) = self.tx.get::<DocumentMeta>(&key)? else {
                continue;
            };
            let doc: Option<Document> = self.tx.get(&keys::document_version(
                "trigger",
                name,
                meta.latest_version,
            ))?;
            let Some(doc) = doc else { continue };
            match TriggerRule::from_value(&doc.body) {
                Ok(rule) => rules.push(rule),
                // Callers validate before storing; a rule that no longer
                // validates is skipped, loudly, rather than stopping every event.
                Err(problems) => {
                    tracing::error!(trigger = name, %problems, "a stored trigger rule is invalid; it is ignored")
                }
            }
        }
        let set = PatternSet::new(&rules.iter().map(|r| &r.pattern).collect::<Vec<_>>());
        let table = Arc::new(TriggerTable { rules, set });
        self.definitions.triggers = Some(table.clone());
        Ok(table)
    }

    /// Forget the compiled rules (a trigger document changed).
    pub(crate) fn triggers_changed(&mut self) {
        self.definitions.triggers = None;
    }

    /// Record the events and start what their rules match; one outcome
    /// per event. Each event is its own unit: one that fails is rolled back
    /// alone and dead-lettered.
    pub fn ingest(
        &mut self,
        events: Vec<InboundEvent>,
        window_ms: i64,
    ) -> Result<Vec<EventOutcome>, EngineError> {
        let table = self.triggers()?;
        let mut out = Vec::with_capacity(events.len());
        for ev in events {
            self.savepoint();
            out.push(self.ingest_one(&table, ev, window_ms)?);
        }
        Ok(out)
    }

    fn ingest_one(
        &mut self,
        table: &TriggerTable,
        ev: InboundEvent,
        window_ms: i64,
    ) -> Result<EventOutcome, EngineError> {
        // Too deep to be stored and read back: dead-lettered with the reason,
        // without the event itself.
        if let Err(reason) = sluice_dsl::depth::check(&ev.event, "the event") {
            let letter = DeadLetter {
                source: ev.source.clone(),
                reason: reason.clone(),
                body: String::new(),
                metadata: Value::Null,
            };
            self.store_dead_letter(letter, None)?;
            return Ok(EventOutcome::DeadLettered { reason });
        }
        let (source, id) = match identity(&ev.event) {
            Ok((s, i)) => (s.to_string(), i.to_string()),
            Err(reason) => return self.dead_lettered(&ev, reason),
        };
        let now_ms = self.now.timestamp_millis();
        let dkey = keys::dedupe(&source, &id);
        if let Some(rec) = self.tx.get::<DedupeRecord>(&dkey)? {
            if rec.at_ms > now_ms - window_ms {
                return Ok(EventOutcome::Duplicate {
                    execution_ids: rec.execution_ids,
                });
            }
        }
        let mut execution_ids = Vec::new();
        for i in table.set.matching(&ev.event) {
            let rule = &table.rules[i];
            let input = match rule.input_for(&ev.event, &mut self.rng) {
                Ok(v) => v,
                Err(e) => {
                    let reason = format!(
                        "trigger rule '{}': its input template failed: {}",
                        rule.name, e.cause
                    );
                    self.rollback();
                    return self.dead_lettered(&ev, reason);
                }
            };
            let req = StartRequest {
                input,
                name: Some(execution_name(&rule.name, &source, &id)),
            };
            match self.start(&rule.workflow, req) {
                Ok((execution, _)) => execution_ids.push(execution.execution_id.to_string()),
                Err(e @ (EngineError::Storage(_) | EngineError::ShuttingDown)) => return Err(e),
                Err(e) => {
                    let reason = format!(
                        "trigger rule '{}' could not start workflow '{}': {e}",
                        rule.name, rule.workflow
                    );
                    self.rollback();
                    return self.dead_lettered(&ev, reason);
                }
            }
        }
        self.remember(&source, &id, now_ms, execution_ids.clone())?;
        Ok(EventOutcome::Accepted { execution_ids })
    }

    fn remember(
        &mut self,
        source: &str,
        id: &str,
        now_ms: i64,
        execution_ids: Vec<String>,
    ) -> Result<(), EngineError> {
        let dkey = keys::dedupe(source, id);
        self.tx.put(
            dkey.clone(),
            &DedupeRecord {
                at_ms: now_ms,
                execution_ids,
            },
        )?;
        // Indexed by age once per batch, in `finish`.
        self.remembered.push(dkey);
        Ok(())
    }

    /// Store the event in the dead-letter inbox; a redelivery of it (same
    /// `source` + `id`) within the window is then a duplicate, not a second letter.
    fn dead_lettered(
        &mut self,
        ev: &InboundEvent,
        reason: String,
    ) -> Result<EventOutcome, EngineError> {
        let letter = DeadLetter {
            source: ev.source.clone(),
            reason: reason.clone(),
            body: String::new(),
            metadata: Value::Null,
        };
        self.store_dead_letter(letter, Some(ev.event.clone()))?;
        if let Ok((source, id)) = identity(&ev.event) {
            let (source, id) = (source.to_string(), id.to_string());
            self.remember(&source, &id, self.now.timestamp_millis(), Vec::new())?;
        }
        Ok(EventOutcome::DeadLettered { reason })
    }

    pub fn store_dead_letter(
        &mut self,
        letter: DeadLetter,
        event: Option<Value>,
    ) -> Result<String, EngineError> {
        // Sorts by arrival: the batch's time, then a counter for letters of
        // the same millisecond, then randomness against clashes across restarts.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000;
        let id = format!(
            "{}-{seq:06}-{}",
            num(self.now.timestamp_millis().max(0) as u64),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let rec = DeadLetterRecord {
            id: id.clone(),
            at: super::now_string(self.now),
            source: letter.source,
            reason: letter.reason,
            event,
            body: (!letter.body.is_empty()).then_some(letter.body),
            metadata: letter.metadata,
        };
        self.tx.put(keys::dead_letter(&id), &rec)?;
        Ok(id)
    }

    /// Delete these dead letters; how many existed.
    pub fn delete_dead_letters(&mut self, ids: &[String]) -> Result<usize, EngineError> {
        let mut n = 0;
        for id in ids {
            let key = keys::dead_letter(id);
            if self.tx.get::<Value>(&key)?.is_some() {
                self.tx.remove(key);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Index by age the deduplication records this batch wrote: one key
    /// per [`DEDUPE_INDEX_CHUNK`] records.
    pub(super) fn index_remembered(&mut self) -> Result<(), EngineError> {
        let dkeys = std::mem::take(&mut self.remembered);
        for chunk in dkeys.chunks(DEDUPE_INDEX_CHUNK) {
            self.tx
                .put(keys::dedupe_batch(self.now.timestamp_millis()), &chunk)?;
        }
        Ok(())
    }

    /// Drop deduplication records accepted before `before_ms`, given their
    /// age index keys (found by the sweeper); a record refreshed since stays.
    pub fn prune_dedupe(
        &mut self,
        index_keys: &[String],
        before_ms: i64,
    ) -> Result<usize, EngineError> {
        let mut n = 0;
        for ik in index_keys {
            let dkeys = match self.tx.get::<DedupeIndex>(ik)? {
                Some(DedupeIndex::Batch(keys)) => keys,
                Some(DedupeIndex::One(key)) => vec![key],
                None => Vec::new(),
            };
            for dkey in dkeys {
                if let Some(rec) = self.tx.get::<DedupeRecord>(&dkey)? {
                    if rec.at_ms < before_ms {
                        self.tx.remove(dkey);
                        n += 1;
                    }
                }
            }
            self.tx.remove(ik.clone());
        }
        Ok(n)
    }
}
