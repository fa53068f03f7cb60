use serde_json::json;

use super::*;

/// Modelled on the example in AWS's "Configuration file for mocked service
/// integrations", plus a second machine sharing a test case name.
fn realistic() -> Value {
    json!({
        "StateMachines": {
            "LambdaSQSIntegration": {
                "TestCases": {
                    "HappyPath": { "LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess" },
                    "RetryPath": { "LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess" },
                    "HybridPath": { "LambdaState": "MockedLambdaSuccess" }
                }
            },
            "order-pipeline": {
                "TestCases": {
                    "HappyPath": { "ChargePayment": "MockedLambdaSuccess" },
                    "PaymentFails": { "ChargePayment": "ChargeDeclined" }
                }
            }
        },
        "MockedResponses": {
            "MockedLambdaSuccess": {
                "0": { "Return": { "StatusCode": 200, "Payload": { "StatusCode": 200, "body": "Hello from Lambda!" } } }
            },
            "LambdaMockedResourceNotReady": {
                "0": { "Throw": { "Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready." } }
            },
            "MockedSQSSuccess": {
                "0": { "Return": { "MD5OfMessageBody": "3bcb6e8e", "MessageId": "3bcb6e8e-8b51" } }
            },
            "MockedLambdaRetry": {
                "0": { "Throw": { "Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready." } },
                "3": { "Return": { "StatusCode": 200 } },
                "1-2": { "Throw": { "Error": "Lambda.TimeoutException", "Cause": "Lambda timed out." } }
            },
            "ChargeDeclined": {
                "0-3": { "Throw": { "Error": "PaymentDeclined" } }
            }
        }
    })
}

fn config() -> MockConfig {
    match MockConfig::from_value(&realistic()) {
        Ok(c) => c,
        Err(p) => panic!("realistic config rejected:\n{p}"),
    }
}

fn throw(error: &str, cause: &str) -> MockResponse {
    MockResponse::Throw {
        error: error.into(),
        cause: cause.into(),
    }
}

#[test]
fn retries_walk_through_the_ranges_in_order() {
    let case = config()
        .test_case("LambdaSQSIntegration", "RetryPath")
        .unwrap();
    assert_eq!(case.name(), "RetryPath");
    assert_eq!(case.state_machine(), "LambdaSQSIntegration");
    let timeout = throw("Lambda.TimeoutException", "Lambda timed out.");
    assert_eq!(
        case.response("LambdaState", 0),
        Some(Ok(&throw(
            "Lambda.ResourceNotReadyException",
            "Lambda resource is not ready."
        )))
    );
    assert_eq!(case.response("LambdaState", 1), Some(Ok(&timeout)));
    assert_eq!(case.response("LambdaState", 2), Some(Ok(&timeout)));
    assert_eq!(
        case.response("LambdaState", 3),
        Some(Ok(&MockResponse::Return(json!({"StatusCode": 200}))))
    );
    assert_eq!(
        case.response("SQSState", 0)
            .unwrap()
            .unwrap()
            .to_result()
            .unwrap()["MessageId"],
        "3bcb6e8e-8b51"
    );
}

#[test]
fn an_invocation_past_the_last_range_is_an_error_naming_the_fix() {
    let case = config()
        .test_case("LambdaSQSIntegration", "RetryPath")
        .unwrap();
    let message = case.response("LambdaState", 4).unwrap().unwrap_err();
    assert!(message.contains("invocation 4"), "{message}");
    assert!(message.contains("MockedLambdaRetry"), "{message}");
    assert!(message.contains("0, 1-2, 3"), "{message}");
}

#[test]
fn unmocked_states_are_none() {
    let case = config()
        .test_case("LambdaSQSIntegration", "HybridPath")
        .unwrap();
    assert!(case.response("SQSState", 0).is_none());
    assert!(case.response("NoSuchState", 0).is_none());
    assert_eq!(case.states().collect::<Vec<_>>(), ["LambdaState"]);
}

#[test]
fn throw_without_cause_has_an_empty_cause_and_converts_to_a_states_error() {
    let case = config()
        .test_case("order-pipeline", "PaymentFails")
        .unwrap();
    let response = case.response("ChargePayment", 3).unwrap().unwrap();
    assert_eq!(response, &throw("PaymentDeclined", ""));
    assert_eq!(
        response.to_result(),
        Err(StatesError::new("PaymentDeclined", ""))
    );
}

