//! State machines, their versions and aliases, definition validation and
//! tags.

use serde_json::{json, Map, Value};
use sluice_engine::{AliasRoute, EngineError, ListFilter, Status, Workflow, WorkflowType};

use super::{delete_meta, engine_error, meta, role_arn, update_meta};
use crate::aws::arn::{self, Machine};
use crate::aws::{epoch, page_position, page_token, AwsError, AwsResult, Ctx, Req};

fn does_not_exist(arn: &str) -> AwsError {
    AwsError::new(
        "StateMachineDoesNotExist",
        format!("State Machine Does Not Exist: '{arn}'"),
    )
}

/// The workflow a state machine ARN names (`missing` when there is none).
pub(super) fn workflow(ctx: &Ctx, name: &str, arn: &str) -> Result<Workflow, AwsError> {
    ctx.state.engine.workflow(name).map_err(|e| match e {
        EngineError::NotFound(_) => does_not_exist(arn),
        other => engine_error(other, "StateMachineDoesNotExist"),
    })
}

/// A `stateMachineArn` that must name a state machine, not a version or
/// an alias.
fn latest_arn(req: &Req, field: &str) -> Result<(String, String), AwsError> {
    let arn = req.str(field)?.to_string();
    match arn::parse_machine(&arn, field)? {
        Machine::Latest(name) => Ok((arn, name)),
        _ => Err(AwsError::validation(format!(
            "'{field}' names a version or an alias; give the state machine's own ARN"
        ))),
    }
}

fn definition(req: &Req) -> Result<Value, AwsError> {
    let text = req.str("definition")?;
    serde_json::from_str(text).map_err(|e| {
        AwsError::new(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {e}'"),
        )
    })
}

fn workflow_type(req: &Req) -> Result<Option<WorkflowType>, AwsError> {
    req.opt_str("type")?
        .map(|t| t.parse::<WorkflowType>().map_err(AwsError::validation))
        .transpose()
}

/// `[{"key", "value"}]` → a map.
fn tags(req: &Req, field: &str) -> Result<Map<String, Value>, AwsError> {
    let mut out = Map::new();
    let Some(list) = req.get(field) else {
        return Ok(out);
    };
    let bad = || AwsError::validation(format!("'{field}' is a list of {{\"key\", \"value\"}}"));
    for t in list.as_array().ok_or_else(bad)? {
        let key = t["key"].as_str().ok_or_else(bad)?;
        let value = t.get("value").and_then(Value::as_str).unwrap_or("");
        out.insert(key.to_string(), json!(value));
    }
    Ok(out)
}

/// Keeps what the request says that the engine has no field for.
fn remember(m: &mut Map<String, Value>, req: &Req, version: Option<u64>) {
    for field in [
        "roleArn",
        "loggingConfiguration",
        "tracingConfiguration",
        "encryptionConfiguration",
    ] {
        if let Some(v) = req.get(field) {
            m.insert(field.into(), v.clone());
        }
    }
    if let (Some(v), Some(d)) = (version, req.get("versionDescription")) {
        let versions = m.entry("versionDescriptions").or_insert_with(|| json!({}));
        versions[v.to_string()] = d.clone();
    }
}

/// Keeps the definition text of `version` as the request gave it.
fn remember_text(m: &mut Map<String, Value>, req: &Req, version: u64) {
    if let Some(text) = req.get("definition").filter(|t| t.is_string()) {
        let texts = m.entry("definitionTexts").or_insert_with(|| json!({}));
        texts[version.to_string()] = text.clone();
    }
}

fn publish_flags(req: &Req) -> Result<bool, AwsError> {
    let publish = req.opt_bool("publish")?.unwrap_or(false);
    if !publish && req.get("versionDescription").is_some() {
        return Err(AwsError::validation(
            "Version description can only be set when publish is true",
        ));
    }
    Ok(publish)
}

