//! The bucket scanner (`kind: "s3"`): lists an S3-compatible bucket prefix
//! or a local folder through the `object_store` crate every `pollSeconds`,
//! compares the listing with what the previous scan saw, and emits
//! `ObjectCreated` (new or changed object) and `ObjectRemoved` CloudEvents —
//! the same shape as S3 event notifications ([`crate::object_events`]).
//!
//! Nothing is held in memory beyond a page: the listing streams in byte
//! order of the key, and the objects seen last time are kept as the
//! source's checkpoints in the engine (key `o/KEY`, value etag/size/time),
//! read back page by page in the same order, so the comparison is a merge
//! of two sorted streams. Each page of events is submitted before the
//! checkpoints that record it are written: a crash in between re-emits the
//! page with the same deterministic ids (`bucket/key@etag`), which the
//! engine deduplicates.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};
use serde_json::{json, Value};
use sluice_dsl::source::{S3Source, SourceDef, SourceSpec};
use sluice_engine::{EngineError, EventSink, InboundEvent};

use crate::cloudevent::source_uri;
use crate::object_events::{object_event, ObjectMeta as EventMeta};
use crate::{Backoff, CancellationToken, SourceStatus};

/// Checkpoint keys of seen objects start with this.
const SEEN: &str = "o/";
/// Checkpoint key of the last finished scan's summary.
const LAST_SCAN: &str = "scan";
/// Events submitted (and checkpoints written) together.
const PAGE: usize = 500;

/// Where a binding's objects live, opened once.
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    /// `data.bucket` of the events: the bucket name, or the folder's path.
    name: String,
    /// The listed prefix inside the store (`None`: everything).
    prefix: Option<Path>,
    /// S3 lists a prefix in key order; a local folder lists in no order, so
    /// it is walked one directory at a time, sorted.
    ordered_listing: bool,
}

impl Bucket {
    /// Opens `s3://bucket/prefix` or `file:///dir` (nothing is contacted
    /// yet). Errors name the field and the fix.
    pub fn open(cfg: &S3Source) -> Result<Bucket, String> {
        if let Some(rest) = cfg.url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("url: s3://BUCKET/PREFIX needs a bucket name".into());
            }
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            let region = cfg
                .region
                .clone()
                .or_else(|| std::env::var("AWS_REGION").ok())
                .unwrap_or_else(|| "us-east-1".into());
            b = b.with_region(region);
            if let Some(endpoint) = &cfg.endpoint {
                b = b
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if !has_aws_credentials() {
                // Without credentials in the environment object_store would
                // ask the EC2 instance metadata service; a self-hosted
                // engine reads public buckets anonymously instead.
                tracing::info!(
                    bucket,
                    "no AWS credentials in the environment: listing anonymously"
                );
                b = b.with_skip_signature(true);
            }
            let store = b
                .build()
                .map_err(|e| format!("url/endpoint/region: cannot open {}: {e}", cfg.url))?;
            Ok(Bucket {
                store: Arc::new(store),
                name: bucket.to_string(),
                prefix: non_empty(prefix),
                ordered_listing: true,
            })
        } else if let Some(dir) = cfg.url.strip_prefix("file://") {
            if !dir.starts_with('/') {
                return Err(format!(
                    "url: file:// URLs need an absolute folder (file:///data/in), not {}",
                    cfg.url
                ));
            }
            let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| format!("url: cannot open the folder {dir}: {e}"))?;
            Ok(Bucket {
                store: Arc::new(store),
                name: dir.trim_end_matches('/').to_string(),
                prefix: None,
                ordered_listing: false,
            })
        } else {
            Err(format!(
                "url: use s3://BUCKET/PREFIX or file:///FOLDER, not {}",
                cfg.url
            ))
        }
    }

    fn listing(&self) -> Listing {
        if self.ordered_listing {
            Listing::Ordered(self.store.list(self.prefix.as_ref()))
        } else {
            Listing::Walk {
                store: self.store.clone(),
                pending: vec![Entry::Dir(self.prefix.clone())],
            }
        }
    }

    /// Lists one level: proves the store answers (`sluice source test`).
    pub async fn probe(&self) -> Result<String, String> {
        let level = self
            .store
            .list_with_delimiter(self.prefix.as_ref())
            .await
            .map_err(|e| format!("listing {}: {e}", self.name))?;
        Ok(format!(
            "{}: {} object(s) and {} folder(s) at the top level",
            self.name,
            level.objects.len(),
            level.common_prefixes.len()
        ))
    }
}

fn non_empty(prefix: &str) -> Option<Path> {
    let p = prefix.trim_matches('/');
    (!p.is_empty()).then(|| Path::from(p))
}

pub(crate) fn has_aws_credentials() -> bool {
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
}

/// One directory's entry while walking a folder.
enum Entry {
    Object(ObjectMeta),
    Dir(Option<Path>),
}

