//! Where files' bytes are kept: a directory by default, an S3-compatible bucket when
//! configured, both through `object_store`. Each stored file has a key of its own, never
//! reused, so a failed or repeated upload can remove what it wrote without touching another.

use std::sync::Arc;

use object_store::{
    ObjectStore, ObjectStoreExt, PutPayload, aws::AmazonS3Builder, local::LocalFileSystem,
    path::Path,
};

use crate::settings::Settings;

/// The object store and a description of it for logs.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// `s3://bucket` or the directory.
    pub describe: String,
}

/// A store operation failed.
pub type StoreError = object_store::Error;

impl Store {
    /// The store the settings name.
    pub fn open(settings: &Settings) -> Result<Self, String> {
        if let Some(bucket) = &settings.assets_s3_bucket {
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(&settings.assets_s3_region);
            if let Some(endpoint) = &settings.assets_s3_endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(key) = &settings.assets_s3_access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &settings.assets_s3_secret_access_key {
                builder = builder.with_secret_access_key(secret.expose());
            }
            let s3 = builder
                .build()
                .map_err(|e| format!("ARENA_ASSETS_S3_BUCKET {bucket}: {e}"))?;
            return Ok(Self {
                inner: Arc::new(s3),
                describe: format!("s3://{bucket}"),
            });
        }
        let dir = &settings.assets_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("ARENA_ASSETS_DIR {}: {e}", dir.display()))?;
        let local = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| format!("ARENA_ASSETS_DIR {}: {e}", dir.display()))?;
        Ok(Self {
            inner: Arc::new(local),
            describe: dir.display().to_string(),
        })
    }

    /// A fresh key for a new file.
    pub fn new_key() -> String {
        format!("assets/{}", uuid::Uuid::new_v4().simple())
    }

    /// Stores `bytes` under `key`.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
    }

    /// The bytes under `key`.
    pub async fn get(&self, key: &str) -> Result<axum::body::Bytes, StoreError> {
        self.inner.get(&Path::from(key)).await?.bytes().await
    }

    /// Removes `key`; a key already gone is no error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }
}
