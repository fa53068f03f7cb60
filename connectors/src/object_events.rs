//! Object-store events: S3/MinIO event notifications (the `Records[]` JSON
//! that S3, MinIO and moto send) become `ObjectCreated`/`ObjectRemoved`
//! CloudEvents. Used by the `POST /api/v1/sources/{name}/notifications`
//! endpoint, by Kafka/AMQP messages carrying such JSON, and (same event
//! shape) by the bucket scanner.

use serde_json::{json, Value};

/// CloudEvent type of a created (put, copied, uploaded) object.
pub const OBJECT_CREATED: &str = "sluice.s3.ObjectCreated";
/// CloudEvent type of a removed object.
pub const OBJECT_REMOVED: &str = "sluice.s3.ObjectRemoved";

/// Whether a JSON message is an S3 event notification.
pub fn is_notification(v: &Value) -> bool {
    v.get("Records").and_then(Value::as_array).is_some_and(|r| {
        r.iter()
            .all(|r| r.get("s3").is_some() && r.get("eventName").is_some())
    })
}

/// One CloudEvent per record; records other than ObjectCreated/ObjectRemoved
/// (e.g. `s3:TestEvent`, restore, replication) are left out. An error names
/// the record and field that is missing.
pub fn from_notification(v: &Value, source: &str) -> Result<Vec<Value>, String> {
    let Some(records) = v.get("Records").and_then(Value::as_array) else {
        // S3 sends `{"Event": "s3:TestEvent", ...}` when notifications are
        // configured: nothing to do.
        if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            return Ok(Vec::new());
        }
        return Err("an S3 event notification has a 'Records' array".into());
    };
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let field = |path: &[&str]| -> Option<&Value> {
            let mut cur = r;
            for p in path {
                cur = cur.get(p)?;
            }
            Some(cur)
        };
        let name = field(&["eventName"]).and_then(Value::as_str).unwrap_or("");
        // AWS writes `ObjectCreated:Put`, MinIO `s3:ObjectCreated:Put`.
        let name = name.strip_prefix("s3:").unwrap_or(name);
        let created = name.starts_with("ObjectCreated");
        if !created && !name.starts_with("ObjectRemoved") {
            continue;
        }
        let bucket = field(&["s3", "bucket", "name"])
            .and_then(Value::as_str)
            .ok_or_else(|| format!("/Records/{i}/s3/bucket/name is missing"))?;
        let raw_key = field(&["s3", "object", "key"])
            .and_then(Value::as_str)
            .ok_or_else(|| format!("/Records/{i}/s3/object/key is missing"))?;
        // Keys arrive URL-encoded (form style: '+' is a space).
        let key = url_decode(raw_key);
        let etag = field(&["s3", "object", "eTag"]).and_then(Value::as_str);
        let size = field(&["s3", "object", "size"]).and_then(Value::as_u64);
        let version = field(&["s3", "object", "versionId"]).and_then(Value::as_str);
        let sequencer = field(&["s3", "object", "sequencer"]).and_then(Value::as_str);
        let time = field(&["eventTime"]).and_then(Value::as_str);
        // The id is what makes redelivered notifications deduplicate: the
        // sequencer orders events on one key; without it the etag/time.
        let marker = sequencer.or(version).or(etag).or(time).unwrap_or("");
        let mut ev = object_event(
            source,
            created,
            bucket,
            &key,
            ObjectMeta {
                size,
                etag,
                version,
                marker,
            },
        );
        if let Some(t) = time {
            ev["time"] = t.into();
        }
        ev["data"]["eventName"] = name.into();
        if let Some(region) = field(&["awsRegion"]).and_then(Value::as_str) {
            ev["data"]["region"] = region.into();
        }
        out.push(ev);
    }
    Ok(out)
}

/// What is known about an object when its event is built.
pub struct ObjectMeta<'a> {
    pub size: Option<u64>,
    pub etag: Option<&'a str>,
    pub version: Option<&'a str>,
    /// Distinguishes two events on the same key (sequencer, etag, time).
    pub marker: &'a str,
}

/// The CloudEvent of one object change: id `bucket/key@marker` plus
/// `#removed` for removals, subject = key.
pub fn object_event(
    source: &str,
    created: bool,
    bucket: &str,
    key: &str,
    meta: ObjectMeta<'_>,
) -> Value {
    let (ty, suffix) = if created {
        (OBJECT_CREATED, "")
    } else {
        (OBJECT_REMOVED, "#removed")
    };
    let mut data = json!({"bucket": bucket, "key": key});
    if let Some(s) = meta.size {
        data["size"] = s.into();
    }
    if let Some(e) = meta.etag {
        data["etag"] = e.trim_matches('"').into();
    }
    if let Some(v) = meta.version {
        data["versionId"] = v.into();
    }
    json!({
        "specversion": "1.0",
        "id": format!("{bucket}/{key}@{}{suffix}", meta.marker),
        "source": source,
        "type": ty,
        "subject": key,
        "datacontenttype": "application/json",
        "data": data,
    })
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &str, key: &str, seq: &str) -> Value {
        json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-23T10:00:00.000Z", "eventName": name,
            "s3": {"bucket": {"name": "in"}, "object": {"key": key, "size": 5, "eTag": "\"abc\"", "sequencer": seq}}
        }]})
    }

    #[test]
    fn created_and_removed() {
        let v = note("ObjectCreated:Put", "a/my+file%2B1.txt", "0055");
        assert!(is_notification(&v));
        let ev = from_notification(&v, "sluice://sources/b").unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0]["type"], OBJECT_CREATED);
        assert_eq!(ev[0]["subject"], "a/my file+1.txt");
        assert_eq!(ev[0]["id"], "in/a/my file+1.txt@0055");
        assert_eq!(ev[0]["data"]["etag"], "abc");
        assert_eq!(ev[0]["data"]["size"], 5);
        assert_eq!(ev[0]["time"], "2026-11-23T10:00:00.000Z");
        let ev = from_notification(&note("s3:ObjectRemoved:Delete", "k", "0056"), "s").unwrap();
        assert_eq!(ev[0]["type"], OBJECT_REMOVED);
        assert_eq!(ev[0]["id"], "in/k@0056#removed");
    }

    #[test]
    fn other_records_and_test_events_make_nothing() {
        let v = note("ObjectRestore:Post", "k", "1");
        assert!(from_notification(&v, "s").unwrap().is_empty());
        let t = json!({"Service": "Amazon S3", "Event": "s3:TestEvent"});
        assert!(from_notification(&t, "s").unwrap().is_empty());
        assert!(from_notification(&json!({"x": 1}), "s").is_err());
    }

    #[test]
    fn a_missing_key_is_named() {
        let v = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {}}}]});
        assert_eq!(
            from_notification(&v, "s").unwrap_err(),
            "/Records/0/s3/object/key is missing"
        );
    }
}