pub(super) async fn create(ctx: &Ctx, req: Req) -> AwsResult {
    let name = req.str("name")?.to_string();
    super::check_name("state machine name", "name", &name)?;
    super::check_role_arn(&req)?;
    let def = definition(&req)?;
    let kind = workflow_type(&req)?.unwrap_or_default();
    let publish = publish_flags(&req)?;
    let machine_arn = arn::state_machine(&ctx.region, &name);
    if let Ok(existing) = ctx.state.engine.workflow(&name) {
        // CreateStateMachine is idempotent: the same definition and type
        // answer with the machine that exists.
        if existing.definition != def || existing.kind != kind {
            return Err(AwsError::new(
                "StateMachineAlreadyExists",
                format!("State Machine Already Exists: '{machine_arn}'"),
            ));
        }
        let mut out =
            json!({"stateMachineArn": machine_arn, "creationDate": epoch(&existing.created_at)});
        if publish {
            out["stateMachineVersionArn"] =
                json!(arn::version(&ctx.region, &name, existing.latest_version));
        }
        return Ok(out);
    }
    // The fields the engine has no place for go first: if the deploy
    // fails they are taken back, so a failed create leaves nothing.
    let new_tags = tags(&req, "tags")?;
    update_meta(ctx, &name, |m| {
        remember(m, &req, None);
        m.insert("tags".into(), Value::Object(new_tags));
    })
    .await?;
    let version = match ctx.state.engine.deploy_as(&name, def, Some(kind)).await {
        Ok(v) => v,
        Err(e) => {
            let _ = delete_meta(ctx, &name).await;
            return Err(engine_error(e, "StateMachineDoesNotExist"));
        }
    };
    update_meta(ctx, &name, |m| {
        remember(m, &req, publish.then_some(version.version));
        remember_text(m, &req, version.version);
    })
    .await?;
    let created = workflow(ctx, &name, &machine_arn)?;
    let mut out =
        json!({"stateMachineArn": machine_arn, "creationDate": epoch(&created.created_at)});
    if publish {
        out["stateMachineVersionArn"] = json!(arn::version(&ctx.region, &name, version.version));
    }
    Ok(out)
}

pub(super) async fn describe(ctx: &Ctx, req: Req) -> AwsResult {
    let arn_text = req.str("stateMachineArn")?.to_string();
    let machine = arn::parse_machine(&arn_text, "stateMachineArn")?;
    let name = machine.name().to_string();
    let wf = workflow(ctx, &name, &arn_text)?;
    let m = meta(ctx, &name)?;
    let (version, created) = match &machine {
        Machine::Latest(_) => (wf.latest_version, wf.created_at.clone()),
        Machine::Version(_, v) => {
            let info = version_info(ctx, &name, *v, &arn_text)?;
            (*v, info.created_at)
        }
        Machine::Alias(..) => {
            return Err(AwsError::new(
                "InvalidArn",
                format!("Invalid Arn: '{arn_text}' is an alias; use DescribeStateMachineAlias"),
            ))
        }
    };
    let definition = ctx
        .state
        .engine
        .workflow_version(&name, version)
        .map_err(|e| engine_error(e, "StateMachineDoesNotExist"))?;
    let mut out = json!({
        "stateMachineArn": arn_text,
        "name": name,
        "status": "ACTIVE",
        "definition": super::definition_text(&m, version, &definition),
        "roleArn": role_arn(&m),
        "type": wf.kind.as_str(),
        "creationDate": epoch(&created),
        "loggingConfiguration": m.get("loggingConfiguration").cloned()
            .unwrap_or_else(|| json!({"level": "OFF"})),
        "encryptionConfiguration": m.get("encryptionConfiguration").cloned()
            .unwrap_or_else(|| json!({"type": "AWS_OWNED_KEY"})),
        "tracingConfiguration": m.get("tracingConfiguration").cloned()
            .unwrap_or_else(|| json!({"enabled": false})),
        "revisionId": version.to_string(),
    });
    // A version's description, shown for its version ARN only.
    let described = matches!(machine, Machine::Version(..));
    if let Some(d) = m
        .get("versionDescriptions")
        .and_then(|d| d.get(version.to_string()))
        .filter(|_| described)
    {
        out["description"] = d.clone();
    }
    Ok(out)
}

