//! CreateFunction, GetFunction, ListFunctions, DeleteFunction and the
//! updates of configuration and code.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use super::*;
use crate::AppState;

/// CreateFunction: a `process` + `lambda` function of the runtime's
/// command line, with the zip as its package.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let req = json_body(&body)?;
    let text = |k: &str| req.get(k).and_then(Value::as_str);
    let (name, _) =
        parse_name(text("FunctionName").ok_or_else(|| invalid("FunctionName is required"))?)?;
    if state
        .engine
        .document(FUNCTION_KIND, &name, None)
        .map_err(from_engine)?
        .is_some()
    {
        return Err(LambdaError(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!("Function already exist: {name}"),
        ));
    }
    if text("PackageType") == Some("Image") {
        return Err(invalid(
            "PackageType Image is not supported here: give Code.ZipFile",
        ));
    }
    let runtime = text("Runtime").ok_or_else(|| {
        invalid("Runtime is required for a Zip package (python3.x, nodejs…, provided.al2023)")
    })?;
    let handler = text("Handler").unwrap_or(if runtime.starts_with("provided") {
        "bootstrap"
    } else {
        ""
    });
    if handler.is_empty() {
        return Err(invalid(format!(
            "Handler is required for runtime {runtime} (e.g. app.handler)"
        )));
    }
    let host = host(&state)?;
    let command = host.lambda_command(runtime, handler).map_err(invalid)?;
    let zip = req
        .get("Code")
        .and_then(|c| c.get("ZipFile"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid("Code.ZipFile is required (S3 code locations are not supported here)")
        })?;
    let mut def = json!({
        "name": name, "runtime": "process", "protocol": "lambda", "command": command, "handler": handler,
        // Lambda functions reach the network unless placed in a VPC.
        "network": true,
        "timeoutSeconds": req.get("Timeout").cloned().unwrap_or(json!(3)),
        "memoryMb": req.get("MemorySize").cloned().unwrap_or(json!(128)),
        "env": req.get("Environment").and_then(|e| e.get("Variables")).cloned().unwrap_or_else(|| json!({})),
        "code": {"zipFile": zip},
    });
    if let Some(d) = req
        .get("Description")
        .filter(|d| d.as_str().is_some_and(|s| !s.is_empty()))
    {
        def["description"] = d.clone();
    }
    // Lambda's own fields go first and are taken back if the function is
    // refused, so a failed create leaves nothing behind.
    let mut m = Map::new();
    m.insert("Runtime".into(), json!(runtime));
    for k in ["Role", "Tags"] {
        if let Some(v) = req.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    state
        .engine
        .put_document(META_KIND, &name, Value::Object(m.clone()))
        .await
        .map_err(from_engine)?;
    let stored = async {
        let package = crate::function_code::inline(&state, &mut def).await?;
        let doc = crate::functions::store(&state, &name, def).await?;
        Ok::<_, crate::ApiError>((package, doc))
    }
    .await;
    let (package, doc) = match stored {
        Ok(p) => p,
        Err(e) => {
            let _ = state.engine.delete_document(META_KIND, &name).await;
            return Err(from_api(e));
        }
    };
    let version = published(&req, &doc);
    ok(
        StatusCode::CREATED,
        configuration(&region(&headers), &doc, &m, &version, package.as_ref()),
    )
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Answer {
    let docs = state.engine.documents(FUNCTION_KIND).map_err(from_engine)?;
    let region = region(&headers);
    let functions: Vec<Value> = docs
        .iter()
        .map(|d| {
            configuration(
                &region,
                d,
                &meta(&state, &d.name),
                "$LATEST",
                package_of(&state, &d.body).as_ref(),
            )
        })
        .collect();
    ok(StatusCode::OK, json!({"Functions": functions}))
}

/// The FunctionConfiguration a function name (with its qualifier in the
/// name or the `Qualifier` query) stands for, and Lambda's own fields.
fn qualified_configuration(
    state: &AppState,
    name: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(Value, Map<String, Value>), LambdaError> {
    let (name, qualifier) = parse_name(name)?;
    let qualifier = qualifier.or_else(|| q.get("Qualifier").cloned());
    let (doc, version) = qualified(state, &name, qualifier.as_deref())?;
    let m = meta(state, &name);
    let config = configuration(
        &region(headers),
        &doc,
        &m,
        &version,
        package_of(state, &doc.body).as_ref(),
    );
    Ok((config, m))
}

pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Answer {
    let (config, m) = qualified_configuration(&state, &name, &q, &headers)?;
    let tags = m.get("Tags").cloned().unwrap_or_else(|| json!({}));
    ok(
        StatusCode::OK,
        json!({"Configuration": config, "Code": {"RepositoryType": "Sluice"}, "Tags": tags}),
    )
}

pub async fn get_configuration(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Answer {
    let (config, _) = qualified_configuration(&state, &name, &q, &headers)?;
    ok(StatusCode::OK, config)
}

pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Answer {
    let (name, _) = parse_name(&name)?;
    if !state
        .engine
        .delete_document(FUNCTION_KIND, &name)
        .await
        .map_err(from_engine)?
    {
        return Err(missing(&name));
    }
    state
        .engine
        .delete_document(META_KIND, &name)
        .await
        .map_err(from_engine)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// UpdateFunctionConfiguration: memory, timeout, environment, description
/// (and the handler and runtime, which give a new command line).
pub async fn update_configuration(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let req = json_body(&body)?;
    let doc = latest(&state, &name)?;
    let mut def = doc.body.clone();
    let mut m = meta(&state, &name);
    if let Some(v) = req.get("Timeout") {
        def["timeoutSeconds"] = v.clone();
    }
    if let Some(v) = req.get("MemorySize") {
        def["memoryMb"] = v.clone();
    }
    if let Some(v) = req.get("Environment") {
        def["env"] = v.get("Variables").cloned().unwrap_or_else(|| json!({}));
    }
    if let Some(v) = req.get("Description") {
        def["description"] = v.clone();
    }
    if req.get("Runtime").is_some() || req.get("Handler").is_some() {
        let runtime = req
            .get("Runtime")
            .or_else(|| m.get("Runtime"))
            .and_then(Value::as_str)
            .unwrap_or("provided.al2023")
            .to_string();
        let handler = req
            .get("Handler")
            .or_else(|| def.get("handler"))
            .and_then(Value::as_str)
            .unwrap_or("bootstrap")
            .to_string();
        let host = host(&state)?;
        def["command"] = json!(host.lambda_command(&runtime, &handler).map_err(invalid)?);
        def["handler"] = json!(handler);
        m.insert("Runtime".into(), json!(runtime));
    }
    if let Some(r) = req.get("Role") {
        m.insert("Role".into(), r.clone());
    }
    let doc = crate::functions::store(&state, &name, def)
        .await
        .map_err(from_api)?;
    state
        .engine
        .put_document(META_KIND, &name, Value::Object(m.clone()))
        .await
        .map_err(from_engine)?;
    ok(
        StatusCode::OK,
        configuration(
            &region(&headers),
            &doc,
            &m,
            "$LATEST",
            package_of(&state, &doc.body).as_ref(),
        ),
    )
}

/// UpdateFunctionCode with a `ZipFile`: a new package, a new version.
pub async fn update_code(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, _) = parse_name(&name)?;
    let req = json_body(&body)?;
    let zip = req
        .get("ZipFile")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("ZipFile is required (S3 code locations are not supported here)"))?;
    let doc = latest(&state, &name)?;
    let mut def = doc.body.clone();
    if let Some(o) = def.as_object_mut() {
        o.remove("package");
        o.remove("codeDir");
        o.insert("code".into(), json!({"zipFile": zip}));
    }
    let package = crate::function_code::inline(&state, &mut def)
        .await
        .map_err(from_api)?;
    let doc = crate::functions::store(&state, &name, def)
        .await
        .map_err(from_api)?;
    let m = meta(&state, &name);
    let version = published(&req, &doc);
    ok(
        StatusCode::OK,
        configuration(&region(&headers), &doc, &m, &version, package.as_ref()),
    )
}
