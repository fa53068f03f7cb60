//! `GET /api/v1/workflows/{name}/graph[?version=N]`: a workflow definition
//! as the graph the console draws — states as nodes, transitions as typed
//! edges, Parallel branches and Map iterators as nested scopes. The browser
//! only lays it out (assets/graph-layout.js).
//!
//! Read from the raw JSON (as `sluice_dsl`'s scope checks do) so that any
//! stored definition draws, whatever fields a later version adds.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::AppState;

/// The query of the graph route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphParams {
    version: Option<u64>,
}

/// `{"name", "version", "graph": Scope}`.
pub async fn graph(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<GraphParams>,
) -> Result<Json<Value>, ApiError> {
    let (version, definition) = match params.version {
        Some(v) => (v, state.engine.workflow_version(&name, v)?),
        None => {
            let w = state.engine.workflow(&name)?;
            (w.latest_version, w.definition)
        }
    };
    Ok(Json(
        json!({"name": name, "version": version, "graph": scope(&definition)}),
    ))
}

/// One scope (the top level, a Parallel branch or a Map iterator):
/// `{"startAt", "states": [{"name","type","end","resource"?,"branches"?}],
/// "edges": [{"from","to","kind"}]}` with `kind` one of `next`, `choice`,
/// `default`, `catch`. Edges to states missing from the scope are left out.
pub fn scope(definition: &Value) -> Value {
    let empty = Map::new();
    let states = definition
        .get("States")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut nodes = Vec::with_capacity(states.len());
    let mut edges = Vec::new();
    for (name, s) in states {
        let kind = s.get("Type").and_then(Value::as_str).unwrap_or("Pass");
        let mut node = json!({
            "name": name,
            "type": kind,
            "end": s.get("End") == Some(&Value::Bool(true)) || matches!(kind, "Succeed" | "Fail"),
        });
        if let Some(r) = s.get("Resource").and_then(Value::as_str) {
            node["resource"] = json!(r);
        }
        let branches: Vec<Value> = match kind {
            "Parallel" => s
                .get("Branches")
                .and_then(Value::as_array)
                .map(|b| b.iter().map(scope).collect())
                .unwrap_or_default(),
            "Map" => s
                .get("ItemProcessor")
                .or_else(|| s.get("Iterator"))
                .map(|p| vec![scope(p)])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if !branches.is_empty() {
            node["branches"] = Value::Array(branches);
        }
        nodes.push(node);
        let mut edge = |to: Option<&str>, kind: &str| {
            if let Some(to) = to.filter(|t| states.contains_key(*t)) {
                edges.push(json!({"from": name, "to": to, "kind": kind}));
            }
        };
        edge(s.get("Next").and_then(Value::as_str), "next");
        edge(s.get("Default").and_then(Value::as_str), "default");
        for (list, kind) in [("Choices", "choice"), ("Catch", "catch")] {
            for item in s.get(list).and_then(Value::as_array).into_iter().flatten() {
                edge(item.get("Next").and_then(Value::as_str), kind);
            }
        }
    }
    json!({
        "startAt": definition.get("StartAt").and_then(Value::as_str),
        "states": nodes,
        "edges": edges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_of_every_kind_and_nested_scopes() {
        let def = json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "T"}], "Default": "P"},
            "T": {"Type": "Task", "Resource": "sluice:function:f", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}], "Next": "M"},
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}}], "End": true},
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true},
            "F": {"Type": "Fail"}
        }});
        let g = scope(&def);
        assert_eq!(g["startAt"], "C");
        let edges: Vec<(String, String, String)> = g["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap().to_string();
                (s("from"), s("to"), s("kind"))
            })
            .collect();
        let has = |f: &str, t: &str, k: &str| edges.contains(&(f.into(), t.into(), k.into()));
        assert!(has("C", "T", "choice") && has("C", "P", "default"));
        assert!(has("T", "F", "catch") && has("T", "M", "next"));
        assert_eq!(edges.len(), 4);
        let states = g["states"].as_array().unwrap();
        assert_eq!(states[2]["branches"][0]["states"][0]["name"], "B1");
        assert_eq!(states[3]["branches"][0]["states"][0]["name"], "I");
        assert_eq!(states[4]["end"], true);
        assert_eq!(states[1]["resource"], "sluice:function:f");
    }
}