fn version_info(
    ctx: &Ctx,
    name: &str,
    version: u64,
    arn_text: &str,
) -> Result<sluice_engine::VersionInfo, AwsError> {
    ctx.state
        .engine
        .workflow_versions(name)
        .map_err(|e| engine_error(e, "StateMachineDoesNotExist"))?
        .into_iter()
        .find(|v| v.version == version)
        .ok_or_else(|| does_not_exist(arn_text))
}

/// One page of `items` from the request's `nextToken`, at most its
/// `maxResults` (default 100, at most 1000).
fn page<T: Clone>(req: &Req, items: &[T]) -> Result<(Vec<T>, Option<Value>), AwsError> {
    let max = req
        .opt_int("maxResults", 0, 1000)?
        .filter(|n| *n > 0)
        .unwrap_or(100) as usize;
    let from = page_position(req)?.min(items.len());
    let to = (from + max).min(items.len());
    let next = (to < items.len()).then(|| page_token(to));
    Ok((items[from..to].to_vec(), next))
}

fn with_next(mut out: Value, next: Option<Value>) -> Value {
    if let Some(t) = next {
        out["nextToken"] = t;
    }
    out
}

pub(super) async fn list(ctx: &Ctx, req: Req) -> AwsResult {
    let engine = ctx.state.engine.clone();
    let all = crate::blocking(move || engine.workflows())
        .await
        .map_err(|e| AwsError::internal(e.message))?;
    let (items, next) = page(&req, &all)?;
    let machines: Vec<Value> = items
        .iter()
        .map(|w| {
            json!({"stateMachineArn": arn::state_machine(&ctx.region, &w.name), "name": w.name,
                   "type": w.kind.as_str(), "creationDate": epoch(&w.created_at)})
        })
        .collect();
    Ok(with_next(json!({"stateMachines": machines}), next))
}

pub(super) async fn update(ctx: &Ctx, req: Req) -> AwsResult {
    let (machine_arn, name) = latest_arn(&req, "stateMachineArn")?;
    let publish = publish_flags(&req)?;
    let changes = [
        "definition",
        "roleArn",
        "loggingConfiguration",
        "tracingConfiguration",
    ];
    if changes.iter().all(|f| req.get(f).is_none()) {
        return Err(AwsError::new(
            "MissingRequiredParameter",
            "UpdateStateMachine needs at least one of definition, roleArn, loggingConfiguration or tracingConfiguration",
        ));
    }
    super::check_role_arn(&req)?;
    let current = workflow(ctx, &name, &machine_arn)?;
    let version = match req.get("definition") {
        Some(_) => {
            ctx.state
                .engine
                .deploy(&name, definition(&req)?)
                .await
                .map_err(|e| engine_error(e, "StateMachineDoesNotExist"))?
                .version
        }
        None => current.latest_version,
    };
    update_meta(ctx, &name, |m| {
        remember(m, &req, publish.then_some(version));
        remember_text(m, &req, version);
    })
    .await?;
    let updated = workflow(ctx, &name, &machine_arn)?;
    let mut out =
        json!({"updateDate": epoch(&updated.updated_at), "revisionId": version.to_string()});
    if publish {
        out["stateMachineVersionArn"] = json!(arn::version(&ctx.region, &name, version));
    }
    Ok(out)
}

