//! Mocked Task responses in the AWS Step Functions Local format
//! (`MockConfigFile.json`), so a workflow's paths — happy, retried, caught —
//! can be run locally without calling a single function.
//!
//! ```json
//! { "StateMachines": { "order-pipeline": { "TestCases": {
//!       "HappyPath": { "ChargePayment": "ChargeOk" } } } },
//!   "MockedResponses": { "ChargeOk": {
//!       "0":   { "Throw": { "Error": "Timeout", "Cause": "slow" } },
//!       "1-2": { "Return": { "charged": true } } } } }
//! ```
//!
//! A test case maps Task state names to mocked responses; a mocked response
//! maps the 0-based invocation number of that state (counted across retries
//! and Map iterations) — one number or an inclusive range — to either a
//! `Return` (the task result) or a `Throw` (an error name and cause). AWS's
//! documentation requires a response for every invocation of a mocked state,
//! so gaps and overlaps are definition problems here, and an invocation past
//! the last range fails the execution.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{pointer_token, Problems, StatesError};

/// A parsed and validated mock configuration file.
#[derive(Debug, Clone, Default)]
pub struct MockConfig {
    /// state machine → test case → Task state → name of its mocked response.
    machines: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    /// Mocked responses by name, shared with the test cases that use them.
    responses: BTreeMap<String, Arc<MockedResponse>>,
}

/// What one invocation of a mocked Task state yields.
#[derive(Debug, Clone, PartialEq)]
pub enum MockResponse {
    /// The task succeeded with this result.
    Return(Value),
    /// The task failed with this ASL error name and cause (Retry and Catch see it).
    Throw { error: String, cause: String },
}

impl MockResponse {
    /// The response as a task outcome, ready to hand back from a `Host`.
    pub fn to_result(&self) -> Result<Value, StatesError> {
        match self {
            MockResponse::Return(v) => Ok(v.clone()),
            MockResponse::Throw { error, cause } => {
                Err(StatesError::new(error.clone(), cause.clone()))
            }
        }
    }
}

/// One mocked response: invocation ranges, sorted and non-overlapping.
#[derive(Debug, Clone, PartialEq)]
struct MockedResponse {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    /// First and last invocation covered, both inclusive, 0-based.
    first: u32,
    last: u32,
    response: MockResponse,
}

/// The mocks of one test case of one state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    machine: String,
    name: String,
    states: BTreeMap<String, (String, Arc<MockedResponse>)>,
}

impl TestCase {
    /// The state machine this test case belongs to.
    pub fn state_machine(&self) -> &str {
        &self.machine
    }

    /// The test case's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Names of the mocked states.
    pub fn states(&self) -> impl Iterator<Item = &str> {
        self.states.keys().map(String::as_str)
    }

    /// Response for the `invocation`-th (0-based, counted per state across
    /// retries and Map iterations) call of `state`. `None` when the state is
    /// not mocked in this test case (the caller runs the real task). When it
    /// is mocked but no range covers `invocation`, `Some(Err(message))`: AWS
    /// fails the execution then, and so should the caller (`States.Runtime`).
    pub fn response(&self, state: &str, invocation: u32) -> Option<Result<&MockResponse, String>> {
        let (response_name, mocked) = self.states.get(state)?;
        let found = mocked
            .entries
            .iter()
            .find(|e| e.first <= invocation && invocation <= e.last);
        Some(match found {
            Some(entry) => Ok(&entry.response),
            None => {
                let covered: Vec<String> = mocked.entries.iter().map(range_text).collect();
                Err(format!(
                    "test case '{}' mocks state '{state}' with '{response_name}', which has no response for \
                     invocation {invocation} (0-based; it covers {}): add \"{invocation}\" or widen a range in \
                     MockedResponses.{response_name}",
                    self.name,
                    covered.join(", ")
                ))
            }
        })
    }
}

fn range_text(e: &Entry) -> String {
    if e.first == e.last {
        e.first.to_string()
    } else {
        format!("{}-{}", e.first, e.last)
    }
}

