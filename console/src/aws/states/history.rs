//! GetExecutionHistory: the engine's history (already named with Step
//! Functions' event types) in AWS's shape, each event's details under
//! the `…EventDetails` member its type has, documents as text.

use serde_json::{json, Map, Value};

use super::{execution_by_arn, meta, role_arn};
use crate::aws::{epoch, page_position, page_token, AwsError, AwsResult, Ctx, Req};

/// The text of a JSON document, or nothing when the caller asked for no data.
fn data(v: Option<&Value>, include: bool) -> Option<Value> {
    if !include {
        return None;
    }
    Some(match v {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(v) => Value::String(v.to_string()),
        None => Value::String("null".into()),
    })
}

/// `arn:aws:states:::lambda:invoke` → (`lambda`, `invoke`);
/// `sluice:function:NAME` → (`sluice:function`, `NAME`).
fn resource_parts(resource: &str) -> (String, String) {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        if let Some((kind, action)) = rest.split_once(':') {
            return (kind.to_string(), action.to_string());
        }
    }
    match resource.rsplit_once(':') {
        Some((kind, name)) => (kind.to_string(), name.to_string()),
        None => (resource.to_string(), String::new()),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// A Task whose `Resource` is a Lambda function's own ARN (the legacy
/// form, not `arn:aws:states:::lambda:invoke`) has `LambdaFunction…`
/// events on Step Functions instead of `Task…` ones.
fn aws_kind<'a>(kind: &'a str, d: &Map<String, Value>) -> &'a str {
    let legacy_lambda = d
        .get("resource")
        .and_then(Value::as_str)
        .is_some_and(|r| r.starts_with("arn:aws:lambda:") && r.contains(":function:"));
    if !legacy_lambda {
        return kind;
    }
    match kind {
        "TaskScheduled" => "LambdaFunctionScheduled",
        "TaskStarted" => "LambdaFunctionStarted",
        "TaskSucceeded" => "LambdaFunctionSucceeded",
        "TaskFailed" => "LambdaFunctionFailed",
        "TaskTimedOut" => "LambdaFunctionTimedOut",
        other => other,
    }
}

/// The `…EventDetails` member of one event, by its type.
fn details(
    kind: &str,
    d: &Map<String, Value>,
    include: bool,
    role: &Value,
) -> Option<(String, Value)> {
    let mut out = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            out.insert(k.to_string(), v);
        }
    };
    let name = d.get("name").or_else(|| d.get("state")).cloned();
    let included = include.then(|| json!({"truncated": false}));
    let member = match kind {
        "ExecutionStarted" => {
            put("input", data(d.get("input"), include));
            put("inputDetails", included);
            put("roleArn", Some(role.clone()));
            "executionStartedEventDetails".to_string()
        }
        "ExecutionSucceeded" => {
            put("output", data(d.get("output"), include));
            put("outputDetails", included);
            "executionSucceededEventDetails".to_string()
        }
        "ExecutionFailed" | "ExecutionAborted" | "ExecutionTimedOut" | "MapRunFailed" => {
            put("error", d.get("error").cloned());
            put("cause", d.get("cause").cloned());
            format!("{}EventDetails", lower_first(kind))
        }
        "ExecutionRedriven" => {
            put("redriveCount", d.get("redriveCount").cloned());
            "executionRedrivenEventDetails".to_string()
        }
        "MapStateStarted" => {
            put(
                "length",
                d.get("length").or_else(|| d.get("items")).cloned(),
            );
            "mapStateStartedEventDetails".to_string()
        }
        "MapRunStarted" => {
            put(
                "mapRunArn",
                d.get("mapRunArn").or_else(|| d.get("mapRunId")).cloned(),
            );
            "mapRunStartedEventDetails".to_string()
        }
        k if k.starts_with("MapIteration") => {
            put("name", name);
            put("index", d.get("index").cloned());
            format!("{}EventDetails", lower_first(k))
        }
        k if k.ends_with("StateEntered") => {
            put("name", name);
            put("input", data(d.get("input"), include));
            put("inputDetails", included);
            "stateEnteredEventDetails".to_string()
        }
        k if k.ends_with("StateExited") => {
            put("name", name);
            put("output", data(d.get("output"), include));
            put("outputDetails", included);
            "stateExitedEventDetails".to_string()
        }
        "LambdaFunctionScheduled" => {
            put("resource", d.get("resource").cloned());
            put("input", data(d.get("parameters"), include));
            put("inputDetails", included);
            put("timeoutInSeconds", d.get("timeoutInSeconds").cloned());
            "lambdaFunctionScheduledEventDetails".to_string()
        }
        // Step Functions gives this event no details.
        "LambdaFunctionStarted" => return None,
        "LambdaFunctionSucceeded" => {
            put("output", data(d.get("output"), include));
            put("outputDetails", included);
            "lambdaFunctionSucceededEventDetails".to_string()
        }
        "LambdaFunctionFailed" | "LambdaFunctionTimedOut" => {
            put("error", d.get("error").cloned());
            put("cause", d.get("cause").cloned());
            format!("{}EventDetails", lower_first(kind))
        }
        k if k.starts_with("Task") => {
            let resource = d
                .get("resource")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let (resource_type, resource) = resource_parts(resource);
            put("resourceType", Some(json!(resource_type)));
            put("resource", Some(json!(resource)));
            if k == "TaskScheduled" {
                put(
                    "region",
                    Some(json!(d
                        .get("region")
                        .and_then(Value::as_str)
                        .unwrap_or("us-east-1"))),
                );
                put("parameters", data(d.get("parameters"), true));
                put("timeoutInSeconds", d.get("timeoutInSeconds").cloned());
                put("heartbeatInSeconds", d.get("heartbeatInSeconds").cloned());
            }
            if matches!(k, "TaskSucceeded" | "TaskSubmitted") {
                put("output", data(d.get("output"), include));
                put("outputDetails", included);
            }
            put("error", d.get("error").cloned());
            put("cause", d.get("cause").cloned());
            format!("{}EventDetails", lower_first(k))
        }
        _ => return None,
    };
    Some((member, Value::Object(out)))
}

