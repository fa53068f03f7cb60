//! EventBridge over AWS JSON 1.1 (`X-Amz-Target: AWSEvents.*`), on the
//! default event bus: PutEvents turns each entry into a CloudEvent
//! (`source` → source, `detail-type` → type, `detail` → data, with the
//! envelope's account, region and resources kept), and rules with their
//! targets become Sluice trigger rules — one per target, named
//! `RULE.TARGET_ID`, visible in `/api/v1/triggers` — whose input is made
//! the EventBridge way (`sluice_dsl::eventbridge`); a Lambda function
//! target is invoked asynchronously, as Lambda's `Event` invocations are
//! (an execution of `sluice-lambda-events`). A rule with a
//! `ScheduleExpression` gets a cron source of its own, `eb-RULE`, whose
//! fires its triggers match. The rule itself (pattern, schedule, state,
//! targets) is kept in the catalog as `aws-event-rule/RULE`.

use serde_json::{json, Map, Value};
use sluice_dsl::Pattern;
use sluice_engine::{EngineError, EventOutcome, EventSink, InboundEvent};

use super::arn::{self, ACCOUNT};
use super::{AwsError, AwsResult, Ctx, Req};

const RULE_KIND: &str = "aws-event-rule";
/// The binding name of events put here.
const EVENTS_SOURCE: &str = "eventbridge";
/// The CloudEvent type of a scheduled rule's fires.
const SCHEDULED: &str = "Scheduled Event";

pub(crate) async fn call(ctx: &Ctx, operation: &str, req: Req) -> AwsResult {
    match operation {
        "PutEvents" => put_events(ctx, req).await,
        "PutRule" => put_rule(ctx, req).await,
        "DescribeRule" => describe_rule(ctx, req).await,
        "ListRules" => list_rules(ctx, req).await,
        "DeleteRule" => delete_rule(ctx, req).await,
        "EnableRule" => set_state(ctx, req, "ENABLED").await,
        "DisableRule" => set_state(ctx, req, "DISABLED").await,
        "PutTargets" => put_targets(ctx, req).await,
        "RemoveTargets" => remove_targets(ctx, req).await,
        "ListTargetsByRule" => list_targets(ctx, req).await,
        "TestEventPattern" => test_event_pattern(req),
        other => Err(AwsError::new(
            "UnknownOperationException",
            format!("AWSEvents.{other} is not an operation this server implements (docs/events.md lists them)"),
        )),
    }
}

fn engine_error(e: EngineError) -> AwsError {
    match e {
        EngineError::NotFound(m) => AwsError::new("ResourceNotFoundException", m),
        EngineError::BadRequest(m) | EngineError::TooLarge(m) => AwsError::validation(m),
        EngineError::Invalid(p) => AwsError::validation(p.to_string()),
        EngineError::Conflict(m) => AwsError::new("ConcurrentModificationException", m),
        other => AwsError::internal(other.to_string()),
    }
}

fn rule_arn(region: &str, name: &str) -> String {
    format!("arn:aws:events:{region}:{ACCOUNT}:rule/{name}")
}

fn default_bus(req: &Req, field: &str) -> Result<(), AwsError> {
    match req.opt_str(field)? {
        None | Some("default") => Ok(()),
        Some(b) if b.ends_with(":event-bus/default") => Ok(()),
        Some(b) => Err(AwsError::new(
            "ResourceNotFoundException",
            format!("Event bus {b} does not exist: this server has the default event bus only"),
        )),
    }
}

// ---- PutEvents -------------------------------------------------------------

