//! The pure parts of a Distributed Map's run: turning an object's bytes
//! into items (`ItemReader` with `InputType` JSON, JSONL or CSV), and the
//! files a `ResultWriter` writes (AWS "ResultWriter (Map)": a
//! `manifest.json` and `SUCCEEDED_0.json` / `FAILED_0.json` result files
//! under `{Prefix}/{map run id}/`). The host reads and writes the bytes.

use serde_json::{json, Map, Value};

use crate::error::{names, StatesError};
use crate::interp::step::WriteRequest;
use crate::model::{CsvHeaders, ReaderFormat};

fn reader_failed(cause: String) -> StatesError {
    StatesError::new(names::ITEM_READER_FAILED, cause)
}

/// The items in an object's bytes, at most `max_items`.
pub fn parse_items(
    format: &ReaderFormat,
    bytes: &[u8],
    key: &str,
    max_items: Option<u64>,
) -> Result<Vec<Value>, StatesError> {
    // `MaxItems: 0` reads every item, as on AWS.
    let max = match max_items {
        None | Some(0) => usize::MAX,
        Some(m) => m.min(usize::MAX as u64) as usize,
    };
    let mut items = match format {
        ReaderFormat::Json => match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Array(items)) => items,
            Ok(other) => {
                return Err(reader_failed(format!(
                    "Attempting to map over non-iterable node. (the object '{key}' must hold a JSON array of items for InputType JSON, found {})",
                    crate::text::json_kind(&other)
                )))
            }
            Err(e) => {
                return Err(reader_failed(format!(
                    "the object '{key}' is not valid JSON (InputType JSON): {e}"
                )))
            }
        },
        ReaderFormat::JsonLines => json_lines(bytes, key, max)?,
        ReaderFormat::Csv { headers, delimiter } => csv_rows(bytes, key, headers, *delimiter, max)?,
    };
    items.truncate(max);
    Ok(items)
}

fn json_lines(bytes: &[u8], key: &str, max: usize) -> Result<Vec<Value>, StatesError> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        reader_failed(format!(
            "the object '{key}' is not UTF-8 text (InputType JSONL)"
        ))
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if out.len() == max {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(line).map_err(|e| {
            reader_failed(format!(
                "line {} of the object '{key}' is not valid JSON (InputType JSONL): {e}",
                n + 1
            ))
        })?;
        out.push(item);
    }
    Ok(out)
}

/// Each row an object of the header's names to the row's values, all
/// strings, as AWS gives them.
fn csv_rows(
    bytes: &[u8],
    key: &str,
    headers: &CsvHeaders,
    delimiter: u8,
    max: usize,
) -> Result<Vec<Value>, StatesError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = reader.records();
    let names: Vec<String> = match headers {
        CsvHeaders::Given(names) => names.clone(),
        CsvHeaders::FirstRow => match rows.next() {
            None => return Ok(Vec::new()),
            Some(Ok(r)) => r.iter().map(str::to_string).collect(),
            Some(Err(e)) => {
                return Err(reader_failed(format!(
                    "the header row of the object '{key}' is not valid CSV: {e}"
                )))
            }
        },
    };
    let mut seen = std::collections::HashSet::new();
    if names.iter().any(|n| !seen.insert(n.as_str())) {
        return Err(reader_failed(
            "CSV headers cannot contain duplicates.".into(),
        ));
    }
    let mut out = Vec::new();
    for (n, row) in rows.enumerate() {
        if out.len() == max {
            break;
        }
        let row = row.map_err(|e| {
            reader_failed(format!(
                "row {} of the object '{key}' is not valid CSV: {e}",
                n + 1
            ))
        })?;
        // Fields past the header's are dropped, missing ones are "" (recorded).
        let mut item = Map::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            item.insert(
                name.clone(),
                Value::String(row.get(i).unwrap_or_default().to_string()),
            );
        }
        out.push(Value::Object(item));
    }
    Ok(out)
}

/// One child execution of a map run, as a result file lists it.
#[derive(Debug, Clone)]
pub struct ChildRun {
    pub execution_arn: String,
    pub name: String,
    pub input: Value,
    pub outcome: Result<Value, StatesError>,
    pub start_date: String,
    pub stop_date: String,
}

/// The children of a Map whose iterations ran in memory (a `--local` run,
/// an EXPRESS run): named by their index, started and stopped at `now`.
pub fn in_memory_children(
    outcomes: &[Result<Value, StatesError>],
    execution_arn: impl Fn(usize) -> String,
    now: &str,
) -> Vec<ChildRun> {
    outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| ChildRun {
            execution_arn: execution_arn(i),
            name: i.to_string(),
            input: Value::Null,
            outcome: o.clone(),
            start_date: now.to_string(),
            stop_date: now.to_string(),
        })
        .collect()
}

