//! Map states in both query languages: where the items come from (the
//! input, `Items`, or an `ItemReader`), `ItemSelector` per item,
//! `ItemBatcher`, concurrency and tolerated failures, the combined output,
//! and where a `ResultWriter` writes.

use serde_json::{Map, Value};
use std::borrow::Cow;

use super::jsonata::{eval, eval_field, site, with_states};
use super::jsonpath::{docs, dynamic_u64, path_template};
use super::{Entered, MapRequest, StepEnv, Tolerance};
use crate::error::{names, StatesError};
use crate::interp::context;
use crate::interp::pipeline::{error_output, json_size, select};
use crate::model::*;
use crate::path::preview;
use crate::query::StatesVar;

/// What an `ItemReader` must read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReadRequest {
    pub source: ReaderSource,
    pub bucket: String,
    /// The object (`s3:getObject`) or the prefix (`s3:listObjectsV2`).
    pub key: String,
    /// Read at most this many items.
    pub max_items: Option<u64>,
}

/// Where a `ResultWriter` writes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WriteRequest {
    pub bucket: String,
    pub prefix: String,
}

/// The settings of a Map that expressions decide, read once on entry.
struct Settings {
    max_concurrency: u64,
    tolerance: Tolerance,
    batch_items: Option<u64>,
    batch_bytes: Option<u64>,
}

fn distributed(m: &MapState) -> bool {
    matches!(m.mode, MapMode::Distributed { .. })
}

/// Enter a JSONPath Map: `effective` is its input after InputPath.
pub(super) fn enter(
    state: &State,
    m: &MapState,
    raw: &Value,
    effective: Value,
    env: &mut StepEnv,
) -> Result<Entered, StatesError> {
    if let Some(reader) = &m.item_reader {
        let params = match path_template(reader.parameters.as_ref()) {
            Some(t) => t.evaluate(&effective, docs!(env), env.rng)?,
            None => Value::Object(Map::new()),
        };
        let max_items = dynamic_u64(reader.max_items.as_ref(), &effective, env, "MaxItemsPath")?;
        return read_request(state, reader, &params, max_items).map(Entered::ReadItems);
    }
    let items = match &m.items_path {
        None => effective.clone(),
        Some(p) => p.select(&effective, docs!(env))?,
    };
    let _ = raw;
    prepare_jsonpath(state, m, items, &effective, env).map(Entered::Map)
}

/// Enter a JSONata Map: the items are `Items`, or the input.
pub(super) fn enter_jsonata(
    state: &State,
    m: &MapState,
    raw: Cow<'_, Value>,
    env: &mut StepEnv,
) -> Result<Entered, StatesError> {
    let (r, _) = with_states(env, raw.into_owned(), |states, env| {
        if let Some(reader) = &m.item_reader {
            let params = match &reader.parameters {
                Some(Shape::Jsonata(t)) => eval(t, state, states, env)?,
                _ => Value::Object(Map::new()),
            };
            let max_items =
                super::jsonata::dynamic_u64(reader.max_items.as_ref(), state, states, env)?;
            return read_request(state, reader, &params, max_items).map(Entered::ReadItems);
        }
        let items = match &m.items {
            Some(t) => eval(t, state, states, env)?,
            None => states.input().clone(),
        };
        if !items.is_array() {
            return Err(site(state, env).error(not_an_array(m.items.as_ref(), &items)));
        }
        prepare_jsonata(state, m, items, states, env).map(Entered::Map)
    });
    r
}

/// Continue after an `ItemReader` read `items`.
pub(super) fn items_read(
    state: &State,
    raw: &Value,
    items: Vec<Value>,
    env: &mut StepEnv,
) -> Result<MapRequest, StatesError> {
    let StateKind::Map(m) = &state.kind else {
        return Err(StatesError::runtime(format!(
            "state '{}' is not a Map",
            state.name
        )));
    };
    match state.query_language {
        QueryLanguage::JsonPath => {
            let effective = select(&state.input_path, raw, docs!(env), "InputPath")?.into_owned();
            prepare_jsonpath(state, m, Value::Array(items), &effective, env)
        }
        QueryLanguage::Jsonata => {
            with_states(env, raw.clone(), |states, env| {
                prepare_jsonata(state, m, Value::Array(items), states, env)
            })
            .0
        }
    }
}