/// One entry as a CloudEvent, or the entry's error code and message.
fn entry_event(ctx: &Ctx, e: &Value) -> Result<Value, (&'static str, String)> {
    let field = |k: &str| match e.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err((
            "InvalidArgument",
            format!("Parameter {k} is not valid: the entry needs a non-empty {k}"),
        )),
    };
    let source = field("Source")?;
    let detail_type = field("DetailType")?;
    let detail: Value = serde_json::from_str(&field("Detail")?)
        .map_err(|err| ("MalformedDetail", format!("Detail is malformed: {err}")))?;
    if !detail.is_object() {
        return Err((
            "MalformedDetail",
            "Detail is malformed: it must be a JSON object".into(),
        ));
    }
    let time = match e.get("Time").and_then(Value::as_f64) {
        Some(secs) => sluice_dsl::timestamp::format(
            chrono::DateTime::from_timestamp_millis((secs * 1000.0) as i64).unwrap_or_default(),
        ),
        None => sluice_engine::now_rfc3339(),
    };
    Ok(json!({
        "specversion": "1.0",
        "id": uuid::Uuid::new_v4().to_string(),
        "source": source,
        "type": detail_type,
        "time": time,
        "datacontenttype": "application/json",
        "data": detail,
        "account": ACCOUNT,
        "region": ctx.region,
        "resources": e.get("Resources").cloned().unwrap_or_else(|| json!([])),
    }))
}

async fn put_events(ctx: &Ctx, req: Req) -> AwsResult {
    let entries = req
        .get("Entries")
        .and_then(Value::as_array)
        .ok_or_else(|| AwsError::validation("Entries is a list of 1 to 10 events"))?;
    if entries.is_empty() || entries.len() > 10 {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10 (it has {})",
            entries.len()
        )));
    }
    let mut results: Vec<Value> = Vec::with_capacity(entries.len());
    let mut events = Vec::new();
    for e in entries {
        let bus_ok = match e.get("EventBusName").and_then(Value::as_str) {
            None | Some("default") => true,
            Some(b) => b.ends_with(":event-bus/default"),
        };
        let event = if bus_ok {
            entry_event(ctx, e)
        } else {
            Err((
                "InvalidArgument",
                "EventBusName: this server has the default event bus only".into(),
            ))
        };
        match event {
            Ok(ev) => {
                results.push(json!({"EventId": ev["id"]}));
                events.push(InboundEvent {
                    source: EVENTS_SOURCE.into(),
                    event: ev,
                });
            }
            Err((code, message)) => {
                results.push(json!({"ErrorCode": code, "ErrorMessage": message}))
            }
        }
    }
    if !events.is_empty() {
        let outcomes = ctx
            .state
            .engine
            .submit(events)
            .await
            .map_err(engine_error)?;
        for o in &outcomes {
            if let EventOutcome::DeadLettered { reason } = o {
                tracing::info!(%reason, "an event put through EventBridge went to the dead-letter inbox");
            }
        }
    }
    let failed = results
        .iter()
        .filter(|r| r.get("ErrorCode").is_some())
        .count();
    Ok(json!({"FailedEntryCount": failed, "Entries": results}))
}

// ---- rules -----------------------------------------------------------------

fn rule(ctx: &Ctx, name: &str) -> Result<Map<String, Value>, AwsError> {
    match ctx
        .state
        .engine
        .document(RULE_KIND, name, None)
        .map_err(engine_error)?
    {
        Some(d) => Ok(d.body.as_object().cloned().unwrap_or_default()),
        None => Err(AwsError::new(
            "ResourceNotFoundException",
            format!("Rule {name} does not exist on EventBus default."),
        )),
    }
}

fn rule_name(req: &Req, field: &str) -> Result<String, AwsError> {
    let name = req.str(field)?;
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+ (at most 64 characters)"
        )));
    }
    Ok(name.to_string())
}

/// `rate(N unit)` or `cron(M H DoM Mon DoW Y)` as a cron source's schedule.
pub(crate) fn schedule(expr: &str) -> Result<String, AwsError> {
    let bad = |why: &str| {
        AwsError::validation(format!(
            "Parameter ScheduleExpression is not valid: '{expr}' {why}"
        ))
    };
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let (n, unit) = inner
            .trim()
            .split_once(' ')
            .ok_or_else(|| bad("is rate(VALUE UNIT)"))?;
        let n: u32 = n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad("needs a positive whole VALUE"))?;
        let singular = n == 1;
        return Ok(match (unit.trim(), singular) {
            ("minute", true) | ("minutes", false) => format!("0 */{n} * * * *"),
            ("hour", true) | ("hours", false) => format!("0 0 */{n} * * *"),
            ("day", true) | ("days", false) => format!("0 0 0 */{n} * *"),
            _ => {
                return Err(bad(
                    "needs a UNIT of minute(s), hour(s) or day(s), singular for 1",
                ))
            }
        });
    }
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        let f: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = f[..] else {
            return Err(bad(
                "has six fields: minutes hours day-of-month month day-of-week year",
            ));
        };
        if year != "*" {
            return Err(bad(
                "has a year other than '*', which this server's schedules do not take",
            ));
        }
        let dow = day_of_week(dow).ok_or_else(|| bad("has a day-of-week outside 1-7"))?;
        return Ok(format!("0 {minutes} {hours} {dom} {month} {dow}"));
    }
    Err(bad("is rate(…) or cron(…)"))
}