/// The files a `ResultWriter` writes (key and JSON content) and the Map's
/// result: `{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`.
pub fn result_files(
    map_run_arn: &str,
    map_run_id: &str,
    state_machine_arn: &str,
    request: &WriteRequest,
    children: &[ChildRun],
) -> (Vec<(String, Value)>, Value) {
    let dir = match request.prefix.trim_end_matches('/') {
        "" => map_run_id.to_string(),
        p => format!("{p}/{map_run_id}"),
    };
    let entry = |c: &ChildRun| {
        let (status, output, error) = match &c.outcome {
            Ok(v) => ("SUCCEEDED", Some(v.to_string()), None),
            Err(e) => ("FAILED", None, Some(e)),
        };
        let mut m = json!({
            "ExecutionArn": c.execution_arn,
            "Input": c.input.to_string(),
            "InputDetails": {"Included": true},
            "Name": c.name,
            "RedriveCount": 0,
            "RedriveStatus": "NOT_REDRIVABLE",
            "StartDate": c.start_date,
            "StateMachineArn": state_machine_arn,
            "Status": status,
            "StopDate": c.stop_date,
        });
        if let Some(o) = output {
            m["Output"] = json!(o);
            m["OutputDetails"] = json!({"Included": true});
        }
        if let Some(e) = error {
            m["Error"] = json!(e.error);
            m["Cause"] = json!(e.cause);
        }
        m
    };
    let succeeded: Vec<Value> = children
        .iter()
        .filter(|c| c.outcome.is_ok())
        .map(entry)
        .collect();
    let failed: Vec<Value> = children
        .iter()
        .filter(|c| c.outcome.is_err())
        .map(entry)
        .collect();
    let mut files = Vec::new();
    let mut listed = Map::new();
    for (status, items) in [
        ("SUCCEEDED", succeeded),
        ("FAILED", failed),
        ("PENDING", Vec::new()),
    ] {
        let mut refs = Vec::new();
        if !items.is_empty() {
            let key = format!("{dir}/{status}_0.json");
            let body = Value::Array(items);
            refs.push(json!({"Key": key, "Size": body.to_string().len()}));
            files.push((key, body));
        }
        listed.insert(status.to_string(), Value::Array(refs));
    }
    let manifest_key = format!("{dir}/manifest.json");
    let manifest = json!({
        "DestinationBucket": request.bucket,
        "MapRunArn": map_run_arn,
        "ResultFiles": listed,
    });
    files.push((manifest_key.clone(), manifest));
    let details = json!({
        "MapRunArn": map_run_arn,
        "ResultWriterDetails": {"Bucket": request.bucket, "Key": manifest_key},
    });
    (files, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_jsonl_and_csv_items() {
        assert_eq!(
            parse_items(&ReaderFormat::Json, br#"[1, {"a": 2}]"#, "k", None).unwrap(),
            vec![json!(1), json!({"a": 2})]
        );
        assert_eq!(
            parse_items(
                &ReaderFormat::JsonLines,
                b"{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}",
                "k",
                Some(2)
            )
            .unwrap(),
            vec![json!({"a": 1}), json!({"a": 2})]
        );
        let csv = ReaderFormat::Csv {
            headers: CsvHeaders::FirstRow,
            delimiter: b',',
        };
        assert_eq!(
            parse_items(&csv, b"id,name\n1,\"a, b\"\n2,c\n", "k", None).unwrap(),
            vec![
                json!({"id": "1", "name": "a, b"}),
                json!({"id": "2", "name": "c"})
            ]
        );
        let given = ReaderFormat::Csv {
            headers: CsvHeaders::Given(vec!["x".into(), "y".into()]),
            delimiter: b'|',
        };
        assert_eq!(
            parse_items(&given, b"1|2\n3\n", "k", None).unwrap(),
            vec![json!({"x": "1", "y": "2"}), json!({"x": "3", "y": ""})]
        );
        let e = parse_items(&ReaderFormat::Json, b"{}", "k", None).unwrap_err();
        assert_eq!(e.error, names::ITEM_READER_FAILED);
        assert_eq!(
            parse_items(&csv, b"a\n1,2\n", "k", None).unwrap(),
            vec![json!({"a": "1"})]
        );
        let dup = ReaderFormat::Csv {
            headers: CsvHeaders::Given(vec!["h".into(), "h".into()]),
            delimiter: b',',
        };
        assert_eq!(
            parse_items(&dup, b"1,2\n", "k", None).unwrap_err().cause,
            "CSV headers cannot contain duplicates."
        );
        assert_eq!(
            parse_items(&ReaderFormat::Json, b"[1,2,3]", "k", Some(0))
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn result_files_and_manifest() {
        let req = WriteRequest {
            bucket: "out".into(),
            prefix: "runs/".into(),
        };
        let child = |ok: bool| ChildRun {
            execution_arn: "arn:x".into(),
            name: "c".into(),
            input: json!({"i": 1}),
            outcome: if ok {
                Ok(json!(2))
            } else {
                Err(StatesError::new("E", "boom"))
            },
            start_date: "s".into(),
            stop_date: "t".into(),
        };
        let (files, details) = result_files(
            "arn:run",
            "r1",
            "arn:sm",
            &req,
            &[child(true), child(false)],
        );
        let keys: Vec<&str> = files.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "runs/r1/SUCCEEDED_0.json",
                "runs/r1/FAILED_0.json",
                "runs/r1/manifest.json"
            ]
        );
        assert_eq!(files[0].1[0]["Output"], json!("2"));
        assert_eq!(files[1].1[0]["Error"], json!("E"));
        assert_eq!(
            details["ResultWriterDetails"]["Key"],
            json!("runs/r1/manifest.json")
        );
        assert_eq!(
            files[2].1["ResultFiles"]["SUCCEEDED"][0]["Key"],
            json!("runs/r1/SUCCEEDED_0.json")
        );
    }
}
