//! The examples in `examples/` run as the README says: hello without
//! functions, the order pipeline with its mock test cases and with stand-ins
//! for its two functions (the same logic as the python handlers).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use sluice_dsl::interp::{run, Host, Outcome, RunOptions, TaskCall};
use sluice_dsl::mocks::{MockConfig, TestCase};
use sluice_dsl::{Random, SplitMix64, StateMachine, StatesError};

const HELLO: &str = include_str!("../../examples/hello.asl.json");
const ORDER_PIPELINE: &str = include_str!("../../examples/order-pipeline.asl.json");
const ORDER_MOCKS: &str = include_str!("../../examples/order-pipeline.mocks.json");

/// A host on a simulated clock that answers Task states from a mock test
/// case, or else from in-process stand-ins for the example functions.
struct TestHost {
    mocks: Option<TestCase>,
    /// Invocations so far per Task state, across retries and Map iterations.
    calls: HashMap<String, u32>,
    /// Every sleep, in seconds, in order.
    sleeps: Vec<f64>,
    now: DateTime<Utc>,
    random: SplitMix64,
}

impl TestHost {
    fn new(mocks: Option<TestCase>) -> TestHost {
        let start = RunOptions::default().start_time;
        TestHost {
            mocks,
            calls: HashMap::new(),
            sleeps: Vec::new(),
            now: start,
            random: SplitMix64(7),
        }
    }
}

impl Host for TestHost {
    fn invoke(&mut self, call: &TaskCall) -> Result<Value, StatesError> {
        let count = self.calls.entry(call.state.to_string()).or_insert(0);
        let invocation = *count;
        *count += 1;
        if let Some(case) = &self.mocks {
            if let Some(response) = case.response(call.state, invocation) {
                return response.map_err(StatesError::runtime)?.to_result();
            }
        }
        match call.resource {
            "sluice:function:price-item" => {
                let quantity = call.payload["quantity"].as_i64().unwrap_or(1);
                let Some(price) = call.payload["unitPriceCents"].as_i64() else {
                    return Err(StatesError::new("InvalidItem", "need unitPriceCents"));
                };
                Ok(
                    json!({ "sku": call.payload["sku"], "quantity": quantity, "lineTotalCents": quantity * price }),
                )
            }
            "sluice:function:charge-payment" => {
                if call.payload["card"] == "0000" {
                    return Err(StatesError::new("PaymentDeclined", "the card was declined"));
                }
                let lines = call.payload["lines"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let total: i64 = lines
                    .iter()
                    .filter_map(|l| l["lineTotalCents"].as_i64())
                    .sum();
                let order = call.payload["orderId"].as_str().unwrap_or_default();
                Ok(
                    json!({ "chargeId": format!("ch_{order}"), "totalCents": total, "currency": "EUR" }),
                )
            }
            other => Err(StatesError::task_failed(format!("no function for {other}"))),
        }
    }

    fn sleep(&mut self, seconds: f64) {
        self.sleeps.push(seconds);
        self.now += Duration::milliseconds((seconds * 1000.0) as i64);
    }

    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }

    fn random(&mut self) -> &mut dyn Random {
        &mut self.random
    }
}

fn machine(text: &str) -> StateMachine {
    StateMachine::from_json(text).unwrap_or_else(|p| panic!("example is invalid:\n{p}"))
}

fn test_case(name: &str) -> TestCase {
    let config =
        MockConfig::from_json(ORDER_MOCKS).unwrap_or_else(|p| panic!("mocks are invalid:\n{p}"));
    config.test_case("order-pipeline", name).unwrap()
}

fn options() -> RunOptions {
    RunOptions {
        state_machine_name: "order-pipeline".into(),
        ..RunOptions::default()
    }
}

fn succeeded(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Succeeded(v) => v,
        Outcome::Failed(e) => panic!("failed: {e}"),
    }
}

fn failed(outcome: Outcome) -> StatesError {
    match outcome {
        Outcome::Succeeded(v) => panic!("succeeded: {v}"),
        Outcome::Failed(e) => e,
    }
}

#[test]
fn hello_cheers_when_excited_and_nods_otherwise() {
    let hello = machine(HELLO);
    let mut host = TestHost::new(None);
    let out = succeeded(run(
        &hello,
        json!({"name": "Ada Lovelace", "excited": true}),
        &RunOptions::default(),
        &mut host,
    ));
    assert_eq!(
        out,
        json!({"message": "Hello, Ada Lovelace! So glad you are here.", "words": 2})
    );
    let out = succeeded(run(
        &hello,
        json!({"name": "Grace"}),
        &RunOptions::default(),
        &mut host,
    ));
    assert_eq!(out, json!({"message": "Hello, Grace!", "words": 1}));
}

#[test]
fn order_pipeline_with_functions() {
    let pipeline = machine(ORDER_PIPELINE);
    let input = json!({"orderId": "o-1", "card": "4242", "items": [{"sku": "tea", "quantity": 2, "unitPriceCents": 450}]});
    let mut host = TestHost::new(None);
    let out = succeeded(run(&pipeline, input.clone(), &options(), &mut host));
    assert_eq!(
        out,
        json!({"orderId": "o-1", "status": "SHIPPED", "chargeId": "ch_o-1", "totalCents": 900,
               "receipt": "Your order o-1 (1 lines)"})
    );
    assert_eq!(host.sleeps, vec![2.0], "only the Wait state sleeps");

    let mut declined = input.clone();
    declined["card"] = json!("0000");
    let error = failed(run(
        &pipeline,
        declined,
        &options(),
        &mut TestHost::new(None),
    ));
    assert_eq!(
        error,
        StatesError::new("PaymentFailed", "the card was declined")
    );

    let error = failed(run(
        &pipeline,
        json!({"orderId": 1, "items": []}),
        &options(),
        &mut TestHost::new(None),
    ));
    assert_eq!(error.error, "InvalidOrder");
}

#[test]
fn order_pipeline_happy_path_mocks() {
    let pipeline = machine(ORDER_PIPELINE);
    let input =
        json!({"orderId": "o-1", "card": "4242", "items": [{"sku": "tea"}, {"sku": "cake"}]});
    let mut host = TestHost::new(Some(test_case("HappyPath")));
    let out = succeeded(run(&pipeline, input, &options(), &mut host));
    assert_eq!(
        out,
        json!({"orderId": "o-1", "status": "SHIPPED", "chargeId": "ch_mocked", "totalCents": 1000,
               "receipt": "Your order o-1 (2 lines)"})
    );
    assert_eq!(host.calls["PriceItem"], 2);
    assert_eq!(host.calls["ChargePayment"], 1);
}

#[test]
fn order_pipeline_payment_retries_then_fails() {
    let pipeline = machine(ORDER_PIPELINE);
    let input = json!({"orderId": "o-1", "card": "4242", "items": [{"sku": "tea"}]});
    let mut host = TestHost::new(Some(test_case("PaymentRetriesThenFails")));
    let error = failed(run(&pipeline, input, &options(), &mut host));
    assert_eq!(
        error,
        StatesError::new("PaymentFailed", "The payment provider answered 503.")
    );
    assert_eq!(
        host.calls["ChargePayment"], 4,
        "one attempt and three retries"
    );
    assert_eq!(
        host.sleeps,
        vec![1.0, 2.0, 4.0],
        "IntervalSeconds 1, BackoffRate 2"
    );
}