fn read_request(
    state: &State,
    reader: &ItemReader,
    params: &Value,
    max_items: Option<u64>,
) -> Result<ReadRequest, StatesError> {
    let field = |name: &str| params.get(name).and_then(Value::as_str).map(str::to_string);
    let bucket = field("Bucket").ok_or_else(|| {
        StatesError::new(
            names::ITEM_READER_FAILED,
            format!(
                "the ItemReader of Map state '{}' needs a 'Bucket' (a string) in its Parameters, found {}",
                state.name,
                preview(params)
            ),
        )
    })?;
    let key = match &reader.source {
        ReaderSource::Object(_) => field("Key").ok_or_else(|| {
            StatesError::new(
                names::ITEM_READER_FAILED,
                format!(
                    "the ItemReader of Map state '{}' reads one object and needs its 'Key' (a string), found {}",
                    state.name,
                    preview(params)
                ),
            )
        })?,
        ReaderSource::Listing => field("Prefix").unwrap_or_default(),
    };
    Ok(ReadRequest {
        source: reader.source.clone(),
        bucket,
        key,
        max_items,
    })
}

/// Why a JSONata Map's items are not an array, in AWS's words.
fn not_an_array(items: Option<&crate::query::JTemplate>, value: &Value) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    match items {
        Some(crate::query::JTemplate::Expr(e)) => format!(
            "The JSONata expression '{}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{kind}' for value: {value}",
            e.expr.source().trim()
        ),
        Some(_) => format!("The field 'Items' must be an array, but was '{kind}' for value: {value}"),
        None => format!("Map state input must be an array but was: {value}"),
    }
}

fn as_items(state: &State, items: Value, what: &str) -> Result<Vec<Value>, StatesError> {
    match items {
        Value::Array(items) => Ok(items),
        other => Err(StatesError::new(
            names::QUERY_EVALUATION_ERROR,
            format!(
                "Map state '{}': {what} must be an array, found {}",
                state.name,
                preview(&other)
            ),
        )
        .runtime_if(what == "ItemsPath")),
    }
}

trait RuntimeIf {
    fn runtime_if(self, cond: bool) -> Self;
}

impl RuntimeIf for StatesError {
    /// JSONPath reports a non-array as `States.Runtime`.
    fn runtime_if(mut self, cond: bool) -> Self {
        if cond {
            self.error = names::RUNTIME.into();
        }
        self
    }
}

fn prepare_jsonpath(
    state: &State,
    m: &MapState,
    items: Value,
    effective: &Value,
    env: &mut StepEnv,
) -> Result<MapRequest, StatesError> {
    let mut items = as_items(state, items, "ItemsPath")?;
    let settings = Settings {
        max_concurrency: dynamic_u64(
            Some(&m.max_concurrency),
            effective,
            env,
            "MaxConcurrencyPath",
        )?
        .unwrap_or(0),
        tolerance: Tolerance {
            count: dynamic_u64(
                m.tolerated_failure_count.as_ref(),
                effective,
                env,
                "ToleratedFailureCountPath",
            )?,
            percentage: percentage_jsonpath(m, effective, env)?,
        },
        batch_items: batcher_u64(
            m,
            effective,
            env,
            |b| b.max_items_per_batch.as_ref(),
            "MaxItemsPerBatchPath",
        )?,
        batch_bytes: batcher_u64(
            m,
            effective,
            env,
            |b| b.max_input_bytes_per_batch.as_ref(),
            "MaxInputBytesPerBatchPath",
        )?,
    };
    if let Some(t) = path_template(m.item_selector.as_ref()) {
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            context::set_map_item(env.context, Some((index, &item)));
            let v = t.evaluate(effective, docs!(env), env.rng);
            context::set_map_item(env.context, None);
            out.push(v?);
        }
        items = out;
    }
    let batch_input = match m
        .item_batcher
        .as_ref()
        .and_then(|b| path_template(b.batch_input.as_ref()))
    {
        Some(t) => Some(t.evaluate(effective, docs!(env), env.rng)?),
        None => None,
    };
    Ok(finish_request(m, items, batch_input, settings))
}

