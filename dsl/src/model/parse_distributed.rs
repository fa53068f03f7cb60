//! Map states, inline and distributed: `ItemProcessor` (or the older
//! `Iterator`) with its `ProcessorConfig`, the items (`ItemsPath`, `Items`,
//! `ItemReader`), `ItemSelector`, `ItemBatcher`, `ResultWriter`, `Label`,
//! concurrency and tolerated failures.

use serde_json::Value;

use super::fields::Obj;
use super::parse::scope;
use super::parse_common::*;
use super::parse_states::result_handling;
use super::*;
use crate::error::Problems;

const LABEL_MAX: usize = 40;

pub(super) fn map_state(
    obj: &Obj,
    ql: QueryLanguage,
    workflow_ql: QueryLanguage,
    problems: &mut Problems,
) -> Option<MapState> {
    let (processor, mode) = processor(obj, workflow_ql, problems);
    if obj.has("ItemSelector") && obj.has("Parameters") {
        problems.push(
            &obj.ptr,
            "use either 'ItemSelector' or the older 'Parameters', not both",
        );
    }
    let item_selector = match ql {
        QueryLanguage::JsonPath => template(obj, "ItemSelector", problems)
            .or_else(|| template(obj, "Parameters", problems))
            .map(Shape::Path),
        QueryLanguage::Jsonata => jtemplate(obj, "ItemSelector", problems).map(Shape::Jsonata),
    };
    let items_path = match ql {
        QueryLanguage::JsonPath => obj
            .get("ItemsPath")
            .and_then(|_| obj.reference_path("ItemsPath", problems)),
        QueryLanguage::Jsonata => None,
    };
    let items = match ql {
        QueryLanguage::Jsonata => jtemplate(obj, "Items", problems),
        QueryLanguage::JsonPath => None,
    };
    if let Some(JTemplate::Literal(v)) = &items {
        if !v.is_array() {
            problems.push(
                obj.at("Items"),
                "'Items' must be a JSON array or a {% … %} expression that gives one",
            );
        }
    }
    let distributed = matches!(mode, Some(MapMode::Distributed { .. }));
    for key in ["ItemReader", "ItemBatcher", "ResultWriter", "Label"] {
        if obj.has(key) && !distributed {
            problems.push(
                obj.at(key),
                format!("'{key}' belongs to a Distributed Map: set \"ProcessorConfig\": {{\"Mode\": \"DISTRIBUTED\", \"ExecutionType\": \"STANDARD\"}} in 'ItemProcessor', or remove '{key}'"),
            );
        }
    }
    // With an ItemReader, AWS ignores ItemsPath (recorded, even one that
    // selects nothing), so it is accepted here too.
    let item_reader = obj
        .get("ItemReader")
        .and_then(|v| item_reader(obj, v, ql, problems));
    let item_batcher = obj
        .get("ItemBatcher")
        .and_then(|v| item_batcher(obj, v, ql, problems));
    let result_writer = obj
        .get("ResultWriter")
        .and_then(|v| result_writer(obj, v, ql, problems));
    let label = label(obj, problems);
    let max_concurrency = dynamic_int(
        obj,
        "MaxConcurrency",
        "MaxConcurrencyPath",
        0,
        99_999_999,
        problems,
    )
    .unwrap_or(Dynamic::Fixed(0));
    let tolerated_failure_count = dynamic_int(
        obj,
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        0,
        99_999_999,
        problems,
    );
    let tolerated_failure_percentage = tolerated_percentage(obj, problems);
    let result = result_handling(obj, ql, problems);
    Some(MapState {
        processor: processor?,
        mode: mode.unwrap_or_default(),
        items_path,
        items,
        item_selector,
        item_reader,
        item_batcher,
        result_writer,
        label,
        max_concurrency,
        tolerated_failure_count,
        tolerated_failure_percentage,
        result,
    })
}

