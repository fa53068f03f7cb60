//! Source bindings (DESIGN.md, "Source binding"): where events come from.
//! `{ "name", "kind", ... }` with the fields of each kind; parsed strictly
//! (unknown fields are errors) and checked with JSON-pointer problems.
//! Pure: nothing here connects to anything.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{child_pointer, Problems};

/// Fields every kind shares; the rest of the object belongs to the kind.
const COMMON: [&str; 5] = ["name", "kind", "type", "deadLetter", "enabled"];

/// One source binding.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceDef {
    /// Unique name (letters, digits, `-`, `_`; at most 64). Events carry it
    /// as the CloudEvent `source` when the message is not a CloudEvent.
    pub name: String,
    /// The CloudEvent `type` given to messages that are not CloudEvents
    /// (wrapped raw messages, cron fires). Default per kind, e.g.
    /// `sluice.kafka.message`.
    pub event_type: Option<String>,
    /// Where messages that cannot be turned into a CloudEvent go, besides
    /// the engine's dead-letter inbox (which always receives them).
    pub dead_letter: Option<DeadLetterDest>,
    /// `false` keeps the binding stored but not running. Default `true`.
    pub enabled: bool,
    pub spec: SourceSpec,
}

/// The kind-specific part of a binding.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SourceSpec {
    Kafka(KafkaSource),
    Amqp(AmqpSource),
    S3(S3Source),
    Cron(CronSource),
}

impl SourceSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::Kafka(_) => "kafka",
            SourceSpec::Amqp(_) => "amqp",
            SourceSpec::S3(_) => "s3",
            SourceSpec::Cron(_) => "cron",
        }
    }
}

/// A broker destination for messages that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeadLetterDest {
    /// Kafka sources: the topic poison messages are copied to (with a
    /// `sluice_dead_letter_reason` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// AMQP sources: the exchange poison messages are published to (with an
    /// `x-sluice-dead-letter-reason` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// AMQP sources: the routing key for that exchange; default: the queue name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    /// A new consumer group starts at the oldest retained message.
    Earliest,
    /// A new consumer group starts with messages produced from now on.
    #[default]
    Latest,
}

fn default_group() -> String {
    "sluice".into()
}

/// `kind: "kafka"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaSource {
    /// Bootstrap servers, comma-separated `host:port`.
    pub brokers: String,
    /// Topics consumed (at least one).
    pub topics: Vec<String>,
    /// Consumer group id; offsets are committed for it. Default `sluice`.
    #[serde(default = "default_group")]
    pub group: String,
    /// Where a group without committed offsets starts. Default `latest`.
    #[serde(default)]
    pub start_from: StartFrom,
}

fn default_prefetch() -> u16 {
    100
}

/// `kind: "amqp"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AmqpSource {
    /// `amqp://user:password@host:port/vhost` (vhost `/` is `%2f`).
    pub url: String,
    /// The queue consumed; declared (durable) when it does not exist.
    pub queue: String,
    /// An exchange to declare (topic type, durable) and bind the queue to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// Routing keys binding the queue to `exchange`; default `["#"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_keys: Option<Vec<String>>,
    /// Unacknowledged messages the broker may send ahead (basic.qos).
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
}

fn default_poll() -> u64 {
    10
}

/// `kind: "s3"`: a bucket (or folder) scanned for created/removed objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Source {
    /// `s3://bucket/prefix` or `file:///dir`.
    pub url: String,
    /// S3-compatible endpoint (MinIO, …), e.g. `http://127.0.0.1:9000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Region; default from `AWS_REGION`, else `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Seconds between two scans.
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
}

/// What a schedule does when fires were missed (the server was down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CatchUp {
    /// Fires missed at most this many seconds ago are still made at start-up.
    pub max_seconds: u64,
}

/// What a schedule does when a fire comes while the executions its last
/// fire started are still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// Fire anyway.
    #[default]
    Allow,
    /// Skip this fire.
    Skip,
}

/// `kind: "cron"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CronSource {
    /// Cron expression; six fields when the first is seconds
    /// (`0 */5 * * * *`), or the usual five. Exclusive with `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// One-shot: an RFC 3339 time (`2026-01-01T09:00:00+08:00`). Exclusive
    /// with `schedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// IANA time zone of `schedule` (`Asia/Shanghai`); default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The `data` of each fire's CloudEvent; default `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Make fires missed while the server was down, up to this far back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<CatchUp>,
    /// `allow` (default) or `skip`.
    #[serde(default)]
    pub overlap: Overlap,
}