impl MockConfig {
    /// Parse a mock configuration from JSON text.
    pub fn from_json(text: &str) -> Result<MockConfig, Problems> {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => MockConfig::from_value(&v),
            Err(e) => {
                let mut problems = Problems::default();
                problems.push("", format!("not valid JSON: {e}"));
                Err(problems)
            }
        }
    }

    /// Parse and validate a mock configuration. Every problem is reported,
    /// each with a JSON pointer into `v`.
    pub fn from_value(v: &Value) -> Result<MockConfig, Problems> {
        let mut problems = Problems::default();
        let mut config = MockConfig::default();
        let Some(root) = v.as_object() else {
            problems.push("", "a mock configuration must be a JSON object with \"StateMachines\" and \"MockedResponses\"");
            return Err(problems);
        };
        for key in root.keys() {
            if key != "StateMachines" && key != "MockedResponses" {
                unknown_key(
                    &mut problems,
                    "",
                    key,
                    &["StateMachines", "MockedResponses"],
                );
            }
        }
        match root.get("MockedResponses") {
            None => problems.push(
                "",
                "missing \"MockedResponses\": add an object of named mocked responses",
            ),
            Some(value) => match value.as_object() {
                None => problems.push(
                    "/MockedResponses",
                    "must be an object mapping response names to responses",
                ),
                Some(responses) => {
                    for (name, value) in responses {
                        let pointer = format!("/MockedResponses/{}", pointer_token(name));
                        if let Some(parsed) = parse_mocked_response(value, &pointer, &mut problems)
                        {
                            config.responses.insert(name.clone(), Arc::new(parsed));
                        }
                    }
                }
            },
        }
        let declared: Option<&Map<String, Value>> =
            root.get("MockedResponses").and_then(Value::as_object);
        match root.get("StateMachines") {
            None => problems.push(
                "",
                "missing \"StateMachines\": add {\"<state machine name>\": {\"TestCases\": {...}}}",
            ),
            Some(value) => match value.as_object() {
                None => problems.push(
                    "/StateMachines",
                    "must be an object mapping state machine names to their test cases",
                ),
                Some(machines) => {
                    for (machine, value) in machines {
                        let pointer = format!("/StateMachines/{}", pointer_token(machine));
                        let cases = parse_machine(value, &pointer, declared, &mut problems);
                        config.machines.insert(machine.clone(), cases);
                    }
                }
            },
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// Every `(state machine, test case)` pair in the file, sorted.
    pub fn test_cases(&self) -> Vec<(&str, &str)> {
        self.machines
            .iter()
            .flat_map(|(m, cases)| cases.keys().map(move |c| (m.as_str(), c.as_str())))
            .collect()
    }

    /// The test case `case` for state machine `machine`; if `machine` has no
    /// such case but exactly one state machine in the file has it, that one
    /// (so a file whose machine is named differently from the workflow file
    /// still works). `Err(message)` lists the available test cases.
    pub fn test_case(&self, machine: &str, case: &str) -> Result<TestCase, String> {
        let chosen = match self.machines.get(machine).and_then(|cases| cases.get(case)) {
            Some(states) => Some((machine, states)),
            None => {
                let holders: Vec<(&String, &BTreeMap<String, String>)> = self
                    .machines
                    .iter()
                    .filter_map(|(m, cases)| cases.get(case).map(|states| (m, states)))
                    .collect();
                match holders.as_slice() {
                    [(m, states)] => Some((m.as_str(), *states)),
                    [] => None,
                    several => {
                        let names: Vec<String> =
                            several.iter().map(|(m, _)| format!("'{m}'")).collect();
                        return Err(format!(
                            "test case '{case}' is not defined for state machine '{machine}', and {} state machines \
                             define it ({}): rename the state machine in the mock file to '{machine}'",
                            several.len(),
                            names.join(", ")
                        ));
                    }
                }
            }
        };
        let Some((machine, states)) = chosen else {
            let available: Vec<String> = self
                .test_cases()
                .iter()
                .map(|(m, c)| format!("{m}/{c}"))
                .collect();
            return Err(if available.is_empty() {
                format!("no test case '{case}': the mock file defines no test cases")
            } else {
                format!(
                    "no test case '{case}' for state machine '{machine}'; available: {}",
                    available.join(", ")
                )
            });
        };
        let mut mocked = BTreeMap::new();
        for (state, response_name) in states {
            // Validation guarantees every referenced response exists.
            if let Some(response) = self.responses.get(response_name) {
                mocked.insert(state.clone(), (response_name.clone(), Arc::clone(response)));
            }
        }
        Ok(TestCase {
            machine: machine.to_string(),
            name: case.to_string(),
            states: mocked,
        })
    }
}

/// `{"TestCases": {case: {state: response name}}}`
fn parse_machine(
    value: &Value,
    pointer: &str,
    declared: Option<&Map<String, Value>>,
    problems: &mut Problems,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut cases = BTreeMap::new();
    let Some(object) = value.as_object() else {
        problems.push(
            pointer,
            "must be an object with a single field \"TestCases\"",
        );
        return cases;
    };
    for key in object.keys() {
        if key != "TestCases" {
            unknown_key(problems, pointer, key, &["TestCases"]);
        }
    }
    let Some(test_cases) = object.get("TestCases") else {
        problems.push(pointer, "missing \"TestCases\": add {\"<test case name>\": {\"<Task state>\": \"<mocked response>\"}}");
        return cases;
    };
    let pointer = format!("{pointer}/TestCases");
    let Some(test_cases) = test_cases.as_object() else {
        problems.push(
            pointer,
            "must be an object mapping test case names to their mocked states",
        );
        return cases;
    };
    for (case, states) in test_cases {
        let pointer = format!("{pointer}/{}", pointer_token(case));
        let Some(states) = states.as_object() else {
            problems.push(
                pointer,
                "a test case must be an object mapping Task state names to mocked response names",
            );
            continue;
        };
        let mut mocked = BTreeMap::new();
        for (state, response) in states {
            let pointer = format!("{pointer}/{}", pointer_token(state));
            let Some(response) = response.as_str() else {
                problems.push(pointer, "must be the name of a mocked response (a string)");
                continue;
            };
            // Only report a missing name when MockedResponses itself is usable,
            // to avoid one complaint per reference about a single root cause.
            if let Some(declared) = declared {
                if !declared.contains_key(response) {
                    let mut names: Vec<&str> = declared.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    let hint = if names.is_empty() {
                        "MockedResponses is empty".to_string()
                    } else {
                        format!("defined: {}", names.join(", "))
                    };
                    problems.push(
                        pointer,
                        format!(
                            "no mocked response named '{response}' in MockedResponses ({hint})"
                        ),
                    );
                    continue;
                }
            }
            mocked.insert(state.clone(), response.to_string());
        }
        cases.insert(case.clone(), mocked);
    }
    cases
}

/// `{"0": {"Return": ...}, "1-2": {"Throw": {...}}}`
fn parse_mocked_response(
    value: &Value,
    pointer: &str,
    problems: &mut Problems,
) -> Option<MockedResponse> {
    let Some(object) = value.as_object() else {
        problems.push(
            pointer,
            "a mocked response must be an object such as {\"0\": {\"Return\": {...}}}",
        );
        return None;
    };
    if object.is_empty() {
        problems.push(
            pointer,
            "a mocked response needs at least one entry: add \"0\": {\"Return\": ...}",
        );
        return None;
    }
    let before = problems.len();
    // (first, last, key) of every well-formed key, for the overlap and gap checks.
    let mut entries = Vec::new();
    for (key, entry) in object {
        let entry_pointer = format!("{pointer}/{}", pointer_token(key));
        let range = match parse_range(key) {
            Ok(range) => Some(range),
            Err(message) => {
                problems.push(entry_pointer.clone(), message);
                None
            }
        };
        let response = parse_entry(entry, &entry_pointer, problems);
        if let (Some((first, last)), Some(response)) = (range, response) {
            entries.push((
                Entry {
                    first,
                    last,
                    response,
                },
                key.as_str(),
            ));
        }
    }
    entries.sort_by_key(|(e, _)| (e.first, e.last));
    let mut next: u64 = 0; // first invocation not yet covered
    let mut previous: Option<(&Entry, &str)> = None;
    for (entry, key) in &entries {
        if let Some((prev, prev_key)) = previous {
            if entry.first <= prev.last {
                problems.push(
                    format!("{pointer}/{}", pointer_token(key)),
                    format!(
                        "\"{key}\" overlaps \"{prev_key}\" (invocation {} is covered twice): give each invocation \
                         exactly one response",
                        entry.first
                    ),
                );
            }
        }
        if u64::from(entry.first) > next {
            let last_missing = u64::from(entry.first) - 1;
            let missing = if last_missing == next {
                next.to_string()
            } else {
                format!("{next}-{last_missing}")
            };
            problems.push(
                pointer,
                format!(
                    "no response for invocation {missing}: AWS requires a response for every invocation of a \
                     mocked state, so add \"{missing}\" or widen a range"
                ),
            );
        }
        next = next.max(u64::from(entry.last) + 1);
        previous = Some((entry, key));
    }
    if problems.len() > before {
        return None;
    }
    Some(MockedResponse {
        entries: entries.into_iter().map(|(e, _)| e).collect(),
    })
}

/// `"3"` → (3, 3); `"1-2"` → (1, 2).
fn parse_range(key: &str) -> Result<(u32, u32), String> {
    let bad = || {
        format!(
            "'{key}' is not an invocation number or range: use a 0-based number such as \"0\" or an inclusive \
             range such as \"1-2\""
        )
    };
    let number = |text: &str| -> Result<u32, String> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        text.parse::<u32>().map_err(|_| {
            format!(
                "invocation number {text} in '{key}' is too large (at most {})",
                u32::MAX
            )
        })
    };
    match key.split_once('-') {
        None => number(key).map(|n| (n, n)),
        Some((first, last)) => {
            let (first, last) = (number(first)?, number(last)?);
            if first > last {
                return Err(format!(
                    "range '{key}' runs backwards: write \"{last}-{first}\""
                ));
            }
            Ok((first, last))
        }
    }
}