fn tolerated_percentage(obj: &Obj, problems: &mut Problems) -> Option<Dynamic<f64>> {
    if obj.has("ToleratedFailurePercentagePath") {
        if obj.has("ToleratedFailurePercentage") {
            problems.push(&obj.ptr, "use either 'ToleratedFailurePercentage' or 'ToleratedFailurePercentagePath', not both");
        }
        return obj
            .path("ToleratedFailurePercentagePath", problems)
            .map(Dynamic::Path);
    }
    if is_expression(obj, "ToleratedFailurePercentage") {
        return expression(obj, "ToleratedFailurePercentage", problems).map(Dynamic::Jsonata);
    }
    obj.number("ToleratedFailurePercentage", 0.0, 100.0, problems)
        .map(Dynamic::Fixed)
}

/// The iteration scope and its mode (`None` when the config is invalid).
fn processor(
    obj: &Obj,
    workflow_ql: QueryLanguage,
    problems: &mut Problems,
) -> (Option<Scope>, Option<MapMode>) {
    let (key, v) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
        (Some(_), Some(_)) => {
            problems.push(
                &obj.ptr,
                "use either 'ItemProcessor' or the older 'Iterator', not both",
            );
            return (None, None);
        }
        (None, None) => {
            problems.push(&obj.ptr, "a Map state needs 'ItemProcessor' (or the older 'Iterator'): {\"StartAt\", \"States\"} run for each item");
            return (None, None);
        }
        (Some(v), None) => ("ItemProcessor", v),
        // AWS accepts a ProcessorConfig inside the older Iterator too.
        (None, Some(v)) => ("Iterator", v),
    };
    let ptr = obj.at(key);
    let what = format!("'{key}'");
    let Some(p) = Obj::new(v, &ptr, &what, problems) else {
        return (None, None);
    };
    p.unknown_fields(
        &["StartAt", "States", "Comment", "ProcessorConfig"],
        &what,
        problems,
    );
    let mode = processor_config(&p, problems);
    (scope(&p, &what, workflow_ql, problems), mode)
}

fn processor_config(p: &Obj, problems: &mut Problems) -> Option<MapMode> {
    let Some(v) = p.get("ProcessorConfig") else {
        return Some(MapMode::Inline);
    };
    let ptr = p.at("ProcessorConfig");
    let cfg = Obj::new(v, &ptr, "'ProcessorConfig'", problems)?;
    cfg.unknown_fields(&["Mode", "ExecutionType"], "'ProcessorConfig'", problems);
    let execution_type = match cfg.string("ExecutionType", problems) {
        None => None,
        Some("STANDARD") => Some(ExecutionType::Standard),
        Some("EXPRESS") => Some(ExecutionType::Express),
        Some(other) => {
            problems.push(
                cfg.at("ExecutionType"),
                format!("unknown ExecutionType \"{other}\"; use \"STANDARD\" or \"EXPRESS\""),
            );
            return None;
        }
    };
    match cfg.string("Mode", problems) {
        None | Some("INLINE") => {
            if execution_type.is_some() {
                problems.push(
                    cfg.at("ExecutionType"),
                    "'ExecutionType' applies to a Distributed Map only: set \"Mode\": \"DISTRIBUTED\" or remove it",
                );
            }
            Some(MapMode::Inline)
        }
        Some("DISTRIBUTED") => match execution_type {
            Some(execution_type) => Some(MapMode::Distributed { execution_type }),
            None => {
                problems.push(
                    &ptr,
                    "a Distributed Map needs \"ExecutionType\": \"STANDARD\" or \"EXPRESS\" in 'ProcessorConfig'",
                );
                None
            }
        },
        Some(other) => {
            problems.push(
                cfg.at("Mode"),
                format!("unknown Mode \"{other}\"; use \"INLINE\" or \"DISTRIBUTED\""),
            );
            None
        }
    }
}

fn label(obj: &Obj, problems: &mut Problems) -> Option<String> {
    let label = obj.string("Label", problems)?;
    let bad = label
        .chars()
        .find(|c| c.is_whitespace() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(*c) || c.is_control());
    if label.chars().count() > LABEL_MAX || label.is_empty() || bad.is_some() {
        problems.push(
            obj.at("Label"),
            format!("'Label' must be 1 to {LABEL_MAX} characters without whitespace or any of <>{{}}[]?*\"#%\\^|~`$&,;:/"),
        );
        return None;
    }
    Some(label.to_string())
}