impl SourceDef {
    /// The CloudEvent type of wrapped messages: `type`, else a per-kind default.
    pub fn event_type(&self) -> String {
        match &self.event_type {
            Some(t) => t.clone(),
            None => match &self.spec {
                SourceSpec::Kafka(_) => "sluice.kafka.message".into(),
                SourceSpec::Amqp(_) => "sluice.amqp.message".into(),
                SourceSpec::S3(_) => "sluice.s3.object".into(),
                SourceSpec::Cron(_) => "sluice.cron.fire".into(),
            },
        }
    }

    /// The binding as JSON (the same shape `from_value` reads).
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), Value::String(self.name.clone()));
        out.insert("kind".into(), Value::String(self.spec.kind().into()));
        if let Some(t) = &self.event_type {
            out.insert("type".into(), Value::String(t.clone()));
        }
        if let Some(d) = &self.dead_letter {
            out.insert(
                "deadLetter".into(),
                serde_json::to_value(d).unwrap_or_default(),
            );
        }
        if !self.enabled {
            out.insert("enabled".into(), Value::Bool(false));
        }
        if let Ok(Value::Object(spec)) = serde_json::to_value(&self.spec) {
            out.extend(spec);
        }
        Value::Object(out)
    }

    /// Parse and check a binding; every problem is reported with its pointer.
    pub fn from_value(v: &Value) -> Result<SourceDef, Problems> {
        let mut problems = Problems::default();
        let Some(obj) = v.as_object() else {
            problems.push(
                "",
                "a source binding is a JSON object: {\"name\", \"kind\", …}",
            );
            return Err(problems);
        };
        let name = match obj.get("name") {
            Some(Value::String(s)) => {
                if !valid_name(s) {
                    problems.push(
                        "/name",
                        "a source name uses letters, digits, '-' and '_' (1 to 64 of them)",
                    );
                }
                s.clone()
            }
            Some(_) => {
                problems.push("/name", "name must be a string");
                String::new()
            }
            None => {
                problems.push("/name", "missing field 'name'");
                String::new()
            }
        };
        let event_type = match obj.get("type") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                problems.push(
                    "/type",
                    "type must be a non-empty string (a CloudEvent type)",
                );
                None
            }
        };
        let enabled = match obj.get("enabled") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                problems.push("/enabled", "enabled must be true or false");
                true
            }
        };
        let dead_letter = match obj.get("deadLetter") {
            None => None,
            Some(d) => match serde_json::from_value::<DeadLetterDest>(d.clone()) {
                Ok(d) => Some(d),
                Err(e) => {
                    push_serde(&mut problems, "/deadLetter", &e);
                    None
                }
            },
        };
        let rest: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| !COMMON.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let rest = Value::Object(rest);
        let kind = match obj.get("kind") {
            Some(Value::String(k)) => k.as_str(),
            Some(_) => {
                problems.push("/kind", "kind must be one of kafka, amqp, s3, cron");
                return Err(problems);
            }
            None => {
                problems.push("/kind", "missing field 'kind' (kafka, amqp, s3 or cron)");
                return Err(problems);
            }
        };
        let spec = match kind {
            "kafka" => parse::<KafkaSource>(&rest, &mut problems).map(SourceSpec::Kafka),
            "amqp" => parse::<AmqpSource>(&rest, &mut problems).map(SourceSpec::Amqp),
            "s3" => parse::<S3Source>(&rest, &mut problems).map(SourceSpec::S3),
            "cron" => parse::<CronSource>(&rest, &mut problems).map(SourceSpec::Cron),
            other => {
                problems.push(
                    "/kind",
                    format!("unknown kind '{other}': use kafka, amqp, s3 or cron"),
                );
                None
            }
        };
        let Some(spec) = spec else {
            return Err(problems);
        };
        check_spec(&spec, dead_letter.as_ref(), &mut problems);
        if problems.is_empty() {
            Ok(SourceDef {
                name,
                event_type,
                dead_letter,
                enabled,
                spec,
            })
        } else {
            Err(problems)
        }
    }
}

impl Serialize for SourceDef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for SourceDef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        SourceDef::from_value(&v).map_err(serde::de::Error::custom)
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value, problems: &mut Problems) -> Option<T> {
    match serde_json::from_value::<T>(v.clone()) {
        Ok(t) => Some(t),
        Err(e) => {
            push_serde(problems, "", &e);
            None
        }
    }
}

/// serde names the offending field between backticks (`unknown field
/// \`x\``, `missing field \`url\``); the pointer is built from it.
fn push_serde(problems: &mut Problems, base: &str, e: &serde_json::Error) {
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    let pointer = msg
        .split('`')
        .nth(1)
        .map(|f| child_pointer(base, f))
        .unwrap_or_else(|| base.to_string());
    problems.push(
        pointer,
        format!("{msg}; see DESIGN.md \"Source binding\" for the fields of each kind"),
    );
}