fn batcher_u64(
    m: &MapState,
    effective: &Value,
    env: &StepEnv,
    get: impl Fn(&ItemBatcher) -> Option<&Dynamic<u64>>,
    field: &str,
) -> Result<Option<u64>, StatesError> {
    match m.item_batcher.as_ref().and_then(get) {
        Some(d) => dynamic_u64(Some(d), effective, env, field),
        None => Ok(None),
    }
}

fn percentage_jsonpath(
    m: &MapState,
    effective: &Value,
    env: &StepEnv,
) -> Result<Option<f64>, StatesError> {
    match &m.tolerated_failure_percentage {
        None => Ok(None),
        Some(Dynamic::Fixed(p)) => Ok(Some(*p)),
        Some(Dynamic::Path(p)) => {
            let v = p.select(effective, docs!(env))?;
            let f = v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()));
            f.filter(|f| (0.0..=100.0).contains(f)).map(Some).ok_or_else(|| {
                StatesError::runtime(format!(
                    "ToleratedFailurePercentagePath '{p}' must select a number from 0 to 100, found {}",
                    preview(&v)
                ))
            })
        }
        Some(Dynamic::Jsonata(_)) => {
            Err(StatesError::runtime("a JSONata field in a JSONPath state"))
        }
    }
}

fn prepare_jsonata(
    state: &State,
    m: &MapState,
    items: Value,
    states: &mut StatesVar,
    env: &mut StepEnv,
) -> Result<MapRequest, StatesError> {
    let mut items = as_items(state, items, "Items")?;
    let int = |d: Option<&Dynamic<u64>>, states: &StatesVar, env: &mut StepEnv| {
        super::jsonata::dynamic_u64(d, state, states, env)
    };
    let percentage = match &m.tolerated_failure_percentage {
        None => None,
        Some(Dynamic::Fixed(p)) => Some(*p),
        Some(Dynamic::Jsonata(f)) => {
            let v = eval_field(f, state, states, env)?;
            Some(v.as_f64().filter(|p| (0.0..=100.0).contains(p)).ok_or_else(|| {
                site(state, env).error(format_args!(
                    "The field 'ToleratedFailurePercentage' must be a number from 0 to 100, found {}",
                    preview(&v)
                ))
            })?)
        }
        Some(Dynamic::Path(_)) => {
            return Err(StatesError::runtime("a JSONPath field in a JSONata state"))
        }
    };
    let settings = Settings {
        max_concurrency: int(Some(&m.max_concurrency), states, env)?.unwrap_or(0),
        tolerance: Tolerance {
            count: int(m.tolerated_failure_count.as_ref(), states, env)?,
            percentage,
        },
        batch_items: int(
            m.item_batcher
                .as_ref()
                .and_then(|b| b.max_items_per_batch.as_ref()),
            states,
            env,
        )?,
        batch_bytes: int(
            m.item_batcher
                .as_ref()
                .and_then(|b| b.max_input_bytes_per_batch.as_ref()),
            states,
            env,
        )?,
    };
    if let Some(Shape::Jsonata(t)) = &m.item_selector {
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            if let Some(c) = states.context_mut() {
                context::set_map_item(c, Some((index, &item)));
            }
            let v = eval(t, state, states, env);
            if let Some(c) = states.context_mut() {
                context::set_map_item(c, None);
            }
            out.push(v?);
        }
        items = out;
    }
    let batch_input = match m.item_batcher.as_ref().and_then(|b| b.batch_input.as_ref()) {
        Some(Shape::Jsonata(t)) => Some(eval(t, state, states, env)?),
        _ => None,
    };
    Ok(finish_request(m, items, batch_input, settings))
}

