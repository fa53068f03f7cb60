//! Reads the event on stdin and acts on the first word it finds in it:
//! `spin` loops forever, `grow` allocates until it fails, `fail` exits with
//! a Lambda-style error, `env` prints its environment; anything else is
//! echoed back as `{"echo": EVENT}`.
use std::io::{Read, Write};

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let mut out = std::io::stdout();
    if input.contains("\"spin\"") {
        let mut x: u64 = 0;
        loop {
            x = x.wrapping_add(1);
            std::hint::black_box(x);
        }
    } else if input.contains("\"grow\"") {
        let mut hold: Vec<Vec<u8>> = Vec::new();
        loop {
            hold.push(vec![1u8; 1 << 20]);
            std::hint::black_box(&hold);
        }
    } else if input.contains("\"fail\"") {
        eprintln!("about to fail");
        write!(out, "{{\"errorType\":\"ValueError\",\"errorMessage\":\"wasm says no\"}}").unwrap();
        out.flush().unwrap();
        std::process::exit(3);
    } else if input.contains("\"env\"") {
        let vars: Vec<String> = std::env::vars().map(|(k, _)| format!("\"{k}\"")).collect();
        let files = std::fs::read_dir("/").is_ok();
        write!(out, "{{\"vars\":[{}],\"rootVisible\":{files}}}", vars.join(",")).unwrap();
    } else {
        write!(out, "{{\"echo\":{input}}}").unwrap();
    }
}
