//! `sluice`: the command line of the Sluice workflow engine.

mod local;
mod serve;
mod workflow_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    /// Check and run workflow definitions (Amazon States Language JSON).
    #[command(subcommand)]
    Workflow(workflow_cmd::WorkflowCommand),
    /// Run the durable engine and its REST API (`--data DIR --listen ADDR`).
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG").unwrap_or_else(|_| {
                // The server's own start-up and shutdown lines, not every crate's chatter.
                "warn,sluice::serve=info,sluice_engine=info,sluice_console=info".into()
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Workflow(cmd) => workflow_cmd::run(cmd),
        Command::Serve(args) => serve::run(args),
    }
}
