//! Source throughput: broker → CloudEvent → trigger rule matched →
//! execution durably started, against the raw consume rate of the same
//! client on the same broker, as a ratio.
//!
//! ```text
//! cargo bench -p sluice-connectors --bench throughput
//! cargo bench -p sluice-connectors --bench throughput -- --messages 20000 --only kafka
//! cargo bench -p sluice-connectors --bench throughput -- --only engine
//! ```
//!
//! `--only engine` runs just the engine-alone case (no broker needed).
//!
//! For each broker (tansu on KAFKA_BROKERS, default 127.0.0.1:9092;
//! RabbitMQ on AMQP_URL), M raw JSON messages are produced beforehand
//! (not timed), then consumed by:
//! - the bare client (rdkafka `StreamConsumer` with the source's settings;
//!   lapin with the source's prefetch and one `ack multiple` per batch):
//!   the floor;
//! - the source (`kafka::run` / `amqp::run`) into a real engine on a
//!   temporary sled store, with one trigger rule matching every event and a
//!   one-state Pass workflow, for `--durability process` and `power`: the
//!   clock stops when the source has acked M events, i.e. when the engine
//!   reported every event, its deduplication record and its execution
//!   durable (checked against the engine's counters afterwards);
//! - `EventSink::submit` of the same events, already converted, in batches
//!   of 1,000: the engine's own ceiling, with no broker at all.
//!
//! Times run from the moment the consumer is created (connect, join,
//! first fetch included) to the last message done; the time to the first
//! message is shown on its own, and the rate after it, since tansu answers
//! from memory and librdkafka prefetches: once the first message is in,
//! the bare consumer mostly pops messages already fetched.

mod amqp;
mod kafka;

use std::sync::Arc;
use std::time::{Duration, Instant};

// The same allocator as the `sluice` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use serde_json::{json, Value};
use sluice_connectors::SourceStatus;
use sluice_engine::{
    Durability, Engine, EngineConfig, EventSink, Executor, InboundEvent, TaskError, TaskInvocation,
};

/// The CloudEvent type the benchmark's sources give wrapped messages; the
/// one trigger rule matches it.
pub const EVENT_TYPE: &str = "bench.message";

/// The workflows here have no Task states.
struct NoTasks;

#[async_trait::async_trait]
impl Executor for NoTasks {
    async fn invoke(&self, task: TaskInvocation) -> Result<Value, TaskError> {
        Err(TaskError::new(
            "States.Runtime",
            format!("no executor in the benchmark for {}", task.resource),
        ))
    }
}

/// A fresh engine with a one-state workflow and a rule matching every
/// event of [`EVENT_TYPE`].
pub async fn engine(durability: Durability) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.durability = durability;
    let engine = Engine::open(config, Arc::new(NoTasks)).unwrap();
    engine.recover().await.unwrap();
    engine
        .deploy(
            "one",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        )
        .await
        .unwrap();
    engine
        .put_document(
            "trigger",
            "all",
            json!({"name": "all", "workflow": "one", "pattern": {"type": [EVENT_TYPE]}}),
        )
        .await
        .unwrap();
    (engine, dir)
}

/// The body of message `i`: a small order, about 100 bytes of JSON.
pub fn body(i: usize) -> Vec<u8> {
    json!({"order": format!("o-{i:08}"), "customer": format!("c-{}", i % 1000),
        "total": (i % 10_000) as f64 / 100.0, "items": i % 7 + 1})
    .to_string()
    .into_bytes()
}

/// When the first and the last message were done, from the start.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub first: Duration,
    pub total: Duration,
}

