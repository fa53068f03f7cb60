//! The bucket scanner against a real local folder and a real S3 API
//! (moto_server on 127.0.0.1:4566, or `SLUICE_TEST_S3`; scripts/test.sh
//! starts it).

mod common;

use std::sync::Arc;

use common::{unique, RecordingSink};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::{json, Value};
use sluice_connectors::bucket::{scan, Bucket, ScanReport};
use sluice_connectors::SourceStatus;
use sluice_dsl::source::{S3Source, SourceDef};

fn binding(name: &str, url: &str, endpoint: Option<&str>) -> SourceDef {
    let mut v = json!({"name": name, "kind": "s3", "url": url, "pollSeconds": 1});
    if let Some(e) = endpoint {
        v["endpoint"] = e.into();
    }
    SourceDef::from_value(&v).expect("a valid binding")
}

fn spec(def: &SourceDef) -> &S3Source {
    match &def.spec {
        sluice_dsl::source::SourceSpec::S3(s) => s,
        _ => unreachable!("an s3 binding"),
    }
}

/// Scans once and returns the report and the events it emitted.
async fn scan_once(def: &SourceDef, sink: &Arc<RecordingSink>) -> (ScanReport, Vec<Value>) {
    let before = sink.events().len();
    let bucket = Bucket::open(spec(def)).expect("opens");
    let report = scan(&bucket, def, sink.as_ref(), &SourceStatus::new())
        .await
        .expect("the scan succeeds");
    (report, sink.events()[before..].to_vec())
}

fn summary(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["type"]
                    .as_str()
                    .unwrap()
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .to_string(),
                e["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_folder_scan_emits_new_changed_and_removed_objects_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::write(root.join("a.txt"), "one").unwrap();
    std::fs::write(root.join("a/x.csv"), "two").unwrap();
    std::fs::write(root.join("b"), "three").unwrap();
    let url = format!("file://{}", root.display());
    let def = binding("drop", &url, None);
    let sink = RecordingSink::new();

    let (report, events) = scan_once(&def, &sink).await;
    assert_eq!(
        summary(&events),
        [
            ("ObjectCreated".into(), "a.txt".into()),
            ("ObjectCreated".into(), "a/x.csv".into()),
            ("ObjectCreated".into(), "b".into())
        ],
        "every object once, in key order"
    );
    assert_eq!(report.objects, 3);
    let first = &events[0];
    assert_eq!(first["source"], "sluice://sources/drop");
    assert_eq!(first["data"]["bucket"], root.display().to_string());
    assert_eq!(first["data"]["key"], "a.txt");
    assert_eq!(first["data"]["size"], 3);
    assert_eq!(first["specversion"], "1.0");

    let (report, events) = scan_once(&def, &sink).await;
    assert!(
        events.is_empty(),
        "an unchanged folder emits nothing: {events:?}"
    );
    assert_eq!(report.objects, 3);

    // A change, a removal and a new object; modification times are kept to
    // the microsecond, but make sure the change is visible in the size too.
    std::fs::write(root.join("b"), "three, changed").unwrap();
    std::fs::remove_file(root.join("a.txt")).unwrap();
    std::fs::write(root.join("c"), "four").unwrap();
    let (report, events) = scan_once(&def, &sink).await;
    assert_eq!(
        summary(&events),
        [
            ("ObjectRemoved".into(), "a.txt".into()),
            ("ObjectCreated".into(), "b".into()),
            ("ObjectCreated".into(), "c".into())
        ]
    );
    assert_eq!(
        report,
        ScanReport {
            objects: 3,
            created: 2,
            removed: 1
        }
    );
    let all = sink.ids();
    let unique_ids: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(
        unique_ids.len(),
        all.len(),
        "a changed object gets a new id"
    );
    assert!(events[0]["id"].as_str().unwrap().ends_with("#removed"));
    assert_eq!(events[1]["data"]["size"], 14);
}

#[tokio::test]
async fn state_beyond_a_page_is_compared_page_by_page_and_lost_checkpoints_re_emit_the_same_ids() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // 1,234 objects in 12 folders: more than two pages of checkpoints.
    for d in 0..12 {
        std::fs::create_dir_all(root.join(format!("d{d:02}"))).unwrap();
    }
    for i in 0..1234 {
        std::fs::write(root.join(format!("d{:02}/f{i:05}", i % 12)), i.to_string()).unwrap();
    }
    let def = binding("many", &format!("file://{}", root.display()), None);
    let sink = RecordingSink::new();
    let (report, events) = scan_once(&def, &sink).await;
    assert_eq!((report.objects, report.created), (1234, 1234));
    let keys: Vec<String> = events
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "emitted in key order");
    assert!(
        sink.batches.lock().unwrap().iter().all(|b| *b <= 500),
        "submitted in pages"
    );

    // Remove every third file: exactly those are reported.
    for i in (0..1234).step_by(3) {
        std::fs::remove_file(root.join(format!("d{:02}/f{i:05}", i % 12))).unwrap();
    }
    let (report, events) = scan_once(&def, &sink).await;
    assert_eq!(report.removed, 412);
    assert_eq!(report.created, 0);
    assert!(events
        .iter()
        .all(|e| e["type"] == "sluice.s3.ObjectRemoved"));

    // A crash after submitting but before the checkpoints were written:
    // the next scan emits the same events with the same ids (which the
    // engine deduplicates), not new ones.
    let before: Vec<String> = sink.ids()[..1234].to_vec();
    sink.checkpoints.lock().unwrap().clear();
    std::fs::write(root.join("d00/f00000"), "0").unwrap(); // as it was
    let (report, events) = scan_once(&def, &sink).await;
    assert_eq!(report.created, 823);
    let again: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let later: std::collections::HashSet<_> = again.iter().collect();
    let recreated = events
        .iter()
        .filter(|e| e["subject"] == "d00/f00000")
        .count();
    assert_eq!(recreated, 1);
    let kept_ids = before.iter().filter(|id| later.contains(id)).count();
    assert_eq!(kept_ids, 822, "every untouched object has its old id");
}

