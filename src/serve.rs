//! `sluice serve`: the durable engine behind the REST API.
//!
//! Start-up order matters: the HTTP listener answers first (503,
//! `/healthz` `{"status": "starting"}`, while the store opens), then the
//! API (`/healthz` `{"status": "ok", "recovered": false}`), and only then
//! are the executions that were running at the last stop resumed, in the
//! background, however long that backlog is.

mod functions;
mod packages;
mod sources;
mod starting;
mod status_events;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use sluice_console::{AppState, Auth};
use sluice_engine::{Durability, Engine, EngineConfig};

/// How long the engine's side effects may take to end once cancelled at
/// shutdown (a function process is killed when its invocation is dropped).
const EFFECTS_GRACE: Duration = Duration::from_secs(2);

/// How long requests still in flight at shutdown may take to finish
/// before the server stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Args)]
pub struct ServeArgs {
    /// The folder of the store (created when missing). Only one server may
    /// use a folder at a time.
    #[arg(long, value_name = "DIR", default_value = "./sluice-data")]
    data: PathBuf,
    /// The address of the REST API and the console. Without --auth only a
    /// loopback address (127.0.0.1, [::1], localhost) is accepted.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// A JSON file of API tokens with roles, which turns on authentication
    /// for the API (bearer tokens) and the console (login):
    /// {"tokens": [{"name": "ops", "role": "admin"|"read", "token": "…"}]}.
    #[arg(long, value_name = "FILE")]
    auth: Option<PathBuf>,
    /// When a change counts as stored, before it is acknowledged.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Power)]
    durability: DurabilityArg,
    /// A folder of function definitions (*.json) to deploy at start-up
    /// (as with `sluice function deploy`); Task states call them as
    /// `sluice:function:NAME`. Functions deployed earlier stay deployed.
    #[arg(long, value_name = "DIR")]
    functions: Option<PathBuf>,
    /// The store's page cache in MiB: more keeps more of a large store in
    /// memory, less bounds the server's memory.
    #[arg(long, value_name = "MIB", default_value_t = sluice_engine::DEFAULT_CACHE_BYTES / (1024 * 1024))]
    cache_mb: u64,
    /// Free space in MiB kept on the store's disk for work under way:
    /// below it, starts, events and deploys are refused with 507 (reads go
    /// on) until space returns; 0 turns the check off.
    #[arg(long, value_name = "MIB", default_value_t = sluice_engine::disk::DEFAULT_RESERVE_BYTES / (1024 * 1024))]
    disk_reserve_mb: u64,
    /// How process functions (stdio and lambda) run. `on`: in the Linux
    /// sandbox (their own user, PID, mount, IPC, UTS and network
    /// namespaces, uid 65534, only system folders, their code folder and a
    /// private /tmp visible, cgroup memory, pids and CPU limits); the
    /// server refuses to start where the machine cannot do that. `off`:
    /// unisolated, with memory, process and CPU limits only, and functions
    /// must say `"network": true`. `sluice doctor` shows the layers.
    #[arg(long, value_enum, default_value_t = IsolationArg::On, num_args = 0..=1, default_missing_value = "on")]
    isolation: IsolationArg,
    /// Kafka brokers (`host:port,…`) for `sluice:kafka:publish` tasks that
    /// name none.
    #[arg(long, value_name = "HOSTS", env = "SLUICE_KAFKA_BROKERS")]
    kafka_brokers: Option<String>,
    /// AMQP URL for `sluice:amqp:publish` tasks that name none.
    #[arg(long, value_name = "URL", env = "SLUICE_AMQP_URL")]
    amqp_url: Option<String>,
    /// Publish every execution status change (started, succeeded, failed,
    /// timed out, aborted, redriven) as a CloudEvent to `kafka:TOPIC` (on
    /// --kafka-brokers) or `amqp:EXCHANGE` (on --amqp-url); repeatable.
    /// Delivered at least once: changes wait in the store until published.
    #[arg(long = "status-events", value_name = "DEST")]
    status_events: Vec<String>,
    #[command(flatten)]
    buckets: BucketArgs,
}

