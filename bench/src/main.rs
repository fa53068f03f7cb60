//! `sluice-load`: load generators that drive a real `sluice serve` over
//! loopback HTTP and print figures for docs/benchmarks.md.
//!
//! ```text
//! cargo build --release -p sluice -p sluice-bench
//! target/release/sluice-load starts --sluice target/release/sluice
//! target/release/sluice-load parked --sluice target/release/sluice --executions 100000
//! target/release/sluice-load dmap --sluice target/release/sluice --items 10000
//! ```
//!
//! Every run starts its own server on a free loopback port with a fresh
//! store in a temporary folder, and stops it at the end.

mod dmap;
mod parked;
mod server;
mod starts;
mod stats;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Load generators for Sluice (loopback only)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Executions started per second over HTTP (a one-state workflow), with
    /// `GET /healthz` through the same client as the HTTP floor, for each
    /// durability.
    Starts {
        /// The sluice binary to run.
        #[arg(long)]
        sluice: PathBuf,
        /// Starts per durability mode.
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
    },
    /// Park executions in a Wait, read the server's memory, kill -9 it, and
    /// time `/healthz` and recovery (timers re-armed) after the restart.
    Parked {
        #[arg(long)]
        sluice: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        executions: usize,
        #[arg(long, default_value_t = 64)]
        connections: usize,
    },
    /// One Distributed Map over inline items: time to the end, every child
    /// execution recorded, and the server's peak memory.
    Dmap {
        #[arg(long)]
        sluice: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        items: usize,
        /// MaxConcurrency of the Map (0: Sluice's default, 10,000).
        #[arg(long, default_value_t = 0)]
        concurrency: u64,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Starts {
            sluice,
            requests,
            connections,
        } => starts::run(&sluice, requests, connections),
        Command::Parked {
            sluice,
            executions,
            connections,
        } => parked::run(&sluice, executions, connections),
        Command::Dmap {
            sluice,
            items,
            concurrency,
        } => dmap::run(&sluice, items, concurrency),
    }
}
