//! The context object (`$$`): Execution, State, StateMachine, Task and Map
//! fields, kept as one JSON document and updated in place.

use serde_json::{json, Value};

use super::RunOptions;

/// The region and account in ARNs: there are none, so AWS's default region
/// and the account id AWS's own local tools use.
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "000000000000";

pub(super) fn new(options: &RunOptions, input: &Value) -> Value {
    let sm = &options.state_machine_name;
    json!({
        "Execution": {
            "Id": format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:{sm}:{}", options.execution_name),
            "Input": input,
            "Name": options.execution_name,
            "RoleArn": format!("arn:aws:iam::{ACCOUNT}:role/sluice"),
            "StartTime": crate::timestamp::format(options.start_time),
            "RedriveCount": 0,
        },
        "State": { "EnteredTime": "", "Name": "" },
        "StateMachine": { "Id": format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{sm}"), "Name": sm },
    })
}

/// A new state is entered. `RetryCount` exists only for the states that
/// can retry (Task, Parallel, Map), as on AWS.
pub(super) fn enter_state(ctx: &mut Value, name: &str, entered: &str, retries: bool) {
    if let Some(Value::Object(state)) = ctx.get_mut("State") {
        state.insert("Name".into(), Value::String(name.to_string()));
        state.insert("EnteredTime".into(), Value::String(entered.to_string()));
        if retries {
            state.insert("RetryCount".into(), Value::from(0));
        } else {
            state.remove("RetryCount");
        }
    }
}

pub(super) fn set_retry_count(ctx: &mut Value, n: u32) {
    if let Some(state) = ctx.get_mut("State") {
        state["RetryCount"] = Value::from(n);
    }
}

pub(super) fn set_task_token(ctx: &mut Value, token: Option<&str>) {
    let Value::Object(map) = ctx else { return };
    match token {
        Some(t) => {
            map.insert("Task".into(), json!({ "Token": t }));
        }
        None => {
            map.remove("Task");
        }
    }
}

pub(super) fn set_map_item(ctx: &mut Value, item: Option<(usize, &Value)>) {
    let Value::Object(map) = ctx else { return };
    match item {
        Some((index, value)) => {
            map.insert(
                "Map".into(),
                json!({ "Item": { "Index": index, "Value": value } }),
            );
        }
        None => {
            map.remove("Map");
        }
    }
}