/// As Step Functions does: the running executions are stopped, then the
/// state machine goes. Deleting one that does not exist succeeds.
pub(super) async fn delete(ctx: &Ctx, req: Req) -> AwsResult {
    let (_, name) = latest_arn(&req, "stateMachineArn")?;
    if ctx.state.engine.workflow(&name).is_err() {
        return Ok(json!({}));
    }
    loop {
        let filter = ListFilter {
            workflow: Some(name.clone()),
            status: Some(Status::Running),
            limit: Some(1000),
            ..ListFilter::default()
        };
        let engine = ctx.state.engine.clone();
        let page = crate::blocking(move || engine.list_executions(&filter))
            .await
            .map_err(|e| AwsError::internal(e.message))?;
        if page.executions.is_empty() {
            break;
        }
        for e in page.executions {
            let cause = "the state machine was deleted".to_string();
            match ctx
                .state
                .engine
                .stop(e.execution_id.as_str(), None, Some(cause))
                .await
            {
                Ok(_) | Err(EngineError::Conflict(_)) => {}
                Err(other) => return Err(engine_error(other, "ExecutionDoesNotExist")),
            }
        }
    }
    match ctx.state.engine.delete_workflow(&name).await {
        Ok(()) | Err(EngineError::NotFound(_)) => {}
        Err(e) => return Err(engine_error(e, "StateMachineDoesNotExist")),
    }
    delete_meta(ctx, &name).await?;
    Ok(json!({}))
}

/// Every deploy is an immutable version already; publishing names the
/// latest one and keeps its description.
pub(super) async fn publish(ctx: &Ctx, req: Req) -> AwsResult {
    let (machine_arn, name) = latest_arn(&req, "stateMachineArn")?;
    let wf = workflow(ctx, &name, &machine_arn)?;
    if let Some(rev) = req.opt_str("revisionId")? {
        if rev != wf.latest_version.to_string() {
            return Err(AwsError::new(
                "ConflictException",
                format!(
                    "revisionId '{rev}' is not the latest revision ({}) of '{machine_arn}'",
                    wf.latest_version
                ),
            ));
        }
    }
    let v = wf.latest_version;
    if let Some(d) = req.get("description").cloned() {
        update_meta(ctx, &name, |m| {
            let versions = m.entry("versionDescriptions").or_insert_with(|| json!({}));
            versions[v.to_string()] = d;
        })
        .await?;
    }
    let info = version_info(ctx, &name, v, &machine_arn)?;
    Ok(json!({"creationDate": epoch(&info.created_at),
              "stateMachineVersionArn": arn::version(&ctx.region, &name, v)}))
}

/// As AWS: 200 also when there is no such version; `ConflictException`
/// while an alias routes to it.
pub(super) async fn delete_version(ctx: &Ctx, req: Req) -> AwsResult {
    let field = "stateMachineVersionArn";
    let arn_text = req.str(field)?;
    let Machine::Version(name, version) = arn::parse_machine(arn_text, field)? else {
        return Err(AwsError::new(
            "InvalidArn",
            format!("Invalid Arn: '{arn_text}' is not a state machine version's ARN (…:stateMachine:NAME:VERSION)"),
        ));
    };
    match ctx.state.engine.delete_version(&name, version).await {
        Ok(_) | Err(EngineError::NotFound(_)) => Ok(json!({})),
        Err(e) => Err(engine_error(e, "StateMachineDoesNotExist")),
    }
}

pub(super) async fn list_versions(ctx: &Ctx, req: Req) -> AwsResult {
    let (machine_arn, name) = latest_arn(&req, "stateMachineArn")?;
    workflow(ctx, &name, &machine_arn)?;
    let mut versions = ctx
        .state
        .engine
        .workflow_versions(&name)
        .map_err(|e| engine_error(e, "StateMachineDoesNotExist"))?;
    versions.reverse();
    let (items, next) = page(&req, &versions)?;
    let out: Vec<Value> = items
        .iter()
        .map(|v| {
            json!({"stateMachineVersionArn": arn::version(&ctx.region, &name, v.version),
                        "creationDate": epoch(&v.created_at)})
        })
        .collect();
    Ok(with_next(json!({"stateMachineVersions": out}), next))
}

