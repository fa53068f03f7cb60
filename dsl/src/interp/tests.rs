//! Runner tests with a virtual clock; the full semantic suite is in
//! `dsl/tests/fixtures`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::{SplitMix64, StateMachine};

type Responder = Box<dyn FnMut(&TaskCall) -> Result<Value, StatesError>>;

pub(crate) struct TestHost {
    pub now: DateTime<Utc>,
    pub sleeps: Vec<f64>,
    pub rng: SplitMix64,
    pub respond: Responder,
}

impl TestHost {
    pub fn new(respond: impl FnMut(&TaskCall) -> Result<Value, StatesError> + 'static) -> Self {
        TestHost {
            now: RunOptions::default().start_time,
            sleeps: vec![],
            rng: SplitMix64(0),
            respond: Box::new(respond),
        }
    }
}

impl Host for TestHost {
    fn invoke(&mut self, call: &TaskCall) -> Result<Value, StatesError> {
        (self.respond)(call)
    }
    fn sleep(&mut self, seconds: f64) {
        self.sleeps.push(seconds);
        self.now += chrono::Duration::milliseconds((seconds * 1000.0) as i64);
    }
    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }
    fn random(&mut self) -> &mut dyn crate::Random {
        &mut self.rng
    }
}

fn machine(v: Value) -> StateMachine {
    StateMachine::from_value(&v).unwrap_or_else(|p| panic!("{p}"))
}

#[test]
fn pipeline_order_input_parameters_selector_resultpath_output() {
    let m = machine(json!({
        "StartAt": "T",
        "States": {"T": {
            "Type": "Task", "Resource": "sluice:function:f",
            "InputPath": "$.in",
            "Parameters": {"v.$": "$.x", "fixed": 1},
            "ResultSelector": {"r.$": "$.value"},
            "ResultPath": "$.res",
            "OutputPath": "$.res",
            "End": true
        }}
    }));
    let mut host = TestHost::new(|call| {
        assert_eq!(call.payload, &json!({"v": 5, "fixed": 1}));
        Ok(json!({"value": 42, "noise": true}))
    });
    let out = run(
        &m,
        json!({"in": {"x": 5}}),
        &RunOptions::default(),
        &mut host,
    );
    assert_eq!(out, Outcome::Succeeded(json!({"r": 42})));
}

#[test]
fn retries_back_off_then_catch() {
    let m = machine(json!({
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": "sluice:function:r", "Next": "Done",
                  "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 1.5}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handled"}]},
            "Done": {"Type": "Succeed"},
            "Handled": {"Type": "Pass", "End": true}
        }
    }));
    let mut host = TestHost::new(|_| Err(StatesError::new("Boom", "bad")));
    let out = run(&m, json!({"a": 1}), &RunOptions::default(), &mut host);
    assert_eq!(
        out,
        Outcome::Succeeded(json!({"a": 1, "err": {"Error": "Boom", "Cause": "bad"}}))
    );
    assert_eq!(host.sleeps, vec![2.0, 3.0, 4.5]);
}

#[test]
fn validation_reports_every_problem_with_pointers() {
    let problems = StateMachine::from_value(&json!({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "Nowhere"},
            "B": {"Type": "Task", "End": true},
            "C": {"Type": "Wait", "Seconds": 1, "Timestamp": "2024-01-01T00:00:00Z", "End": true}
        }
    }))
    .unwrap_err();
    let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
    assert!(pointers.contains(&"/States/A/Next"), "{problems}");
    assert!(pointers.contains(&"/States/B"), "{problems}");
    assert!(pointers.contains(&"/States/C"), "{problems}");
}

#[test]
fn map_runs_each_item_with_context() {
    let m = machine(json!({
        "StartAt": "M",
        "States": {"M": {
            "Type": "Map", "ItemsPath": "$.items",
            "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "k.$": "$.k"},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true
        }}
    }));
    let mut host = TestHost::new(|_| unreachable!());
    let out = run(
        &m,
        json!({"items": ["a", "b"], "k": 0}),
        &RunOptions::default(),
        &mut host,
    );
    assert_eq!(
        out,
        Outcome::Succeeded(json!([{"i": 0, "v": "a", "k": 0}, {"i": 1, "v": "b", "k": 0}]))
    );
}

#[test]
fn data_limit_is_enforced() {
    let m = machine(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "xxxxxxxxxxxxxxxxxxxx", "End": true}}}),
    );
    let opts = RunOptions {
        payload_limit: 10,
        ..Default::default()
    };
    let mut host = TestHost::new(|_| unreachable!());
    match run(&m, json!({}), &opts, &mut host) {
        Outcome::Failed(e) => assert_eq!(e.error, "States.DataLimitExceeded"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tasks_see_their_retry_count_without_context_paths() {
    let m = machine(json!({
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "sluice:function:f", "End": true,
            "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2}]}}
    }));
    let seen = std::rc::Rc::new(std::cell::RefCell::new(vec![]));
    let log = seen.clone();
    let mut host = TestHost::new(move |call| {
        log.borrow_mut().push(call.retry_count);
        if call.retry_count < 2 {
            Err(StatesError::new("E", "again"))
        } else {
            Ok(json!("done"))
        }
    });
    assert_eq!(
        run(&m, json!({}), &RunOptions::default(), &mut host),
        Outcome::Succeeded(json!("done"))
    );
    assert_eq!(*seen.borrow(), vec![0, 1, 2]);
}

/// A Choice that passes its input through skips re-measuring an input that
/// was already checked; a branch's input was not, so it is still measured.
#[test]
fn data_limit_applies_to_a_branch_input_passed_through_a_choice() {
    let m = machine(json!({
        "StartAt": "P",
        "States": {"P": {
            "Type": "Parallel", "End": true,
            "Parameters": {"a.$": "$.s", "b.$": "$.s", "c.$": "$.s"},
            "Branches": [{"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [
                    {"Variable": "$.a", "IsPresent": true, "Next": "Done"}
                ]},
                "Done": {"Type": "Succeed"}
            }}]
        }}
    }));
    let opts = RunOptions {
        payload_limit: 60,
        ..Default::default()
    };
    let mut host = TestHost::new(|_| unreachable!());
    match run(&m, json!({"s": "xxxxxxxxxxxxxxxx"}), &opts, &mut host) {
        Outcome::Failed(e) => {
            assert_eq!(e.error, "States.DataLimitExceeded");
            assert!(e.cause.contains("state 'C'"), "{}", e.cause);
        }
        other => panic!("{other:?}"),
    }
    // Within the limit, the same machine passes the branch input through.
    let out = run(&m, json!({"s": "x"}), &opts, &mut host);
    assert_eq!(
        out,
        Outcome::Succeeded(json!([{"a": "x", "b": "x", "c": "x"}]))
    );
}