/// EventBridge numbers the days of the week 1-7 from Sunday, cron 0-6:
/// every day number goes down by one (not a `/` step or a `#` ordinal).
fn day_of_week(field: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    let mut prev = None;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut n = c.to_string();
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                n.push(d);
            }
            if matches!(prev, Some('/' | '#')) {
                out.push_str(&n);
            } else {
                let d: u8 = n.parse().ok().filter(|d| (1..=7).contains(d))?;
                out.push_str(&(d - 1).to_string());
            }
            prev = Some('0');
        } else {
            out.push(c);
            prev = Some(c);
        }
    }
    Some(out)
}

async fn put_rule(ctx: &Ctx, req: Req) -> AwsResult {
    let name = rule_name(&req, "Name")?;
    default_bus(&req, "EventBusName")?;
    let pattern = req.opt_str("EventPattern")?;
    let sched = req.opt_str("ScheduleExpression")?;
    if pattern.is_none() && sched.is_none() {
        return Err(AwsError::validation(
            "Parameter(s) EventPattern or ScheduleExpression must be specified.",
        ));
    }
    if let Some(p) = pattern {
        parse_pattern(p)?;
    }
    if let Some(s) = sched {
        schedule(s)?;
    }
    let state = req.opt_str("State")?.unwrap_or("ENABLED");
    if !matches!(state, "ENABLED" | "DISABLED") {
        return Err(AwsError::validation("State is ENABLED or DISABLED"));
    }
    let mut body = ctx
        .state
        .engine
        .document(RULE_KIND, &name, None)
        .map_err(engine_error)?
        .and_then(|d| d.body.as_object().cloned())
        .unwrap_or_default();
    for f in ["EventPattern", "ScheduleExpression", "Description"] {
        match req.get(f) {
            Some(v) => body.insert(f.into(), v.clone()),
            None => body.remove(f),
        };
    }
    body.insert("State".into(), json!(state));
    body.insert("Name".into(), json!(name));
    store_rule(ctx, &name, body).await?;
    Ok(json!({"RuleArn": rule_arn(&ctx.region, &name)}))
}

fn parse_pattern(text: &str) -> Result<Value, AwsError> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        AwsError::new(
            "InvalidEventPatternException",
            format!("Event pattern is not valid. Reason: not JSON: {e}"),
        )
    })?;
    Pattern::compile(&v, "").map_err(|p| {
        AwsError::new(
            "InvalidEventPatternException",
            format!("Event pattern is not valid. Reason: {p}"),
        )
    })?;
    Ok(v)
}

/// Stores the rule and makes its triggers (and schedule source) follow it.
async fn store_rule(ctx: &Ctx, name: &str, body: Map<String, Value>) -> Result<(), AwsError> {
    let stored = ctx
        .state
        .engine
        .put_document(RULE_KIND, name, Value::Object(body.clone()))
        .await
        .map_err(engine_error)?;
    sync(ctx, name, &body).await?;
    tracing::info!(rule = %name, version = stored.version, "EventBridge rule stored");
    Ok(())
}

