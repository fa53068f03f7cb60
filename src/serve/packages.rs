//! The executors' package store as the console's [`PackageHost`], and the
//! code folder a stored definition runs in.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_console::{ApiError, PackageHost};
use sluice_dsl::function::FunctionDef;
use sluice_executors::package::{PackageError, PackageInfo, PackageStore};

/// The folder under `--data` that holds the packages.
pub const FOLDER: &str = "packages";

struct Host(Arc<PackageStore>);

fn api_error(e: PackageError) -> ApiError {
    match e {
        PackageError::Invalid(m) => ApiError::bad_request(m),
        PackageError::TooLarge(m) => ApiError::too_large(m),
        PackageError::Io(internal) => {
            tracing::error!(error = %internal, "cannot store a package");
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                sluice_console::codes::INTERNAL,
                "the server could not store the package; the server log has the details",
            )
        }
    }
}

fn json(info: PackageInfo) -> Value {
    serde_json::to_value(info).unwrap_or_default()
}

impl PackageHost for Host {
    fn max_archive_bytes(&self) -> u64 {
        self.0.limits().archive_bytes
    }

    fn too_large(&self) -> ApiError {
        api_error(self.0.archive_too_large())
    }

    fn spool(&self) -> std::io::Result<(std::fs::File, PathBuf)> {
        self.0.spool()
    }

    fn put(&self, path: &Path) -> Result<Value, ApiError> {
        self.0.put(path).map(json).map_err(api_error)
    }

    fn put_bytes(&self, bytes: &[u8]) -> Result<Value, ApiError> {
        self.0.put_bytes(bytes).map(json).map_err(api_error)
    }

    fn get(&self, digest: &str) -> Option<Value> {
        self.0.get(digest).map(json)
    }

    fn list(&self) -> Vec<Value> {
        self.0.list().into_iter().map(json).collect()
    }
}

pub fn host(store: &Arc<PackageStore>) -> Arc<dyn PackageHost> {
    Arc::new(Host(store.clone()))
}

/// The unpacked folders of a definition's layers, in order.
pub fn layers(store: &PackageStore, def: &FunctionDef) -> Vec<PathBuf> {
    def.layers
        .iter()
        .filter_map(|l| {
            let dir = store.code_dir(l);
            if !dir.as_ref().is_some_and(|d| d.is_dir()) {
                tracing::error!(function = %def.name, layer = %l, "a layer of the function is missing from the data folder; its invocations will miss its files");
            }
            dir
        })
        .collect()
}

/// The folder a definition's relative paths resolve against: its package's
/// files when it has one (which is then its code folder), else `/`
/// (stored definitions have absolute paths).
pub fn base(store: &PackageStore, def: &FunctionDef) -> PathBuf {
    match def.package.as_deref().and_then(|p| store.code_dir(p)) {
        Some(dir) => {
            if !dir.is_dir() {
                tracing::error!(function = %def.name, package = ?def.package, folder = %dir.display(), "the function's package is missing from the data folder; its invocations will fail");
            }
            dir
        }
        None => PathBuf::from("/"),
    }
}
