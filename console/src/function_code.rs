//! A function definition's code as a package: the inline
//! `"code": {"zipFile": "<base64>"}` of a `PUT /api/v1/functions/{name}`
//! (stored as a package, replaced by `"package"`) and the check that a
//! definition's `"package"` is stored on this server.

use base64::Engine as _;
use serde_json::Value;

use sluice_dsl::function::FunctionDef;
use sluice_dsl::Problems;
use sluice_engine::EngineError;

use crate::error::ApiError;
use crate::AppState;

fn invalid(pointer: &str, message: impl Into<String>) -> ApiError {
    let mut problems = Problems::default();
    problems.push(pointer, message);
    EngineError::Invalid(problems).into()
}

/// Store a definition's inline `code.zipFile` as a package and put its
/// reference in `"package"` instead; the package's JSON, or `None` when
/// the definition has no `code`.
pub(crate) async fn inline(state: &AppState, body: &mut Value) -> Result<Option<Value>, ApiError> {
    let Some(code) = body.as_object_mut().and_then(|o| o.remove("code")) else {
        return Ok(None);
    };
    for other in ["codeDir", "package"] {
        if body.get(other).is_some() {
            return Err(invalid(
                "/code",
                format!(
                    "give one of 'code', 'codeDir' and 'package', not both 'code' and '{other}'"
                ),
            ));
        }
    }
    let text = match code.as_object().map(|o| (o.len(), o.get("zipFile"))) {
        Some((1, Some(Value::String(t)))) => t.clone(),
        _ => {
            return Err(invalid(
                "/code",
                "'code' is {\"zipFile\": \"<the archive in base64>\"}; for larger archives upload them with POST /api/v1/packages and give \"package\"",
            ))
        }
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| invalid("/code/zipFile", format!("not base64: {e}")))?;
    let host = crate::packages::host(state)?;
    let package = tokio::task::spawn_blocking(move || host.put_bytes(&bytes))
        .await
        .map_err(|e| EngineError::Storage(format!("storing an inline package stopped: {e}")))??;
    if let Some(o) = body.as_object_mut() {
        o.insert("package".into(), package["package"].clone());
    }
    Ok(Some(package))
}

/// A definition's `"package"` must be stored here: versions keep pointing
/// at it, so it cannot be uploaded later.
pub(crate) fn check_package(state: &AppState, def: &FunctionDef) -> Result<(), ApiError> {
    for (i, layer) in def.layers.iter().enumerate() {
        if state
            .packages
            .as_ref()
            .is_none_or(|h| h.get(layer).is_none())
        {
            return Err(invalid(
                &format!("/layers/{i}"),
                format!("no package {layer} on this server; upload the layer's archive first with POST /api/v1/packages"),
            ));
        }
    }
    let Some(reference) = &def.package else {
        return Ok(());
    };
    match &state.packages {
        Some(host) if host.get(reference).is_some() => Ok(()),
        Some(_) => Err(invalid(
            "/package",
            format!("no package {reference} on this server; upload the archive first with POST /api/v1/packages (sluice function deploy FILE --package PATH does both)"),
        )),
        None => Err(invalid(
            "/package",
            "this server keeps no packages; give 'codeDir' instead",
        )),
    }
}