/// `routingConfiguration`: version ARNs of one state machine and weights.
fn routes(req: &Req, name: Option<&str>) -> Result<(String, Vec<AliasRoute>), AwsError> {
    let field = "routingConfiguration";
    let list = req.get(field).and_then(Value::as_array).ok_or_else(|| {
        AwsError::validation(format!(
            "'{field}' is a list of {{\"stateMachineVersionArn\", \"weight\"}}"
        ))
    })?;
    let mut machine = name.map(str::to_string);
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let at = format!("{field}[{i}].stateMachineVersionArn");
        let version_arn = r["stateMachineVersionArn"]
            .as_str()
            .ok_or_else(|| AwsError::validation(format!("'{at}' is missing")))?;
        let Machine::Version(n, v) = arn::parse_machine(version_arn, &at)? else {
            return Err(AwsError::validation(format!(
                "'{at}' must be a version ARN (…:stateMachine:NAME:VERSION)"
            )));
        };
        if machine.get_or_insert_with(|| n.clone()) != &n {
            return Err(AwsError::validation(format!(
                "Both stateMachineVersionArn values must belong to the same state machine ('{at}' names another)"
            )));
        }
        let weight = r["weight"].as_u64().filter(|w| *w <= 100).ok_or_else(|| {
            AwsError::validation(format!(
                "'{field}[{i}].weight' is a whole number from 0 to 100"
            ))
        })?;
        out.push(AliasRoute {
            version: v,
            weight: weight as u32,
        });
    }
    if !(1..=2).contains(&out.len()) {
        return Err(AwsError::validation(format!(
            "Routing configuration must contain 1 or 2 unique state machine versions ('{field}' has {})",
            out.len()
        )));
    }
    if out.iter().map(|r| r.weight).sum::<u32>() != 100 {
        return Err(AwsError::validation(format!(
            "The sum of the weights in the routing configuration must be equal to 100 ('{field}')"
        )));
    }
    let machine = machine
        .ok_or_else(|| AwsError::validation(format!("'{field}' needs one or two routes")))?;
    Ok((machine, out))
}

fn alias_arn_of(req: &Req) -> Result<(String, String, String), AwsError> {
    let arn_text = req.str("stateMachineAliasArn")?.to_string();
    match arn::parse_machine(&arn_text, "stateMachineAliasArn")? {
        Machine::Alias(n, a) => Ok((arn_text, n, a)),
        _ => Err(AwsError::new(
            "InvalidArn",
            format!("Invalid Arn: '{arn_text}' is not an alias ARN (…:stateMachine:NAME:ALIAS)"),
        )),
    }
}

fn alias_missing(arn_text: &str) -> AwsError {
    AwsError::new(
        "ResourceNotFound",
        format!("Resource not found: '{arn_text}'"),
    )
}

async fn put_alias(
    ctx: &Ctx,
    name: &str,
    alias: &str,
    routes: Vec<AliasRoute>,
) -> Result<(), AwsError> {
    ctx.state
        .engine
        .put_alias(
            name,
            alias,
            routes.into_iter().filter(|r| r.weight > 0).collect(),
        )
        .await
        .map_err(|e| match e {
            EngineError::BadRequest(m) | EngineError::NotFound(m) => AwsError::validation(m),
            other => engine_error(other, "StateMachineDoesNotExist"),
        })
}

pub(super) async fn create_alias(ctx: &Ctx, req: Req) -> AwsResult {
    let alias = req.str("name")?.to_string();
    super::check_name("alias name", "name", &alias)?;
    if alias.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AwsError::new(
            "InvalidName",
            format!("Invalid Name: '{alias}': an alias name is not a number (that is a version)"),
        ));
    }
    let (name, routes) = routes(&req, None)?;
    let machine_arn = arn::state_machine(&ctx.region, &name);
    let wf = workflow(ctx, &name, &machine_arn)?;
    let alias_arn = arn::alias(&ctx.region, &name, &alias);
    if let Some(existing) = wf.aliases.get(&alias) {
        let wanted: Vec<AliasRoute> = routes.iter().filter(|r| r.weight > 0).cloned().collect();
        if *existing != wanted {
            return Err(AwsError::new(
                "ConflictException",
                format!("alias '{alias_arn}' exists with another routing configuration"),
            ));
        }
    } else {
        put_alias(ctx, &name, &alias, routes).await?;
    }
    let now = sluice_engine::now_rfc3339();
    let description = req.get("description").cloned();
    update_meta(ctx, &name, |m| {
        let aliases = m.entry("aliases").or_insert_with(|| json!({}));
        if aliases.get(&alias).is_none() {
            aliases[&alias] =
                json!({"createdAt": now, "updatedAt": now, "description": description});
        }
    })
    .await?;
    let created = meta(ctx, &name)?["aliases"][&alias]["createdAt"]
        .as_str()
        .map(epoch)
        .unwrap_or(Value::Null);
    Ok(json!({"stateMachineAliasArn": alias_arn, "creationDate": created}))
}

