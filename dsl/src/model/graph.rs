//! Checks on the shape of one scope: every `Next` names a state of the same
//! scope, every state is reachable from `StartAt`, and the scope can end.

use std::collections::HashSet;

use super::{Scope, StateKind, Transition};
use crate::error::{pointer_token, Problems};

/// Every state a state may go to next, with the field that names it.
fn successors(kind: &StateKind, transition: &Option<Transition>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(Transition::Next(n)) = transition {
        out.push(("Next".to_string(), n.clone()));
    }
    let catchers = match kind {
        StateKind::Task(t) => &t.result.catch[..],
        StateKind::Parallel(p) => &p.result.catch[..],
        StateKind::Map(m) => &m.result.catch[..],
        _ => &[],
    };
    for (i, c) in catchers.iter().enumerate() {
        out.push((format!("Catch/{i}/Next"), c.next.clone()));
    }
    if let StateKind::Choice(c) = kind {
        for (i, b) in c.choices.iter().enumerate() {
            out.push((format!("Choices/{i}/Next"), b.next.clone()));
        }
        if let Some(d) = &c.default {
            out.push(("Default".to_string(), d.clone()));
        }
    }
    out
}

/// `declared` tells whether a name is a state of this scope (including states
/// that failed to parse); reachability and termination are only judged when
/// `complete` (every state parsed), so one bad state does not cascade.
pub(super) fn check(
    scope: &Scope,
    declared: &dyn Fn(&str) -> bool,
    complete: bool,
    scope_ptr: &str,
    states_ptr: &str,
    problems: &mut Problems,
) {
    let state_ptr = |name: &str| format!("{states_ptr}/{}", pointer_token(name));
    let mut dangling = false;
    for s in &scope.states {
        for (field, target) in successors(&s.kind, &s.transition) {
            if !declared(&target) {
                dangling = true;
                problems.push(
                    format!("{}/{field}", state_ptr(&s.name)),
                    format!(
                        "'{target}' is not a state in this scope; a transition can only go to a state in the same 'States' object (Parallel branches and Map iterators are separate scopes)"
                    ),
                );
            }
        }
    }
    if !complete {
        return;
    }
    // Reachability from StartAt.
    let mut seen = HashSet::new();
    let mut stack = vec![scope.start_at.clone()];
    while let Some(name) = stack.pop() {
        let Some(s) = scope.get(&name) else { continue };
        if !seen.insert(name) {
            continue;
        }
        for (_, target) in successors(&s.kind, &s.transition) {
            stack.push(target);
        }
    }
    for s in &scope.states {
        if !seen.contains(&s.name) {
            problems.push(
                state_ptr(&s.name),
                format!(
                    "state '{}' is unreachable: no Next, Default, Choice or Catch leads to it from StartAt '{}'; connect it or remove it",
                    s.name, scope.start_at
                ),
            );
        }
    }
    let terminal = scope.states.iter().any(|s| {
        matches!(s.transition, Some(Transition::End))
            || matches!(s.kind, StateKind::Succeed | StateKind::Fail(_))
    });
    if !terminal && !dangling {
        problems.push(
            scope_ptr.to_string() + "/States",
            "no terminal state: add \"End\": true to a state, or a Succeed or Fail state, so executions can finish",
        );
    }
}
