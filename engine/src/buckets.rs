//! The port through which a Distributed Map reads its items (`ItemReader`)
//! and writes its results (`ResultWriter`). The engine never talks to a
//! bucket itself: the connectors crate implements this trait (S3-compatible
//! stores and local folders) and the binary wires it in.

use serde_json::Value;

use crate::executor::TaskError;

/// An object found by a listing, as `s3:listObjectsV2` describes it to a
/// Distributed Map: `{"Etag", "Key", "LastModified", "Size", "StorageClass"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    /// RFC 3339.
    pub last_modified: String,
}

impl ObjectInfo {
    /// The item a Map iteration receives for this object.
    pub fn to_item(&self) -> Value {
        serde_json::json!({
            "Etag": self.etag.clone().unwrap_or_default(),
            "Key": self.key,
            "LastModified": self.last_modified,
            "Size": self.size,
            "StorageClass": "STANDARD",
        })
    }
}

/// Buckets by name. Errors are task errors: `error` is the ASL name the Map
/// fails with (`States.ItemReaderFailed`, `States.ResultWriterFailed`).
#[async_trait::async_trait]
pub trait Buckets: Send + Sync + 'static {
    /// The bytes of one object.
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, TaskError>;
    /// The objects under `prefix`, in key order, at most `limit`.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        limit: Option<u64>,
    ) -> Result<Vec<ObjectInfo>, TaskError>;
    /// Store one object.
    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), TaskError>;
}

/// No buckets configured: every access fails, saying how to configure them.
pub struct NoBuckets;

#[async_trait::async_trait]
impl Buckets for NoBuckets {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, TaskError> {
        Err(not_configured(bucket, key))
    }
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        _limit: Option<u64>,
    ) -> Result<Vec<ObjectInfo>, TaskError> {
        Err(not_configured(bucket, prefix))
    }
    async fn put(&self, bucket: &str, key: &str, _body: Vec<u8>) -> Result<(), TaskError> {
        Err(not_configured(bucket, key))
    }
}

fn not_configured(bucket: &str, key: &str) -> TaskError {
    TaskError::new(
        sluice_dsl::error::names::ITEM_READER_FAILED,
        format!("no bucket store is configured, so s3://{bucket}/{key} cannot be reached: start sluice serve with --s3-endpoint URL (or AWS_ENDPOINT_URL_S3) or --buckets-dir DIR"),
    )
}
