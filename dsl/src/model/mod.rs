//! The validated form of an ASL state machine. Built only by
//! [`StateMachine::from_value`], so every value here has passed validation:
//! paths are compiled, every `Next` names a state of its scope, every retrier
//! is in range.

pub(crate) mod fields;
mod graph;
mod parse;
mod parse_states;

use serde_json::Value;
use std::collections::HashMap;

use crate::choice::ChoiceBranch;
use crate::error::Problems;
use crate::intrinsic::Intrinsic;
use crate::path::Path;
use crate::retry::{Catcher, Retrier};
use crate::template::Template;

/// Maximum length of a state name, as on AWS.
pub const MAX_STATE_NAME_LEN: usize = 80;

/// A validated workflow definition.
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub comment: Option<String>,
    /// The top-level states.
    pub scope: Scope,
    /// Whole-execution timeout (`TimeoutSeconds`).
    pub timeout_seconds: Option<u64>,
    /// True when some path or intrinsic reads the context object (`$$`), so
    /// the interpreter only maintains it when it can be observed.
    pub uses_context: bool,
    /// The definition as written (for display and storage).
    pub definition: Value,
}

impl StateMachine {
    /// Parse and validate a definition given as JSON text.
    pub fn from_json(text: &str) -> Result<StateMachine, Problems> {
        match serde_json::from_str::<Value>(text) {
            // The parsed document becomes the machine's `definition` as is.
            Ok(v) => parse::state_machine(std::borrow::Cow::Owned(v)),
            Err(e) => {
                let mut p = Problems::default();
                p.push("", format!("the definition is not valid JSON: {e}"));
                Err(p)
            }
        }
    }

    /// Parse and validate a definition; every problem is reported at once.
    pub fn from_value(value: &Value) -> Result<StateMachine, Problems> {
        parse::state_machine(std::borrow::Cow::Borrowed(value))
    }

    /// Every state in every scope, with its JSON pointer (for tools and the console).
    pub fn all_states(&self) -> Vec<(&str, &State)> {
        let mut out = Vec::new();
        self.scope.collect(&mut out);
        out
    }
}

/// A set of states with a start: the top level, a Parallel branch, or a Map
/// iterator.
#[derive(Debug, Clone)]
pub struct Scope {
    pub start_at: String,
    pub states: Vec<State>,
    index: HashMap<String, usize>,
}

impl Scope {
    pub(crate) fn new(start_at: String, states: Vec<State>) -> Scope {
        let index = states
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        Scope {
            start_at,
            states,
            index,
        }
    }
    /// The state named `name` in this scope.
    pub fn get(&self, name: &str) -> Option<&State> {
        self.index.get(name).map(|&i| &self.states[i])
    }
    /// The index of `name` in [`Scope::states`].
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
    fn collect<'a>(&'a self, out: &mut Vec<(&'a str, &'a State)>) {
        for s in &self.states {
            out.push((s.name.as_str(), s));
            match &s.kind {
                StateKind::Parallel(p) => p.branches.iter().for_each(|b| b.collect(out)),
                StateKind::Map(m) => m.processor.collect(out),
                _ => {}
            }
        }
    }
}

/// Where a state goes when it completes normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Next(String),
    End,
}

/// `InputPath` / `OutputPath`: absent means `$`, `null` means `{}`.
#[derive(Debug, Clone, Default)]
pub enum DataPath {
    #[default]
    Whole,
    Null,
    Path(Path),
}

/// `ResultPath`: absent means `$` (result replaces input), `null` means the
/// result is discarded and the input passes through.
#[derive(Debug, Clone, Default)]
pub enum ResultPath {
    #[default]
    Replace,
    Discard,
    At(Path),
}

/// A value given literally or read from a path (e.g. `TimeoutSeconds` and
/// `TimeoutSecondsPath`).
#[derive(Debug, Clone)]
pub enum Dynamic<T> {
    Fixed(T),
    Path(Path),
}

/// A string given literally, by path, or by intrinsic (`Fail.Error`/`ErrorPath`).
#[derive(Debug, Clone)]
pub enum StringSource {
    Fixed(String),
    Path(Path),
    Intrinsic(Intrinsic),
}

/// One state.
#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub comment: Option<String>,
    pub input_path: DataPath,
    pub output_path: DataPath,
    /// `None` for Choice, Succeed and Fail, which have no Next/End.
    pub transition: Option<Transition>,
    pub kind: StateKind,
}

impl State {
    /// The ASL type name (`"Task"`, `"Pass"`, …).
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            StateKind::Pass(_) => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

#[derive(Debug, Clone)]
pub enum StateKind {
    Pass(PassState),
    Task(TaskState),
    Choice(ChoiceState),
    Wait(WaitState),
    Succeed,
    Fail(FailState),
    Parallel(ParallelState),
    Map(MapState),
}

#[derive(Debug, Clone)]
pub struct PassState {
    pub result: Option<Value>,
    pub parameters: Option<Template>,
    pub result_path: ResultPath,
}

/// What a state does with its raw result: shared by Task, Parallel and Map.
#[derive(Debug, Clone, Default)]
pub struct ResultHandling {
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Debug, Clone)]
pub struct TaskState {
    /// The resource as written, e.g. `sluice:function:resize`.
    pub resource: String,
    /// True when the resource ends in `.waitForTaskToken`.
    pub wait_for_task_token: bool,
    pub parameters: Option<Template>,
    pub result: ResultHandling,
    /// Seconds; AWS's default for a Task is 99999999.
    pub timeout_seconds: Option<Dynamic<u64>>,
    pub heartbeat_seconds: Option<Dynamic<u64>>,
}

#[derive(Debug, Clone)]
pub struct ChoiceState {
    pub choices: Vec<ChoiceBranch>,
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub enum WaitState {
    Seconds(u64),
    Timestamp(chrono::DateTime<chrono::FixedOffset>),
    SecondsPath(Path),
    TimestampPath(Path),
}

#[derive(Debug, Clone)]
pub struct FailState {
    pub error: Option<StringSource>,
    pub cause: Option<StringSource>,
}

#[derive(Debug, Clone)]
pub struct ParallelState {
    pub branches: Vec<Scope>,
    pub parameters: Option<Template>,
    pub result: ResultHandling,
}

#[derive(Debug, Clone)]
pub struct MapState {
    pub processor: Scope,
    pub items_path: Option<Path>,
    /// `ItemSelector`, or the legacy `Parameters`.
    pub item_selector: Option<Template>,
    /// 0 means no limit.
    pub max_concurrency: Dynamic<u64>,
    pub tolerated_failure_count: Option<Dynamic<u64>>,
    pub tolerated_failure_percentage: Option<Dynamic<f64>>,
    pub result: ResultHandling,
}