/// Creates a bucket on moto and returns a client for it.
fn s3_bucket(bucket: &str) -> Arc<dyn ObjectStore> {
    common::s3::create_bucket(bucket);
    let endpoint = common::s3::endpoint();
    Arc::new(
        AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_endpoint(&endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn an_s3_prefix_is_scanned_across_listing_pages() {
    let bucket = unique("scan");
    let store = s3_bucket(&bucket);
    // More than S3's 1,000 keys per listing page, inside and outside the prefix.
    let puts = (0..1100).map(|i| {
        let store = store.clone();
        async move {
            store
                .put(
                    &Path::from(format!("in/k{i:05}.json")),
                    PutPayload::from(format!("{{\"n\":{i}}}")),
                )
                .await
        }
    });
    for r in futures::future::join_all(puts).await {
        r.unwrap();
    }
    store
        .put(&Path::from("out/ignored"), PutPayload::from("x"))
        .await
        .unwrap();

    let def = binding(
        "bucket",
        &format!("s3://{bucket}/in"),
        Some(&common::s3::endpoint()),
    );
    let probe = Bucket::open(spec(&def)).unwrap().probe().await.unwrap();
    assert!(probe.contains(&bucket), "{probe}");
    let sink = RecordingSink::new();
    let (report, events) = scan_once(&def, &sink).await;
    assert_eq!((report.objects, report.created), (1100, 1100));
    let e = &events[7];
    assert_eq!(e["type"], "sluice.s3.ObjectCreated");
    assert_eq!(e["data"]["bucket"], bucket.as_str());
    assert_eq!(e["data"]["key"], "in/k00007.json");
    assert_eq!(e["data"]["size"], 7, "the bytes of {{\"n\":7}}");
    assert!(
        e["data"]["etag"].as_str().is_some_and(|t| t.len() == 32),
        "{e}"
    );

    store.delete(&Path::from("in/k00003.json")).await.unwrap();
    store
        .put(
            &Path::from("in/k00005.json"),
            PutPayload::from("{\"n\":\"new\"}"),
        )
        .await
        .unwrap();
    let (_, events) = scan_once(&def, &sink).await;
    assert_eq!(
        summary(&events),
        [
            ("ObjectRemoved".into(), "in/k00003.json".into()),
            ("ObjectCreated".into(), "in/k00005.json".into())
        ]
    );
}

#[test]
fn bad_urls_name_the_field() {
    for (url, want) in [
        (
            "http://x/y",
            "url: use s3://BUCKET/PREFIX or file:///FOLDER",
        ),
        (
            "s3:///prefix",
            "url: s3://BUCKET/PREFIX needs a bucket name",
        ),
        (
            "file://relative/dir",
            "url: file:// URLs need an absolute folder",
        ),
    ] {
        let cfg = S3Source {
            url: url.into(),
            endpoint: None,
            region: None,
            poll_seconds: 1,
        };
        let err = Bucket::open(&cfg).err().expect("refused");
        assert!(err.starts_with(want), "{url}: {err}");
    }
}