/// The trigger rules (and cron source) that make rule `name` work.
async fn sync(ctx: &Ctx, name: &str, rule: &Map<String, Value>) -> Result<(), AwsError> {
    let engine = &ctx.state.engine;
    let enabled = rule.get("State").and_then(Value::as_str) != Some("DISABLED");
    let source_name = format!("eb-{name}");
    let pattern = match rule.get("ScheduleExpression").and_then(Value::as_str) {
        Some(expr) => {
            let source = json!({"name": source_name, "kind": "cron", "schedule": schedule(expr)?,
                                "type": SCHEDULED, "enabled": enabled});
            engine
                .put_document("source", &source_name, source)
                .await
                .map_err(engine_error)?;
            json!({"source": [format!("sluice://sources/{source_name}")], "type": [SCHEDULED]})
        }
        None => {
            engine
                .delete_document("source", &source_name)
                .await
                .map_err(engine_error)?;
            parse_pattern(
                rule.get("EventPattern")
                    .and_then(Value::as_str)
                    .unwrap_or("{}"),
            )?
        }
    };
    let arn_text = rule_arn(&ctx.region, name);
    let mut wanted = Vec::new();
    for t in rule
        .get("Targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = t["Id"].as_str().unwrap_or_default();
        let trigger = format!("{name}.{id}");
        let target_arn = t["Arn"].as_str().unwrap_or_default();
        let mut target = json!({"ruleArn": arn_text});
        let workflow = match lambda_function(target_arn) {
            Some(function) => {
                super::lambda::ensure_events_workflow(&ctx.state)
                    .await
                    .map_err(engine_error)?;
                target["function"] = json!(function);
                super::lambda::EVENTS_WORKFLOW.to_string()
            }
            None => arn::parse_machine(target_arn, "Arn")?.reference(),
        };
        for (from, to) in [("Input", "input"), ("InputPath", "inputPath")] {
            if let Some(v) = t.get(from).and_then(Value::as_str) {
                target[to] = if to == "input" {
                    serde_json::from_str(v).map_err(|e| {
                        AwsError::validation(format!("Input of target {id} is not JSON: {e}"))
                    })?
                } else {
                    json!(v)
                };
            }
        }
        if let Some(tr) = t.get("InputTransformer") {
            target["inputTransformer"] = json!({"inputPathsMap": tr.get("InputPathsMap").cloned().unwrap_or(json!({})),
                                               "inputTemplate": tr.get("InputTemplate").cloned().unwrap_or(Value::Null)});
        }
        let body = json!({"name": trigger, "description": format!("EventBridge rule {name}, target {id}"),
                          "workflow": workflow, "pattern": pattern, "eventbridge": target});
        sluice_dsl::TriggerRule::from_value(&body)
            .map_err(|p| AwsError::validation(format!("target {id}: {p}")))?;
        wanted.push((trigger, body));
    }
    let prefix = format!("{name}.");
    for existing in engine.documents("trigger").map_err(engine_error)? {
        let keep = enabled && wanted.iter().any(|(n, _)| *n == existing.name);
        if existing.name.starts_with(&prefix) && !keep {
            engine
                .delete_document("trigger", &existing.name)
                .await
                .map_err(engine_error)?;
        }
    }
    if enabled {
        for (trigger, body) in wanted {
            engine
                .put_document("trigger", &trigger, body)
                .await
                .map_err(engine_error)?;
        }
    }
    Ok(())
}

fn rule_view(ctx: &Ctx, body: &Map<String, Value>) -> Value {
    let name = body.get("Name").and_then(Value::as_str).unwrap_or_default();
    let mut out = json!({"Name": name, "Arn": rule_arn(&ctx.region, name),
                         "State": body.get("State").cloned().unwrap_or(json!("ENABLED")),
                         "EventBusName": "default"});
    for f in ["EventPattern", "ScheduleExpression", "Description"] {
        if let Some(v) = body.get(f) {
            out[f] = v.clone();
        }
    }
    out
}

async fn describe_rule(ctx: &Ctx, req: Req) -> AwsResult {
    let name = rule_name(&req, "Name")?;
    default_bus(&req, "EventBusName")?;
    let mut out = rule_view(ctx, &rule(ctx, &name)?);
    out["CreatedBy"] = json!(ACCOUNT);
    Ok(out)
}

