//! The validated form of an ASL state machine. Built only by
//! [`StateMachine::from_value`], so every value here has passed validation:
//! paths are compiled, every `Next` names a state of its scope, every retrier
//! is in range.

mod distributed;
pub(crate) mod fields;
mod graph;
mod jsonata_refs;
mod parse;
mod parse_common;
mod parse_distributed;
mod parse_errors;
mod parse_states;
mod scopes;

use serde_json::Value;
use std::collections::HashMap;

use crate::choice::ChoiceBranch;
use crate::error::Problems;
use crate::intrinsic::Intrinsic;
use crate::path::Path;
use crate::query::{JTemplate, JsonataField};
use crate::retry::{Catcher, Retrier};
use crate::template::Template;

pub use distributed::{
    CsvHeaders, ExecutionType, ItemBatcher, ItemReader, MapMode, ReaderFormat, ReaderSource,
    ResultWriter,
};

/// `Assign` of `obj` (for Choice rules, parsed in `choice`).
pub(crate) fn parse_assign(
    obj: &fields::Obj,
    ql: QueryLanguage,
    problems: &mut Problems,
) -> Option<Shape> {
    parse_common::assign(obj, ql, problems)
}

/// `Output` of `obj` (for JSONata Choice rules).
pub(crate) fn parse_output(obj: &fields::Obj, problems: &mut Problems) -> Option<JTemplate> {
    parse_common::output(obj, problems)
}

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
    /// True when some path or intrinsic reads the context object (`$$`, or
    /// `$states.context` in JSONata), so the interpreter only maintains it
    /// when it can be observed.
    pub uses_context: bool,
    /// True when some state assigns variables (`Assign`), so executions
    /// that cannot have any skip keeping them.
    pub uses_variables: bool,
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

    /// Refuse the definition if some Task's `Resource` cannot run on
    /// Sluice (what `workflow validate` and a deploy check on top of
    /// parsing; a `--local` run with mocks answers such tasks instead).
    pub fn check_runnable(&self) -> Result<(), Problems> {
        let problems = crate::resource::unrunnable(&self.definition);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Parse, validate and check that every resource can run.
    pub fn deployable(value: &Value) -> Result<StateMachine, Problems> {
        let m = StateMachine::from_value(value)?;
        m.check_runnable()?;
        Ok(m)
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

/// A value given literally, read from a path (e.g. `TimeoutSeconds` and
/// `TimeoutSecondsPath`), or computed by a JSONata expression
/// (`"TimeoutSeconds": "{% … %}"`).
#[derive(Debug, Clone)]
pub enum Dynamic<T> {
    Fixed(T),
    Path(Path),
    Jsonata(JsonataField),
}

/// A string given literally, by path, by intrinsic (`Fail.Error`/`ErrorPath`),
/// or by a JSONata expression.
#[derive(Debug, Clone)]
pub enum StringSource {
    Fixed(String),
    Path(Path),
    Intrinsic(Intrinsic),
    Jsonata(JsonataField),
}

/// The query language of a state (`QueryLanguage`, inherited from the top
/// level; JSONPath by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    #[default]
    JsonPath,
    Jsonata,
}

/// A value built per state from a template: `Parameters`/`ItemSelector`/
/// `Assign` in JSONPath states (`"name.$"` fields), `Arguments`/`Output`/
/// `ItemSelector`/`Assign` in JSONata states (`{% … %}` strings).
#[derive(Debug, Clone)]
pub enum Shape {
    Path(Template),
    Jsonata(JTemplate),
}

/// One state.
#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub comment: Option<String>,
    pub query_language: QueryLanguage,
    /// JSONPath states only (`Whole` in JSONata states).
    pub input_path: DataPath,
    /// JSONPath states only (`Whole` in JSONata states).
    pub output_path: DataPath,
    /// `Output` of a JSONata state; `None`: the default output (the result
    /// of a Task, Parallel or Map, otherwise the input).
    pub output: Option<JTemplate>,
    /// `Assign`: variables set when the state succeeds.
    pub assign: Option<Shape>,
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
    Map(Box<MapState>),
}

#[derive(Debug, Clone)]
pub struct PassState {
    pub result: Option<Value>,
    /// `Parameters` (JSONPath only).
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
    /// `Parameters` (JSONPath) or `Arguments` (JSONata).
    pub parameters: Option<Shape>,
    pub result: ResultHandling,
    /// Seconds; AWS's default for a Task is 99999999.
    pub timeout_seconds: Option<Dynamic<u64>>,
    pub heartbeat_seconds: Option<Dynamic<u64>>,
}

impl TaskState {
    /// True when `$$.Task.Token` exists for the task: a `.waitForTaskToken`
    /// resource, and (as executions recorded against AWS show) a `.sync` one.
    pub fn has_task_token(&self) -> bool {
        self.wait_for_task_token
            || self.resource.ends_with(".sync")
            || self.resource.ends_with(".sync:2")
    }
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
    /// `"Seconds": "{% … %}"` (JSONata).
    SecondsExpr(JsonataField),
    /// `"Timestamp": "{% … %}"` (JSONata).
    TimestampExpr(JsonataField),
}

#[derive(Debug, Clone)]
pub struct FailState {
    pub error: Option<StringSource>,
    pub cause: Option<StringSource>,
}

#[derive(Debug, Clone)]
pub struct ParallelState {
    pub branches: Vec<Scope>,
    /// `Parameters` (JSONPath) or `Arguments` (JSONata).
    pub parameters: Option<Shape>,
    pub result: ResultHandling,
}

#[derive(Debug, Clone)]
pub struct MapState {
    pub processor: Scope,
    /// `INLINE` or `DISTRIBUTED` (`ItemProcessor.ProcessorConfig.Mode`).
    pub mode: MapMode,
    /// `ItemsPath` (JSONPath).
    pub items_path: Option<Path>,
    /// `Items` (JSONata): an array, or an expression giving one.
    pub items: Option<JTemplate>,
    /// `ItemSelector`, or the legacy `Parameters`.
    pub item_selector: Option<Shape>,
    /// `ItemReader` (Distributed Map): the items come from a bucket.
    pub item_reader: Option<ItemReader>,
    /// `ItemBatcher` (Distributed Map): iterations take batches of items.
    pub item_batcher: Option<ItemBatcher>,
    /// `ResultWriter` (Distributed Map): the results go to a bucket.
    pub result_writer: Option<ResultWriter>,
    /// `Label` (Distributed Map): names the child executions.
    pub label: Option<String>,
    /// 0 means no limit.
    pub max_concurrency: Dynamic<u64>,
    pub tolerated_failure_count: Option<Dynamic<u64>>,
    pub tolerated_failure_percentage: Option<Dynamic<f64>>,
    pub result: ResultHandling,
}
