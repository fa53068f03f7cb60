//! AWS: "Attempting to access `$states.result` or `$states.errorOutput` in
//! fields and states where they are not accessible will be caught at
//! creation, update, or validation of the state machine." `$states.result`
//! exists in the `Output` and `Assign` of a Task, Parallel or Map (after it
//! ran); `$states.errorOutput` only in a catcher's `Output` and `Assign`.

use super::{Dynamic, MapState, Shape, State, StateKind, StringSource, WaitState};
use crate::error::{child_pointer, Problems};
use crate::query::{JTemplate, JsonataField};

const RESULT: &str = "$states.result";
const ERROR_OUTPUT: &str = "$states.errorOutput";

/// What a field may read of `$states`.
#[derive(Clone, Copy)]
struct Allowed {
    result: bool,
    error_output: bool,
}

const NEITHER: Allowed = Allowed {
    result: false,
    error_output: false,
};

fn check_expr(e: &JsonataField, at: &str, allowed: Allowed, problems: &mut Problems) {
    let src = e.expr.source();
    for (name, ok, hint) in [
        (
            RESULT,
            allowed.result,
            "it exists only in the Output and Assign of a Task, Parallel or Map state",
        ),
        (
            ERROR_OUTPUT,
            allowed.error_output,
            "it exists only in the Output and Assign of a Catch",
        ),
    ] {
        if !ok && src.contains(name) {
            problems.push(
                at,
                format!("{name} cannot be read in '{}': {hint}", e.field),
            );
        }
    }
}

fn check_template(t: &JTemplate, at: &str, allowed: Allowed, problems: &mut Problems) {
    for e in t.expressions() {
        check_expr(e, at, allowed, problems);
    }
}

fn check_shape(s: Option<&Shape>, at: &str, allowed: Allowed, problems: &mut Problems) {
    if let Some(Shape::Jsonata(t)) = s {
        check_template(t, at, allowed, problems);
    }
}

fn check_dynamic<T>(d: Option<&Dynamic<T>>, at: &str, problems: &mut Problems) {
    if let Some(Dynamic::Jsonata(e)) = d {
        check_expr(e, at, NEITHER, problems);
    }
}

/// Check the JSONata fields of `state` (at pointer `ptr`).
pub(super) fn check(state: &State, ptr: &str, problems: &mut Problems) {
    let ran = matches!(
        state.kind,
        StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_)
    );
    let after = Allowed {
        result: ran,
        error_output: false,
    };
    if let Some(o) = &state.output {
        check_template(o, &child_pointer(ptr, "Output"), after, problems);
    }
    check_shape(
        state.assign.as_ref(),
        &child_pointer(ptr, "Assign"),
        after,
        problems,
    );
    let catchers = match &state.kind {
        StateKind::Task(t) => {
            check_shape(
                t.parameters.as_ref(),
                &child_pointer(ptr, "Arguments"),
                NEITHER,
                problems,
            );
            check_dynamic(
                t.timeout_seconds.as_ref(),
                &child_pointer(ptr, "TimeoutSeconds"),
                problems,
            );
            check_dynamic(
                t.heartbeat_seconds.as_ref(),
                &child_pointer(ptr, "HeartbeatSeconds"),
                problems,
            );
            &t.result.catch[..]
        }
        StateKind::Parallel(p) => {
            check_shape(
                p.parameters.as_ref(),
                &child_pointer(ptr, "Arguments"),
                NEITHER,
                problems,
            );
            &p.result.catch[..]
        }
        StateKind::Map(m) => {
            check_map(m, ptr, problems);
            &m.result.catch[..]
        }
        StateKind::Choice(c) => {
            for (i, b) in c.choices.iter().enumerate() {
                let at = format!("{}/{i}", child_pointer(ptr, "Choices"));
                if let crate::choice::Condition::Jsonata(e) = &b.condition {
                    check_expr(e, &at, NEITHER, problems);
                }
                if let Some(o) = &b.output {
                    check_template(o, &at, NEITHER, problems);
                }
                check_shape(b.assign.as_ref(), &at, NEITHER, problems);
            }
            &[]
        }
        StateKind::Wait(WaitState::SecondsExpr(e) | WaitState::TimestampExpr(e)) => {
            check_expr(e, ptr, NEITHER, problems);
            &[]
        }
        StateKind::Fail(f) => {
            for s in [&f.error, &f.cause].into_iter().flatten() {
                if let StringSource::Jsonata(e) = s {
                    check_expr(e, ptr, NEITHER, problems);
                }
            }
            &[]
        }
        _ => &[],
    };
    let in_catch = Allowed {
        result: false,
        error_output: true,
    };
    for (i, c) in catchers.iter().enumerate() {
        let at = format!("{}/{i}", child_pointer(ptr, "Catch"));
        if let Some(o) = &c.output {
            check_template(o, &at, in_catch, problems);
        }
        check_shape(c.assign.as_ref(), &at, in_catch, problems);
    }
}

fn check_map(m: &MapState, ptr: &str, problems: &mut Problems) {
    if let Some(items) = &m.items {
        check_template(items, &child_pointer(ptr, "Items"), NEITHER, problems);
    }
    check_shape(
        m.item_selector.as_ref(),
        &child_pointer(ptr, "ItemSelector"),
        NEITHER,
        problems,
    );
    check_dynamic(
        Some(&m.max_concurrency),
        &child_pointer(ptr, "MaxConcurrency"),
        problems,
    );
    check_dynamic(
        m.tolerated_failure_count.as_ref(),
        &child_pointer(ptr, "ToleratedFailureCount"),
        problems,
    );
    check_dynamic(
        m.tolerated_failure_percentage.as_ref(),
        &child_pointer(ptr, "ToleratedFailurePercentage"),
        problems,
    );
    if let Some(b) = &m.item_batcher {
        check_shape(
            b.batch_input.as_ref(),
            &child_pointer(ptr, "ItemBatcher"),
            NEITHER,
            problems,
        );
    }
    if let Some(r) = &m.item_reader {
        check_shape(
            r.parameters.as_ref(),
            &child_pointer(ptr, "ItemReader"),
            NEITHER,
            problems,
        );
    }
    if let Some(w) = &m.result_writer {
        check_shape(
            w.parameters.as_ref(),
            &child_pointer(ptr, "ResultWriter"),
            NEITHER,
            problems,
        );
    }
}
