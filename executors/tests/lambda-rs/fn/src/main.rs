//! A handler on the official Rust runtime client. It acts on the event:
//! `{"fail": MSG}` returns an error of type `OrderRejected` (named through
//! `lambda_runtime::Diagnostic`, as a real function names its errors);
//! `{"log": TEXT}` prints TEXT; anything else is answered with the event
//! and what the runtime client passed to the handler: the request id,
//! deadline, function ARN, trace id and the function's configuration
//! (read by the client from the Lambda variables), plus the process id
//! (so a caller can tell a warm process from a new one).
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug)]
struct Rejected(String);

impl From<Rejected> for Diagnostic {
    fn from(r: Rejected) -> Diagnostic {
        Diagnostic {
            error_type: "OrderRejected".into(),
            error_message: r.0,
        }
    }
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Rejected> {
    let (payload, ctx) = event.into_parts();
    if let Some(why) = payload.get("fail") {
        return Err(Rejected(format!("rejected: {why}")));
    }
    if let Some(text) = payload.get("log").and_then(Value::as_str) {
        println!("{text}");
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Ok(json!({
        "echo": payload,
        "pid": std::process::id(),
        "requestId": ctx.request_id,
        "deadlineMs": ctx.deadline,
        "remainingMs": ctx.deadline.saturating_sub(now_ms),
        "arn": ctx.invoked_function_arn,
        "traceId": ctx.xray_trace_id,
        "functionName": ctx.env_config.function_name,
        "memoryMb": ctx.env_config.memory,
        "version": ctx.env_config.version,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handler)).await
}
