//! Connecting to PostgreSQL or SQLite, and running migrations.

use std::time::Duration;

use arena_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::{
    Connection,
    postgres::PgConnection,
    sqlite::{SqliteConnection, SqliteJournalMode, SqliteSynchronous},
};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::settings::{DatabaseBackend, Settings, redact_url};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The database could not be reached or prepared at start.
#[derive(Debug, thiserror::Error)]
pub enum DbStartError {
    /// No connection could be made.
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        /// The URL, password hidden.
        url: String,
        /// Why.
        source: DbErr,
    },
    /// The first connection attempt failed.
    #[error("cannot connect to the database at {url}: {reason}")]
    Probe {
        /// The URL, password hidden.
        url: String,
        /// Why, as the driver put it.
        reason: String,
    },
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(DbErr),
    /// Start-up state could not be read or written (are migrations applied?).
    #[error("preparing the database failed (run `arena migrate up`?): {0}")]
    Prepare(DbErr),
}

/// Opens the pool: SQLite gets WAL, a busy timeout and foreign keys; both get bounded waits.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbStartError> {
    connect_url(
        settings.database_url.expose(),
        settings.database_max_connections,
    )
    .await
}

/// [`connect`] for any program that has a URL and a pool size.
pub async fn connect_url(
    url: &str,
    max_connections: u32,
) -> Result<DatabaseConnection, DbStartError> {
    let backend = DatabaseBackend::of_url(url).ok_or_else(|| DbStartError::Probe {
        url: redact_url(url),
        reason: "the URL must start with postgres:// or sqlite:".into(),
    })?;
    probe(backend, url).await?;
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(true)
        .sqlx_logging_level(tracing::log::LevelFilter::Debug)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    let db = Database::connect(options)
        .await
        .map_err(|source| DbStartError::Connect {
            url: redact_url(url),
            source,
        })?;
    // A pool can open lazily; one round trip proves the server answers.
    db.ping().await.map_err(|source| DbStartError::Connect {
        url: redact_url(url),
        source,
    })?;
    Ok(db)
}

/// One direct connection: the pool would retry a refused connection until its acquire
/// timeout and then report only that it timed out; this gives the real cause at once.
async fn probe(backend: DatabaseBackend, url: &str) -> Result<(), DbStartError> {
    let attempt = async {
        match backend {
            DatabaseBackend::Postgres => PgConnection::connect(url).await?.close().await,
            DatabaseBackend::Sqlite => SqliteConnection::connect(url).await?.close().await,
        }
    };
    let reason = match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(err)) => err.to_string(),
        Err(_) => format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
    };
    Err(DbStartError::Probe {
        url: redact_url(url),
        reason,
    })
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout; a deferred one that
/// read first would fail with SQLITE_BUSY when it tried to write. PostgreSQL ignores it.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Applies every pending migration.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), DbStartError> {
    Migrator::up(db, None).await.map_err(DbStartError::Migrate)
}

/// Connections in the pool: (open, idle).
pub fn pool_state(db: &DatabaseConnection) -> (u32, u32) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            )
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            )
        }
        _ => (0, 0),
    }
}