/// `{"Return": value}` or `{"Throw": {"Error": "...", "Cause": "..."}}`.
fn parse_entry(value: &Value, pointer: &str, problems: &mut Problems) -> Option<MockResponse> {
    let Some(object) = value.as_object() else {
        problems.push(
            pointer,
            "must be an object with a single field \"Return\" (the result) or \"Throw\" (an error)",
        );
        return None;
    };
    for key in object.keys() {
        if key != "Return" && key != "Throw" {
            unknown_key(problems, pointer, key, &["Return", "Throw"]);
        }
    }
    match (object.get("Return"), object.get("Throw")) {
        (Some(_), Some(_)) => {
            problems.push(pointer, "has both \"Return\" and \"Throw\": an invocation either succeeds or fails, keep one");
            None
        }
        (None, None) => {
            problems.push(pointer, "needs \"Return\" (the task result) or \"Throw\" ({\"Error\": ..., \"Cause\": ...})");
            None
        }
        (Some(result), None) => Some(MockResponse::Return(result.clone())),
        (None, Some(throw)) => parse_throw(throw, &format!("{pointer}/Throw"), problems),
    }
}

fn parse_throw(value: &Value, pointer: &str, problems: &mut Problems) -> Option<MockResponse> {
    let Some(object) = value.as_object() else {
        problems.push(
            pointer,
            "must be an object {\"Error\": \"<error name>\", \"Cause\": \"<message>\"}",
        );
        return None;
    };
    let before = problems.len();
    for key in object.keys() {
        if key != "Error" && key != "Cause" {
            unknown_key(problems, pointer, key, &["Error", "Cause"]);
        }
    }
    let error = match object.get("Error") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::String(_)) => {
            problems.push(
                format!("{pointer}/Error"),
                "must not be empty: name the error, e.g. \"Lambda.TimeoutException\"",
            );
            None
        }
        Some(_) => {
            problems.push(
                format!("{pointer}/Error"),
                "must be a string: the error name Retry and Catch match on",
            );
            None
        }
        None => {
            problems.push(
                pointer,
                "missing \"Error\": the error name Retry and Catch match on",
            );
            None
        }
    };
    // AWS documents Cause as required; a missing one is accepted as "" since
    // runtime errors may have no cause, but a non-string is a mistake.
    let cause = match object.get("Cause") {
        None => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            problems.push(
                format!("{pointer}/Cause"),
                "must be a string describing the failure",
            );
            None
        }
    };
    match (error, cause) {
        (Some(error), Some(cause)) if problems.len() == before => {
            Some(MockResponse::Throw { error, cause })
        }
        _ => None,
    }
}

/// Report an unknown field, suggesting the known one it most likely meant.
fn unknown_key(problems: &mut Problems, pointer: &str, key: &str, allowed: &[&str]) {
    let lower = key.to_ascii_lowercase();
    let guess = allowed.iter().find(|a| {
        let a = a.to_ascii_lowercase();
        a == lower || a.trim_end_matches('s') == lower.trim_end_matches('s')
    });
    let expected: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
    let message = match guess {
        Some(g) => format!("unknown field \"{key}\": did you mean \"{g}\"?"),
        None => format!(
            "unknown field \"{key}\": expected {}",
            expected.join(" or ")
        ),
    };
    problems.push(format!("{pointer}/{}", pointer_token(key)), message);
}

#[cfg(test)]
mod tests;
