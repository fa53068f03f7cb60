//! Task `Resource` strings and what they name (DESIGN.md, "Task Resource forms").

use std::fmt;

/// What a Task state runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `sluice:function:NAME[:ALIAS]` or `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:ALIAS]`.
    Function {
        name: String,
        alias: Option<String>,
    },
    /// `arn:aws:states:::lambda:invoke`: the function is `Parameters.FunctionName`
    /// and the result is wrapped as `{"Payload": …, "StatusCode": 200}`.
    LambdaInvoke,
    HttpInvoke,
    KafkaPublish,
    AmqpPublish,
    /// `sluice:workflow:startExecution[.sync]` and
    /// `arn:aws:states:::states:startExecution[.sync|.sync:2]`: a child
    /// execution of another workflow.
    StartExecution {
        wait: StartWait,
    },
    /// Another AWS service integration (`arn:aws:states:::sqs:sendMessage`, …):
    /// parsed so definitions stay portable and mocks can answer for it, but
    /// not runnable: [`ResourceRef::runnable`] refuses it.
    OtherAws(String),
}

/// How a Task that starts a child execution waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartWait {
    /// Started, not awaited: the result is `{ExecutionArn, StartDate}`.
    No,
    /// `.sync`: the child's DescribeExecution, `Input`/`Output` as strings.
    Sync,
    /// `.sync:2` (and Sluice's `.sync`): the same, `Input`/`Output` as JSON.
    SyncJson,
}

/// A parsed resource with its `.waitForTaskToken` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    pub resource: Resource,
    pub wait_for_task_token: bool,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Function {
                name,
                alias: Some(a),
            } => write!(f, "sluice:function:{name}:{a}"),
            Resource::Function { name, alias: None } => write!(f, "sluice:function:{name}"),
            Resource::LambdaInvoke => f.write_str("arn:aws:states:::lambda:invoke"),
            Resource::HttpInvoke => f.write_str("sluice:http:invoke"),
            Resource::KafkaPublish => f.write_str("sluice:kafka:publish"),
            Resource::AmqpPublish => f.write_str("sluice:amqp:publish"),
            Resource::StartExecution { wait } => f.write_str(match wait {
                StartWait::No => "arn:aws:states:::states:startExecution",
                StartWait::Sync => "arn:aws:states:::states:startExecution.sync",
                StartWait::SyncJson => "arn:aws:states:::states:startExecution.sync:2",
            }),
            Resource::OtherAws(s) => f.write_str(s),
        }
    }
}

const FORMS: &str = "sluice:function:NAME[:ALIAS], arn:aws:lambda:REGION:ACCOUNT:function:NAME, arn:aws:states:::lambda:invoke, sluice:http:invoke, arn:aws:states:::http:invoke, sluice:kafka:publish, sluice:amqp:publish, sluice:workflow:startExecution[.sync], arn:aws:states:::states:startExecution[.sync|.sync:2]";

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ResourceRef {
    /// Parse a Resource; the error lists the forms Sluice understands.
    pub fn parse(text: &str) -> Result<ResourceRef, String> {
        let (base, wait) = match text.strip_suffix(".waitForTaskToken") {
            Some(b) => (b, true),
            None => (text, false),
        };
        let function = |rest: &str| -> Result<Resource, String> {
            let mut parts = rest.splitn(2, ':');
            let name = parts.next().unwrap_or_default();
            let alias = parts.next().map(str::to_string);
            if !valid_name(name) || alias.as_deref().is_some_and(|a| !valid_name(a)) {
                return Err(format!(
                    "'{text}' does not name a function: names and aliases use letters, digits, '-' and '_' (at most 64)"
                ));
            }
            Ok(Resource::Function {
                name: name.to_string(),
                alias,
            })
        };
        let resource = if let Some(rest) = base.strip_prefix("sluice:function:") {
            function(rest)?
        } else if let Some(rest) = base.strip_prefix("sluice:") {
            match rest {
                "http:invoke" => Resource::HttpInvoke,
                "kafka:publish" => Resource::KafkaPublish,
                "amqp:publish" => Resource::AmqpPublish,
                "workflow:startExecution" => Resource::StartExecution {
                    wait: StartWait::No,
                },
                "workflow:startExecution.sync" => Resource::StartExecution {
                    wait: StartWait::SyncJson,
                },
                _ => return Err(format!("unknown resource '{text}'; use one of: {FORMS}")),
            }
        } else if base == "arn:aws:states:::lambda:invoke" {
            Resource::LambdaInvoke
        } else if base == "arn:aws:states:::http:invoke" {
            Resource::HttpInvoke
        } else if let Some(mode) = base.strip_prefix("arn:aws:states:::states:startExecution") {
            let wait = match mode {
                "" => StartWait::No,
                ".sync" => StartWait::Sync,
                ".sync:2" => StartWait::SyncJson,
                _ => return Err(format!("unknown resource '{text}'; use one of: {FORMS}")),
            };
            Resource::StartExecution { wait }
        } else if let Some(rest) = base.strip_prefix("arn:aws:lambda:") {
            // REGION:ACCOUNT:function:NAME[:ALIAS]
            let parts: Vec<&str> = rest.splitn(4, ':').collect();
            match parts.as_slice() {
                [_, _, "function", tail] => function(tail)?,
                _ => return Err(format!("'{text}' is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)")),
            }
        } else if base.starts_with("arn:aws:") {
            Resource::OtherAws(base.to_string())
        } else {
            return Err(format!("unknown resource '{text}'; use one of: {FORMS}"));
        };
        Ok(ResourceRef {
            resource,
            wait_for_task_token: wait,
        })
    }
}

