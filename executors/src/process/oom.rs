//! How a function shows that its memory limit refused an allocation when
//! the limit is `RLIMIT_AS` (no memory cgroup on the machine).
//!
//! Under a memory cgroup the kernel kills the process and says so in the
//! cgroup's counters. Under `RLIMIT_AS` nothing is killed: `mmap`/`brk`
//! fail with `ENOMEM`, and each runtime turns that into its own error
//! (Python's `MemoryError`, Rust's "memory allocation of N bytes failed"
//! and an abort, ...). The executor recognises those, and only those, as
//! `Sandbox.MemoryExceeded`, so `Catch` behaves the same with either
//! limit.

/// Lambda `errorType`s that runtime clients report for a refused allocation.
const ERROR_TYPES: [&str; 3] = ["MemoryError", "Runtime.OutOfMemory", "OutOfMemoryError"];

/// What runtimes print (on stderr) when an allocation is refused.
const SIGNATURES: [&str; 8] = [
    "MemoryError",                               // Python
    "memory allocation of",                      // Rust's alloc error handler
    "JavaScript heap out of memory",             // Node / V8
    "Allocation failed - process out of memory", // V8
    "runtime: out of memory",                    // Go
    "std::bad_alloc",                            // C++
    "java.lang.OutOfMemoryError",                // Java
    "Cannot allocate memory",                    // strerror(ENOMEM): C programs, shells
];

/// Whether a Lambda error type names a refused allocation.
pub fn is_memory_error_type(error_type: &str) -> bool {
    ERROR_TYPES.contains(&error_type)
}

/// Whether a failed process's stderr shows a refused allocation.
pub fn stderr_shows_refused_allocation(stderr: &str) -> bool {
    SIGNATURES.iter().any(|s| stderr.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_out_of_memory_messages_are_recognised() {
        assert!(stderr_shows_refused_allocation(
            "Traceback (most recent call last):\n  File \"<string>\", line 1\nMemoryError\n"
        ));
        assert!(stderr_shows_refused_allocation(
            "memory allocation of 1048576 bytes failed\n"
        ));
        assert!(stderr_shows_refused_allocation(
            "fatal error: runtime: out of memory\n"
        ));
        assert!(!stderr_shows_refused_allocation(
            "Traceback (most recent call last):\nValueError: bad value\n"
        ));
        assert!(is_memory_error_type("MemoryError"));
        assert!(!is_memory_error_type("ValueError"));
    }
}
