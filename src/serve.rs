//! `sluice serve`: the durable engine behind the REST API.
//!
//! Start-up order matters: the store is opened, then the HTTP listener
//! answers (so `/healthz` says the process is up at once), and only then
//! are the executions that were running at the last stop resumed, in the
//! background, however long that backlog is.

mod executor;
mod sources;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use sluice_console::AppState;
use sluice_engine::{Durability, Engine, EngineConfig};

use crate::local::Functions;

/// How long requests still in flight at shutdown may take to finish
/// before the server stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Args)]
pub struct ServeArgs {
    /// The folder of the store (created when missing). Only one server may
    /// use a folder at a time.
    #[arg(long, value_name = "DIR", default_value = "./sluice-data")]
    data: PathBuf,
    /// The address of the REST API. There is no authentication yet: keep
    /// it on a loopback address (127.0.0.1, [::1]) or behind a proxy that
    /// checks who calls.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// When a change counts as stored, before it is acknowledged.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Power)]
    durability: DurabilityArg,
    /// A folder of function definitions (*.json) that Task states call as
    /// `sluice:function:NAME`; `process` functions with `"protocol":
    /// "stdio"` run. Without it, every Task that calls a function fails.
    #[arg(long, value_name = "DIR")]
    functions: Option<PathBuf>,
    /// The store's page cache in MiB: more keeps more of a large store in
    /// memory, less bounds the server's memory.
    #[arg(long, value_name = "MIB", default_value_t = sluice_engine::DEFAULT_CACHE_BYTES / (1024 * 1024))]
    cache_mb: u64,
    /// Kafka brokers (`host:port,…`) for `sluice:kafka:publish` tasks that
    /// name none.
    #[arg(long, value_name = "HOSTS", env = "SLUICE_KAFKA_BROKERS")]
    kafka_brokers: Option<String>,
    /// AMQP URL for `sluice:amqp:publish` tasks that name none.
    #[arg(long, value_name = "URL", env = "SLUICE_AMQP_URL")]
    amqp_url: Option<String>,
}

/// The engine as the sources' sink: where they submit events and record
/// dead letters and checkpoints. `None` while the engine does not
/// implement `EventSink` (its ingest comes with the trigger rules); then
/// sources are stored and listed but not run.
fn event_sink(_engine: &Engine) -> Option<Arc<dyn sluice_engine::EventSink>> {
    None
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DurabilityArg {
    /// Flush every write to the operating system: survives a crash of the
    /// process (kill -9), not necessarily a power cut.
    Process,
    /// Also fsync the store's files: survives a power cut too; each write
    /// waits for the disk.
    Power,
}

impl DurabilityArg {
    fn name(self) -> &'static str {
        match self {
            DurabilityArg::Process => "process",
            DurabilityArg::Power => "power",
        }
    }
}

impl From<DurabilityArg> for Durability {
    fn from(d: DurabilityArg) -> Self {
        match d {
            DurabilityArg::Process => Durability::Process,
            DurabilityArg::Power => Durability::Power,
        }
    }
}

pub fn run(args: ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sluice")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve(args));
    // Function processes still running (spawn_blocking) must not hold the
    // exit up; their tasks are dispatched again after the next start.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let functions = match &args.functions {
        Some(dir) => Functions::load(dir)?,
        None => Functions::default(),
    };
    let durability = Durability::from(args.durability);
    let mut config = EngineConfig::new(&args.data);
    config.durability = durability;
    config.cache_bytes = args.cache_mb.saturating_mul(1024 * 1024);
    let publish = sluice_connectors::publish::PublishExecutor::new(
        sluice_connectors::publish::PublishConfig {
            kafka_brokers: args.kafka_brokers.clone(),
            amqp_url: args.amqp_url.clone(),
        },
    );
    let executor = sources::Routed {
        publish,
        rest: Arc::new(executor::LocalFunctions::new(functions)),
    };
    let engine = Engine::open(config, Arc::new(executor)).with_context(|| {
        format!(
            "cannot open the store in {} (is another sluice serve using it?)",
            args.data.display()
        )
    })?;

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    warn_if_exposed(address);
    let sink = event_sink(&engine);
    let manager = sink.as_ref().map(|sink| {
        let manager = sluice_connectors::manager::SourceManager::new(sink.clone());
        tokio::spawn(sources::follow_catalog(engine.clone(), manager.clone()));
        manager
    });
    let state = AppState::new(engine.clone()).with_sources(Arc::new(sources::Control {
        manager: manager.clone(),
        sink,
    }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = sluice_console::app(state.clone());
    let mut server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(
        %address,
        data = %args.data.display(),
        durability = args.durability.name(),
        functions = %args
            .functions
            .as_deref()
            .map_or_else(|| "none".to_string(), |d| d.display().to_string()),
        "sluice is serving"
    );

    tokio::spawn(async move {
        match engine.recover().await {
            Ok(executions) => tracing::info!(executions, "running executions resumed"),
            Err(e) => {
                tracing::error!(error = %e, "recovery failed; /healthz keeps saying recovered: false")
            }
        }
    });

    tokio::select! {
        signal = shutdown_signal() => tracing::info!(signal, "shutting down"),
        ended = &mut server => {
            // The server only ends by itself when it failed.
            ended.context("the HTTP server stopped")?.context("the HTTP server failed")?;
            return Ok(());
        }
    }
    state.shutdown();
    if let Some(manager) = &manager {
        // Sources stop first: nothing new comes in while requests finish.
        manager.shutdown().await;
    }
    let _ = stop.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(ended) => ended
            .context("the HTTP server stopped")?
            .context("the HTTP server failed")?,
        Err(_) => tracing::warn!(
            grace_seconds = SHUTDOWN_GRACE.as_secs(),
            "requests still open after the grace period; stopping anyway"
        ),
    }
    tracing::info!("stopped");
    Ok(())
}

fn warn_if_exposed(address: SocketAddr) {
    if !address.ip().is_loopback() {
        tracing::warn!(
            %address,
            "listening on a non-loopback address: the API has no authentication yet, so anyone who can reach it can deploy and run workflows"
        );
    }
}

/// Resolves with the name of the first SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() -> &'static str {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => "SIGINT",
        _ = terminate => "SIGTERM",
    }
}
