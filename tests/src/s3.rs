//! A real S3-protocol server for the assets tests: `s3s-fs` over a temporary directory, in
//! this process, on 127.0.0.1, with signed requests required.

use std::path::PathBuf;

use arena_api::settings::{Secret, Settings};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
};
use s3s::{auth::SimpleAuth, service::S3ServiceBuilder};
use tokio::{net::TcpListener, task::JoinHandle};

const BUCKET: &str = "arena";
const ACCESS_KEY: &str = "arena-test";
const SECRET_KEY: &str = "arena-test-secret";

/// A running S3 server with one bucket.
pub struct S3Server {
    /// `http://127.0.0.1:port`.
    pub endpoint: String,
    dir: tempfile::TempDir,
    task: JoinHandle<()>,
}

impl S3Server {
    /// Starts one with an empty bucket.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(dir.path()).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let service = service.clone();
                tokio::spawn(async move {
                    let _ = Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Self {
            endpoint,
            dir,
            task,
        }
    }

    /// Points Arena's asset store at this server.
    pub fn configure(&self, settings: &mut Settings) {
        settings.assets_s3_bucket = Some(BUCKET.into());
        settings.assets_s3_endpoint = Some(self.endpoint.clone());
        settings.assets_s3_region = "us-east-1".into();
        settings.assets_s3_access_key_id = Some(ACCESS_KEY.into());
        settings.assets_s3_secret_access_key = Some(Secret::new(SECRET_KEY));
    }

    /// The objects in the bucket, as files on disk.
    pub fn objects(&self) -> Vec<PathBuf> {
        files_under(&self.dir.path().join(BUCKET))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every file below `dir`, recursively, except s3s-fs's own bookkeeping.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if !name.starts_with('.') {
                found.push(path);
            }
        }
    }
    found
}
