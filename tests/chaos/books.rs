//! The books at the end of a run: what was acknowledged against what the
//! server holds.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::client::{call, executions};
use crate::load::{expected_output, Observed, Submission, KINDS};

#[derive(Default)]
pub struct Books {
    pub kills: usize,
    pub acknowledged_starts: usize,
    /// Acknowledged events by how they came in (`http`, `amqp`, `kafka`).
    pub events: BTreeMap<&'static str, usize>,
    pub lost: usize,
    pub duplicated: usize,
    pub stuck: usize,
    pub wrong: Vec<String>,
    pub task_keys: usize,
    /// Idempotency keys two executions reported under.
    pub shared_keys: usize,
    /// Executions whose task reported under two keys (a re-dispatch that
    /// did not reuse the key).
    pub second_keys: usize,
    /// Reconnections the AMQP and Kafka sources counted after their
    /// broker's restart.
    pub reconnects: (u64, u64),
}

impl fmt::Display for Books {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "chaos: kills={} acknowledged_starts={} events_http={} events_amqp={} events_kafka={} \
             lost={} duplicated={} stuck={} wrong={} task_keys={} shared_keys={} second_keys={} \
             reconnects_amqp={} reconnects_kafka={}",
            self.kills,
            self.acknowledged_starts,
            self.events.get("http").unwrap_or(&0),
            self.events.get("amqp").unwrap_or(&0),
            self.events.get("kafka").unwrap_or(&0),
            self.lost,
            self.duplicated,
            self.stuck,
            self.wrong.len(),
            self.task_keys,
            self.shared_keys,
            self.second_keys,
            self.reconnects.0,
            self.reconnects.1,
        )
    }
}

/// Whether the acknowledged start `s` has ended.
pub fn ended(port: u16, s: &Submission) -> bool {
    let id = s.id.as_deref().unwrap_or_default();
    matches!(call(port, "GET", &format!("/api/v1/executions/{id}"), None),
        Ok((200, e)) if e["status"] != "RUNNING")
}

impl Books {
    /// Each acknowledged start SUCCEEDED with the right output, once per
    /// name.
    pub fn starts(&mut self, port: u16, subs: &BTreeMap<String, Submission>) {
        let starts = subs
            .iter()
            .filter(|(_, s)| s.id.is_some() && s.kind != "evt");
        for (name, s) in starts {
            self.acknowledged_starts += 1;
            let id = s.id.as_deref().unwrap();
            match call(port, "GET", &format!("/api/v1/executions/{id}"), None) {
                Ok((200, e)) if e["status"] == "SUCCEEDED" => {
                    if e["output"] != expected_output(s.kind, &s.input) || e["name"] != *name {
                        self.wrong.push(format!("{name}: {e}"));
                    }
                }
                Ok((200, e)) if e["status"] == "RUNNING" => self.stuck += 1,
                Ok((200, e)) => self.wrong.push(format!("{name}: {e}")),
                _ => self.lost += 1,
            }
        }
        for kind in KINDS {
            let runs = executions(port, kind);
            let names: BTreeSet<&str> = runs.iter().filter_map(|e| e["name"].as_str()).collect();
            self.duplicated += runs.len() - names.len();
        }
    }

    /// The executions of `workflow` (its input is the event): one for
    /// each acknowledged event id, none for an id never sent, none twice.
    pub fn events(
        &mut self,
        port: u16,
        via: &'static str,
        workflow: &str,
        sent: &BTreeSet<String>,
        acked: &BTreeSet<String>,
    ) {
        let runs = executions(port, workflow);
        let ids: BTreeSet<&str> = runs
            .iter()
            .filter_map(|e| e["input"]["id"].as_str())
            .collect();
        self.duplicated += runs.len() - ids.len();
        self.duplicated += ids.iter().filter(|id| !sent.contains(**id)).count();
        let lost = acked.iter().filter(|id| !ids.contains(id.as_str())).count();
        if lost > 0 {
            self.wrong
                .push(format!("{lost} acknowledged {via} events started nothing"));
        }
        self.lost += lost;
        self.events.insert(via, acked.len());
        for e in &runs {
            if e["status"] != "SUCCEEDED" {
                self.wrong.push(format!("{workflow}: {e}"));
            }
        }
    }

    /// One idempotency key per task execution, and each key of one
    /// execution.
    pub fn effects(&mut self, o: &Observed) {
        self.task_keys = o.effects.len();
        self.shared_keys = o.effects.values().filter(|execs| execs.len() > 1).count();
        let mut keys_per_exec: BTreeMap<&str, usize> = BTreeMap::new();
        for execs in o.effects.values() {
            for e in execs {
                *keys_per_exec.entry(e.as_str()).or_default() += 1;
            }
        }
        self.second_keys = keys_per_exec.values().filter(|&&n| n > 1).count();
    }
}

/// An execution listing's input ids (the event workflows' inputs).
pub fn started_ids(port: u16, workflow: &str) -> BTreeSet<String> {
    executions(port, workflow)
        .iter()
        .filter_map(|e| e["input"]["id"].as_str().map(str::to_string))
        .collect()
}

/// A source's live status (`connected`, `reconnects`, …), or null.
pub fn source_status(port: u16, name: &str) -> Value {
    call(port, "GET", &format!("/api/v1/sources/{name}"), None)
        .map(|(_, v)| v["status"].clone())
        .unwrap_or(Value::Null)
}
