//! The engine's [`Buckets`] port on `object_store`: where a Distributed
//! Map's `ItemReader` reads and its `ResultWriter` writes. Buckets are
//! opened by name on first use, either on an S3-compatible endpoint
//! (credentials and region from the usual AWS environment variables) or as
//! folders under a local directory (`--buckets-dir`: bucket `b` is the
//! folder `DIR/b`), and kept open.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sluice_dsl::error::names;
use sluice_engine::{Buckets, ObjectInfo, TaskError};

/// Where bucket names lead.
#[derive(Debug, Clone)]
pub enum BucketsConfig {
    /// An S3-compatible endpoint (`None`: AWS itself).
    S3 {
        endpoint: Option<String>,
        region: String,
    },
    /// Each bucket is a folder of this directory.
    Folder(PathBuf),
}

impl BucketsConfig {
    /// From the environment: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`,
    /// and `AWS_REGION` (default `us-east-1`).
    pub fn s3_from_env(endpoint: Option<String>) -> BucketsConfig {
        let endpoint = endpoint
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".into());
        BucketsConfig::S3 { endpoint, region }
    }
}

/// Buckets on `object_store`.
pub struct ObjectBuckets {
    config: BucketsConfig,
    open: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl ObjectBuckets {
    pub fn new(config: BucketsConfig) -> ObjectBuckets {
        ObjectBuckets {
            config,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn store(&self, bucket: &str, error: &'static str) -> Result<Arc<dyn ObjectStore>, TaskError> {
        if let Some(s) = self.open.lock().expect("buckets lock").get(bucket) {
            return Ok(s.clone());
        }
        let valid = !bucket.is_empty()
            && bucket.len() <= 63
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid {
            return Err(TaskError::new(
                error,
                format!("'{bucket}' is not a bucket name: use 3 to 63 lowercase letters, digits, '-' and '.'"),
            ));
        }
        let store: Arc<dyn ObjectStore> = match &self.config {
            BucketsConfig::S3 { endpoint, region } => {
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(region);
                if let Some(e) = endpoint {
                    b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
                }
                if !crate::bucket::has_aws_credentials() {
                    // As the bucket scanner: no instance metadata lookups.
                    b = b.with_skip_signature(true);
                }
                Arc::new(b.build().map_err(|e| {
                    TaskError::new(error, format!("cannot open the bucket '{bucket}': {e}"))
                })?)
            }
            BucketsConfig::Folder(dir) => {
                let path = dir.join(bucket);
                std::fs::create_dir_all(&path).map_err(|e| {
                    TaskError::new(
                        error,
                        format!("cannot open the folder {}: {e}", path.display()),
                    )
                })?;
                Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(&path).map_err(|e| {
                        TaskError::new(
                            error,
                            format!("cannot open the folder {}: {e}", path.display()),
                        )
                    })?,
                )
            }
        };
        self.open
            .lock()
            .expect("buckets lock")
            .insert(bucket.to_string(), store.clone());
        Ok(store)
    }
}

fn object_path(key: &str, error: &'static str) -> Result<Path, TaskError> {
    Path::parse(key)
        .map_err(|e| TaskError::new(error, format!("'{key}' is not an object key: {e}")))
}

#[async_trait::async_trait]
impl Buckets for ObjectBuckets {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, TaskError> {
        let e = names::ITEM_READER_FAILED;
        let store = self.store(bucket, e)?;
        let got = store
            .get(&object_path(key, e)?)
            .await
            .map_err(|err| TaskError::new(e, format!("cannot read s3://{bucket}/{key}: {err}")))?;
        let bytes = got
            .bytes()
            .await
            .map_err(|err| TaskError::new(e, format!("cannot read s3://{bucket}/{key}: {err}")))?;
        Ok(bytes.to_vec())
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        limit: Option<u64>,
    ) -> Result<Vec<ObjectInfo>, TaskError> {
        let e = names::ITEM_READER_FAILED;
        let store = self.store(bucket, e)?;
        let prefix_path = match prefix.trim_end_matches('/') {
            "" => None,
            p => Some(object_path(p, e)?),
        };
        let mut listing = store.list(prefix_path.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|err| {
                TaskError::new(e, format!("cannot list s3://{bucket}/{prefix}: {err}"))
            })?;
            out.push(ObjectInfo {
                key: meta.location.to_string(),
                size: meta.size,
                etag: meta.e_tag.clone(),
                last_modified: sluice_dsl::timestamp::format(meta.last_modified),
            });
        }
        // A folder lists in no order; S3 lists in key order.
        out.sort_by(|a, b| a.key.cmp(&b.key));
        if let Some(n) = limit {
            out.truncate(n.min(usize::MAX as u64) as usize);
        }
        Ok(out)
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), TaskError> {
        let e = names::RESULT_WRITER_FAILED;
        let store = self.store(bucket, e)?;
        store
            .put(&object_path(key, e)?, PutPayload::from(body))
            .await
            .map_err(|err| TaskError::new(e, format!("cannot write s3://{bucket}/{key}: {err}")))?;
        Ok(())
    }
}