#[test]
fn test_case_falls_back_to_the_only_machine_that_has_it() {
    let config = config();
    // The workflow file is named differently from the mock file's machine.
    let case = config.test_case("my-workflow", "PaymentFails").unwrap();
    assert_eq!(case.state_machine(), "order-pipeline");
    // Two machines define HappyPath: the exact machine wins, a stranger is told to rename.
    assert_eq!(
        config
            .test_case("order-pipeline", "HappyPath")
            .unwrap()
            .state_machine(),
        "order-pipeline"
    );
    let message = config.test_case("my-workflow", "HappyPath").unwrap_err();
    assert!(
        message.contains("'LambdaSQSIntegration'") && message.contains("'order-pipeline'"),
        "{message}"
    );
}

#[test]
fn a_missing_test_case_lists_the_available_ones() {
    let message = config().test_case("order-pipeline", "SadPath").unwrap_err();
    assert!(message.contains("no test case 'SadPath'"), "{message}");
    assert!(message.contains("order-pipeline/PaymentFails"), "{message}");
    assert!(
        message.contains("LambdaSQSIntegration/RetryPath"),
        "{message}"
    );
    let empty =
        MockConfig::from_value(&json!({"StateMachines": {}, "MockedResponses": {}})).unwrap();
    assert!(empty
        .test_case("x", "y")
        .unwrap_err()
        .contains("defines no test cases"));
}

#[test]
fn from_json_reports_syntax_errors_at_the_root() {
    let problems = MockConfig::from_json("{ nope").unwrap_err();
    assert_eq!(problems.0[0].pointer, "");
    assert!(problems.0[0].message.starts_with("not valid JSON"));
    assert!(MockConfig::from_json(&realistic().to_string()).is_ok());
}

/// Every problem of `v` as `pointer: message` lines.
fn problems(v: Value) -> Vec<String> {
    match MockConfig::from_value(&v) {
        Ok(_) => panic!("accepted: {v}"),
        Err(p) => p
            .iter()
            .map(|p| format!("{}: {}", p.pointer, p.message))
            .collect(),
    }
}

fn with_responses(responses: Value) -> Value {
    json!({ "StateMachines": { "m": { "TestCases": { "t": { "S": "R" } } } }, "MockedResponses": responses })
}

fn has(problems: &[String], pointer: &str, fragment: &str) -> bool {
    problems
        .iter()
        .any(|p| p.starts_with(&format!("{pointer}: ")) && p.contains(fragment))
}

#[test]
fn bad_ranges_are_reported_with_pointers() {
    let p = problems(with_responses(json!({ "R": {
        "0": { "Return": 1 },
        "x": { "Return": 2 },
        "3-1": { "Return": 3 },
        "-1": { "Return": 4 },
        "1 - 2": { "Return": 5 },
        "99999999999": { "Return": 6 }
    }})));
    assert!(
        has(
            &p,
            "/MockedResponses/R/x",
            "not an invocation number or range"
        ),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "/MockedResponses/R/3-1",
            "runs backwards: write \"1-3\""
        ),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/-1", "not an invocation number"),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/1 - 2", "not an invocation number"),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/99999999999", "too large"),
        "{p:#?}"
    );
    assert_eq!(p.len(), 5, "{p:#?}");
}

#[test]
fn overlaps_and_gaps_are_problems() {
    let p = problems(with_responses(json!({ "R": {
        "0-2": { "Return": 1 },
        "2-3": { "Return": 2 },
        "6": { "Return": 3 }
    }})));
    assert!(
        has(
            &p,
            "/MockedResponses/R/2-3",
            "overlaps \"0-2\" (invocation 2 is covered twice)"
        ),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R", "no response for invocation 4-5"),
        "{p:#?}"
    );
    assert_eq!(p.len(), 2, "{p:#?}");
    let p = problems(with_responses(json!({ "R": { "1": { "Return": 1 } } })));
    assert!(
        has(&p, "/MockedResponses/R", "no response for invocation 0"),
        "{p:#?}"
    );
}

