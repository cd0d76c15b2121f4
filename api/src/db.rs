//! Connecting to PostgreSQL or SQLite, and running migrations.

use std::{collections::HashMap, hash::Hash, time::Duration};

use arena_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::{
    Connection,
    postgres::PgConnection,
    sqlite::{SqliteConnection, SqliteJournalMode, SqliteSynchronous},
};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, TryGetable,
    Value,
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
        // A ping before every statement doubles its round trips; a connection that has been
        // busy is known to be alive, so only one idle for a while is checked first.
        .test_before_acquire_if_idle_for(Duration::from_secs(10))
        .sqlx_logging(true)
        .sqlx_logging_level(tracing::log::LevelFilter::Debug)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    // Opening SQLite sets WAL mode, which another process migrating the same new file can
    // refuse at once with "database is locked" (SQLite skips the busy handler there to avoid
    // a deadlock); such a refusal is retried for as long as the busy timeout would wait.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let db = loop {
        match Database::connect(options.clone()).await {
            Ok(db) => break db,
            Err(source)
                if backend == DatabaseBackend::Sqlite
                    && source.to_string().contains("database is locked")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(source) => {
                return Err(DbStartError::Connect {
                    url: redact_url(url),
                    source,
                });
            }
        }
    };
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

/// Calls `each` for every statement sent through `db` (and its transactions) from now on.
pub fn on_statement(db: &mut DatabaseConnection, each: impl Fn() + Send + Sync + 'static) {
    db.set_metric_callback(move |_| each());
}

/// Locks the rows of `query` for the rest of the transaction, in ascending `column` order,
/// and reads them. Every writer that locks more than one row of a table goes through here,
/// so two transactions never wait on each other's rows crosswise (a deadlock). SQLite's
/// write transaction already holds the whole database.
pub async fn lock_in_order<E: EntityTrait>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    column: E::Column,
) -> Result<Vec<E::Model>, DbErr> {
    query.order_by_asc(column).lock_exclusive().all(db).await
}

/// Locks the rows of `E` whose `column` is one of `ids`, in ascending order; see
/// [`lock_in_order`].
pub async fn lock_rows<E: EntityTrait, K: Into<Value>>(
    db: &impl ConnectionTrait,
    column: E::Column,
    ids: impl IntoIterator<Item = K>,
) -> Result<Vec<E::Model>, DbErr> {
    lock_in_order(db, E::find().filter(column.is_in(ids)), column).await
}

/// Plans each statement of the transaction for its own values, on PostgreSQL. A prepared
/// statement's cached generic plan is made once, after five runs, from the table's size
/// then: one made while a queue table was small scans it whole, and goes on doing so after
/// it grew (comparing every row with every id of a list), as long as nothing analyzes it.
pub async fn custom_plans_in(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
    }
    Ok(())
}

/// `column` is one of `values`. On PostgreSQL `= ANY($1)`, one array parameter however many
/// values, so a batch's list of thousands parses and plans as fast as a short one.
/// Elsewhere `IN (…)`.
pub fn one_of<C, V>(
    db: &impl ConnectionTrait,
    column: C,
    values: Vec<V>,
) -> sea_orm::sea_query::Expr
where
    C: ColumnTrait,
    V: Into<Value>,
    Vec<V>: Into<Value>,
{
    if db.get_database_backend() == DbBackend::Postgres {
        use sea_orm::sea_query::{Expr, ExprTrait, extension::postgres::PgFunc};
        ExprTrait::eq(
            Expr::col(column.as_column_ref()),
            PgFunc::any(Expr::val(values)),
        )
    } else {
        column.is_in(values)
    }
}

/// Writes rows given column by column on PostgreSQL: `INSERT … SELECT * FROM unnest($1::t[],
/// …) ON CONFLICT (conflict) DO UPDATE SET set`. One array parameter per column however many
/// rows, so a batch of thousands parses and plans as fast as one row (a `VALUES` list binds
/// a parameter per cell). `columns` are each a name, its SQL type and the array of values.
pub async fn upsert_columns(
    db: &impl ConnectionTrait,
    table: &str,
    columns: Vec<(&str, &str, Value)>,
    conflict: &str,
    set: &str,
) -> Result<(), DbErr> {
    let names: Vec<&str> = columns.iter().map(|(name, _, _)| *name).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(at, (_, ty, _))| format!("${}::{ty}[]", at + 1))
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) SELECT * FROM unnest({}) ON CONFLICT ({conflict}) DO UPDATE SET {set}",
        names.join(", "),
        arrays.join(", ")
    );
    let values = columns.into_iter().map(|(_, _, values)| values);
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    Ok(())
}

