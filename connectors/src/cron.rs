//! Cron source on croner: a schedule (seconds field allowed) in an IANA
//! time zone (chrono-tz), or a one-shot `at`. Each fire is a CloudEvent with
//! the deterministic id `NAME/FIRE-TIME` (UTC, RFC 3339), so a fire made
//! twice (restart, retry) is deduplicated by the engine.
//!
//! The last fire time is kept as a checkpoint through the sink. At start,
//! fires missed since then are made when they lie within `catchUp.maxSeconds`
//! (oldest first, each with its own id), otherwise counted and reported as
//! the source's last error — never silently dropped. A fire the engine
//! refuses is retried with backoff until accepted: it is not lost.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use serde_json::{json, Value};
use sluice_dsl::source::{CronSource, Overlap, SourceDef, SourceSpec};
use sluice_engine::{EventOutcome, EventSink, InboundEvent};

use crate::{cloudevent, Backoff, CancellationToken, SourceStatus};

/// Checkpoint key of the last fire (RFC 3339, UTC).
const LAST_FIRE: &str = "lastFire";
/// At most this many missed fires are made at start (a `* * * * * *`
/// schedule with a day of catch-up would otherwise be 86,400 events).
const MAX_CATCH_UP: usize = 1000;

/// A parsed schedule: when it fires.
#[derive(Debug, Clone)]
pub enum Plan {
    Recurring { cron: Box<Cron>, tz: Tz },
    Once(DateTime<Utc>),
}

impl Plan {
    /// Parses the binding's `schedule`/`at` and `timezone`; errors name the field.
    pub fn from_source(c: &CronSource) -> Result<Plan, String> {
        let tz = match &c.timezone {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| {
                format!("/timezone: '{name}' is not an IANA time zone (e.g. Asia/Shanghai)")
            })?,
        };
        if let Some(at) = &c.at {
            let t = DateTime::parse_from_rfc3339(at)
                .map_err(|e| format!("/at: '{at}' is not an RFC 3339 time: {e}"))?;
            return Ok(Plan::Once(t.with_timezone(&Utc)));
        }
        let expr = c
            .schedule
            .as_deref()
            .ok_or("/schedule: a schedule or 'at' is needed")?;
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expr)
            .map_err(|e| format!("/schedule: '{expr}' is not a cron expression: {e}"))?;
        Ok(Plan::Recurring {
            cron: Box::new(cron),
            tz,
        })
    }

    /// The first fire strictly after `t`, if any.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Plan::Once(at) => (*at > t).then_some(*at),
            Plan::Recurring { cron, tz } => cron
                .find_next_occurrence(&t.with_timezone(tz), false)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
        }
    }

    /// Fires in `(after, until]`, oldest first, at most `limit`; and how
    /// many more there were.
    pub fn fires_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> (Vec<DateTime<Utc>>, usize) {
        let mut out = Vec::new();
        let mut more = 0;
        let mut t = after;
        while let Some(n) = self.next_after(t) {
            if n > until {
                break;
            }
            if out.len() < limit {
                out.push(n);
            } else {
                more += 1;
                if more > 1_000_000 {
                    break;
                }
            }
            t = n;
        }
        (out, more)
    }
}

/// The CloudEvent of one fire.
pub fn fire_event(def: &SourceDef, data: Option<&Value>, at: DateTime<Utc>) -> Value {
    let time = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    json!({
        "specversion": "1.0",
        "id": format!("{}/{time}", def.name),
        "source": cloudevent::source_uri(&def.name),
        "type": def.event_type(),
        "time": time,
        "datacontenttype": "application/json",
        "data": data.cloned().unwrap_or_else(|| json!({})),
    })
}

/// Checks the schedule parses and says when it fires next.
pub fn test(c: &CronSource) -> Result<String, String> {
    let plan = Plan::from_source(c)?;
    match plan.next_after(Utc::now()) {
        Some(t) => Ok(format!(
            "next fire at {}",
            t.to_rfc3339_opts(SecondsFormat::Secs, true)
        )),
        None => Ok("no fire in the future (a one-shot 'at' in the past)".into()),
    }
}

