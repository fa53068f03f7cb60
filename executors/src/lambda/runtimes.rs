//! Which Lambda runtimes this machine can run, and the command line of
//! each: a `process` + `lambda` function needs a runtime interface client
//! (the official ones: `awslambdaric` for Python, `aws-lambda-ric` for
//! Node.js); `provided.*` functions bring their own `bootstrap`. Found once,
//! by asking the interpreters on PATH; `sluice doctor` shows the result and
//! CreateFunction of the Lambda protocol uses it.

use std::process::Command;
use std::sync::OnceLock;

/// What the machine offers for each family of Lambda runtimes.
#[derive(Debug, Clone, Default)]
pub struct Runtimes {
    /// The Python interpreter that has `awslambdaric`.
    pub python: Option<String>,
    /// `node` and the path of `aws-lambda-ric`'s entry point.
    pub node: Option<(String, String)>,
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

impl Runtimes {
    /// Looks once per process (each probe starts an interpreter).
    pub fn found() -> &'static Runtimes {
        static FOUND: OnceLock<Runtimes> = OnceLock::new();
        FOUND.get_or_init(|| {
            let python = output(
                "python3",
                &["-c", "import sys, awslambdaric; print(sys.executable)"],
            );
            // SLUICE_NODE_RIC names aws-lambda-ric's folder when it is not
            // installed globally (`npm install -g aws-lambda-ric`).
            let node = output("node", &["-e", "console.log(process.execPath)"]).and_then(|node| {
                let dir = std::env::var("SLUICE_NODE_RIC").ok().or_else(|| {
                    output("npm", &["root", "-g"]).map(|root| format!("{root}/aws-lambda-ric"))
                })?;
                let entry = format!("{dir}/bin/index.mjs");
                std::path::Path::new(&entry)
                    .is_file()
                    .then_some((node, entry))
            });
            Runtimes { python, node }
        })
    }

    /// The command line of a function of Lambda runtime `runtime` with
    /// `handler`, or why this machine cannot run it (naming the fix).
    pub fn command(&self, runtime: &str, handler: &str) -> Result<Vec<String>, String> {
        if runtime.starts_with("python3") {
            return match &self.python {
                Some(py) => Ok(vec![py.clone(), "-m".into(), "awslambdaric".into(), handler.into()]),
                None => Err(format!(
                    "runtime {runtime} needs Python's runtime interface client on the server: pip install awslambdaric"
                )),
            };
        }
        if runtime.starts_with("nodejs") {
            return match &self.node {
                Some((node, ric)) => Ok(vec![node.clone(), ric.clone(), handler.into()]),
                None => Err(format!(
                    "runtime {runtime} needs Node.js and its runtime interface client on the server: npm install -g aws-lambda-ric (or set SLUICE_NODE_RIC to its folder)"
                )),
            };
        }
        if matches!(runtime, "provided.al2023" | "provided.al2" | "provided") {
            return Ok(vec!["./bootstrap".into()]);
        }
        Err(format!(
            "runtime {runtime} is not one this server runs: use python3.x, nodejs… or provided.al2023/provided.al2 (a bootstrap in the package)"
        ))
    }

    /// One line per runtime family, for `sluice doctor`.
    pub fn describe(&self) -> Vec<(String, String)> {
        let python = match &self.python {
            Some(p) => format!("yes: {p} -m awslambdaric"),
            None => "no: pip install awslambdaric".into(),
        };
        let node = match &self.node {
            Some((n, r)) => format!("yes: {n} {r}"),
            None => "no: npm install -g aws-lambda-ric (or SLUICE_NODE_RIC)".into(),
        };
        vec![
            ("python3.x".into(), python),
            ("nodejs".into(), node),
            (
                "provided.al2023, provided.al2".into(),
                "yes: the package's bootstrap".into(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_by_runtime_and_the_fix_when_missing() {
        let none = Runtimes::default();
        assert!(none
            .command("python3.12", "app.handler")
            .unwrap_err()
            .contains("pip install awslambdaric"));
        assert!(none
            .command("nodejs20.x", "index.handler")
            .unwrap_err()
            .contains("aws-lambda-ric"));
        assert_eq!(
            none.command("provided.al2023", "x").unwrap(),
            vec!["./bootstrap"]
        );
        assert!(none
            .command("java21", "x")
            .unwrap_err()
            .contains("not one this server runs"));
        let py = Runtimes {
            python: Some("/usr/bin/python3".into()),
            node: None,
        };
        assert_eq!(
            py.command("python3.12", "app.handler").unwrap(),
            vec!["/usr/bin/python3", "-m", "awslambdaric", "app.handler"]
        );
    }
}