/// A hand-written statement for either backend: write parameters as `$1`, `$2`, … (SQLite
/// reads them as `?1`, `?2`, …).
pub fn raw(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Sqlite {
        sql.replace('$', "?")
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The UTC days `from` to `to` (both included) as the instants they span, `[from 00:00,
/// to + 1 day 00:00)`, and the SQL of the UTC day of `column` on this backend, for counts
/// per day.
pub fn utc_days(
    db: &impl ConnectionTrait,
    column: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> (
    String,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
) {
    let start = from.and_time(chrono::NaiveTime::MIN).and_utc();
    let end = (to + chrono::Days::new(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let day = match db.get_database_backend() {
        DbBackend::Sqlite => format!("date({column})"),
        _ => format!("({column} AT TIME ZONE 'UTC')::date"),
    };
    (day, start, end)
}

/// `$first, $first+1, …` for `count` parameters of an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ON CONFLICT DO NOTHING` for any unique index (SeaORM's own helper names the primary
/// key only).
pub fn any_conflict() -> sea_orm::sea_query::OnConflict {
    sea_orm::sea_query::OnConflict::new()
        .do_nothing()
        .to_owned()
}

/// `rows` grouped by `key`, each group in row order: the shape every DataLoader returns.
pub fn group_by<K: Eq + Hash, V>(rows: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, Vec<V>> {
    let mut out: HashMap<K, Vec<V>> = HashMap::new();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    out
}

/// The rows of `E` whose `column` is one of `ids`, each under the key `key` reads off it, in
/// one statement: the batch read behind every DataLoader of rows by id.
pub async fn rows_by<E, K>(
    db: &impl ConnectionTrait,
    column: E::Column,
    ids: &[K],
    key: impl Fn(&E::Model) -> K,
) -> Result<HashMap<K, E::Model>, DbErr>
where
    E: EntityTrait,
    K: Into<Value> + Clone + Eq + Hash,
{
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(E::find()
        .filter(column.is_in(ids.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (key(&row), row))
        .collect())
}

/// Runs `sql(list)` for many ids, where `list` is the `IN (…)` placeholder list of `ids`, and
/// groups column `value` by column `key`, in row order: the one-statement batch read behind
/// every DataLoader.
pub async fn grouped<K, V, I>(
    db: &impl ConnectionTrait,
    ids: &[I],
    sql: impl FnOnce(&str) -> String,
    (key, value): (&str, &str),
) -> Result<HashMap<K, Vec<V>>, DbErr>
where
    K: TryGetable + Eq + Hash,
    V: TryGetable,
    I: Into<Value> + Clone,
{
    let mut groups: HashMap<K, Vec<V>> = HashMap::new();
    if ids.is_empty() {
        return Ok(groups);
    }
    let sql = sql(&placeholders(1, ids.len()));
    let values = ids.iter().cloned().map(Into::into).collect();
    for row in db.query_all_raw(raw(db, &sql, values)).await? {
        groups
            .entry(row.try_get("", key)?)
            .or_default()
            .push(row.try_get("", value)?);
    }
    Ok(groups)
}

/// Applies every pending migration. Processes migrating one database at once take turns
/// (see [`exclusive`]); the later ones find nothing left to do.
pub async fn migrate_up(db: &DatabaseConnection, url: &str) -> Result<(), DbStartError> {
    let _turn = exclusive(url, "arena.migrate")
        .await
        .map_err(DbStartError::Migrate)?;
    Migrator::up(db, None).await.map_err(DbStartError::Migrate)
}

/// Held while this process does what only one process may do at a time on one database:
/// apply migrations, coordinate a crawl. On PostgreSQL a session advisory lock on a
/// connection of its own; on SQLite an OS lock on a file beside the database. Either is
/// released when the guard drops or the process dies, so a crash never leaves it taken.
pub struct Exclusive {
    _held: Held,
}

enum Held {
    Postgres {
        _session: PgConnection,
    },
    File {
        _locked: std::fs::File,
    },
    /// An in-memory SQLite database belongs to one process.
    Nothing,
}

/// Takes the lock `name` on the database at `url`, waiting while another process holds it.
pub async fn exclusive(url: &str, name: &str) -> Result<Exclusive, DbErr> {
    take(url, name, true)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("the lock {name} was not taken")))
}

/// Takes the lock `name` if no other process holds it; `None` if one does.
pub async fn try_exclusive(url: &str, name: &str) -> Result<Option<Exclusive>, DbErr> {
    take(url, name, false).await
}

async fn take(url: &str, name: &str, wait: bool) -> Result<Option<Exclusive>, DbErr> {
    let driver = |err: sea_orm::sqlx::Error| DbErr::Custom(format!("lock {name}: {err}"));
    let held = match DatabaseBackend::of_url(url) {
        Some(DatabaseBackend::Postgres) => {
            let mut conn = PgConnection::connect(url).await.map_err(driver)?;
            let sql = if wait {
                "SELECT pg_advisory_lock(hashtext($1)) IS NOT NULL"
            } else {
                "SELECT pg_try_advisory_lock(hashtext($1))"
            };
            let taken: bool = sea_orm::sqlx::query_scalar(sql)
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .map_err(driver)?;
            taken.then_some(Held::Postgres { _session: conn })
        }
        Some(DatabaseBackend::Sqlite) => match sqlite_path(url) {
            None => Some(Held::Nothing),
            Some(path) => {
                let lock_path = format!("{path}.{name}.lock");
                let io = |err: std::io::Error| DbErr::Custom(format!("lock {lock_path}: {err}"));
                let file = std::fs::File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map_err(io)?;
                if wait {
                    let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
                        .await
                        .map_err(|err| DbErr::Custom(err.to_string()))?
                        .map_err(io)?;
                    Some(Held::File { _locked: file })
                } else {
                    match file.try_lock() {
                        Ok(()) => Some(Held::File { _locked: file }),
                        Err(std::fs::TryLockError::WouldBlock) => None,
                        Err(std::fs::TryLockError::Error(err)) => return Err(io(err)),
                    }
                }
            }
        },
        None => {
            return Err(DbErr::Custom(format!(
                "not a database URL: {}",
                redact_url(url)
            )));
        }
    };
    Ok(held.map(|held| Exclusive { _held: held }))
}

/// The file of a `sqlite:` URL; `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:") && !url.contains("mode=memory"))
        .then(|| path.to_owned())
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
