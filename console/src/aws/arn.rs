//! ARNs as DESIGN.md fixes them: account `000000000000`, the region of the
//! request, and Sluice's names inside (a state machine is a workflow).

use super::AwsError;

pub(crate) const ACCOUNT: &str = "000000000000";

pub(crate) fn state_machine(region: &str, name: &str) -> String {
    format!("arn:aws:states:{region}:{ACCOUNT}:stateMachine:{name}")
}

pub(crate) fn version(region: &str, name: &str, version: u64) -> String {
    format!("{}:{version}", state_machine(region, name))
}

pub(crate) fn alias(region: &str, name: &str, alias: &str) -> String {
    format!("{}:{alias}", state_machine(region, name))
}

pub(crate) fn execution(region: &str, workflow: &str, name: &str) -> String {
    format!("arn:aws:states:{region}:{ACCOUNT}:execution:{workflow}:{name}")
}

/// What a state machine ARN names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Machine {
    Latest(String),
    Version(String, u64),
    Alias(String, String),
}

impl Machine {
    pub fn name(&self) -> &str {
        match self {
            Machine::Latest(n) | Machine::Version(n, _) | Machine::Alias(n, _) => n,
        }
    }

    /// The engine's reference: `NAME`, `NAME:VERSION` or `NAME:ALIAS`.
    pub fn reference(&self) -> String {
        match self {
            Machine::Latest(n) => n.clone(),
            Machine::Version(n, v) => format!("{n}:{v}"),
            Machine::Alias(n, a) => format!("{n}:{a}"),
        }
    }
}

/// `arn:aws:states:REGION:ACCOUNT:KIND:REST…` → the parts after KIND.
fn parts<'a>(arn: &'a str, kind: &str, field: &str) -> Result<Vec<&'a str>, AwsError> {
    let p: Vec<&str> = arn.split(':').collect();
    if p.len() < 7 || p[0] != "arn" || p[2] != "states" || p[5] != kind || p[6].is_empty() {
        return Err(AwsError::new(
            "InvalidArn",
            format!(
                "Invalid Arn: '{arn}' in '{field}' is not a {kind} ARN (arn:aws:states:REGION:{ACCOUNT}:{kind}:NAME)"
            ),
        ));
    }
    Ok(p[6..].to_vec())
}

/// A state machine, version or alias ARN.
pub(crate) fn parse_machine(arn: &str, field: &str) -> Result<Machine, AwsError> {
    let p = parts(arn, "stateMachine", field)?;
    Ok(match p.as_slice() {
        [name] => Machine::Latest(name.to_string()),
        [name, q] if !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) => {
            let v = q.parse().map_err(|_| {
                AwsError::new(
                    "InvalidArn",
                    format!("Invalid Arn: the version in '{arn}' is too large"),
                )
            })?;
            Machine::Version(name.to_string(), v)
        }
        [name, q] if !q.is_empty() => Machine::Alias(name.to_string(), q.to_string()),
        _ => {
            return Err(AwsError::new(
                "InvalidArn",
                format!("Invalid Arn: '{arn}' in '{field}' has too many parts"),
            ))
        }
    })
}

/// An execution ARN: the workflow and the execution's name.
pub(crate) fn parse_execution(arn: &str, field: &str) -> Result<(String, String), AwsError> {
    match parts(arn, "execution", field)?.as_slice() {
        [workflow, name] if !name.is_empty() => Ok((workflow.to_string(), name.to_string())),
        _ => Err(AwsError::new(
            "InvalidArn",
            format!(
                "Invalid Arn: '{arn}' in '{field}' is not an execution ARN (arn:aws:states:REGION:{ACCOUNT}:execution:STATE_MACHINE:NAME)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_arns_round_trip() {
        let r = "eu-west-1";
        assert_eq!(
            parse_machine(&state_machine(r, "orders"), "f").unwrap(),
            Machine::Latest("orders".into())
        );
        assert_eq!(
            parse_machine(&version(r, "orders", 3), "f").unwrap(),
            Machine::Version("orders".into(), 3)
        );
        assert_eq!(
            parse_machine(&alias(r, "orders", "live"), "f").unwrap(),
            Machine::Alias("orders".into(), "live".into())
        );
        assert_eq!(
            parse_execution(&execution(r, "orders", "e-1"), "f").unwrap(),
            ("orders".into(), "e-1".into())
        );
        for bad in [
            "orders",
            "arn:aws:lambda:r:1:function:x",
            "arn:aws:states:r:1:stateMachine:",
        ] {
            assert_eq!(
                parse_machine(bad, "stateMachineArn").unwrap_err().kind,
                "InvalidArn"
            );
        }
        let e = parse_execution(&state_machine(r, "x"), "executionArn").unwrap_err();
        assert!(e.message.contains("executionArn"), "{}", e.message);
    }
}