/// Fires until `shutdown` (or after a one-shot fired).
pub async fn run(
    def: SourceDef,
    sink: Arc<dyn EventSink>,
    status: Arc<SourceStatus>,
    shutdown: CancellationToken,
) {
    let SourceSpec::Cron(cfg) = &def.spec else {
        status.fail(&def.name, "not a cron binding");
        return;
    };
    let plan = match Plan::from_source(cfg) {
        Ok(p) => p,
        Err(e) => {
            status.fail(&def.name, e);
            return;
        }
    };
    let mut firing = Firing {
        def: &def,
        cfg,
        sink: &sink,
        status: &status,
        shutdown: &shutdown,
        last_executions: Vec::new(),
    };
    let now = Utc::now();
    let last = match sink.checkpoint(&def.name, LAST_FIRE).await {
        Ok(v) => v
            .as_ref()
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc)),
        Err(e) => {
            status.fail(&def.name, format!("reading the last fire: {e}"));
            None
        }
    };
    status.set_connected(true);
    // Missed fires: made within the catch-up window, reported beyond it.
    let window_start = cfg
        .catch_up
        .map(|c| now - ChronoDuration::seconds(c.max_seconds.min(i64::MAX as u64) as i64));
    if let Some(last) = last {
        let from = match window_start {
            Some(w) => last.max(w),
            None => now,
        };
        let (_, skipped) = plan.fires_between(last, from, 0);
        if skipped > 0 {
            status.fail(
                &def.name,
                format!("{skipped} fire(s) missed while the server was down were not made (outside catchUp.maxSeconds)"),
            );
        }
    }
    // Without a last fire this is a new schedule (or the sink keeps no
    // checkpoints): nothing was missed that it could know of.
    if let (Some(w), Some(last)) = (window_start, last) {
        let from = last.max(w);
        let (due, more) = plan.fires_between(from, now, MAX_CATCH_UP);
        if more > 0 {
            status.fail(
                &def.name,
                format!(
                    "catch-up made the first {MAX_CATCH_UP} missed fires, not the {more} after"
                ),
            );
        }
        for t in due {
            if !firing.fire(t).await {
                return;
            }
        }
    }
    let mut cursor = last.map_or(now, |l| l.max(now));
    while let Some(next) = plan.next_after(cursor) {
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
        if !firing.fire(next).await {
            break;
        }
        cursor = next;
    }
    status.set_connected(false);
}

struct Firing<'a> {
    def: &'a SourceDef,
    cfg: &'a CronSource,
    sink: &'a Arc<dyn EventSink>,
    status: &'a SourceStatus,
    shutdown: &'a CancellationToken,
    /// Executions the previous fire started (for `overlap: skip`).
    last_executions: Vec<String>,
}

