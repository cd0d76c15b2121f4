//! Test databases: a PostgreSQL database per test cloned from a per-process migrated
//! template, or a SQLite file in a temporary directory.

use std::sync::atomic::{AtomicU32, Ordering};

use arena_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use tokio::sync::OnceCell;

/// Which database a [`crate::TestApp`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL, the reference backend.
    Postgres,
    /// Embedded SQLite.
    Sqlite,
}

impl Backend {
    /// `ARENA_TEST_BACKEND`, PostgreSQL unless it says `sqlite`.
    pub fn from_env() -> Self {
        match std::env::var("ARENA_TEST_BACKEND").as_deref() {
            Ok("sqlite") => Self::Sqlite,
            _ => Self::Postgres,
        }
    }
}

/// `ARENA_TEST_DATABASE_URL`: an admin connection to the PostgreSQL server.
pub(crate) fn admin_url() -> String {
    std::env::var("ARENA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into())
}

/// `ARENA_TEST_REDIS_URL`.
pub(crate) fn redis_url() -> String {
    std::env::var("ARENA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The admin URL with another database name.
pub(crate) fn database_url(name: &str) -> String {
    let mut url = url::Url::parse(&admin_url()).expect("ARENA_TEST_DATABASE_URL is a URL");
    url.set_path(name);
    url.to_string()
}

async fn admin() -> DatabaseConnection {
    let mut options = ConnectOptions::new(admin_url());
    options.max_connections(1).sqlx_logging(false);
    Database::connect(options)
        .await
        .expect("PostgreSQL answers at ARENA_TEST_DATABASE_URL")
}

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static NEXT: AtomicU32 = AtomicU32::new(0);

fn process_tag() -> String {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        format!("{}_{}", std::process::id(), &nonce[..8])
    })
    .clone()
}

/// The migrated template of this test process, made once. Databases left by test processes
/// that are gone (killed runs) are dropped first.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let admin = admin().await;
            drop_orphans(&admin).await;
            let name = format!("arena_tpl_{}", process_tag());
            exec(&admin, &format!("CREATE DATABASE {name}")).await;
            let mut options = ConnectOptions::new(database_url(&name));
            options.max_connections(1).sqlx_logging(false);
            let db = Database::connect(options).await.expect("template connects");
            Migrator::up(&db, None).await.expect("migrations apply");
            db.close().await.expect("template closes");
            admin.close().await.expect("admin closes");
            name
        })
        .await
}

async fn drop_orphans(admin: &DatabaseConnection) {
    let rows = admin
        .query_all_raw(Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'arena\\_t%'",
        ))
        .await
        .expect("lists databases");
    for row in rows {
        let name: String = row.try_get("", "datname").expect("datname");
        let pid = name
            .split('_')
            .nth(2)
            .and_then(|pid| pid.parse::<u32>().ok());
        let alive = pid.is_none_or(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            exec(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
    }
}

/// One test's database; dropped with the test.
pub(crate) enum TestDb {
    Postgres {
        name: String,
    },
    Sqlite {
        _dir: tempfile::TempDir,
    },
    /// Another instance's database, dropped with that instance.
    Borrowed,
}

impl TestDb {
    /// A fresh database and the URL Arena should use for it.
    pub(crate) async fn create(backend: Backend) -> (Self, String) {
        match backend {
            Backend::Postgres => {
                let template = template().await;
                let name = format!(
                    "arena_t_{}_{}",
                    process_tag(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                );
                let admin = admin().await;
                exec(
                    &admin,
                    &format!("CREATE DATABASE {name} TEMPLATE {template}"),
                )
                .await;
                admin.close().await.expect("admin closes");
                let url = database_url(&name);
                (Self::Postgres { name }, url)
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}/arena.db?mode=rwc", dir.path().display());
                (Self::Sqlite { _dir: dir }, url)
            }
        }
    }

    /// The PostgreSQL database name, when there is one.
    pub(crate) fn postgres_name(&self) -> Option<&str> {
        match self {
            Self::Postgres { name } => Some(name),
            Self::Sqlite { .. } | Self::Borrowed => None,
        }
    }
}

/// Drops a test database, closing whatever connections the server still holds.
pub(crate) async fn drop_database(name: &str) {
    let admin = admin().await;
    exec(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
    let _ = admin.close().await;
}
