//! Workflow variables, kept durably: each frame's own scope is one record
//! (`g/{execution}/{frame}`), written in the same batch as the transition
//! that assigned it, so a crash between states loses none. A frame reads
//! its own scope and those of the Parallel/Map frames it runs inside
//! (`Frame::scopes`); a Distributed Map's child execution starts with none.

use serde_json::{Map, Value};

use super::Machine;
use crate::error::EngineError;
use crate::records::Frame;
use crate::store::keys;
use sluice_dsl::vars::{Assigned, Scopes};
use sluice_dsl::{StateMachine, StatesError};

impl Machine<'_> {
    /// The variables a state of `frame` reads, outermost scope first.
    pub(super) fn scopes(
        &self,
        execution: &str,
        machine: &StateMachine,
        frame: &Frame,
    ) -> Result<Scopes, EngineError> {
        if !machine.uses_variables {
            return Ok(Scopes::default());
        }
        let mut out = Vec::with_capacity(frame.scopes.len() + 1);
        for id in frame.scopes.iter().chain(std::iter::once(&frame.id)) {
            let scope: Option<Map<String, Value>> =
                self.tx.get(&keys::variables(execution, *id))?;
            out.push(scope.unwrap_or_default());
        }
        Ok(Scopes(out))
    }

    /// Apply what a state assigned to the frame's own scope. The inner
    /// `Err` is the state's failure (a limit passed).
    pub(super) fn assign(
        &mut self,
        execution: &str,
        frame: &Frame,
        state: &str,
        assigned: Assigned,
    ) -> Result<Result<(), StatesError>, EngineError> {
        let key = keys::variables(execution, frame.id);
        let mut scope: Map<String, Value> = self.tx.get(&key)?.unwrap_or_default();
        if let Err(e) = sluice_dsl::vars::apply(state, &mut scope, assigned) {
            return Ok(Err(e));
        }
        self.tx.put(key, &scope)?;
        Ok(Ok(()))
    }

    /// A frame ended: its scope goes with it.
    pub(super) fn drop_scope(&mut self, execution: &str, frame: u64) {
        self.tx.remove(keys::variables(execution, frame));
    }
}

/// How history shows what a state assigned: each value as JSON text, as
/// Step Functions' `assignedVariables` does.
pub(super) fn assigned_for_history(assigned: &Assigned) -> Value {
    Value::Object(
        assigned
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect(),
    )
}