impl Firing<'_> {
    /// Makes one fire (retrying until the engine accepts it); false on shutdown.
    async fn fire(&mut self, at: DateTime<Utc>) -> bool {
        let name = &self.def.name;
        let mut backoff = Backoff::new();
        if self.cfg.overlap == Overlap::Skip && !self.last_executions.is_empty() {
            match self.sink.any_running(&self.last_executions).await {
                Ok(true) => {
                    tracing::info!(source = %name, fire = %at, "skipped: the previous fire's executions are still running");
                    return self.record(at).await;
                }
                Ok(false) => {}
                Err(e) => self.status.fail(name, format!("overlap check: {e}")),
            }
        }
        let event = fire_event(self.def, self.cfg.data.as_ref(), at);
        self.status.add_received(1);
        loop {
            let batch = vec![InboundEvent {
                source: name.clone(),
                event: event.clone(),
            }];
            match self.sink.submit(batch).await {
                Ok(outcomes) => {
                    self.status.add_acked(1);
                    self.last_executions = outcomes
                        .into_iter()
                        .flat_map(|o| match o {
                            EventOutcome::Accepted { execution_ids }
                            | EventOutcome::Duplicate { execution_ids } => execution_ids,
                            EventOutcome::DeadLettered { .. } => Vec::new(),
                        })
                        .collect();
                    return self.record(at).await;
                }
                Err(e) => {
                    self.status
                        .fail(name, format!("fire {at} refused (retrying): {e}"));
                    if !backoff.wait(self.shutdown).await {
                        return false;
                    }
                }
            }
        }
    }

    async fn record(&self, at: DateTime<Utc>) -> bool {
        let value = Value::String(at.to_rfc3339_opts(SecondsFormat::Secs, true));
        if let Err(e) = self
            .sink
            .set_checkpoint(&self.def.name, LAST_FIRE, Some(value))
            .await
        {
            // The fire itself is durable and deduplicated by id; a lost
            // checkpoint only makes the next start look further back.
            self.status
                .fail(&self.def.name, format!("recording the last fire: {e}"));
        }
        !self.shutdown.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_dsl::source::SourceDef;

    fn cron(v: Value) -> (SourceDef, CronSource) {
        let def = SourceDef::from_value(&v).unwrap();
        let SourceSpec::Cron(c) = def.spec.clone() else {
            panic!()
        };
        (def, c)
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn seconds_field_and_time_zone() {
        let (_, c) = cron(
            json!({"name": "c", "kind": "cron", "schedule": "30 0 9 * * *", "timezone": "Asia/Shanghai"}),
        );
        let plan = Plan::from_source(&c).unwrap();
        // 09:00:30 in Shanghai is 01:00:30 UTC.
        assert_eq!(
            plan.next_after(t("2026-11-23T00:00:00Z")),
            Some(t("2026-11-23T01:00:30Z"))
        );
        let (_, c) = cron(json!({"name": "c", "kind": "cron", "schedule": "*/15 * * * *"}));
        let plan = Plan::from_source(&c).unwrap();
        let (fires, more) =
            plan.fires_between(t("2026-11-23T00:00:00Z"), t("2026-11-23T01:00:00Z"), 3);
        assert_eq!(
            fires,
            vec![
                t("2026-11-23T00:15:00Z"),
                t("2026-11-23T00:30:00Z"),
                t("2026-11-23T00:45:00Z")
            ]
        );
        assert_eq!(more, 1);
    }

    #[test]
    fn bad_time_zone_and_expression_name_the_field() {
        let (_, c) = cron(
            json!({"name": "c", "kind": "cron", "schedule": "* * * * *", "timezone": "Mars/Olympus"}),
        );
        assert!(Plan::from_source(&c).unwrap_err().starts_with("/timezone"));
        let (_, c) = cron(json!({"name": "c", "kind": "cron", "schedule": "61 * * * *"}));
        assert!(Plan::from_source(&c).unwrap_err().starts_with("/schedule"));
    }

    #[test]
    fn one_shot_fires_once() {
        let (_, c) = cron(json!({"name": "c", "kind": "cron", "at": "2026-12-01T08:00:00+08:00"}));
        let plan = Plan::from_source(&c).unwrap();
        assert_eq!(
            plan.next_after(t("2026-11-01T00:00:00Z")),
            Some(t("2026-12-01T00:00:00Z"))
        );
        assert_eq!(plan.next_after(t("2026-12-01T00:00:00Z")), None);
    }

    #[test]
    fn fire_ids_are_deterministic() {
        let (def, c) = cron(
            json!({"name": "nightly", "kind": "cron", "schedule": "0 0 * * *", "data": {"k": 1}}),
        );
        let ev = fire_event(&def, c.data.as_ref(), t("2026-11-23T00:00:00Z"));
        assert_eq!(ev["id"], "nightly/2026-11-23T00:00:00Z");
        assert_eq!(ev["type"], "sluice.cron.fire");
        assert_eq!(ev["data"], json!({"k": 1}));
    }
}
