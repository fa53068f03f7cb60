//! Benchmarks of the in-memory interpreter and of validation (the
//! "Foundation" issue's performance targets), each next to a baseline measured
//! in the same run so results read as "N× the floor" on any machine.
//!
//! Targets:
//! - `run/pass_choice_100`: ≥ 500,000 state transitions/s on one core;
//! - `run/jsonata_pass_choice_100`: ≥ 200,000 transitions/s (JSONata Pass
//!   states with `Output` and `Assign`, Choice rules with a `Condition`),
//!   beside `run/jsonpath_assign_pass_choice_100`, the same chain in
//!   JSONPath with `Assign`;
//! - `validate/from_value_1000_states`: `StateMachine::from_value` under 10 ms.
//!
//! Run with `cargo bench -p sluice-dsl --bench interpreter`; see
//! `docs/benchmarks.md` for the figures.

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Map, Value};
use std::hint::black_box;

use sluice_dsl::interp::{run, Host, Outcome, RunOptions, TaskCall};
use sluice_dsl::{Random, SplitMix64, StateMachine, StatesError};

/// States in each chain, and so transitions per run (the last is a Succeed).
const CHAIN: usize = 100;
/// States in the validation benchmark's definition.
const VALIDATE: usize = 1_000;

/// A Host with a virtual clock and deterministic randomness; Tasks echo a
/// fixed result so only the interpreter is measured.
struct BenchHost {
    now: DateTime<Utc>,
    rng: SplitMix64,
    task_result: Value,
}

impl BenchHost {
    fn new() -> Self {
        BenchHost {
            now: RunOptions::default().start_time,
            rng: SplitMix64(7),
            task_result: json!({"status": "ok", "value": 42, "meta": {"region": "eu", "attempt": 1}}),
        }
    }
}

impl Host for BenchHost {
    fn invoke(&mut self, _call: &TaskCall) -> Result<Value, StatesError> {
        Ok(self.task_result.clone())
    }
    fn sleep(&mut self, seconds: f64) {
        self.now += chrono::Duration::milliseconds((seconds * 1000.0) as i64);
    }
    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }
    fn random(&mut self) -> &mut dyn Random {
        &mut self.rng
    }
}

/// The execution input: a small order, as a realistic event would carry.
fn input() -> Value {
    json!({
        "order": {
            "id": "o-1042",
            "customer": "alice",
            "total": 129.5,
            "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}, {"sku": "c", "qty": 1}]
        },
        "step": 0,
        "tier": "gold"
    })
}

fn name(i: usize) -> String {
    format!("S{i:04}")
}

/// Wrap generated states into a definition starting at `S0000`.
fn definition(states: Map<String, Value>) -> Value {
    json!({"Comment": "generated for benchmarks", "StartAt": name(0), "States": states})
}

/// A Pass state that reshapes its input with paths and intrinsics, keeping
/// the shape the next Pass reads.
fn shaping_pass(next: &str) -> Value {
    json!({
        "Type": "Pass",
        "Parameters": {
            "order.$": "$.order",
            "tier.$": "$.tier",
            "step.$": "States.MathAdd($.step, 1)",
            "label.$": "States.Format('order {} for {} at step {}', $.order.id, $.order.customer, $.step)",
            "count.$": "States.ArrayLength($.order.items)",
            "source": "bench"
        },
        "Next": next
    })
}

/// A Choice whose first rule (numeric) is false and second (string and
/// numeric under And) is true, with a Default, so each visit evaluates three
/// comparisons.
fn choice(next: &str) -> Value {
    json!({
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.count", "NumericGreaterThan": 10, "Next": next},
            {"And": [
                {"Variable": "$.tier", "StringEquals": "gold"},
                {"Variable": "$.order.total", "NumericLessThanEquals": 1000}
            ], "Next": next}
        ],
        "Default": next
    })
}

/// A Task with Parameters, ResultSelector, ResultPath and a Retry/Catch
/// policy (never triggered: the host succeeds).
fn task(next: &str) -> Value {
    json!({
        "Type": "Task",
        "Resource": "sluice:function:work",
        "Parameters": {"id.$": "$.order.id", "step.$": "$.step", "mode": "fast"},
        "ResultSelector": {"status.$": "$.status", "value.$": "$.value"},
        "ResultPath": "$.result",
        "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 2}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": name(CHAIN - 1), "ResultPath": "$.error"}],
        "Next": next
    })
}

/// A JSONata Pass that reshapes its input as `shaping_pass` does, and
/// remembers the step in a variable.
fn jsonata_pass(next: &str) -> Value {
    json!({
        "Type": "Pass",
        "QueryLanguage": "JSONata",
        "Output": {
            "order": "{% $states.input.order %}",
            "tier": "{% $states.input.tier %}",
            "step": "{% $states.input.step + 1 %}",
            "label": "{% 'order ' & $states.input.order.id & ' for ' & $states.input.order.customer %}",
            "count": "{% $count($states.input.order.items) %}",
            "source": "bench"
        },
        "Assign": {"lastStep": "{% $states.input.step %}", "tier": "{% $states.input.tier %}"},
        "Next": next
    })
}

/// A JSONata Choice: the first Condition is false, the second true (and
/// assigns), with a Default.
fn jsonata_choice(next: &str) -> Value {
    json!({
        "Type": "Choice",
        "QueryLanguage": "JSONata",
        "Choices": [
            {"Condition": "{% $states.input.count > 10 %}", "Next": next},
            {"Condition": "{% $tier = 'gold' and $states.input.order.total <= 1000 %}",
             "Assign": {"checked": "{% $lastStep %}"}, "Next": next}
        ],
        "Default": next
    })
}