#[test]
fn entries_need_exactly_one_of_return_and_throw() {
    let p = problems(with_responses(json!({ "R": {
        "0": { "Return": 1, "Throw": { "Error": "E", "Cause": "c" } },
        "1": {},
        "2": { "return": 1 },
        "3": "oops",
        "4": { "Throw": { "Cause": "no error", "Reason": "x" } },
        "5": { "Throw": { "Error": 7, "Cause": false } },
        "6": { "Throw": "E" },
        "7": { "Throw": { "Error": "" } }
    }})));
    assert!(
        has(&p, "/MockedResponses/R/0", "both \"Return\" and \"Throw\""),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/1", "needs \"Return\""),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "/MockedResponses/R/2/return",
            "did you mean \"Return\"?"
        ),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/2", "needs \"Return\""),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/3", "must be an object"),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/4/Throw", "missing \"Error\""),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/4/Throw/Reason", "unknown field"),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/5/Throw/Error", "must be a string"),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/5/Throw/Cause", "must be a string"),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/6/Throw", "must be an object"),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/R/7/Throw/Error", "must not be empty"),
        "{p:#?}"
    );
    assert_eq!(p.len(), 11, "{p:#?}");
}

#[test]
fn structural_problems_are_all_reported() {
    let p = problems(json!({
        "StateMachines": {
            "a": { "TestCases": { "t": { "S1": "Nope", "S2": 3, "S3": "R" } }, "Comment": "x" },
            "b": { "testcases": {} },
            "c": [],
            "d": { "TestCases": { "t": "R" } }
        },
        "MockedResponse": {},
        "MockedResponses": { "R": { "0": { "Return": null } }, "Empty": {}, "NotObject": 1 }
    }));
    assert!(
        has(&p, "/MockedResponse", "did you mean \"MockedResponses\"?"),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "/StateMachines/a/TestCases/t/S1",
            "no mocked response named 'Nope'"
        ),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "/StateMachines/a/TestCases/t/S2",
            "must be the name of a mocked response"
        ),
        "{p:#?}"
    );
    assert!(
        has(&p, "/StateMachines/a/Comment", "unknown field"),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "/StateMachines/b/testcases",
            "did you mean \"TestCases\"?"
        ),
        "{p:#?}"
    );
    assert!(
        has(&p, "/StateMachines/b", "missing \"TestCases\""),
        "{p:#?}"
    );
    assert!(has(&p, "/StateMachines/c", "must be an object"), "{p:#?}");
    assert!(
        has(&p, "/StateMachines/d/TestCases/t", "must be an object"),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/Empty", "at least one entry"),
        "{p:#?}"
    );
    assert!(
        has(&p, "/MockedResponses/NotObject", "must be an object"),
        "{p:#?}"
    );
    assert_eq!(p.len(), 10, "{p:#?}");
}

#[test]
fn top_level_shape_problems() {
    assert!(has(&problems(json!([])), "", "must be a JSON object"));
    let p = problems(json!({}));
    assert!(has(&p, "", "missing \"StateMachines\""), "{p:#?}");
    assert!(has(&p, "", "missing \"MockedResponses\""), "{p:#?}");
    let p = problems(json!({ "StateMachines": 1, "MockedResponses": "x" }));
    assert!(has(&p, "/StateMachines", "must be an object"), "{p:#?}");
    assert!(has(&p, "/MockedResponses", "must be an object"), "{p:#?}");
}

#[test]
fn pointer_tokens_are_escaped() {
    let p = problems(json!({
        "StateMachines": { "a/b": { "TestCases": { "t~1": { "S/x": "missing" } } } },
        "MockedResponses": {}
    }));
    assert!(
        has(
            &p,
            "/StateMachines/a~1b/TestCases/t~01/S~1x",
            "no mocked response named 'missing'"
        ),
        "{p:#?}"
    );
}

#[test]
fn a_reference_to_an_invalid_response_is_reported_once() {
    // The broken response itself is the problem; the test case naming it is not.
    let p = problems(with_responses(json!({ "R": { "x": { "Return": 1 } } })));
    assert_eq!(p.len(), 1, "{p:#?}");
}

#[test]
fn unused_responses_and_large_ranges_are_fine() {
    let config = MockConfig::from_value(&with_responses(json!({
        "R": { "0-4294967294": { "Return": "many" }, "4294967295": { "Return": "last" } },
        "Unused": { "0": { "Return": null } }
    })))
    .unwrap();
    let case = config.test_case("m", "t").unwrap();
    assert_eq!(
        case.response("S", 1_000_000),
        Some(Ok(&MockResponse::Return(json!("many"))))
    );
    assert_eq!(
        case.response("S", u32::MAX),
        Some(Ok(&MockResponse::Return(json!("last"))))
    );
    assert_eq!(config.test_cases(), vec![("m", "t")]);
}
