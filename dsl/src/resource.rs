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
    /// `sluice:workflow:startExecution[.sync]`.
    StartExecution {
        sync: bool,
    },
    /// Another AWS service integration (`arn:aws:states:::sqs:sendMessage`, …):
    /// accepted so definitions stay portable, runnable only with mocks.
    OtherAws(String),
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
            Resource::StartExecution { sync } => {
                write!(
                    f,
                    "sluice:workflow:startExecution{}",
                    if *sync { ".sync" } else { "" }
                )
            }
            Resource::OtherAws(s) => f.write_str(s),
        }
    }
}

const FORMS: &str = "sluice:function:NAME[:ALIAS], arn:aws:lambda:REGION:ACCOUNT:function:NAME, arn:aws:states:::lambda:invoke, sluice:http:invoke, sluice:kafka:publish, sluice:amqp:publish, sluice:workflow:startExecution[.sync]";

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
                "workflow:startExecution" => Resource::StartExecution { sync: false },
                "workflow:startExecution.sync" => Resource::StartExecution { sync: true },
                _ => return Err(format!("unknown resource '{text}'; use one of: {FORMS}")),
            }
        } else if base == "arn:aws:states:::lambda:invoke" {
            Resource::LambdaInvoke
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
            Resource::StartExecution { sync: true }
        );
        assert!(ResourceRef::parse("sluice:nope").is_err());
        assert!(ResourceRef::parse("lambda").is_err());
        assert!(ResourceRef::parse("sluice:function:bad name").is_err());
    }
}