pub(super) async fn get(ctx: &Ctx, req: Req) -> AwsResult {
    let e = execution_by_arn(ctx, req.str("executionArn")?)?;
    let include = req.opt_bool("includeExecutionData")?.unwrap_or(true);
    let reverse = req.opt_bool("reverseOrder")?.unwrap_or(false);
    let max = req
        .opt_int("maxResults", 0, 1000)?
        .filter(|n| *n > 0)
        .unwrap_or(100) as usize;
    let engine = ctx.state.engine.clone();
    let id = e.execution_id.to_string();
    let mut events = crate::blocking(move || engine.history(&id))
        .await
        .map_err(|err| AwsError::internal(err.message))?;
    if reverse {
        events.reverse();
    }
    let role = role_arn(&meta(ctx, &e.workflow)?);
    let from = page_position(&req)?.min(events.len());
    let to = (from + max).min(events.len());
    let out: Vec<Value> = events[from..to]
        .iter()
        .map(|ev| {
            let kind = aws_kind(&ev.kind, &ev.details);
            let mut item = json!({
                "timestamp": epoch(&ev.timestamp),
                "type": kind,
                "id": ev.id,
                "previousEventId": ev.previous_event_id,
            });
            if let Some((member, d)) = details(kind, &ev.details, include, &role) {
                item[member] = d;
            }
            item
        })
        .collect();
    let mut body = json!({"events": out});
    if to < events.len() {
        body["nextToken"] = page_token(to);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_events_split_the_resource_as_aws_does() {
        assert_eq!(
            resource_parts("arn:aws:states:::lambda:invoke"),
            ("lambda".into(), "invoke".into())
        );
        assert_eq!(
            resource_parts("sluice:function:charge.waitForTaskToken"),
            ("sluice:function".into(), "charge.waitForTaskToken".into())
        );
        let d =
            json!({"resource": "sluice:function:f", "parameters": {"a": 1}, "timeoutInSeconds": 5});
        let (member, v) =
            details("TaskScheduled", d.as_object().unwrap(), true, &json!("r")).unwrap();
        assert_eq!(member, "taskScheduledEventDetails");
        assert_eq!(v["parameters"], "{\"a\":1}");
        assert_eq!(v["resourceType"], "sluice:function");
        let d = json!({"name": "A", "input": {"x": 1}});
        let (member, v) = details(
            "PassStateEntered",
            d.as_object().unwrap(),
            false,
            &json!("r"),
        )
        .unwrap();
        assert_eq!(member, "stateEnteredEventDetails");
        assert_eq!(
            v,
            json!({"name": "A"}),
            "no data when includeExecutionData is false"
        );
    }

    #[test]
    fn a_lambda_function_arn_resource_has_lambda_function_events() {
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:charge";
        let d = json!({"resource": arn, "parameters": {"a": 1}, "timeoutInSeconds": 5});
        let d = d.as_object().unwrap();
        assert_eq!(aws_kind("TaskScheduled", d), "LambdaFunctionScheduled");
        assert_eq!(aws_kind("TaskFailed", d), "LambdaFunctionFailed");
        assert_eq!(aws_kind("TaskStateEntered", d), "TaskStateEntered");
        let (member, v) = details("LambdaFunctionScheduled", d, true, &json!("r")).unwrap();
        assert_eq!(member, "lambdaFunctionScheduledEventDetails");
        assert_eq!(
            v,
            json!({"resource": arn, "input": "{\"a\":1}", "inputDetails": {"truncated": false}, "timeoutInSeconds": 5})
        );
        assert!(details("LambdaFunctionStarted", d, true, &json!("r")).is_none());
        let invoke = json!({"resource": "arn:aws:states:::lambda:invoke"});
        assert_eq!(
            aws_kind("TaskScheduled", invoke.as_object().unwrap()),
            "TaskScheduled"
        );
    }
}
