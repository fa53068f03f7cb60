//! `sluice doctor`: what this machine offers functions.

use std::process::ExitCode;

use sluice_executors::process::sandbox::{self, Isolation};

/// Prints each isolation layer of `process` functions: in force (`ok`) or
/// not (`--`), with how it is enforced or why it is missing; whether
/// `sluice serve` can start with `--isolation on` (the default); what
/// `--isolation off` leaves; the host paths a sandboxed function sees; and
/// the Lambda runtimes whose interface clients this machine has.
/// Exit 0 when `--isolation on` can start, 1 when it would refuse.
pub fn run() -> ExitCode {
    let isolation = Isolation::get();
    println!("process function isolation (sluice serve --isolation on, the default):");
    for l in isolation.layers() {
        println!(
            "  {} {:<18} {}",
            if l.available { "ok" } else { "--" },
            l.name,
            l.detail
        );
    }
    let missing = isolation.missing();
    if missing.is_empty() {
        println!("--isolation on: can start; every required layer is in force");
    } else {
        let names: Vec<&str> = missing.iter().map(|l| l.name).collect();
        println!(
            "--isolation on: would refuse to start: missing {} (run as root on Linux with namespaces)",
            names.join(", ")
        );
    }
    println!("what a sandboxed function sees of the host (nothing else):");
    for p in sandbox::visible_paths() {
        println!("  {p}");
    }
    println!(
        "warning: --isolation off runs functions without a sandbox: they share the engine's \
         files, network, processes and uid; only these limits stay:"
    );
    for l in Isolation::fallback()
        .layers()
        .iter()
        .filter(|l| l.available)
    {
        println!("  ok {:<18} {}", l.name, l.detail);
    }
    println!("  and functions must say \"network\": true (\"network\": false cannot be enforced)");
    println!("Lambda runtimes (CreateFunction through the Lambda API):");
    for (runtime, how) in sluice_executors::lambda::runtimes::Runtimes::found().describe() {
        println!("  {runtime:<30} {how}");
    }
    ExitCode::from(if missing.is_empty() { 0 } else { 1 })
}
