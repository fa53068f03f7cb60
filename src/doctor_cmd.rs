//! `sluice doctor`: what this machine offers functions.

use std::process::ExitCode;

use sluice_executors::process::sandbox::Isolation;

/// Prints each isolation layer of `process` functions: in force (`ok`) or
/// not (`--`), with how it is enforced or why it is missing. Exit 0 when
/// every layer is in force, 1 otherwise.
pub fn run() -> ExitCode {
    let isolation = Isolation::get();
    println!("process function isolation (sluice serve --isolation):");
    let mut all = true;
    for l in isolation.layers() {
        all &= l.available;
        println!(
            "  {} {:<18} {}",
            if l.available { "ok" } else { "--" },
            l.name,
            l.detail
        );
    }
    if !all {
        println!("missing layers are left out; the others still apply");
    }
    ExitCode::from(if all { 0 } else { 1 })
}