/// Group items into batches when the Map has an `ItemBatcher`.
fn finish_request(
    m: &MapState,
    items: Vec<Value>,
    batch_input: Option<Value>,
    s: Settings,
) -> MapRequest {
    let mut items = items;
    if m.item_batcher.is_some() {
        items = batches(items, s.batch_items, s.batch_bytes, batch_input);
    }
    MapRequest {
        items,
        max_concurrency: s.max_concurrency,
        tolerance: s.tolerance,
        distributed: distributed(m),
    }
}

/// `{"Items": […], "BatchInput": …}` per batch: at most `max_items` items,
/// and at most `max_bytes` bytes of JSON per batch (a single larger item
/// still gets a batch of its own).
fn batches(
    items: Vec<Value>,
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    batch_input: Option<Value>,
) -> Vec<Value> {
    let max_items = max_items.unwrap_or(u64::MAX) as usize;
    let max_bytes = max_bytes.unwrap_or(u64::MAX) as usize;
    let mut out = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    let flush = |current: &mut Vec<Value>, out: &mut Vec<Value>| {
        if current.is_empty() {
            return;
        }
        let mut batch = Map::new();
        batch.insert("Items".into(), Value::Array(std::mem::take(current)));
        if let Some(b) = &batch_input {
            batch.insert("BatchInput".into(), b.clone());
        }
        out.push(Value::Object(batch));
    };
    for item in items {
        let size = json_size(&item, max_bytes) + 1;
        if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
            flush(&mut current, &mut out);
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    flush(&mut current, &mut out);
    out
}

/// Where a `ResultWriter` writes, evaluated against the Map's input.
pub(super) fn write_request(
    state: &State,
    raw: &Value,
    env: &mut StepEnv,
) -> Result<Option<super::WriteRequest>, StatesError> {
    let StateKind::Map(m) = &state.kind else {
        return Ok(None);
    };
    let Some(writer) = &m.result_writer else {
        return Ok(None);
    };
    let params = match (&writer.parameters, state.query_language) {
        (Some(Shape::Path(t)), _) => {
            let effective = select(&state.input_path, raw, docs!(env), "InputPath")?.into_owned();
            t.evaluate(&effective, docs!(env), env.rng)?
        }
        (Some(Shape::Jsonata(t)), _) => {
            with_states(env, raw.clone(), |states, env| eval(t, state, states, env)).0?
        }
        (None, _) => Value::Object(Map::new()),
    };
    let bucket = params
        .get("Bucket")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            StatesError::new(
                names::RESULT_WRITER_FAILED,
                format!(
                    "the ResultWriter of Map state '{}' needs a 'Bucket' (a string), found {}",
                    state.name,
                    preview(&params)
                ),
            )
        })?;
    let prefix = params
        .get("Prefix")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(Some(super::WriteRequest {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
    }))
}

/// Combine the outcomes of the Map iterations that ran (of `total`): the
/// array of outputs (a tolerated failure appears as its `{"Error","Cause"}`),
/// or the failure that ends the Map.
pub fn map_output(
    state: &State,
    tolerance: Tolerance,
    total: u64,
    outcomes: Vec<Result<Value, StatesError>>,
) -> Result<Value, StatesError> {
    let mut failures = 0;
    let mut out = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Ok(v) => out.push(v),
            Err(e) if !tolerance.tolerant() || e.error == names::RUNTIME => return Err(e),
            Err(e) => {
                failures += 1;
                if tolerance.exceeded(failures, total) {
                    return Err(map_threshold_error(state, failures, total, &e));
                }
                out.push(error_output(&e));
            }
        }
    }
    Ok(Value::Array(out))
}

/// The error of a Map whose failed iterations passed its tolerance.
pub fn map_threshold_error(
    state: &State,
    failures: u64,
    total: u64,
    last: &StatesError,
) -> StatesError {
    // AWS's cause, with what Sluice knows added after it.
    StatesError::new(
        names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
        format!(
            "The specified tolerated failure threshold was exceeded (Map state '{}': {failures} of {total} iterations failed; the last failed with {}: {})",
            state.name, last.error, last.cause
        ),
    )
}
