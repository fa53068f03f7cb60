//! Tasks that start a child execution (`arn:aws:states:::states:startExecution`
//! and `sluice:workflow:startExecution`): reading their parameters, and the
//! results AWS gives ("Start a new AWS Step Functions state machine from a
//! running execution"): `{ExecutionArn, StartDate}` when the child is not
//! awaited, the child's DescribeExecution for `.sync` (`Input` and `Output`
//! as JSON text) and `.sync:2` (as JSON), and for a child that failed,
//! `States.TaskFailed` with that description as the cause.

use serde_json::{json, Map, Value};

use crate::error::{names, StatesError};
use crate::resource::StartWait;

/// What to start.
#[derive(Debug, Clone, PartialEq)]
pub struct StartChild {
    /// The workflow's name, with `:VERSION` or `:ALIAS` when the ARN had one.
    pub workflow: String,
    pub input: Value,
    pub name: Option<String>,
}

/// Read the task's parameters: `StateMachineArn` (an ARN, or for
/// `sluice:workflow:startExecution` also a plain name or `Workflow`),
/// `Input` (JSON, or a string holding JSON; none is `{}`) and `Name`.
pub fn start_request(payload: &Value) -> Result<StartChild, StatesError> {
    let fail = |cause: String| StatesError::new(names::TASK_FAILED, cause);
    let target = payload
        .get("StateMachineArn")
        .or_else(|| payload.get("Workflow"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            fail("startExecution needs 'StateMachineArn': the ARN (or name) of the workflow to start".into())
        })?;
    let workflow = match target.strip_prefix("arn:aws:states:") {
        // REGION:ACCOUNT:stateMachine:NAME[:QUALIFIER]
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(4, ':').collect();
            match parts.as_slice() {
                [_, _, "stateMachine", name] if !name.is_empty() => name.to_string(),
                _ => {
                    return Err(fail(format!(
                        "'{target}' is not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)"
                    )))
                }
            }
        }
        None => target.to_string(),
    };
    let input = match payload.get("Input") {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(v) => v.clone(),
    };
    let name = match payload.get("Name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(fail(format!(
                "startExecution 'Name' must be a string, found {}",
                crate::path::preview(other)
            )))
        }
    };
    Ok(StartChild {
        workflow,
        input,
        name,
    })
}

/// What a child execution was, for its parent's result.
#[derive(Debug, Clone)]
pub struct ChildSummary {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub input: Value,
    /// `Ok(output)` for SUCCEEDED; otherwise the status and error.
    pub outcome: Result<Value, (String, StatesError)>,
    pub start_date: String,
    pub stop_date: String,
}

/// The result of a started, not awaited, child.
pub fn started(execution_arn: &str, start_date: &str) -> Value {
    json!({"ExecutionArn": execution_arn, "StartDate": start_date})
}

/// The child's DescribeExecution, as `.sync` (`json` false) or `.sync:2`
/// gives it.
pub fn describe(child: &ChildSummary, json_io: bool) -> Value {
    let text = |v: &Value| {
        if json_io {
            v.clone()
        } else {
            Value::String(v.to_string())
        }
    };
    let mut m = Map::new();
    m.insert("ExecutionArn".into(), json!(child.execution_arn));
    m.insert("Input".into(), text(&child.input));
    m.insert("InputDetails".into(), json!({"Included": true}));
    m.insert("Name".into(), json!(child.name));
    match &child.outcome {
        Ok(output) => {
            m.insert("Output".into(), text(output));
            m.insert("OutputDetails".into(), json!({"Included": true}));
        }
        Err((_, e)) => {
            if !e.error.is_empty() {
                m.insert("Error".into(), json!(e.error));
            }
            if !e.cause.is_empty() {
                m.insert("Cause".into(), json!(e.cause));
            }
        }
    }
    m.insert("StartDate".into(), json!(child.start_date));
    m.insert("StateMachineArn".into(), json!(child.state_machine_arn));
    let status = match &child.outcome {
        Ok(_) => "SUCCEEDED",
        Err((status, _)) => status.as_str(),
    };
    m.insert("Status".into(), json!(status));
    m.insert("StopDate".into(), json!(child.stop_date));
    Value::Object(m)
}

/// The parent task's result for an awaited child that ended.
pub fn awaited_result(child: &ChildSummary, wait: StartWait) -> Result<Value, StatesError> {
    let json_io = wait == StartWait::SyncJson;
    match &child.outcome {
        Ok(_) => Ok(describe(child, json_io)),
        Err(_) => Err(StatesError::new(
            names::TASK_FAILED,
            describe(child, json_io).to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        let r = start_request(&json!({"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:child", "Input": {"a": 1}, "Name": "n1"})).unwrap();
        assert_eq!(
            r,
            StartChild {
                workflow: "child".into(),
                input: json!({"a": 1}),
                name: Some("n1".into())
            }
        );
        let r =
            start_request(&json!({"StateMachineArn": "child:live", "Input": "{\"b\":2}"})).unwrap();
        assert_eq!(
            (r.workflow.as_str(), r.input),
            ("child:live", json!({"b": 2}))
        );
        assert_eq!(
            start_request(&json!({"StateMachineArn": "c"}))
                .unwrap()
                .input,
            json!({})
        );
        assert!(start_request(&json!({})).is_err());
        assert!(
            start_request(&json!({"StateMachineArn": "arn:aws:states:x:y:activity:z"})).is_err()
        );
    }

    #[test]
    fn results_as_aws_shapes_them() {
        let mut child = ChildSummary {
            execution_arn: "arn:e".into(),
            state_machine_arn: "arn:sm".into(),
            name: "n".into(),
            input: json!({}),
            outcome: Ok(json!({"Arg1": "argument1"})),
            start_date: "s".into(),
            stop_date: "t".into(),
        };
        let sync = awaited_result(&child, StartWait::Sync).unwrap();
        assert_eq!(sync["Output"], json!("{\"Arg1\":\"argument1\"}"));
        assert_eq!(sync["Input"], json!("{}"));
        assert_eq!(sync["Status"], json!("SUCCEEDED"));
        let sync2 = awaited_result(&child, StartWait::SyncJson).unwrap();
        assert_eq!(sync2["Output"], json!({"Arg1": "argument1"}));
        child.outcome = Err(("FAILED".into(), StatesError::new("SomeFailure", "why")));
        let e = awaited_result(&child, StartWait::Sync).unwrap_err();
        assert_eq!(e.error, "States.TaskFailed");
        let cause: Value = serde_json::from_str(&e.cause).unwrap();
        assert_eq!(
            (cause["Error"].as_str(), cause["Status"].as_str()),
            (Some("SomeFailure"), Some("FAILED"))
        );
    }
}