/// `Parameters`/`Arguments` of an ItemReader or ResultWriter.
fn resource_payload(o: &Obj, ql: QueryLanguage, problems: &mut Problems) -> Option<Shape> {
    match ql {
        QueryLanguage::JsonPath => template(o, "Parameters", problems).map(Shape::Path),
        QueryLanguage::Jsonata => jtemplate(o, "Arguments", problems).map(Shape::Jsonata),
    }
}

fn item_reader(
    obj: &Obj,
    v: &Value,
    ql: QueryLanguage,
    problems: &mut Problems,
) -> Option<ItemReader> {
    let ptr = obj.at("ItemReader");
    let r = Obj::new(v, &ptr, "'ItemReader'", problems)?;
    let payload_key = match ql {
        QueryLanguage::JsonPath => "Parameters",
        QueryLanguage::Jsonata => "Arguments",
    };
    r.unknown_fields(
        &["Resource", "ReaderConfig", payload_key],
        "'ItemReader'",
        problems,
    );
    let resource = r.required_string("Resource", "'ItemReader'", problems)?;
    let config = match r.get("ReaderConfig") {
        Some(c) => Obj::new(c, &r.at("ReaderConfig"), "'ReaderConfig'", problems),
        None => None,
    };
    let source = match resource {
        "arn:aws:states:::s3:getObject" => {
            let Some(config) = &config else {
                problems.push(&ptr, "an ItemReader with s3:getObject needs 'ReaderConfig' with \"InputType\": \"JSON\", \"JSONL\" or \"CSV\"");
                return None;
            };
            ReaderSource::Object(reader_format(config, problems)?)
        }
        "arn:aws:states:::s3:listObjectsV2" => {
            if let Some(c) = &config {
                c.unknown_fields(
                    &["MaxItems", "MaxItemsPath"],
                    "'ReaderConfig' of s3:listObjectsV2",
                    problems,
                );
            }
            ReaderSource::Listing
        }
        other => {
            problems.push(
                r.at("Resource"),
                format!("ItemReader Resource '{other}' is not supported: use \"arn:aws:states:::s3:getObject\" (one JSON, JSON Lines or CSV object) or \"arn:aws:states:::s3:listObjectsV2\" (the objects under a prefix)"),
            );
            return None;
        }
    };
    let max_items = config
        .as_ref()
        .and_then(|c| dynamic_int(c, "MaxItems", "MaxItemsPath", 0, 100_000_000, problems));
    Some(ItemReader {
        source,
        parameters: resource_payload(&r, ql, problems),
        max_items,
    })
}