async fn list_rules(ctx: &Ctx, req: Req) -> AwsResult {
    default_bus(&req, "EventBusName")?;
    let prefix = req.opt_str("NamePrefix")?.unwrap_or("");
    let mut all: Vec<Value> = ctx
        .state
        .engine
        .documents(RULE_KIND)
        .map_err(engine_error)?
        .into_iter()
        .filter(|d| d.name.starts_with(prefix))
        .filter_map(|d| d.body.as_object().map(|b| rule_view(ctx, b)))
        .collect();
    all.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
    let limit = req.opt_int("Limit", 1, 100)?.unwrap_or(100) as usize;
    let from = match req.opt_str("NextToken")? {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| AwsError::validation("NextToken is not a token this server handed out"))?,
        None => 0,
    }
    .min(all.len());
    let to = (from + limit).min(all.len());
    let mut out = json!({"Rules": all[from..to].to_vec()});
    if to < all.len() {
        out["NextToken"] = json!(to.to_string());
    }
    Ok(out)
}

async fn delete_rule(ctx: &Ctx, req: Req) -> AwsResult {
    let name = rule_name(&req, "Name")?;
    default_bus(&req, "EventBusName")?;
    let Ok(body) = rule(ctx, &name) else {
        return Ok(json!({}));
    };
    if body
        .get("Targets")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
        && req.opt_bool("Force")? != Some(true)
    {
        return Err(AwsError::validation(
            "Rule can't be deleted since it has targets: remove them first (RemoveTargets)",
        ));
    }
    let mut gone = body.clone();
    gone.insert("Targets".into(), json!([]));
    gone.insert("State".into(), json!("DISABLED"));
    sync(ctx, &name, &gone).await?;
    let engine = &ctx.state.engine;
    engine
        .delete_document("source", &format!("eb-{name}"))
        .await
        .map_err(engine_error)?;
    engine
        .delete_document(RULE_KIND, &name)
        .await
        .map_err(engine_error)?;
    Ok(json!({}))
}

async fn set_state(ctx: &Ctx, req: Req, state: &str) -> AwsResult {
    let name = rule_name(&req, "Name")?;
    default_bus(&req, "EventBusName")?;
    let mut body = rule(ctx, &name)?;
    body.insert("State".into(), json!(state));
    store_rule(ctx, &name, body).await?;
    Ok(json!({}))
}

// ---- targets ---------------------------------------------------------------

async fn put_targets(ctx: &Ctx, req: Req) -> AwsResult {
    let name = rule_name(&req, "Rule")?;
    default_bus(&req, "EventBusName")?;
    let mut body = rule(ctx, &name)?;
    let targets = req
        .get("Targets")
        .and_then(Value::as_array)
        .ok_or_else(|| AwsError::validation("Targets is a list of 1 to 10 targets"))?;
    let mut current: Vec<Value> = body
        .get("Targets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut failed = Vec::new();
    for t in targets {
        let id = t["Id"].as_str().unwrap_or_default().to_string();
        let problem = target_problem(&name, t);
        if let Some(message) = problem {
            failed.push(json!({"TargetId": id, "ErrorCode": "ValidationException", "ErrorMessage": message}));
            continue;
        }
        current.retain(|c| c["Id"] != t["Id"]);
        current.push(t.clone());
    }
    if current.len() > 5 {
        return Err(AwsError::new(
            "LimitExceededException",
            "a rule has at most 5 targets",
        ));
    }
    body.insert("Targets".into(), Value::Array(current));
    store_rule(ctx, &name, body).await?;
    Ok(json!({"FailedEntryCount": failed.len(), "FailedEntries": failed}))
}

/// Why target `t` of rule `rule` cannot be run, if it cannot.
fn target_problem(rule: &str, t: &Value) -> Option<String> {
    let id = t["Id"].as_str().unwrap_or_default();
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Some("Id is 1 to 64 letters, digits, '.', '-' or '_'".into());
    }
    if rule.len() + 1 + id.len() > 80 {
        return Some(format!(
            "the trigger of this target would be named '{rule}.{id}', longer than 80 characters; use a shorter rule name or target Id"
        ));
    }
    let target_arn = t["Arn"].as_str().unwrap_or_default();
    if lambda_function(target_arn).is_none() {
        if let Err(e) = arn::parse_machine(target_arn, "Arn") {
            return Some(format!(
                "{} (targets are state machines and Lambda functions on this server)",
                e.message
            ));
        }
    }
    let ways = ["Input", "InputPath", "InputTransformer"]
        .iter()
        .filter(|k| t.get(**k).is_some())
        .count();
    (ways > 1).then(|| "give at most one of Input, InputPath and InputTransformer".into())
}