impl ResourceRef {
    /// Why Sluice cannot run this resource, if it cannot: AWS service
    /// integrations other than Lambda, HTTP and Step Functions itself.
    pub fn runnable(&self) -> Result<(), String> {
        match &self.resource {
            Resource::OtherAws(arn) => Err(format!(
                "'{arn}' is an AWS service integration that Sluice cannot run; call a function instead (sluice:function:NAME, or arn:aws:states:::lambda:invoke), or answer it with a mocked response in a --local run (--mocks)"
            )),
            Resource::HttpInvoke if self.wait_for_task_token => Err(
                "http:invoke cannot wait for a task token; remove '.waitForTaskToken'".into(),
            ),
            Resource::StartExecution { wait } if *wait != StartWait::No && self.wait_for_task_token => Err(
                "startExecution waits either for the child execution ('.sync') or for a task token ('.waitForTaskToken'), not both".into(),
            ),
            _ => Ok(()),
        }
    }
}

/// Every Task state of a definition whose `Resource` cannot run, with its
/// JSON pointer: what `sluice workflow validate` and a deploy refuse.
pub fn unrunnable(definition: &serde_json::Value) -> crate::Problems {
    let mut problems = crate::Problems::default();
    walk_states(definition, "", &ResourceRef::runnable, &mut problems);
    problems
}

/// Every Task state whose `Resource` waits (`.sync`, `.sync:2`,
/// `.waitForTaskToken`): Step Functions runs only request-response tasks
/// in EXPRESS workflows, and so does Sluice.
pub fn express_unsupported(definition: &serde_json::Value) -> crate::Problems {
    let check = |r: &ResourceRef| -> Result<(), String> {
        let pattern = match &r.resource {
            _ if r.wait_for_task_token => ".waitForTaskToken",
            Resource::StartExecution {
                wait: StartWait::Sync | StartWait::SyncJson,
            } => ".sync",
            _ => return Ok(()),
        };
        Err(format!(
            "EXPRESS workflows run only request-response tasks, not the {pattern} pattern: drop the suffix, or create the workflow as STANDARD"
        ))
    };
    let mut problems = crate::Problems::default();
    walk_states(definition, "", &check, &mut problems);
    problems
}

fn walk_states(
    scope: &serde_json::Value,
    ptr: &str,
    check: &dyn Fn(&ResourceRef) -> Result<(), String>,
    problems: &mut crate::Problems,
) {
    use crate::error::child_pointer;
    let Some(states) = scope.get("States").and_then(|s| s.as_object()) else {
        return;
    };
    for (name, state) in states {
        let at = child_pointer(&child_pointer(ptr, "States"), name);
        if let Some(r) = state.get("Resource").and_then(|r| r.as_str()) {
            if let Ok(parsed) = ResourceRef::parse(r) {
                if let Err(e) = check(&parsed) {
                    problems.push(child_pointer(&at, "Resource"), e);
                }
            }
        }
        if let Some(branches) = state.get("Branches").and_then(|b| b.as_array()) {
            for (i, b) in branches.iter().enumerate() {
                let at = format!("{}/{i}", child_pointer(&at, "Branches"));
                walk_states(b, &at, check, problems);
            }
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(p) = state.get(key) {
                walk_states(p, &child_pointer(&at, key), check, problems);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let f = |s| ResourceRef::parse(s).unwrap().resource;
        assert_eq!(
            f("sluice:function:resize"),
            Resource::Function {
                name: "resize".into(),
                alias: None
            }
        );
        assert_eq!(
            f("sluice:function:resize:live"),
            Resource::Function {
                name: "resize".into(),
                alias: Some("live".into())
            }
        );
        assert_eq!(
            f("arn:aws:lambda:us-east-1:123456789012:function:resize"),
            Resource::Function {
                name: "resize".into(),
                alias: None
            }
        );
        assert_eq!(f("arn:aws:states:::lambda:invoke"), Resource::LambdaInvoke);
        assert!(
            ResourceRef::parse("sluice:function:x.waitForTaskToken")
                .unwrap()
                .wait_for_task_token
        );
        assert_eq!(
            f("sluice:workflow:startExecution.sync"),
            Resource::StartExecution {
                wait: StartWait::SyncJson
            }
        );
        assert_eq!(
            f("arn:aws:states:::states:startExecution.sync"),
            Resource::StartExecution {
                wait: StartWait::Sync
            }
        );
        assert_eq!(f("arn:aws:states:::http:invoke"), Resource::HttpInvoke);
        assert!(ResourceRef::parse("arn:aws:states:::sqs:sendMessage")
            .unwrap()
            .runnable()
            .is_err());
        let p = unrunnable(
            &serde_json::json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
            {"StartAt": "Q", "States": {"Q": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true}}}
        ], "End": true}}}),
        );
        assert_eq!(p.0[0].pointer, "/States/P/Branches/0/States/Q/Resource");
        assert!(ResourceRef::parse("sluice:nope").is_err());
        assert!(ResourceRef::parse("lambda").is_err());
        assert!(ResourceRef::parse("sluice:function:bad name").is_err());
    }

    #[test]
    fn express_workflows_refuse_waiting_patterns_with_their_pointers() {
        let def = serde_json::json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "sluice:function:f", "Next": "M"},
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": "sluice:function:f.waitForTaskToken", "End": true}}}, "Next": "S"},
            "S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "Next": "N"},
            "N": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution", "End": true}
        }});
        let p = express_unsupported(&def);
        let at: Vec<&str> = p.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            at,
            [
                "/States/M/ItemProcessor/States/T/Resource",
                "/States/S/Resource"
            ]
        );
        assert!(
            p.0[0].message.contains(".waitForTaskToken"),
            "{}",
            p.0[0].message
        );
        assert!(p.0[1].message.contains(".sync"), "{}", p.0[1].message);
        assert!(unrunnable(&def).is_empty());
    }
}
