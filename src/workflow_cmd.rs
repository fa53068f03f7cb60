//! `sluice workflow …`: validate a definition, run it locally.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sluice_dsl::interp::{run as run_machine, Outcome, RunOptions};
use sluice_dsl::mocks::MockConfig;
use sluice_dsl::StateMachine;

use crate::client::{segment, Remote};
use crate::local::{Functions, LocalHost};

#[derive(Subcommand)]
pub enum WorkflowCommand {
    /// Validate a workflow definition. Prints one line per problem
    /// (`JSON-pointer: message`) and exits non-zero when there is any.
    Validate {
        /// The ASL JSON file.
        file: PathBuf,
    },
    /// Run a workflow to completion and print its output JSON.
    ///
    /// Prints the final output on stdout and exits 0, or prints
    /// `{"error": …, "cause": …}` and exits 1. Exit 2 means the definition,
    /// input, functions or mocks could not be used.
    Run(RunArgs),
    /// Deploy a workflow to a server as a new immutable version.
    Deploy {
        /// The ASL JSON file.
        file: PathBuf,
        /// The workflow's name; by default the file name without
        /// `.asl.json` / `.json`.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the deployed workflows with their latest version and aliases.
    List,
    /// Show a workflow: versions, aliases and the latest definition.
    Describe { name: String },
    /// Point an alias at one or two versions; start it as `NAME:ALIAS`.
    ///
    /// `sluice workflow alias orders live --route 3` sends every start to
    /// version 3; `--route 3=90 --route 4=10` sends 10% to version 4.
    Alias {
        name: String,
        alias: String,
        /// VERSION or VERSION=WEIGHT (percent; the weights add up to 100).
        #[arg(
            long = "route",
            value_name = "VERSION[=WEIGHT]",
            required_unless_present = "delete"
        )]
        routes: Vec<String>,
        /// Delete the alias instead.
        #[arg(long, conflicts_with = "routes")]
        delete: bool,
    },
    /// Delete a workflow with its versions and aliases (refused while any
    /// of its executions is RUNNING; its executions stay readable).
    Delete { name: String },
}

#[derive(Args)]
pub struct RunArgs {
    /// Run in this process with a temporary in-memory store (the only mode
    /// until `sluice serve` exists).
    #[arg(long)]
    local: bool,
    /// The ASL JSON file.
    file: PathBuf,
    /// Execution input: JSON text, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// A folder of function definitions (*.json) that Task states call as
    /// `sluice:function:NAME`. Local runs support `process` functions with
    /// `"protocol": "stdio"`.
    #[arg(long, value_name = "DIR")]
    functions: Option<PathBuf>,
    /// AWS Step Functions Local mock configuration (MockConfigFile.json):
    /// Task states of the chosen test case return or throw the mocked
    /// responses instead of running.
    #[arg(long, value_name = "FILE")]
    mocks: Option<PathBuf>,
    /// The test case in the mock file (for the state machine named after
    /// the workflow file, e.g. `order-pipeline` for order-pipeline.asl.json).
    #[arg(long, value_name = "NAME", requires = "mocks")]
    test_case: Option<String>,
    /// Let Wait states and retry backoff take real time (by default they
    /// pass instantly on a virtual clock).
    #[arg(long)]
    real_time: bool,
    /// Name of the execution (`$$.Execution.Name`); a UUID by default.
    #[arg(long)]
    name: Option<String>,
    /// Largest state input or output, in bytes → States.DataLimitExceeded.
    #[arg(long, default_value_t = sluice_dsl::interp::DEFAULT_PAYLOAD_LIMIT)]
    payload_limit: usize,
    /// The folder where `startExecution` tasks find the workflows they
    /// start (NAME.asl.json or NAME.json); by default the folder of FILE.
    #[arg(long, value_name = "DIR")]
    workflows: Option<PathBuf>,
    #[command(flatten)]
    buckets: crate::serve::BucketArgs,
}

