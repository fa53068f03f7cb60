//! The brokers the harness sends events through, and their faults:
//! RabbitMQ (the machine's, on AMQP_URL; `rabbitmqctl stop_app` /
//! `start_app`) and a private tansu on a free loopback port that keeps its
//! log in a bucket of the S3 API server (moto on 127.0.0.1:4566, or
//! `SLUICE_TEST_S3`), so that, like a real Kafka, it still has the topic
//! and the group's offsets after a restart.

use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::FutureProducer;
use serde_json::json;
use sluice_connectors::{amqp, kafka};
use std::collections::BTreeMap;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A structured CloudEvent of `event_type` with the id `id`.
fn event(id: &str, event_type: &str) -> Vec<u8> {
    json!({"specversion": "1.0", "id": id, "source": "chaos", "type": event_type, "data": {}})
        .to_string()
        .into_bytes()
}

/// The events sent through one broker: id → acknowledged by the broker.
#[derive(Default)]
pub struct Sent(pub BTreeMap<String, bool>);

impl Sent {
    pub fn acked(&self) -> impl Iterator<Item = &String> {
        self.0.iter().filter(|(_, a)| **a).map(|(id, _)| id)
    }

    fn pending(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, a)| !**a)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Publishes to a queue of its own with publisher confirms; reconnects
/// when the broker went away.
pub struct Rabbit {
    rt: tokio::runtime::Runtime,
    link: Option<(Connection, Channel)>,
    pub queue: String,
    pub sent: Sent,
}

impl Rabbit {
    pub fn new(queue: String) -> Rabbit {
        let mut r = Rabbit {
            rt: runtime(),
            link: None,
            queue,
            sent: Sent::default(),
        };
        let ch = r.channel().expect("RabbitMQ on AMQP_URL");
        let opts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        r.rt.block_on(ch.queue_declare(&r.queue, opts, FieldTable::default()))
            .expect("queue declared");
        r
    }

    fn channel(&mut self) -> Option<Channel> {
        if self
            .link
            .as_ref()
            .is_some_and(|(c, _)| c.status().connected())
        {
            return self.link.as_ref().map(|(_, ch)| ch.clone());
        }
        self.link = self.rt.block_on(async {
            let conn = amqp::connect(&amqp_url()).await.ok()?;
            let ch = conn.create_channel().await.ok()?;
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .ok()?;
            Some((conn, ch))
        });
        self.link.as_ref().map(|(_, ch)| ch.clone())
    }

    /// Sends `id` (and every earlier one not yet confirmed).
    pub fn send(&mut self, id: String) {
        self.sent.0.entry(id).or_insert(false);
        for id in self.sent.pending() {
            let Some(ch) = self.channel() else { return };
            let body = event(&id, "chaos.amqp");
            let ct = Some("application/cloudevents+json");
            let published = self.rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(10),
                    amqp::publish(&ch, "", &self.queue, &body, ct, &[], Some(&id)),
                )
                .await
            });
            match published {
                Ok(Ok(())) => {
                    self.sent.0.insert(id, true);
                }
                _ => {
                    self.link = None;
                    return;
                }
            }
        }
    }

    pub fn delete_queue(&mut self) {
        if let Some(ch) = self.channel() {
            let _ = self
                .rt
                .block_on(ch.queue_delete(&self.queue, QueueDeleteOptions::default()));
        }
    }
}

/// `rabbitmqctl ARG`; panics when it fails.
pub fn rabbitmqctl(arg: &str) {
    let ok = Command::new("rabbitmqctl")
        .arg(arg)
        .stdout(Stdio::null())
        .status()
        .expect("rabbitmqctl on PATH")
        .success();
    assert!(ok, "rabbitmqctl {arg}");
}

fn s3_endpoint() -> String {
    std::env::var("SLUICE_TEST_S3").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// A tansu broker of the harness's own, with a producer; killed when
/// dropped.
pub struct Tansu {
    child: Option<Child>,
    port: u16,
    bucket: String,
    rt: tokio::runtime::Runtime,
    producer: FutureProducer,
    pub topic: String,
    pub sent: Sent,
}

impl Tansu {
    pub fn start(port: u16, name: &str) -> Tansu {
        let bucket = format!("{name}-log");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let endpoint = s3_endpoint();
        let res = agent
            .put(&format!("{endpoint}/{bucket}"))
            .send_empty()
            .unwrap_or_else(|e| {
                panic!("moto_server at {endpoint} (scripts/test.sh starts it): {e}")
            });
        assert_eq!(res.status(), 200, "bucket {bucket} created");
        let brokers = format!("127.0.0.1:{port}");
        let rt = runtime();
        let producer = rt.block_on(async { kafka::producer(&brokers) }).unwrap();
        let mut t = Tansu {
            child: None,
            port,
            bucket,
            rt,
            producer,
            topic: name.to_string(),
            sent: Sent::default(),
        };
        t.up();
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        let created = t.rt.block_on(admin.create_topics(
            &[NewTopic::new(&t.topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ));
        for r in created.expect("tansu answers") {
            r.expect("topic created");
        }
        t
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn up(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new("tansu")
            .args([
                "broker",
                "--storage-engine",
                &format!("s3://{}/", self.bucket),
            ])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .env("AWS_ENDPOINT", s3_endpoint())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu on PATH (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// kill -9 of the broker mid-stream, and the same broker again on the
    /// same port and log.
    pub fn restart(&mut self, down: Duration) {
        self.down();
        std::thread::sleep(down);
        self.up();
    }

    /// Sends `id` (and every earlier one not yet acknowledged).
    pub fn send(&mut self, id: String) {
        self.sent.0.entry(id).or_insert(false);
        for id in self.sent.pending() {
            let body = event(&id, "chaos.kafka");
            let headers = [(
                "content-type".to_string(),
                "application/cloudevents+json".to_string(),
            )];
            let delivered = self.rt.block_on(kafka::publish(
                &self.producer,
                &self.topic,
                Some(&id),
                &body,
                &headers,
            ));
            if delivered.is_err() {
                return;
            }
            self.sent.0.insert(id, true);
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.down();
    }
}