/// The objects under the prefix, in byte order of the key.
enum Listing {
    Ordered(BoxStream<'static, object_store::Result<ObjectMeta>>),
    /// Depth first, each directory sorted with sub-directories ordered as
    /// `name/`: that is exactly the byte order of the full keys (everything
    /// under `a/` sorts after `a.txt` and before `a0`). Holds one directory
    /// level at a time, never the whole tree.
    Walk {
        store: Arc<dyn ObjectStore>,
        /// A stack: the next entry is last.
        pending: Vec<Entry>,
    },
}

impl Listing {
    async fn next(&mut self) -> Result<Option<ObjectMeta>, String> {
        match self {
            Listing::Ordered(stream) => stream.next().await.transpose().map_err(|e| e.to_string()),
            Listing::Walk { store, pending } => loop {
                match pending.pop() {
                    None => return Ok(None),
                    Some(Entry::Object(o)) => return Ok(Some(o)),
                    Some(Entry::Dir(dir)) => {
                        let level = store
                            .list_with_delimiter(dir.as_ref())
                            .await
                            .map_err(|e| e.to_string())?;
                        let mut entries: Vec<(String, Entry)> = level
                            .objects
                            .into_iter()
                            .map(|o| (o.location.to_string(), Entry::Object(o)))
                            .chain(
                                level
                                    .common_prefixes
                                    .into_iter()
                                    .map(|p| (format!("{p}/"), Entry::Dir(Some(p)))),
                            )
                            .collect();
                        // Descending, so that popping yields ascending.
                        entries.sort_by(|a, b| b.0.cmp(&a.0));
                        pending.extend(entries.into_iter().map(|(_, e)| e));
                    }
                }
            },
        }
    }
}

/// The objects the previous scan saw, read back page by page in key order.
struct Seen<'a> {
    sink: &'a dyn EventSink,
    source: &'a str,
    page: std::collections::VecDeque<(String, Value)>,
    /// The last key read from the sink; `None` before the first page.
    last: Option<String>,
    done: bool,
}

impl<'a> Seen<'a> {
    fn new(sink: &'a dyn EventSink, source: &'a str) -> Self {
        Seen {
            sink,
            source,
            page: Default::default(),
            last: None,
            done: false,
        }
    }

    /// The next seen object (its key without `o/`) without taking it.
    async fn peek(&mut self) -> Result<Option<&(String, Value)>, EngineError> {
        if self.page.is_empty() && !self.done {
            let rows = self
                .sink
                .checkpoints(self.source, SEEN, self.last.as_deref(), PAGE)
                .await?;
            self.done = rows.len() < PAGE;
            self.last = rows.last().map(|(k, _)| k.clone()).or(self.last.take());
            self.page.extend(
                rows.into_iter()
                    .map(|(k, v)| (k[SEEN.len()..].to_string(), v)),
            );
        }
        Ok(self.page.front())
    }

    fn take(&mut self) -> Option<(String, Value)> {
        self.page.pop_front()
    }
}

/// What one scan did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    pub objects: u64,
    pub created: u64,
    pub removed: u64,
}

/// One scan's pending page: events and the checkpoints that record them.
struct Page<'a> {
    sink: &'a dyn EventSink,
    def: &'a SourceDef,
    status: &'a SourceStatus,
    source_uri: String,
    events: Vec<InboundEvent>,
    seen: Vec<(String, Option<Value>)>,
}

impl Page<'_> {
    async fn flush(&mut self) -> Result<(), EngineError> {
        if !self.events.is_empty() {
            let n = self.events.len() as u64;
            self.status.add_received(n);
            self.sink.submit(std::mem::take(&mut self.events)).await?;
            // Listing and storing both work: the source is up even while
            // the rest of this (possibly long) first scan is still going.
            self.status.set_connected(true);
            self.status.add_acked(n);
        }
        if !self.seen.is_empty() {
            self.sink
                .set_checkpoints(&self.def.name, std::mem::take(&mut self.seen))
                .await?;
        }
        Ok(())
    }

    fn push_event(&mut self, event: Value) {
        self.events.push(InboundEvent {
            source: self.def.name.clone(),
            event,
        });
    }
}