/// `shaping_pass` with an `Assign`, the JSONPath counterpart of `jsonata_pass`.
fn jsonpath_assign_pass(next: &str) -> Value {
    let mut p = shaping_pass(next);
    p["Assign"] = json!({"lastStep.$": "$.step", "tier.$": "$.tier"});
    p
}

/// `n` states where state `i` is `make(i, next)` and the last is a Succeed.
fn chain(n: usize, make: impl Fn(usize, &str) -> Value) -> Value {
    let mut states = Map::new();
    for i in 0..n - 1 {
        states.insert(name(i), make(i, &name(i + 1)));
    }
    states.insert(name(n - 1), json!({"Type": "Succeed"}));
    definition(states)
}

/// Pass (with Parameters) and Choice alternately.
fn pass_choice_chain(n: usize) -> Value {
    chain(n, |i, next| {
        if i % 2 == 0 {
            shaping_pass(next)
        } else {
            choice(next)
        }
    })
}

/// Pass states with no fields: the interpreter's own per-transition cost.
fn pass_through_chain(n: usize) -> Value {
    chain(n, |_, next| json!({"Type": "Pass", "Next": next}))
}

fn jsonata_pass_choice_chain(n: usize) -> Value {
    chain(n, |i, next| {
        if i % 2 == 0 {
            jsonata_pass(next)
        } else {
            jsonata_choice(next)
        }
    })
}

fn jsonpath_assign_pass_choice_chain(n: usize) -> Value {
    chain(n, |i, next| {
        if i % 2 == 0 {
            jsonpath_assign_pass(next)
        } else {
            choice(next)
        }
    })
}

fn task_chain(n: usize) -> Value {
    chain(n, |_, next| task(next))
}

/// The validation workload: Pass/Choice pairs with a Task every fifth state,
/// so templates, intrinsics, rules and Retry/Catch are all compiled.
fn validation_definition(n: usize) -> Value {
    chain(n, |i, next| match i % 5 {
        0 | 2 => shaping_pass(next),
        1 | 3 => choice(next),
        _ => task(next),
    })
}

fn compile(def: &Value) -> StateMachine {
    StateMachine::from_value(def).unwrap_or_else(|p| panic!("bench definition invalid:\n{p}"))
}

/// Run once outside the timing loop to check the chain really ran to the end.
fn check(machine: &StateMachine, expect: impl Fn(&Value) -> bool) {
    match run(
        machine,
        input(),
        &RunOptions::default(),
        &mut BenchHost::new(),
    ) {
        Outcome::Succeeded(v) if expect(&v) => {}
        other => panic!("bench chain ended unexpectedly: {other:?}"),
    }
}

fn bench_run(c: &mut Criterion) {
    let options = RunOptions::default();
    let pass_choice = compile(&pass_choice_chain(CHAIN));
    check(&pass_choice, |v| v["step"] == json!(CHAIN / 2));
    let pass_through = compile(&pass_through_chain(CHAIN));
    check(&pass_through, |v| *v == input());
    let tasks = compile(&task_chain(CHAIN));
    check(&tasks, |v| v["result"]["value"] == json!(42));
    let jsonata = compile(&jsonata_pass_choice_chain(CHAIN));
    check(&jsonata, |v| v["step"] == json!(CHAIN / 2));
    let jsonpath_assign = compile(&jsonpath_assign_pass_choice_chain(CHAIN));
    check(&jsonpath_assign, |v| v["step"] == json!(CHAIN / 2));

    let mut group = c.benchmark_group("run");
    group.throughput(Throughput::Elements(CHAIN as u64));

    // Baseline 1: what touching the payload costs with no interpreter at all —
    // one clone and one serialization per transition (serde_json's floor for
    // "a state produced a new document and we measured its size").
    let payload = input();
    group.bench_function("baseline_serde_clone_serialize_100", |b| {
        b.iter(|| {
            let mut total = 0;
            for _ in 0..CHAIN {
                let v = black_box(&payload).clone();
                total += serde_json::to_vec(&v).map_or(0, |s| s.len());
            }
            black_box(total)
        })
    });

    for (id, machine) in [
        ("baseline_pass_through_100", &pass_through),
        ("pass_choice_100", &pass_choice),
        ("jsonpath_assign_pass_choice_100", &jsonpath_assign),
        ("jsonata_pass_choice_100", &jsonata),
        ("task_100", &tasks),
    ] {
        group.bench_function(id, |b| {
            let mut host = BenchHost::new();
            // The input is built outside the timing (it is moved into the run).
            b.iter_batched(
                input,
                |i| black_box(run(machine, i, &options, &mut host)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn bench_validate(c: &mut Criterion) {
    let def = validation_definition(VALIDATE);
    compile(&def);
    let text = def.to_string();

    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(VALIDATE as u64));
    // Baseline: parsing the same definition text into a serde_json::Value.
    group.bench_function("baseline_serde_parse_1000_states", |b| {
        b.iter_with_large_drop(|| serde_json::from_str::<Value>(black_box(&text)).ok())
    });
    // The machine returned is dropped outside the timing: freeing it is not
    // part of validating (a workflow keeps its machine while it runs).
    group.bench_function("from_value_1000_states", |b| {
        b.iter_with_large_drop(|| StateMachine::from_value(black_box(&def)))
    });
    group.bench_function("from_json_1000_states", |b| {
        b.iter_with_large_drop(|| StateMachine::from_json(black_box(&text)))
    });
    group.finish();
}

criterion_group!(benches, bench_run, bench_validate);
criterion_main!(benches);
