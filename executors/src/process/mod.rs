//! `runtime: "process"`: the command of the definition, started with a
//! clean environment in its code folder. `stdio` starts one per invocation
//! ([`stdio`]); `lambda` keeps warm ones that call the Runtime API
//! ([`crate::lambda`]).

pub mod layers;
#[cfg(target_os = "linux")]
mod oom;
pub mod sandbox;
pub mod stdio;

use std::path::Path;

use sluice_dsl::function::FunctionDef;

/// The search path functions get; nothing else of the engine's environment
/// leaks in.
pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The standard Lambda variables (those a runtime client or handler reads),
/// then the definition's own `env`, which may override them.
pub fn environment(def: &FunctionDef, version: &str, code_dir: &Path) -> Vec<(String, String)> {
    let handler = def
        .handler
        .clone()
        .or_else(|| def.command.last().cloned())
        .unwrap_or_default();
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), PATH.into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("TZ".into(), ":UTC".into()),
        ("HOME".into(), "/tmp".into()),
        ("TMPDIR".into(), "/tmp".into()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), def.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), version.into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            def.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", def.name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME".into(),
            format!("sluice/{}", def.name),
        ),
        (
            "AWS_LAMBDA_INITIALIZATION_TYPE".into(),
            if def.provisioned > 0 {
                "provisioned-concurrency".into()
            } else {
                "on-demand".into()
            },
        ),
        ("AWS_REGION".into(), "local".into()),
        ("AWS_DEFAULT_REGION".into(), "local".into()),
        ("AWS_EXECUTION_ENV".into(), "sluice".into()),
        ("LAMBDA_TASK_ROOT".into(), code_dir.display().to_string()),
        ("LAMBDA_RUNTIME_DIR".into(), code_dir.display().to_string()),
        ("_HANDLER".into(), handler),
    ];
    if !def.layers.is_empty() {
        // Where Lambda's runtimes look for what layers bring.
        env.retain(|(k, _)| k != "PATH");
        env.extend([
            ("PATH".to_string(), format!("/opt/bin:{PATH}")),
            ("LD_LIBRARY_PATH".to_string(), "/opt/lib".to_string()),
            ("PYTHONPATH".to_string(), "/opt/python".to_string()),
            (
                "NODE_PATH".to_string(),
                "/opt/nodejs/node_modules".to_string(),
            ),
        ]);
    }
    for (k, v) in &def.env {
        env.retain(|(name, _)| name != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// The ARN a runtime client sees as `Lambda-Runtime-Invoked-Function-Arn`.
pub fn function_arn(name: &str, version: &str) -> String {
    if version == "$LATEST" {
        format!("arn:aws:lambda:local:000000000000:function:{name}")
    } else {
        format!("arn:aws:lambda:local:000000000000:function:{name}:{version}")
    }
}