/// Waits until the source (started at `started`) has received a first
/// message, then until it has acked `count` events.
pub async fn time_source(started: Instant, status: &SourceStatus, count: u64) -> Timing {
    let deadline = Instant::now() + Duration::from_secs(600);
    while status.snapshot().received == 0 {
        assert!(Instant::now() < deadline, "the source received nothing");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let first = started.elapsed();
    loop {
        let s = status.snapshot();
        if s.acked >= count {
            return Timing {
                first,
                total: started.elapsed(),
            };
        }
        assert!(
            Instant::now() < deadline,
            "the source acked {} of {count}: {s:?}",
            s.acked
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Checks the engine started one execution per message.
pub fn check_started(engine: &Engine, count: u64) {
    let stats = engine.event_stats();
    assert_eq!(stats.executions_started, count, "{stats:?}");
    assert_eq!(stats.duplicates, 0, "{stats:?}");
}

/// The engine alone: `submit` of `events`, 1,000 at a time.
pub async fn time_engine_alone(durability: Durability, events: Vec<InboundEvent>) -> Timing {
    let (engine, _dir) = engine(durability).await;
    let count = events.len() as u64;
    let started = Instant::now();
    let mut it = events.into_iter().peekable();
    while it.peek().is_some() {
        let batch: Vec<InboundEvent> = it.by_ref().take(1000).collect();
        engine.submit(batch).await.unwrap();
    }
    let total = started.elapsed();
    check_started(&engine, count);
    Timing {
        first: Duration::ZERO,
        total,
    }
}

/// The engine-alone rows, one per durability, for `events(durability)`.
pub async fn engine_alone_rows(
    messages: usize,
    events: impl Fn() -> Vec<InboundEvent>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (durability, name) in DURABILITIES {
        rows.push(Row {
            case: format!("engine alone (submit, 1,000 per call), {name}"),
            messages,
            timing: time_engine_alone(durability, events()).await,
        });
    }
    rows
}

/// One line of the results table.
pub struct Row {
    pub case: String,
    pub messages: usize,
    pub timing: Timing,
}

impl Row {
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.timing.total.as_secs_f64()
    }
    fn rate_after_first(&self) -> f64 {
        self.messages as f64 / (self.timing.total - self.timing.first).as_secs_f64()
    }
}

pub fn print_rows(title: &str, rows: &[Row]) {
    let floor = rows[0].rate();
    println!("\n{title}");
    println!("| case | messages | first message (s) | all done (s) | events/s | after the first | ÷ raw consume |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.3} | {:.2} | {:.0} | {:.0} | {:.3} |",
            r.case,
            r.messages,
            r.timing.first.as_secs_f64(),
            r.timing.total.as_secs_f64(),
            r.rate(),
            r.rate_after_first(),
            r.rate() / floor
        );
    }
}

pub struct Args {
    pub messages: usize,
    pub kafka: bool,
    pub amqp: bool,
    /// Only the engine alone, no broker.
    pub engine: bool,
    /// The AMQP prefetch windows to measure (the binding's `prefetch`).
    pub prefetch: Vec<u16>,
}

fn args() -> Args {
    // `cargo bench` passes `--bench`; everything else is ours.
    let mut a = Args {
        messages: 50_000,
        kafka: true,
        amqp: true,
        engine: false,
        prefetch: vec![100, 1000],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--quick" => a.messages = 5_000,
            "--messages" => a.messages = it.next().and_then(|n| n.parse().ok()).expect("--messages N"),
            "--prefetch" => {
                a.prefetch = it
                    .next()
                    .expect("--prefetch N[,N…]")
                    .split(',')
                    .map(|n| n.parse().expect("--prefetch N[,N…]"))
                    .collect()
            }
            "--only" => match it.next().as_deref() {
                Some("kafka") => a.amqp = false,
                Some("amqp") => a.kafka = false,
                Some("engine") => (a.kafka, a.amqp, a.engine) = (false, false, true),
                other => panic!("--only kafka|amqp|engine, not {other:?}"),
            },
            other => panic!("unknown argument {other}: --messages N, --quick, --only kafka|amqp|engine, --prefetch N[,N…]"),
        }
    }
    a
}

pub const DURABILITIES: [(Durability, &str); 2] = [
    (Durability::Process, "process"),
    (Durability::Power, "power"),
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    println!(
        "source throughput, {} messages per case, {} CPUs",
        args.messages,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    if args.engine {
        let rows =
            engine_alone_rows(args.messages, || kafka::events("engine", args.messages)).await;
        print_rows("Engine alone (no broker)", &rows);
    }
    if args.kafka {
        let rows = kafka::run(&args).await;
        print_rows("Kafka (tansu, memory storage)", &rows);
    }
    if args.amqp {
        for &prefetch in &args.prefetch {
            let rows = amqp::run(&args, prefetch).await;
            print_rows(&format!("AMQP (RabbitMQ), prefetch {prefetch}"), &rows);
        }
    }
}