async fn remove_targets(ctx: &Ctx, req: Req) -> AwsResult {
    let name = rule_name(&req, "Rule")?;
    default_bus(&req, "EventBusName")?;
    let mut body = rule(ctx, &name)?;
    let ids: Vec<Value> = req
        .get("Ids")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut current: Vec<Value> = body
        .get("Targets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    current.retain(|t| !ids.contains(&t["Id"]));
    body.insert("Targets".into(), Value::Array(current));
    store_rule(ctx, &name, body).await?;
    Ok(json!({"FailedEntryCount": 0, "FailedEntries": []}))
}

async fn list_targets(ctx: &Ctx, req: Req) -> AwsResult {
    let name = rule_name(&req, "Rule")?;
    default_bus(&req, "EventBusName")?;
    let body = rule(ctx, &name)?;
    Ok(json!({"Targets": body.get("Targets").cloned().unwrap_or(json!([]))}))
}

/// The function (`NAME[:QUALIFIER]`) of a Lambda function ARN.
fn lambda_function(target_arn: &str) -> Option<String> {
    let p: Vec<&str> = target_arn.split(':').collect();
    match p.as_slice() {
        ["arn", _, "lambda", _, _, "function", name] if !name.is_empty() => Some(name.to_string()),
        ["arn", _, "lambda", _, _, "function", name, q] if !name.is_empty() => {
            Some(format!("{name}:{q}"))
        }
        _ => None,
    }
}

/// TestEventPattern: the pattern on an event in EventBridge's shape.
fn test_event_pattern(req: Req) -> AwsResult {
    let pattern = parse_pattern(req.str("EventPattern")?)?;
    let event: Value = serde_json::from_str(req.str("Event")?).map_err(|e| {
        AwsError::validation(format!("Parameter Event is not valid: not JSON: {e}"))
    })?;
    let Value::Object(mut event) = event else {
        return Err(AwsError::validation(
            "Parameter Event is not valid: a JSON object",
        ));
    };
    for required in ["id", "account", "source", "time", "region", "detail-type"] {
        if !event.contains_key(required) {
            return Err(AwsError::validation(format!(
                "Parameter Event is not valid: the event needs '{required}'"
            )));
        }
    }
    // As Sluice keeps events: `detail-type` is `type`, `detail` is `data`.
    if let Some(t) = event.remove("detail-type") {
        event.insert("type".into(), t);
    }
    if let Some(d) = event.remove("detail") {
        event.insert("data".into(), d);
    }
    let compiled = Pattern::compile(&pattern, "")
        .map_err(|p| AwsError::new("InvalidEventPatternException", p.to_string()))?;
    Ok(json!({"Result": compiled.matches(&Value::Object(event))}))
}

#[cfg(test)]
mod tests {
    use super::schedule;

    #[test]
    fn schedule_expressions_become_cron_schedules() {
        assert_eq!(schedule("rate(5 minutes)").unwrap(), "0 */5 * * * *");
        assert_eq!(schedule("rate(1 hour)").unwrap(), "0 0 */1 * * *");
        assert_eq!(schedule("cron(0 12 ? * 2-6 *)").unwrap(), "0 0 12 ? * 1-5");
        assert_eq!(schedule("cron(0 8 ? * 6#3 *)").unwrap(), "0 0 8 ? * 5#3");
        assert_eq!(
            schedule("cron(0/10 * ? * MON-FRI *)").unwrap(),
            "0 0/10 * ? * MON-FRI"
        );
        assert_eq!(
            schedule("cron(15 10 ? * 1,7 *)").unwrap(),
            "0 15 10 ? * 0,6"
        );
        for bad in [
            "rate(1 minutes)",
            "rate(0 hours)",
            "every 5 minutes",
            "cron(0 12 * * ? 2027)",
            "cron(0 12 * *)",
        ] {
            let e = schedule(bad).unwrap_err();
            assert!(
                e.message.contains("ScheduleExpression"),
                "{bad}: {}",
                e.message
            );
        }
    }
}