pub fn run(cmd: WorkflowCommand, remote: &Remote) -> ExitCode {
    let result = match cmd {
        WorkflowCommand::Validate { file } => validate(&file),
        WorkflowCommand::Run(args) => run_local(args),
        WorkflowCommand::Deploy { file, name } => deploy(&file, name, remote),
        WorkflowCommand::List => list(remote),
        WorkflowCommand::Describe { name } => describe(&name, remote),
        WorkflowCommand::Alias {
            name,
            alias,
            routes,
            delete,
        } => set_alias(&name, &alias, &routes, delete, remote),
        WorkflowCommand::Delete { name } => remote
            .call(
                "DELETE",
                &format!("/api/v1/workflows/{}", segment(&name)),
                None,
            )
            .map(|_| {
                println!("deleted workflow {name}");
                ExitCode::SUCCESS
            }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn validate(file: &Path) -> Result<ExitCode> {
    let checked =
        StateMachine::from_json(&read(file)?).and_then(|m| m.check_runnable().map(|()| m));
    match checked {
        Ok(m) => {
            println!(
                "{}: valid ({} states)",
                file.display(),
                m.all_states().len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            println!("{problems}");
            eprintln!("{}: {} problem(s)", file.display(), problems.len());
            Ok(ExitCode::from(1))
        }
    }
}

fn deploy(file: &Path, name: Option<String>, remote: &Remote) -> Result<ExitCode> {
    let text = read(file)?;
    // Check locally first: the same problems the server would report, faster.
    if let Err(problems) = StateMachine::from_json(&text).and_then(|m| m.check_runnable()) {
        println!("{problems}");
        eprintln!(
            "{}: {} problem(s); nothing was deployed",
            file.display(),
            problems.len()
        );
        return Ok(ExitCode::from(1));
    }
    let name = name.unwrap_or_else(|| machine_name(file));
    let answer = remote.call(
        "PUT",
        &format!("/api/v1/workflows/{}", segment(&name)),
        Some(text),
    )?;
    if remote.json {
        println!("{answer}");
    } else {
        println!(
            "deployed {name} version {}",
            answer.get("version").unwrap_or(&Value::Null)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn list(remote: &Remote) -> Result<ExitCode> {
    let answer = remote.call("GET", "/api/v1/workflows", None)?;
    if remote.json {
        println!("{answer}");
        return Ok(ExitCode::SUCCESS);
    }
    let workflows = answer["workflows"].as_array().cloned().unwrap_or_default();
    if workflows.is_empty() {
        println!("no workflows deployed");
    }
    for w in workflows {
        let aliases: Vec<&str> = w["aliases"]
            .as_object()
            .map(|a| a.keys().map(String::as_str).collect())
            .unwrap_or_default();
        println!(
            "{:<30} v{:<4} {}",
            w["name"].as_str().unwrap_or("-"),
            w["latestVersion"],
            aliases.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(name: &str, remote: &Remote) -> Result<ExitCode> {
    let w = remote.call("GET", &format!("/api/v1/workflows/{}", segment(name)), None)?;
    if remote.json {
        println!("{w}");
    } else {
        println!("workflow   {name}");
        println!("latest     v{}", w["latestVersion"]);
        println!("updated    {}", w["updatedAt"].as_str().unwrap_or("-"));
        for (alias, routes) in w["aliases"].as_object().into_iter().flatten() {
            let routes: Vec<String> = routes
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| format!("v{} {}%", r["version"], r["weight"]))
                .collect();
            println!("alias      {alias} -> {}", routes.join(", "));
        }
        println!("{}", serde_json::to_string_pretty(&w["definition"])?);
    }
    Ok(ExitCode::SUCCESS)
}

/// `VERSION` or `VERSION=WEIGHT` → a route; one bare version gets 100%.
fn parse_route(text: &str, alone: bool) -> Result<Value> {
    let (version, weight) = match text.split_once('=') {
        Some((v, w)) => (v, w.parse::<u32>().ok()),
        None if alone => (text, Some(100)),
        None => (text, None),
    };
    let (Ok(version), Some(weight)) = (version.trim().parse::<u64>(), weight) else {
        bail!("--route {text}: write VERSION=WEIGHT, e.g. --route 3=90 --route 4=10 (or a bare VERSION for all traffic)");
    };
    Ok(json!({"version": version, "weight": weight}))
}

fn set_alias(
    name: &str,
    alias: &str,
    routes: &[String],
    delete: bool,
    remote: &Remote,
) -> Result<ExitCode> {
    let path = format!(
        "/api/v1/workflows/{}/aliases/{}",
        segment(name),
        segment(alias)
    );
    if delete {
        remote.call("DELETE", &path, None)?;
        println!("deleted alias {name}:{alias}");
        return Ok(ExitCode::SUCCESS);
    }
    let routes = routes
        .iter()
        .map(|r| parse_route(r, routes.len() == 1))
        .collect::<Result<Vec<_>>>()?;
    let answer = remote.call("PUT", &path, Some(json!({ "routes": routes }).to_string()))?;
    if remote.json {
        println!("{answer}");
    } else {
        println!("alias {name}:{alias} -> {}", answer["aliases"][alias]);
    }
    Ok(ExitCode::SUCCESS)
}

/// The state machine name a file stands for: its name without `.json` and `.asl`.
pub fn machine_name(file: &Path) -> String {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("local");
    let name = name.strip_suffix(".json").unwrap_or(name);
    name.strip_suffix(".asl").unwrap_or(name).to_string()
}

pub fn json_arg(text: &str, what: &str) -> Result<Value> {
    let text = match text.strip_prefix('@') {
        Some(path) => read(Path::new(path))?,
        None => text.to_string(),
    };
    serde_json::from_str(&text).with_context(|| format!("{what} is not valid JSON"))
}

fn run_local(args: RunArgs) -> Result<ExitCode> {
    if !args.local {
        bail!("only local runs exist so far: add --local (runs in this process with a temporary store)");
    }
    let machine = match StateMachine::from_json(&read(&args.file)?) {
        Ok(m) => m,
        Err(p) => bail!("{} is not a valid workflow:\n{p}", args.file.display()),
    };
    // With mocks, a task Sluice cannot run may still be answered.
    if args.mocks.is_none() {
        if let Err(p) = machine.check_runnable() {
            bail!("{} cannot run here:\n{p}", args.file.display());
        }
    }
    let input = json_arg(&args.input, "--input")?;
    let functions = match &args.functions {
        Some(dir) => Functions::load(dir)?,
        None => Functions::none()?,
    };
    let name = machine_name(&args.file);
    let mocks = match (&args.mocks, &args.test_case) {
        (Some(path), Some(case)) => {
            let config = MockConfig::from_json(&read(path)?).map_err(|p| {
                anyhow::anyhow!("{} is not a valid mock configuration:\n{p}", path.display())
            })?;
            Some(config.test_case(&name, case).map_err(anyhow::Error::msg)?)
        }
        (Some(_), None) => bail!("--mocks needs --test-case NAME to choose the test case"),
        _ => None,
    };
    let workflows = args.workflows.clone().or_else(|| {
        args.file.parent().map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
    });
    let mut host = LocalHost::new(functions, mocks, args.real_time)
        .with_buckets(args.buckets.buckets())
        .with_workflows(workflows);
    let options = RunOptions {
        execution_name: args.name.unwrap_or_else(|| host.uuid()),
        state_machine_name: name,
        start_time: chrono::Utc::now(),
        payload_limit: args.payload_limit,
        ..RunOptions::default()
    };
    match run_machine(&machine, input, &options, &mut host) {
        Outcome::Succeeded(output) => {
            println!("{output}");
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Failed(e) => {
            // A Fail state without Error/Cause has neither (null, as AWS
            // leaves them out), not an empty name.
            let absent_if_empty = |s: String| (!s.is_empty()).then_some(s);
            println!(
                "{}",
                json!({"error": absent_if_empty(e.error), "cause": absent_if_empty(e.cause)})
            );
            Ok(ExitCode::from(1))
        }
    }
}