pub(super) async fn describe_alias(ctx: &Ctx, req: Req) -> AwsResult {
    let (alias_arn, name, alias) = alias_arn_of(&req)?;
    let wf = ctx
        .state
        .engine
        .workflow(&name)
        .map_err(|_| alias_missing(&alias_arn))?;
    let routes = wf
        .aliases
        .get(&alias)
        .ok_or_else(|| alias_missing(&alias_arn))?;
    let m = meta(ctx, &name)?;
    let info = m
        .get("aliases")
        .and_then(|a| a.get(&alias))
        .cloned()
        .unwrap_or(json!({}));
    let at = |f: &str| {
        info[f]
            .as_str()
            .map(epoch)
            .unwrap_or_else(|| epoch(&wf.updated_at))
    };
    let mut out = json!({
        "stateMachineAliasArn": alias_arn,
        "name": alias,
        "routingConfiguration": routes.iter().map(|r| json!({
            "stateMachineVersionArn": arn::version(&ctx.region, &name, r.version), "weight": r.weight})).collect::<Vec<_>>(),
        "creationDate": at("createdAt"),
        "updateDate": at("updatedAt"),
    });
    if let Some(d) = info.get("description").filter(|d| d.is_string()) {
        out["description"] = d.clone();
    }
    Ok(out)
}

pub(super) async fn update_alias(ctx: &Ctx, req: Req) -> AwsResult {
    let (alias_arn, name, alias) = alias_arn_of(&req)?;
    let wf = ctx
        .state
        .engine
        .workflow(&name)
        .map_err(|_| alias_missing(&alias_arn))?;
    if !wf.aliases.contains_key(&alias) {
        return Err(alias_missing(&alias_arn));
    }
    if req.get("routingConfiguration").is_none() && req.get("description").is_none() {
        return Err(AwsError::validation(
            "UpdateStateMachineAlias needs at least one of description or routingConfiguration",
        ));
    }
    if req.get("routingConfiguration").is_some() {
        let (_, routes) = routes(&req, Some(&name))?;
        put_alias(ctx, &name, &alias, routes).await?;
    }
    let now = sluice_engine::now_rfc3339();
    let description = req.get("description").cloned();
    update_meta(ctx, &name, |m| {
        let aliases = m.entry("aliases").or_insert_with(|| json!({}));
        let entry = aliases.as_object_mut().map(|a| {
            a.entry(alias.clone())
                .or_insert_with(|| json!({"createdAt": now}))
        });
        if let Some(e) = entry {
            e["updatedAt"] = json!(now);
            if let Some(d) = description {
                e["description"] = d;
            }
        }
    })
    .await?;
    Ok(json!({"updateDate": epoch(&now)}))
}

pub(super) async fn delete_alias(ctx: &Ctx, req: Req) -> AwsResult {
    let (alias_arn, name, alias) = alias_arn_of(&req)?;
    match ctx.state.engine.delete_alias(&name, &alias).await {
        Ok(true) => {}
        Ok(false) | Err(EngineError::NotFound(_)) => return Err(alias_missing(&alias_arn)),
        Err(e) => return Err(engine_error(e, "ResourceNotFound")),
    }
    if ctx.state.engine.workflow(&name).is_ok() {
        update_meta(ctx, &name, |m| {
            if let Some(a) = m.get_mut("aliases").and_then(Value::as_object_mut) {
                a.remove(&alias);
            }
        })
        .await?;
    }
    Ok(json!({}))
}