/// Where Distributed Maps read their items (`ItemReader`) and write their
/// results (`ResultWriter`).
#[derive(Args, Clone, Default)]
pub struct BucketArgs {
    /// An S3-compatible endpoint for buckets (AWS itself when absent).
    /// Credentials and region come from the usual AWS environment variables.
    #[arg(long = "s3-endpoint", value_name = "URL", env = "AWS_ENDPOINT_URL_S3")]
    pub s3_endpoint: Option<String>,
    /// Use local folders as buckets instead: bucket NAME is the folder DIR/NAME.
    #[arg(
        long = "buckets-dir",
        value_name = "DIR",
        conflicts_with = "s3_endpoint"
    )]
    pub buckets_dir: Option<PathBuf>,
}

impl BucketArgs {
    pub fn buckets(&self) -> sluice_connectors::buckets::ObjectBuckets {
        use sluice_connectors::buckets::{BucketsConfig, ObjectBuckets};
        ObjectBuckets::new(match &self.buckets_dir {
            Some(dir) => BucketsConfig::Folder(dir.clone()),
            None => BucketsConfig::s3_from_env(self.s3_endpoint.clone()),
        })
    }
}

/// The engine as the sources' sink: where they submit events and record
/// dead letters and checkpoints.
fn event_sink(engine: &Engine) -> Option<Arc<dyn sluice_engine::EventSink>> {
    Some(Arc::new(engine.clone()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum IsolationArg {
    On,
    Off,
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
    let auth = match &args.auth {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the auth file {}", file.display()))?;
            let auth =
                Auth::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            Some(auth)
        }
        None => None,
    };
    if auth.is_none() {
        refuse_exposed(&args.listen).await?;
    }
    // Check the folder before opening the store, so a typo fails fast.
    if let Some(dir) = &args.functions {
        sluice_executors::load_dir(dir)?;
    }
    // Tasks the engine dispatches at once (timers, recovery) wait until the
    // catalog's functions are loaded below.
    let functions = sluice_executors::Functions::new_loading();
    functions::set_isolation(&functions, args.isolation == IsolationArg::On)?;
    let destinations = args
        .status_events
        .iter()
        .map(|d| {
            status_events::Destination::parse(
                d,
                args.kafka_brokers.is_some(),
                args.amqp_url.is_some(),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let durability = Durability::from(args.durability);
    let mut config = EngineConfig::new(&args.data);
    config.durability = durability;
    config.cache_bytes = args.cache_mb.saturating_mul(1024 * 1024);
    config.disk_reserve_bytes = args.disk_reserve_mb.saturating_mul(1024 * 1024);
    config.status_feed = !destinations.is_empty();
    let publish = sluice_connectors::publish::PublishExecutor::new(
        sluice_connectors::publish::PublishConfig {
            kafka_brokers: args.kafka_brokers.clone(),
            amqp_url: args.amqp_url.clone(),
        },
    );

    let listener = bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    // The port is the server's alone, also between a function's fork and
    // its exec (see close_in_children).
    let address = listener.local_addr()?;
    sluice_executors::process::sandbox::close_in_children(
        std::os::fd::AsRawFd::as_raw_fd(&listener),
        address.port(),
    );
    if auth.is_some() {
        tracing::info!("authentication on: the API needs a token, the console a login");
    } else {
        tracing::warn!(
            %address,
            "no --auth: listening on loopback only, and anyone on this machine can use the API and the console"
        );
    }
    let (router, ready) = starting::gate();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
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

    let data = args.data.clone();
    let executor = Arc::new(sources::Routed {
        publish: publish.clone(),
        http: Arc::new(sluice_executors::http_task::HttpTasks::new()),
        rest: Arc::new(functions.clone()),
    });
    let opening = tokio::task::spawn_blocking(move || {
        open_store(config, executor).with_context(|| {
            format!(
                "cannot open the store in {} (is another sluice serve using it?)",
                data.display()
            )
        })
    });
    let engine = tokio::select! {
        opened = opening => opened.context("opening the store stopped unexpectedly")??,
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down before the store was open");
            return Ok(());
        }
    };
    engine.set_buckets(Arc::new(args.buckets.buckets()));
    let package_dir = args.data.join(packages::FOLDER);
    let package_store = Arc::new(
        sluice_executors::package::PackageStore::open(&package_dir, Default::default())
            .with_context(|| format!("cannot open the package folder {}", package_dir.display()))?,
    );
    if let Some(dir) = &args.functions {
        let n = functions::preload(&engine, &functions, &package_store, dir).await?;
        tracing::info!(functions = n, folder = %dir.display(), "functions deployed from the folder");
    }
    functions::follow(&engine, &functions, &package_store)?;
    functions.loaded();
    if !destinations.is_empty() {
        tracing::info!(destinations = ?args.status_events, "publishing execution status events");
        tokio::spawn(status_events::run(engine.clone(), publish, destinations));
    }
    let sink = event_sink(&engine);
    let manager = sink.as_ref().map(|sink| {
        let manager = sluice_connectors::manager::SourceManager::new(sink.clone());
        tokio::spawn(sources::follow_catalog(engine.clone(), manager.clone()));
        manager
    });
    let state = AppState::new(engine.clone())
        .with_functions(functions::host(&functions))
        .with_packages(packages::host(&package_store))
        .with_sources(Arc::new(sources::Control {
            manager: manager.clone(),
            sink,
        }));
    let state = match auth {
        Some(auth) => state.with_auth(auth),
        None => state,
    };
    // Only this task sets the cell.
    let _ = ready.set(sluice_console::app(state.clone()));

    let recovering = engine.clone();
    tokio::spawn(async move {
        match recovering.recover().await {
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
    // In-flight task dispatches end now (dispatched again at the next
    // start, under the same idempotency keys), not at the runtime's drop.
    engine.shutdown(EFFECTS_GRACE).await;
    tracing::info!("stopped");
    Ok(())
}

/// Without --auth the server must not be reachable from other machines.
async fn refuse_exposed(listen: &str) -> Result<()> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .with_context(|| format!("cannot resolve --listen {listen}"))?
        .collect();
    if let Some(open) = addresses.iter().find(|a| !a.ip().is_loopback()) {
        anyhow::bail!(
            "refusing to listen on {open} without --auth: anyone who can reach it could deploy and run workflows. \
             Pass --auth FILE (API tokens with roles) or listen on a loopback address such as 127.0.0.1:8080"
        );
    }
    Ok(())
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

/// Open the store. Right after a crash its lock can still be held for a
/// moment, like the port (see [`bind`]): by a function process of the
/// killed server between its fork and its exec, which holds a copy of the
/// store's descriptors. "could not acquire lock" is retried for up to 15 s;
/// another server that really uses the store holds it longer.
fn open_store(
    config: EngineConfig,
    executor: Arc<sources::Routed>,
) -> Result<Engine, sluice_engine::EngineError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match Engine::open(config.clone(), executor.clone()) {
            // sled reports it as an I/O error in text only (EngineError
            // keeps the message, not the source).
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                tracing::warn!(error = %e, "the store is still locked; retrying");
                std::thread::sleep(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// Bind the listener. Right after a crash the port can still be held for a
/// moment (by a function process of the killed server between its fork
/// and its exec, when that server was older than `close_in_children`, or
/// by another program): "address in use" is retried for up to 15 s.
async fn bind(address: &str) -> std::io::Result<tokio::net::TcpListener> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        match tokio::net::TcpListener::bind(address).await {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                tracing::warn!(address, "the address is still in use; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}