fn reader_format(c: &Obj, problems: &mut Problems) -> Option<ReaderFormat> {
    c.unknown_fields(
        &[
            "InputType",
            "CSVHeaderLocation",
            "CSVHeaders",
            "CSVDelimiter",
            "MaxItems",
            "MaxItemsPath",
        ],
        "'ReaderConfig'",
        problems,
    );
    let input_type = c.required_string("InputType", "'ReaderConfig'", problems)?;
    match input_type {
        "JSON" => Some(ReaderFormat::Json),
        "JSONL" => Some(ReaderFormat::JsonLines),
        "CSV" => {
            let delimiter = match c.string("CSVDelimiter", problems) {
                None | Some("COMMA") => b',',
                Some("PIPE") => b'|',
                Some("SEMICOLON") => b';',
                Some("SPACE") => b' ',
                Some("TAB") => b'\t',
                Some(other) => {
                    problems.push(c.at("CSVDelimiter"), format!("unknown CSVDelimiter \"{other}\"; use COMMA, PIPE, SEMICOLON, SPACE or TAB"));
                    return None;
                }
            };
            let headers = match c.string("CSVHeaderLocation", problems) {
                None | Some("FIRST_ROW") => {
                    if c.has("CSVHeaders") {
                        problems.push(c.at("CSVHeaders"), "'CSVHeaders' needs \"CSVHeaderLocation\": \"GIVEN\"; with FIRST_ROW the first row names the columns");
                    }
                    CsvHeaders::FirstRow
                }
                Some("GIVEN") => {
                    let names = c.get("CSVHeaders").and_then(Value::as_array).and_then(|a| {
                        a.iter()
                            .map(|v| v.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    });
                    match names {
                        Some(n) if !n.is_empty() => CsvHeaders::Given(n),
                        _ => {
                            problems.push(c.at("CSVHeaderLocation"), "\"CSVHeaderLocation\": \"GIVEN\" needs 'CSVHeaders': a non-empty array of column names");
                            return None;
                        }
                    }
                }
                Some(other) => {
                    problems.push(
                        c.at("CSVHeaderLocation"),
                        format!("unknown CSVHeaderLocation \"{other}\"; use FIRST_ROW or GIVEN"),
                    );
                    return None;
                }
            };
            Some(ReaderFormat::Csv { headers, delimiter })
        }
        "MANIFEST" | "PARQUET" => {
            problems.push(
                c.at("InputType"),
                format!("InputType \"{input_type}\" is not supported by Sluice; use JSON, JSONL or CSV (see docs/asl-compatibility.md)"),
            );
            None
        }
        other => {
            problems.push(
                c.at("InputType"),
                format!("unknown InputType \"{other}\"; use JSON, JSONL or CSV"),
            );
            None
        }
    }
}

fn item_batcher(
    obj: &Obj,
    v: &Value,
    ql: QueryLanguage,
    problems: &mut Problems,
) -> Option<ItemBatcher> {
    let ptr = obj.at("ItemBatcher");
    let b = Obj::new(v, &ptr, "'ItemBatcher'", problems)?;
    let fields: &[&str] = match ql {
        QueryLanguage::JsonPath => &[
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            "BatchInput",
        ],
        QueryLanguage::Jsonata => &["MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput"],
    };
    b.unknown_fields(fields, "'ItemBatcher'", problems);
    let max_items_per_batch = dynamic_int(
        &b,
        "MaxItemsPerBatch",
        "MaxItemsPerBatchPath",
        1,
        100_000_000,
        problems,
    );
    let max_input_bytes_per_batch = dynamic_int(
        &b,
        "MaxInputBytesPerBatch",
        "MaxInputBytesPerBatchPath",
        1,
        256 * 1024,
        problems,
    );
    if max_items_per_batch.is_none() && max_input_bytes_per_batch.is_none() {
        problems.push(
            &ptr,
            "an ItemBatcher needs 'MaxItemsPerBatch' or 'MaxInputBytesPerBatch' (or both)",
        );
    }
    let batch_input = match ql {
        QueryLanguage::JsonPath => template(&b, "BatchInput", problems).map(Shape::Path),
        QueryLanguage::Jsonata => jtemplate(&b, "BatchInput", problems).map(Shape::Jsonata),
    };
    Some(ItemBatcher {
        max_items_per_batch,
        max_input_bytes_per_batch,
        batch_input,
    })
}

fn result_writer(
    obj: &Obj,
    v: &Value,
    ql: QueryLanguage,
    problems: &mut Problems,
) -> Option<ResultWriter> {
    let ptr = obj.at("ResultWriter");
    let w = Obj::new(v, &ptr, "'ResultWriter'", problems)?;
    let payload_key = match ql {
        QueryLanguage::JsonPath => "Parameters",
        QueryLanguage::Jsonata => "Arguments",
    };
    w.unknown_fields(&["Resource", payload_key], "'ResultWriter'", problems);
    match w.required_string("Resource", "'ResultWriter'", problems)? {
        "arn:aws:states:::s3:putObject" => {}
        other => {
            problems.push(
                w.at("Resource"),
                format!("ResultWriter Resource '{other}' is not supported: use \"arn:aws:states:::s3:putObject\""),
            );
            return None;
        }
    }
    Some(ResultWriter {
        parameters: resource_payload(&w, ql, problems),
    })
}