fn check_spec(spec: &SourceSpec, dead_letter: Option<&DeadLetterDest>, problems: &mut Problems) {
    match spec {
        SourceSpec::Kafka(k) => {
            if k.brokers.trim().is_empty() {
                problems.push("/brokers", "brokers must name at least one host:port");
            }
            for (i, b) in k.brokers.split(',').enumerate() {
                if !b.trim().is_empty() && !b.contains(':') {
                    problems.push(
                        "/brokers",
                        format!("broker {} ('{b}') needs a port: host:9092", i + 1),
                    );
                }
            }
            if k.topics.is_empty() {
                problems.push("/topics", "topics must list at least one topic");
            }
            for (i, t) in k.topics.iter().enumerate() {
                if t.is_empty() {
                    problems.push(format!("/topics/{i}"), "a topic name cannot be empty");
                }
            }
            if k.group.is_empty() {
                problems.push("/group", "group cannot be empty");
            }
            if let Some(d) = dead_letter {
                if d.topic.is_none() || d.exchange.is_some() || d.routing_key.is_some() {
                    problems.push(
                        "/deadLetter",
                        "a kafka source's deadLetter is {\"topic\": \"NAME\"}",
                    );
                }
            }
        }
        SourceSpec::Amqp(a) => {
            if !(a.url.starts_with("amqp://") || a.url.starts_with("amqps://")) {
                problems.push(
                    "/url",
                    "url must be amqp://user:password@host:5672/vhost (or amqps://)",
                );
            }
            if a.queue.is_empty() {
                problems.push("/queue", "queue cannot be empty");
            }
            if a.prefetch == 0 {
                problems.push("/prefetch", "prefetch must be at least 1");
            }
            if a.binding_keys.is_some() && a.exchange.is_none() {
                problems.push("/bindingKeys", "bindingKeys need an 'exchange' to bind to");
            }
            if let Some(d) = dead_letter {
                if d.exchange.is_none() || d.topic.is_some() {
                    problems.push(
                        "/deadLetter",
                        "an amqp source's deadLetter is {\"exchange\": \"NAME\", \"routingKey\"?: \"KEY\"}",
                    );
                }
            }
        }
        SourceSpec::S3(s) => {
            if let Some(rest) = s.url.strip_prefix("s3://") {
                if rest.split('/').next().unwrap_or("").is_empty() {
                    problems.push("/url", "s3:// url needs a bucket: s3://bucket/prefix");
                }
            } else if let Some(path) = s.url.strip_prefix("file://") {
                if !path.starts_with('/') {
                    problems.push("/url", "a file url needs an absolute path: file:///dir");
                }
            } else {
                problems.push("/url", "url must be s3://bucket/prefix or file:///dir");
            }
            if s.poll_seconds == 0 {
                problems.push("/pollSeconds", "pollSeconds must be at least 1");
            }
            if let Some(e) = &s.endpoint {
                if !(e.starts_with("http://") || e.starts_with("https://")) {
                    problems.push("/endpoint", "endpoint must be an http:// or https:// URL");
                }
            }
            if dead_letter.is_some() {
                problems.push(
                    "/deadLetter",
                    "an s3 source has no broker dead-letter destination; remove deadLetter",
                );
            }
        }
        SourceSpec::Cron(c) => {
            match (&c.schedule, &c.at) {
                (None, None) => problems.push(
                    "/schedule",
                    "a cron source needs 'schedule' (e.g. \"0 */5 * * * *\") or 'at' (an RFC 3339 time)",
                ),
                (Some(_), Some(_)) => {
                    problems.push("/at", "use either 'schedule' or 'at', not both")
                }
                (Some(s), None) => {
                    let n = s.split_whitespace().count();
                    if !(5..=6).contains(&n) {
                        problems.push(
                            "/schedule",
                            format!("a cron expression has 5 or 6 fields (seconds first), found {n}"),
                        );
                    }
                }
                (None, Some(at)) => {
                    if chrono::DateTime::parse_from_rfc3339(at).is_err() {
                        problems.push(
                            "/at",
                            "at must be an RFC 3339 time with an offset, e.g. 2026-01-01T09:00:00Z",
                        );
                    }
                }
            }
            if let Some(tz) = &c.timezone {
                if tz.is_empty() || tz.contains(char::is_whitespace) {
                    problems.push(
                        "/timezone",
                        "timezone is an IANA name such as Asia/Shanghai",
                    );
                }
            }
            if let Some(cu) = &c.catch_up {
                if cu.max_seconds == 0 {
                    problems.push("/catchUp/maxSeconds", "maxSeconds must be at least 1");
                }
            }
            if dead_letter.is_some() {
                problems.push(
                    "/deadLetter",
                    "a cron source makes no unparseable messages; remove deadLetter",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pointers(v: Value) -> Vec<String> {
        SourceDef::from_value(&v)
            .unwrap_err()
            .iter()
            .map(|p| p.pointer.clone())
            .collect()
    }

    #[test]
    fn kafka_binding_from_design() {
        let d = SourceDef::from_value(&json!({
            "name": "orders", "kind": "kafka", "brokers": "127.0.0.1:9092",
            "topics": ["orders"], "group": "sluice", "startFrom": "earliest",
            "type": "shop.order", "deadLetter": {"topic": "orders-dlq"}
        }))
        .unwrap();
        let SourceSpec::Kafka(k) = &d.spec else {
            panic!("kafka")
        };
        assert_eq!(k.start_from, StartFrom::Earliest);
        assert_eq!(d.event_type(), "shop.order");
        assert_eq!(
            d.dead_letter.as_ref().unwrap().topic.as_deref(),
            Some("orders-dlq")
        );
        // Round trip through JSON.
        assert_eq!(SourceDef::from_value(&d.to_value()).unwrap(), d);
    }

    #[test]
    fn amqp_defaults() {
        let d = SourceDef::from_value(&json!({
            "name": "q", "kind": "amqp", "url": "amqp://guest:guest@127.0.0.1:5672/%2f", "queue": "orders"
        }))
        .unwrap();
        let SourceSpec::Amqp(a) = &d.spec else {
            panic!("amqp")
        };
        assert_eq!(a.prefetch, 100);
        assert_eq!(d.event_type(), "sluice.amqp.message");
        assert!(d.enabled);
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        assert_eq!(
            pointers(
                json!({"name": "q", "kind": "amqp", "url": "amqp://x:1/", "queue": "a", "prefetc": 3})
            ),
            vec!["/prefetc"]
        );
        assert_eq!(
            pointers(json!({"name": "q", "kind": "kafka", "topics": ["a"]})),
            vec!["/brokers"]
        );
        assert_eq!(pointers(json!({"name": "q"})), vec!["/kind"]);
        assert_eq!(pointers(json!({"name": "q", "kind": "ftp"})), vec!["/kind"]);
        assert_eq!(
            pointers(
                json!({"name": "q", "kind": "kafka", "brokers": "b:1", "topics": ["a"],
                "deadLetter": {"topik": "x"}})
            ),
            vec!["/deadLetter/topik"]
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let p = pointers(json!({
            "name": "bad name", "kind": "kafka", "brokers": "localhost",
            "topics": [], "deadLetter": {"exchange": "x"}
        }));
        assert_eq!(p, vec!["/name", "/brokers", "/topics", "/deadLetter"]);
    }

    #[test]
    fn cron_needs_schedule_or_at() {
        assert_eq!(
            pointers(json!({"name": "c", "kind": "cron"})),
            vec!["/schedule"]
        );
        assert_eq!(
            pointers(
                json!({"name": "c", "kind": "cron", "schedule": "* * * * * *", "at": "2026-01-01T00:00:00Z"})
            ),
            vec!["/at"]
        );
        assert_eq!(
            pointers(json!({"name": "c", "kind": "cron", "at": "tomorrow"})),
            vec!["/at"]
        );
        let d = SourceDef::from_value(&json!({
            "name": "c", "kind": "cron", "schedule": "0 */5 * * * *", "timezone": "Asia/Shanghai",
            "catchUp": {"maxSeconds": 3600}, "data": {"k": 1}, "overlap": "skip"
        }))
        .unwrap();
        let SourceSpec::Cron(c) = &d.spec else {
            panic!("cron")
        };
        assert_eq!(c.overlap, Overlap::Skip);
        assert_eq!(c.catch_up, Some(CatchUp { max_seconds: 3600 }));
    }

    #[test]
    fn s3_urls() {
        assert!(SourceDef::from_value(
            &json!({"name": "b", "kind": "s3", "url": "s3://bucket/in/"})
        )
        .is_ok());
        assert!(SourceDef::from_value(
            &json!({"name": "b", "kind": "s3", "url": "file:///tmp/in"})
        )
        .is_ok());
        assert_eq!(
            pointers(json!({"name": "b", "kind": "s3", "url": "http://x/y"})),
            vec!["/url"]
        );
        assert_eq!(
            pointers(json!({"name": "b", "kind": "s3", "url": "s3://b", "pollSeconds": 0})),
            vec!["/pollSeconds"]
        );
    }
}