/// Compares the listing with the previous scan and emits the differences.
pub async fn scan(
    bucket: &Bucket,
    def: &SourceDef,
    sink: &dyn EventSink,
    status: &SourceStatus,
) -> Result<ScanReport, String> {
    let storage = |e: EngineError| format!("recording the scan: {e}");
    let mut listing = bucket.listing();
    let mut seen = Seen::new(sink, &def.name);
    let mut page = Page {
        sink,
        def,
        status,
        source_uri: source_uri(&def.name),
        events: Vec::new(),
        seen: Vec::new(),
    };
    let mut report = ScanReport::default();
    while let Some(object) = listing
        .next()
        .await
        .map_err(|e| format!("listing {}: {e}", bucket.name))?
    {
        report.objects += 1;
        let key = object.location.to_string();
        // Seen keys before this one are gone.
        while let Some((k, _)) = seen.peek().await.map_err(storage)? {
            if k.as_str() >= key.as_str() {
                break;
            }
            let (k, v) = seen.take().expect("peeked");
            removed(&mut page, bucket, &k, &v);
            report.removed += 1;
        }
        let same_key = matches!(seen.peek().await.map_err(storage)?, Some((k, _)) if *k == key);
        let previous = if same_key {
            seen.take().map(|(_, v)| v)
        } else {
            None
        };
        let now = fingerprint(&object);
        if previous.as_ref() != Some(&now) {
            created(&mut page, bucket, &key, &object, &now);
            report.created += 1;
        }
        if page.events.len() >= PAGE || page.seen.len() >= PAGE {
            page.flush().await.map_err(storage)?;
        }
    }
    while seen.peek().await.map_err(storage)?.is_some() {
        let (k, v) = seen.take().expect("peeked");
        removed(&mut page, bucket, &k, &v);
        report.removed += 1;
        if page.events.len() >= PAGE {
            page.flush().await.map_err(storage)?;
        }
    }
    page.seen.push((
        LAST_SCAN.into(),
        Some(json!({
            "finishedAt": Utc::now().to_rfc3339(),
            "objects": report.objects,
            "created": report.created,
            "removed": report.removed,
        })),
    ));
    page.flush().await.map_err(storage)?;
    Ok(report)
}

/// What decides that an object changed: its etag, size and time.
fn fingerprint(o: &ObjectMeta) -> Value {
    json!({
        "etag": o.e_tag.as_deref().map(|e| e.trim_matches('"')),
        "size": o.size,
        "modified": o.last_modified.to_rfc3339(),
    })
}

/// Distinguishes two versions of one key in event ids: the etag (or the
/// size) and the modification time, so re-uploading the same bytes is a new
/// event while a re-scan of the same object deduplicates.
fn marker(fp: &Value) -> String {
    let tag = match fp["etag"].as_str() {
        Some(e) => e.to_string(),
        None => fp["size"].as_u64().unwrap_or(0).to_string(),
    };
    format!("{tag}:{}", fp["modified"].as_str().unwrap_or(""))
}

fn created(page: &mut Page<'_>, bucket: &Bucket, key: &str, o: &ObjectMeta, fp: &Value) {
    let marker = marker(fp);
    let mut ev = object_event(
        &page.source_uri,
        true,
        &bucket.name,
        key,
        EventMeta {
            size: Some(o.size),
            etag: fp["etag"].as_str(),
            version: o.version.as_deref(),
            marker: &marker,
        },
    );
    ev["time"] = o.last_modified.to_rfc3339().into();
    ev["data"]["eventName"] = "ObjectCreated:Scan".into();
    page.push_event(ev);
    page.seen.push((format!("{SEEN}{key}"), Some(fp.clone())));
}

fn removed(page: &mut Page<'_>, bucket: &Bucket, key: &str, fp: &Value) {
    let marker = marker(fp);
    let mut ev = object_event(
        &page.source_uri,
        false,
        &bucket.name,
        key,
        EventMeta {
            size: fp["size"].as_u64(),
            etag: fp["etag"].as_str(),
            version: None,
            marker: &marker,
        },
    );
    ev["time"] = Utc::now().to_rfc3339().into();
    ev["data"]["eventName"] = "ObjectRemoved:Scan".into();
    page.push_event(ev);
    page.seen.push((format!("{SEEN}{key}"), None));
}

/// Scans every `pollSeconds` until shutdown; a failed scan is reported in
/// the status and retried with backoff (the next scan redoes its work:
/// what was submitted is deduplicated).
pub async fn run(
    def: SourceDef,
    sink: Arc<dyn EventSink>,
    status: Arc<SourceStatus>,
    shutdown: CancellationToken,
) {
    let SourceSpec::S3(cfg) = &def.spec else {
        status.fail(&def.name, "not an s3 binding");
        return;
    };
    let bucket = match Bucket::open(cfg) {
        Ok(b) => b,
        Err(e) => {
            status.fail(&def.name, e);
            return;
        }
    };
    let poll = Duration::from_secs(cfg.poll_seconds.max(1));
    let mut backoff = Backoff::new();
    loop {
        let started = std::time::Instant::now();
        let wait = match scan(&bucket, &def, sink.as_ref(), &status).await {
            Ok(report) => {
                status.set_connected(true);
                backoff.reset();
                tracing::debug!(source = %def.name, ?report, took = ?started.elapsed(), "bucket scanned");
                poll
            }
            Err(e) => {
                status.set_connected(false);
                status.fail(&def.name, e);
                if !backoff.wait(&shutdown).await {
                    return;
                }
                continue;
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
