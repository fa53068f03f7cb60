//! PublishVersion, ListVersionsByFunction and the aliases.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

use super::*;
use crate::AppState;

/// PublishVersion: every change is a stored version already; this names
/// the latest.
pub async fn publish(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let doc = latest(&state, &name)?;
    let m = meta(&state, &name);
    ok(
        StatusCode::CREATED,
        configuration(
            &region(&headers),
            &doc,
            &m,
            &doc.version.to_string(),
            package_of(&state, &doc.body).as_ref(),
        ),
    )
}

pub async fn list_versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let latest_doc = latest(&state, &name)?;
    let m = meta(&state, &name);
    let region = region(&headers);
    let mut versions = vec![configuration(
        &region,
        &latest_doc,
        &m,
        "$LATEST",
        package_of(&state, &latest_doc.body).as_ref(),
    )];
    for d in state
        .engine
        .document_versions(FUNCTION_KIND, &name)
        .map_err(from_engine)?
    {
        versions.push(configuration(
            &region,
            &d,
            &m,
            &d.version.to_string(),
            package_of(&state, &d.body).as_ref(),
        ));
    }
    ok(StatusCode::OK, json!({"Versions": versions}))
}

/// An alias as CreateAlias, UpdateAlias and GetAlias answer it.
fn alias_answer(
    status: StatusCode,
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    alias: &str,
    version: u64,
) -> Answer {
    ok(
        status,
        alias_view(&region(headers), name, alias, version, &meta(state, name)),
    )
}

fn alias_view(
    region: &str,
    name: &str,
    alias: &str,
    version: u64,
    meta: &Map<String, Value>,
) -> Value {
    json!({
        "AliasArn": format!("{}:{alias}", function_arn(region, name)),
        "Name": alias,
        "FunctionVersion": version.to_string(),
        "Description": meta.get("Aliases").and_then(|a| a.get(alias)).and_then(|a| a.get("Description")).cloned().unwrap_or_else(|| json!("")),
    })
}

async fn set_alias(
    state: &AppState,
    name: &str,
    alias: &str,
    req: &Map<String, Value>,
) -> Result<u64, LambdaError> {
    if req.get("RoutingConfig").is_some_and(|r| {
        r.get("AdditionalVersionWeights")
            .is_some_and(|w| w.as_object().is_some_and(|o| !o.is_empty()))
    }) {
        return Err(invalid("RoutingConfig with AdditionalVersionWeights is not supported here: an alias points at one version"));
    }
    let version: u64 = req
        .get("FunctionVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("FunctionVersion is required"))?
        .parse()
        .map_err(|_| invalid("FunctionVersion is a published version number"))?;
    state
        .engine
        .put_document_alias(FUNCTION_KIND, name, alias, version)
        .await
        .map_err(from_engine)?;
    if let Some(d) = req.get("Description") {
        let mut m = meta(state, name);
        let aliases = m.entry("Aliases").or_insert_with(|| json!({}));
        aliases[alias] = json!({"Description": d});
        state
            .engine
            .put_document(META_KIND, name, Value::Object(m))
            .await
            .map_err(from_engine)?;
    }
    Ok(version)
}

pub async fn create_alias(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    latest(&state, &name)?;
    let req = json_body(&body)?;
    let alias = req
        .get("Name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("Name is required"))?
        .to_string();
    if state
        .engine
        .document_aliases(FUNCTION_KIND, &name)
        .map_err(from_engine)?
        .iter()
        .any(|(a, _)| *a == alias)
    {
        return Err(LambdaError(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!("Alias already exists: {alias}"),
        ));
    }
    let version = set_alias(&state, &name, &alias, &req).await?;
    alias_answer(
        StatusCode::CREATED,
        &state,
        &headers,
        &name,
        &alias,
        version,
    )
}

pub async fn update_alias(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let mut req = json_body(&body)?;
    let version = alias_version(&state, &name, &alias)?;
    req.entry("FunctionVersion")
        .or_insert_with(|| json!(version.to_string()));
    let version = set_alias(&state, &name, &alias, &req).await?;
    alias_answer(StatusCode::OK, &state, &headers, &name, &alias, version)
}

pub async fn get_alias(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let version = alias_version(&state, &name, &alias)?;
    alias_answer(StatusCode::OK, &state, &headers, &name, &alias, version)
}

pub async fn list_aliases(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    latest(&state, &name)?;
    let m = meta(&state, &name);
    let region = region(&headers);
    let aliases: Vec<Value> = state
        .engine
        .document_aliases(FUNCTION_KIND, &name)
        .map_err(from_engine)?
        .into_iter()
        .map(|(a, v)| alias_view(&region, &name, &a, v, &m))
        .collect();
    ok(StatusCode::OK, json!({"Aliases": aliases}))
}

pub async fn delete_alias_route(
    State(state): State<AppState>,
    Path((name, alias)): Path<(String, String)>,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    latest(&state, &name)?;
    let deleted = state
        .engine
        .delete_document_alias(FUNCTION_KIND, &name, &alias)
        .await
        .map_err(from_engine)?;
    if !deleted {
        return Err(missing(&format!("{name}:{alias}")));
    }
    // Its description goes with it (a new alias of that name starts bare).
    let mut m = meta(&state, &name);
    if let Some(aliases) = m.get_mut("Aliases").and_then(Value::as_object_mut) {
        if aliases.remove(&alias).is_some() {
            state
                .engine
                .put_document(META_KIND, &name, Value::Object(m))
                .await
                .map_err(from_engine)?;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
