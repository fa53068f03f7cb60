//! `sluice`: the command line of the Sluice workflow engine.

mod apply_cmd;
mod client;
mod doctor_cmd;
mod event_cmd;
mod execution_cmd;
mod function_cmd;
mod local;
mod rule_cmd;
mod serve;
mod source_cmd;
mod upload;
mod workflow_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// sled copies pages on write, so the engine allocates a lot; mimalloc is
// markedly faster here than glibc malloc (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sluice: event-driven workflows (Amazon States Language) with isolated
/// functions, in one self-hosted binary.
///
/// Start with `sluice workflow validate FILE`, then
/// `sluice workflow run --local FILE --input '{"k": 1}'`.
#[derive(Parser)]
#[command(name = "sluice", version, about, long_about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the durable engine and its REST API (`--data DIR --listen ADDR`).
    Serve(serve::ServeArgs),
    /// Check, run and deploy workflow definitions (Amazon States Language JSON).
    Workflow {
        #[command(flatten)]
        remote: client::Remote,
        #[command(subcommand)]
        command: workflow_cmd::WorkflowCommand,
    },
    /// Start, inspect, stop and redrive executions on a server.
    Execution {
        #[command(flatten)]
        remote: client::Remote,
        #[command(subcommand)]
        command: execution_cmd::ExecutionCommand,
    },
    /// Send CloudEvents to a server (`sluice event send --type T --source S --data JSON`).
    Event {
        #[command(flatten)]
        remote: client::Remote,
        #[command(subcommand)]
        command: event_cmd::EventCommand,
    },
    /// Trigger rules on a server: put, list, get, delete.
    Trigger {
        #[command(flatten)]
        remote: client::Remote,
        #[command(subcommand)]
        command: event_cmd::TriggerCommand,
    },
    /// The dead-letter inbox on a server: list, delete.
    Deadletter {
        #[command(flatten)]
        remote: client::Remote,
        #[command(subcommand)]
        command: event_cmd::DeadLetterCommand,
    },
    /// Event patterns of trigger rules: `sluice rule test --pattern P --event E`.
    Rule {
        #[command(subcommand)]
        command: rule_cmd::RuleCommand,
    },
    /// Deploy, invoke and inspect functions on a server.
    Function {
        #[command(flatten)]
        remote: client::Remote,
        #[command(subcommand)]
        command: function_cmd::FunctionCommand,
    },
    /// Check what this machine offers functions: the isolation layers of
    /// process functions (namespaces, cgroups, uid), each in force or not.
    Doctor,
    /// List event sources with their status; check a source's connection.
    Source {
        #[command(flatten)]
        remote: client::Remote,
        #[command(subcommand)]
        command: source_cmd::SourceCommand,
    },
    /// Send a folder of definitions to a server: workflows/, functions/,
    /// sources/ and triggers/ (each *.json; workflows are named after their
    /// file, the others by their "name").
    Apply {
        #[command(flatten)]
        remote: client::Remote,
        /// The folder.
        #[arg(short = 'f', long = "file", value_name = "DIR")]
        dir: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG").unwrap_or_else(|_| {
                // The server's own start-up and shutdown lines, not every crate's chatter.
                "warn,sluice::serve=info,sluice_engine=info,sluice_console=info,sluice_executors=info".into()
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => return serve::run(args),
        Command::Workflow { remote, command } => return workflow_cmd::run(command, &remote),
        Command::Execution { remote, command } => execution_cmd::run(command, &remote),
        Command::Function { remote, command } => function_cmd::run(command, &remote),
        Command::Doctor => return doctor_cmd::run(),
        Command::Apply { remote, dir } => apply_cmd::run(&dir, &remote),
        Command::Rule { command } => return rule_cmd::run(command),
        Command::Event { remote, command } => event_cmd::run_event(command, &remote),
        Command::Trigger { remote, command } => event_cmd::run_trigger(command, &remote),
        Command::Deadletter { remote, command } => event_cmd::run_deadletter(command, &remote),
        Command::Source { remote, command } => source_cmd::run(command, &remote),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}