pub(super) async fn list_aliases(ctx: &Ctx, req: Req) -> AwsResult {
    let (machine_arn, name) = latest_arn(&req, "stateMachineArn")?;
    let wf = workflow(ctx, &name, &machine_arn)?;
    let m = meta(ctx, &name)?;
    let names: Vec<String> = wf.aliases.keys().cloned().collect();
    let (items, next) = page(&req, &names)?;
    let out: Vec<Value> = items
        .iter()
        .map(|a| {
            let created = m.get("aliases").and_then(|x| x[a]["createdAt"].as_str()).unwrap_or(&wf.updated_at);
            json!({"stateMachineAliasArn": arn::alias(&ctx.region, &name, a), "creationDate": epoch(created)})
        })
        .collect();
    Ok(with_next(json!({"stateMachineAliases": out}), next))
}

/// ValidateStateMachineDefinition: Sluice's validator, its JSON pointers
/// as `location`.
pub(super) async fn validate(_ctx: &Ctx, req: Req) -> AwsResult {
    let kind = workflow_type(&req)?;
    let max = req
        .opt_int("maxResults", 0, 100)?
        .filter(|n| *n > 0)
        .unwrap_or(100) as usize;
    let text = req.str("definition")?;
    let definition: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Ok(
                json!({"result": "FAIL", "truncated": false, "diagnostics": [
                {"severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION", "message": e.to_string()}]}),
            )
        }
    };
    let checked = sluice_dsl::StateMachine::deployable(&definition).and_then(|_| {
        // An EXPRESS workflow runs only request-response tasks.
        let express = sluice_dsl::resource::express_unsupported(&definition);
        match kind {
            Some(WorkflowType::Express) if !express.is_empty() => Err(express),
            _ => Ok(()),
        }
    });
    match checked {
        Ok(()) => Ok(json!({"result": "OK", "diagnostics": [], "truncated": false})),
        Err(problems) => {
            let all: Vec<Value> = problems
                .iter()
                .map(|p| {
                    json!({"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
                                "message": p.message, "location": p.pointer})
                })
                .collect();
            let truncated = all.len() > max;
            Ok(json!({"result": "FAIL", "truncated": truncated,
                      "diagnostics": all.into_iter().take(max).collect::<Vec<_>>()}))
        }
    }
}

/// The state machine a taggable ARN names (tags sit on state machines).
fn tagged(ctx: &Ctx, req: &Req) -> Result<String, AwsError> {
    let arn_text = req.str("resourceArn")?.to_string();
    let machine = arn::parse_machine(&arn_text, "resourceArn")?;
    let name = machine.name().to_string();
    ctx.state.engine.workflow(&name).map_err(|_| {
        AwsError::new(
            "ResourceNotFound",
            format!("Resource not found: '{arn_text}'"),
        )
    })?;
    Ok(name)
}

pub(super) async fn tag(ctx: &Ctx, req: Req) -> AwsResult {
    let name = tagged(ctx, &req)?;
    let new_tags = tags(&req, "tags")?;
    update_meta(ctx, &name, |m| {
        let t = m.entry("tags").or_insert_with(|| json!({}));
        if let Some(t) = t.as_object_mut() {
            t.extend(new_tags);
        }
    })
    .await?;
    Ok(json!({}))
}

pub(super) async fn untag(ctx: &Ctx, req: Req) -> AwsResult {
    let name = tagged(ctx, &req)?;
    let keys: Vec<String> = req
        .get("tagKeys")
        .and_then(Value::as_array)
        .ok_or_else(|| AwsError::validation("'tagKeys' is a list of tag keys"))?
        .iter()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    update_meta(ctx, &name, |m| {
        if let Some(t) = m.get_mut("tags").and_then(Value::as_object_mut) {
            for k in &keys {
                t.remove(k);
            }
        }
    })
    .await?;
    Ok(json!({}))
}

pub(super) async fn list_tags(ctx: &Ctx, req: Req) -> AwsResult {
    let name = tagged(ctx, &req)?;
    let m = meta(ctx, &name)?;
    let tags: Vec<Value> = m
        .get("tags")
        .and_then(Value::as_object)
        .map(|t| {
            t.iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({"tags": tags}))
}
