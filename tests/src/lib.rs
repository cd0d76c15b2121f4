//! The end-to-end test harness: the real Arena server on port 0, against a fresh PostgreSQL
//! database (cloned from a migrated template) or a fresh SQLite file, with its own Redis key
//! prefix. Every domain's tests use these helpers.
//!
//! Environment (defaults are this machine's local services):
//! - `ARENA_TEST_DATABASE_URL`: a PostgreSQL URL whose user may create databases
//!   (default `postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable`).
//! - `ARENA_TEST_REDIS_URL`: default `redis://127.0.0.1:6379`.
//! - `ARENA_TEST_BACKEND`: `postgres` (default) or `sqlite`, for [`TestApp::spawn`].

// A harness that cannot set up must fail the test at once and loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod browser;
mod db;
mod s3;
mod smtp;
mod users;
mod ws;

pub use app::{
    GqlResponse, TestApp, assert_one_wins, assert_refused, behind_local_proxy, trusting,
};
pub use browser::{Browser, screenshot_dir};
pub use db::Backend;
pub use s3::{S3Server, files_under};
pub use smtp::{Received, SmtpSink, outbox_message_once};
pub use users::{TestUser, UserBuilder, login};
pub use ws::{WsClient, WsEvent, WsProtocol};

/// Like [`on_both_backends`], with each app's settings changed by `$configure` first.
#[macro_export]
macro_rules! both_configured {
    ($name:ident, $configure:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::TestApp) $body

            #[tokio::test]
            async fn postgres() {
                run($crate::TestApp::spawn_with($crate::Backend::Postgres, $configure).await).await;
            }

            #[tokio::test]
            async fn sqlite() {
                run($crate::TestApp::spawn_with($crate::Backend::Sqlite, $configure).await).await;
            }
        }
    };
}

/// Defines a test module `$name` with one test per backend, `postgres` and `sqlite`, each
/// running `$body` against a fresh [`TestApp`] bound to `$app`.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::TestApp) $body

            #[tokio::test]
            async fn postgres() {
                run($crate::TestApp::spawn_on($crate::Backend::Postgres).await).await;
            }

            #[tokio::test]
            async fn sqlite() {
                run($crate::TestApp::spawn_on($crate::Backend::Sqlite).await).await;
            }
        }
    };
}
