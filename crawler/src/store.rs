//! The crawl's state and results in the Arena database: runs, batches and their leases,
//! workers, progress samples, ranges, and the bulk writes of players, daily totals and
//! daily diffs (only for players whose battle count changed).

use std::collections::HashMap;

use arena_api::db::begin_write;
use arena_entity::battles::{
    crawl_batch, crawl_range,
    crawl_run::{self, RunStatus},
    crawl_sample, crawl_worker,
};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
    sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SimpleExpr},
};
use uuid::Uuid;

use crate::{
    protocol::Job,
    settings::{CrawlerSettings, Platform},
    wg::{MAX_IDS, Player},
};

/// The counters kept per player, per day and per diff, in the order of [`counters`].
pub use arena_migration::BATTLE_COUNTERS as COUNTERS;

/// A player's counters in the order of [`COUNTERS`].
fn counters(player: &Player) -> [i64; 13] {
    let s = &player.statistics.all;
    [
        s.battles,
        s.wins,
        s.losses,
        s.damage_dealt,
        s.damage_received,
        s.frags,
        s.spotted,
        s.xp,
        s.survived_battles,
        s.capture_points,
        s.dropped_capture_points,
        s.hits,
        s.shots,
    ]
}

const PENDING: &str = "pending";
const LEASED: &str = "leased";
const DONE: &str = "done";

/// One fetched batch on its way to the database.
#[derive(Debug, Clone)]
pub struct BatchResult {
    /// The batch.
    pub job: Job,
    /// Its platform.
    pub platform: Platform,
    /// The accounts found.
    pub players: Vec<Player>,
}

/// What one bulk write changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Batches marked done.
    pub batches: i64,
    /// Account ids they covered.
    pub accounts: i64,
    /// Accounts found.
    pub found: i64,
    /// Players whose rows were written (new or changed).
    pub changed: i64,
}

/// The run being crawled and its unfinished batches.
pub struct OpenRun {
    /// The run.
    pub run: crawl_run::Model,
    /// Whether it was found unfinished in the database.
    pub resumed: bool,
    /// Batches not yet done, each with its platform, in id order.
    pub pending: Vec<(Job, Platform)>,
}

fn ts(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// The stored range of each configured platform: the configured minimum, and the larger of
/// the configured and the stored (grown) maximum.
pub async fn ranges(
    db: &DatabaseConnection,
    settings: &CrawlerSettings,
) -> Result<Vec<(Platform, i64, i64)>, DbErr> {
    let stored: HashMap<String, crawl_range::Model> = crawl_range::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|range| (range.platform.clone(), range))
        .collect();
    let now = Utc::now();
    let mut out = Vec::new();
    for (platform, min, max) in settings.platforms() {
        let max = stored
            .get(platform.as_str())
            .map_or(max, |range| Ord::max(range.max_id, max));
        crawl_range::Entity::insert(crawl_range::ActiveModel {
            platform: Set(platform.as_str().into()),
            min_id: Set(min),
            max_id: Set(max),
            grown_at: Set(None),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(crawl_range::Column::Platform)
                .update_columns([
                    crawl_range::Column::MinId,
                    crawl_range::Column::MaxId,
                    crawl_range::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
        out.push((platform, min, max));
    }
    Ok(out)
}

/// Resumes the unfinished run, or starts one for `day` over `ranges`.
pub async fn open_run(
    db: &DatabaseConnection,
    day: NaiveDate,
    ranges: &[(Platform, i64, i64)],
) -> Result<OpenRun, DbErr> {
    let unfinished = crawl_run::Entity::find()
        .filter(crawl_run::Column::Status.is_in([RunStatus::Running, RunStatus::Finishing]))
        .order_by_asc(crawl_run::Column::Id)
        .one(db)
        .await?;
    let (run, resumed) = match unfinished {
        Some(run) => {
            // Leases of a coordinator that is gone mean nothing now.
            crawl_batch::Entity::update_many()
                .col_expr(crawl_batch::Column::State, Expr::value(PENDING))
                .col_expr(
                    crawl_batch::Column::WorkerId,
                    Expr::value(Option::<Uuid>::None),
                )
                .col_expr(
                    crawl_batch::Column::LeaseUntil,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(crawl_batch::Column::RunId.eq(run.id))
                .filter(crawl_batch::Column::State.eq(LEASED))
                .exec(db)
                .await?;
            crawl_worker::Entity::update_many()
                .col_expr(
                    crawl_worker::Column::DisconnectedAt,
                    Expr::value(Utc::now()),
                )
                .filter(crawl_worker::Column::RunId.eq(run.id))
                .filter(crawl_worker::Column::DisconnectedAt.is_null())
                .exec(db)
                .await?;
            (run, true)
        }
        None => (create_run(db, day, ranges).await?, false),
    };
    ensure_partitions(db, run.day).await?;
    #[derive(FromQueryResult)]
    struct Row {
        id: i64,
        platform: String,
        first_id: i64,
        last_id: i64,
    }
    let rows = crawl_batch::Entity::find()
        .select_only()
        .columns([
            crawl_batch::Column::Id,
            crawl_batch::Column::Platform,
            crawl_batch::Column::FirstId,
            crawl_batch::Column::LastId,
        ])
        .filter(crawl_batch::Column::RunId.eq(run.id))
        .filter(crawl_batch::Column::State.ne(DONE))
        .order_by_asc(crawl_batch::Column::Id)
        .into_model::<Row>()
        .all(db)
        .await?;
    let pending = rows
        .into_iter()
        .map(|row| {
            let platform = row.platform.parse().unwrap_or(Platform::Xbox);
            let job = Job {
                batch_id: row.id,
                first_id: row.first_id,
                last_id: row.last_id,
            };
            (job, platform)
        })
        .collect();
    Ok(OpenRun {
        run,
        resumed,
        pending,
    })
}

async fn create_run(
    db: &DatabaseConnection,
    day: NaiveDate,
    ranges: &[(Platform, i64, i64)],
) -> Result<crawl_run::Model, DbErr> {
    let txn = begin_write(db).await?;
    let now = Utc::now();
    let total: i64 = ranges
        .iter()
        .map(|(_, min, max)| (max - min) / MAX_IDS as i64 + 1)
        .sum();
    let run = crawl_run::Entity::insert(crawl_run::ActiveModel {
        day: Set(day),
        status: Set(RunStatus::Running),
        started_at: Set(now),
        batches_total: Set(total),
        errors: Set("{}".into()),
        progress_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(&txn)
    .await?;
    // Six values a row; 5,000 rows stay under both backends' parameter limits.
    let mut insert = batch_insert();
    let mut rows = 0;
    for (platform, min, max) in ranges {
        let mut first = *min;
        while first <= *max {
            let last = Ord::min(first + MAX_IDS as i64 - 1, *max);
            insert.values_panic([
                run.id.into(),
                platform.as_str().into(),
                first.into(),
                last.into(),
                PENDING.into(),
                0.into(),
            ]);
            rows += 1;
            if rows == 5_000 {
                txn.execute(&insert).await?;
                insert = batch_insert();
                rows = 0;
            }
            first = last + 1;
        }
    }
    if rows > 0 {
        txn.execute(&insert).await?;
    }
    txn.commit().await?;
    Ok(run)
}

fn batch_insert() -> sea_orm::sea_query::InsertStatement {
    Query::insert()
        .into_table(crawl_batch::Entity)
        .columns([
            crawl_batch::Column::RunId,
            crawl_batch::Column::Platform,
            crawl_batch::Column::FirstId,
            crawl_batch::Column::LastId,
            crawl_batch::Column::State,
            crawl_batch::Column::Attempts,
        ])
        .to_owned()
}

/// On PostgreSQL, the month partitions of the daily tables for `day` and the month after,
/// so that writes never find a day without a partition.
pub async fn ensure_partitions(db: &DatabaseConnection, day: NaiveDate) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut month = day.with_day(1).unwrap_or(day);
    for _ in 0..2 {
        let next = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(month);
        for table in ["battle_totals", "battle_diffs"] {
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {table}_{y:04}_{m:02} PARTITION OF {table} \
                 FOR VALUES FROM ('{month}') TO ('{next}')",
                y = month.year(),
                m = month.month(),
            );
            db.execute_unprepared(&sql).await?;
        }
        month = next;
    }
    Ok(())
}

/// Records that `jobs` are leased to `worker` until `until`.
pub async fn lease(
    db: &DatabaseConnection,
    batch_ids: &[i64],
    worker: Uuid,
    until: DateTime<Utc>,
) -> Result<(), DbErr> {
    crawl_batch::Entity::update_many()
        .col_expr(crawl_batch::Column::State, Expr::value(LEASED))
        .col_expr(crawl_batch::Column::WorkerId, Expr::value(worker))
        .col_expr(crawl_batch::Column::LeaseUntil, Expr::value(until))
        .col_expr(
            crawl_batch::Column::Attempts,
            Expr::col(crawl_batch::Column::Attempts).add(1),
        )
        .filter(crawl_batch::Column::Id.is_in(batch_ids.iter().copied()))
        .filter(crawl_batch::Column::State.ne(DONE))
        .exec(db)
        .await?;
    Ok(())
}

/// Puts batches back in the queue.
pub async fn release(db: &DatabaseConnection, batch_ids: &[i64]) -> Result<(), DbErr> {
    crawl_batch::Entity::update_many()
        .col_expr(crawl_batch::Column::State, Expr::value(PENDING))
        .col_expr(
            crawl_batch::Column::WorkerId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            crawl_batch::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(crawl_batch::Column::Id.is_in(batch_ids.iter().copied()))
        .filter(crawl_batch::Column::State.eq(LEASED))
        .exec(db)
        .await?;
    Ok(())
}

#[derive(FromQueryResult)]
struct Previous {
    id: i64,
    battles: i64,
    wins: i64,
    losses: i64,
    damage_dealt: i64,
    damage_received: i64,
    frags: i64,
    spotted: i64,
    xp: i64,
    survived_battles: i64,
    capture_points: i64,
    dropped_capture_points: i64,
    hits: i64,
    shots: i64,
}

impl Previous {
    fn counters(&self) -> [i64; 13] {
        [
            self.battles,
            self.wins,
            self.losses,
            self.damage_dealt,
            self.damage_received,
            self.frags,
            self.spotted,
            self.xp,
            self.survived_battles,
            self.capture_points,
            self.dropped_capture_points,
            self.hits,
            self.shots,
        ]
    }
}

/// Every `battle_players` column, in the order rows are built.
fn player_columns() -> Vec<&'static str> {
    [
        "id",
        "platform",
        "nickname",
        "created_at",
        "last_battle_time",
        "updated_at",
    ]
    .into_iter()
    .chain(COUNTERS.iter().copied())
    .chain(["max_damage", "max_frags", "max_xp", "trees_cut"])
    .chain(["first_seen_at", "last_pulled_at", "last_changed_on"])
    .collect()
}

fn aliases(names: &[&str]) -> Vec<Alias> {
    names.iter().map(|name| Alias::new(*name)).collect()
}

/// Writes fetched batches in one transaction: players that are new or whose battle count
/// changed get their row upserted and a total and a diff for `day`; the batches are marked
/// done and the run's counters advanced. Batches already done are skipped, so a result
/// delivered twice is written once.
pub async fn write_results(
    db: &DatabaseConnection,
    run_id: i64,
    day: NaiveDate,
    results: &[BatchResult],
) -> Result<Written, DbErr> {
    let txn = begin_write(db).await?;
    let ids: Vec<i64> = results.iter().map(|r| r.job.batch_id).collect();
    let open: Vec<i64> = crawl_batch::Entity::find()
        .select_only()
        .column(crawl_batch::Column::Id)
        .filter(crawl_batch::Column::Id.is_in(ids))
        .filter(crawl_batch::Column::State.ne(DONE))
        .into_tuple()
        .all(&txn)
        .await?;
    let results: Vec<&BatchResult> = results
        .iter()
        .filter(|r| open.contains(&r.job.batch_id))
        .collect();
    let mut written = Written::default();
    if results.is_empty() {
        txn.commit().await?;
        return Ok(written);
    }

    let mut previous: HashMap<i64, [i64; 13]> = HashMap::new();
    // One range scan per batch is cheaper than a long IN list.
    for chunk in results.chunks(200) {
        let mut range = Expr::value(false);
        for result in chunk {
            range = range
                .or(Expr::col(Alias::new("id")).between(result.job.first_id, result.job.last_id));
        }
        let select = Query::select()
            .columns(aliases(&["id"]).into_iter().chain(aliases(COUNTERS)))
            .from(Alias::new("battle_players"))
            .and_where(range)
            .to_owned();
        let backend = txn.get_database_backend();
        let rows = Previous::find_by_statement(backend.build(&select))
            .all(&txn)
            .await?;
        previous.extend(rows.into_iter().map(|row| (row.id, row.counters())));
    }

    let now = Utc::now();
    let mut changed: Vec<Changed<'_>> = Vec::new();
    for result in &results {
        written.batches += 1;
        written.accounts += result.job.last_id - result.job.first_id + 1;
        for player in &result.players {
            written.found += 1;
            let current = counters(player);
            let diff = match previous.get(&player.account_id) {
                Some(old) if old[0] == current[0] => continue,
                Some(old) => std::array::from_fn(|i| current[i] - old[i]),
                None => current,
            };
            changed.push(Changed {
                player,
                platform: result.platform.as_str(),
                current,
                diff,
            });
        }
    }
    written.changed = changed.len() as i64;
    if txn.get_database_backend() == DbBackend::Postgres {
        insert_unnest(&txn, &changed, now, day).await?;
    } else {
        insert_values(&txn, &changed, now, day).await?;
    }

    // Per-batch player counts in one statement.
    let mut found = Expr::case(Expr::value(false), 0);
    for result in &results {
        let count = i32::try_from(result.players.len()).unwrap_or(i32::MAX);
        found = found.case(
            Expr::col(crawl_batch::Column::Id).eq(result.job.batch_id),
            count,
        );
    }
    crawl_batch::Entity::update_many()
        .col_expr(crawl_batch::Column::State, Expr::value(DONE))
        .col_expr(crawl_batch::Column::Players, found.into())
        .col_expr(crawl_batch::Column::DoneAt, Expr::value(now))
        .col_expr(
            crawl_batch::Column::WorkerId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            crawl_batch::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(crawl_batch::Column::Id.is_in(results.iter().map(|r| r.job.batch_id)))
        .exec(&txn)
        .await?;
    crawl_run::Entity::update_many()
        .col_expr(
            crawl_run::Column::BatchesDone,
            Expr::col(crawl_run::Column::BatchesDone).add(written.batches),
        )
        .col_expr(
            crawl_run::Column::AccountsDone,
            Expr::col(crawl_run::Column::AccountsDone).add(written.accounts),
        )
        .col_expr(
            crawl_run::Column::PlayersFound,
            Expr::col(crawl_run::Column::PlayersFound).add(written.found),
        )
        .col_expr(
            crawl_run::Column::PlayersChanged,
            Expr::col(crawl_run::Column::PlayersChanged).add(written.changed),
        )
        .filter(crawl_run::Column::Id.eq(run_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(written)
}

/// A player whose battle count changed (or who is new), with its counters and growth.
struct Changed<'a> {
    player: &'a Player,
    platform: &'static str,
    current: [i64; 13],
    diff: [i64; 13],
}

/// Every column of a daily table, in the order rows are built.
fn daily_columns() -> Vec<&'static str> {
    ["day", "player_id", "platform"]
        .into_iter()
        .chain(COUNTERS.iter().copied())
        .collect()
}

/// `SET col = excluded.col` for every player column but the key and first sighting.
fn player_updates() -> String {
    player_columns()
        .iter()
        .filter(|c| !matches!(**c, "id" | "first_seen_at"))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SET` for a daily table: totals take the latest counters; diffs add a second run's growth
/// on the same day to the first's.
fn daily_updates(table: &str, accumulate: bool) -> String {
    COUNTERS
        .iter()
        .map(|c| {
            if accumulate {
                format!("{c} = {table}.{c} + excluded.{c}")
            } else {
                format!("{c} = excluded.{c}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// PostgreSQL: one statement per table whatever the row count, each column one array
/// parameter (`UNNEST`), instead of tens of thousands of scalar parameters to parse and plan.
async fn insert_unnest(
    txn: &DatabaseTransaction,
    changed: &[Changed<'_>],
    now: DateTime<Utc>,
    day: NaiveDate,
) -> Result<(), DbErr> {
    if changed.is_empty() {
        return Ok(());
    }
    let column = |f: &dyn Fn(&Changed<'_>) -> i64| -> Value {
        changed.iter().map(f).collect::<Vec<i64>>().into()
    };
    let times = |f: &dyn Fn(&Player) -> i64| -> Value {
        changed
            .iter()
            .map(|c| ts(f(c.player)))
            .collect::<Vec<_>>()
            .into()
    };
    let ids = column(&|c| c.player.account_id);
    let platforms: Value = changed
        .iter()
        .map(|c| c.platform.to_owned())
        .collect::<Vec<String>>()
        .into();
    let mut values = vec![
        ids.clone(),
        platforms.clone(),
        changed
            .iter()
            .map(|c| c.player.nickname.clone())
            .collect::<Vec<String>>()
            .into(),
        times(&|p| p.created_at),
        times(&|p| p.last_battle_time),
        times(&|p| p.updated_at),
    ];
    for i in 0..COUNTERS.len() {
        values.push(column(&|c| c.current[i]));
    }
    values.push(column(&|c| c.player.statistics.max_damage));
    values.push(column(&|c| c.player.statistics.max_frags));
    values.push(column(&|c| c.player.statistics.max_xp));
    values.push(column(&|c| c.player.statistics.trees_cut));
    let n = changed.len();
    values.push(vec![now; n].into());
    values.push(vec![now; n].into());
    values.push(vec![day; n].into());
    let types: Vec<&str> = player_columns()
        .iter()
        .map(|c| match *c {
            "platform" | "nickname" => "text",
            "created_at" | "last_battle_time" | "updated_at" | "first_seen_at"
            | "last_pulled_at" => "timestamptz",
            "last_changed_on" => "date",
            _ => "bigint",
        })
        .collect();
    let sql = format!(
        "INSERT INTO battle_players ({}) SELECT * FROM UNNEST({}) \
         ON CONFLICT (id) DO UPDATE SET {}",
        player_columns().join(", "),
        unnest_params(&types),
        player_updates()
    );
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    for (table, accumulate) in [("battle_totals", false), ("battle_diffs", true)] {
        let mut values = vec![vec![day; n].into(), ids.clone(), platforms.clone()];
        for i in 0..COUNTERS.len() {
            values.push(if accumulate {
                column(&|c| c.diff[i])
            } else {
                column(&|c| c.current[i])
            });
        }
        let mut types = vec!["date", "bigint", "text"];
        types.extend(["bigint"; 13]);
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT * FROM UNNEST({}) \
             ON CONFLICT (day, player_id) DO UPDATE SET {}",
            daily_columns().join(", "),
            unnest_params(&types),
            daily_updates(table, accumulate)
        );
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    }
    Ok(())
}

fn unnest_params(types: &[&str]) -> String {
    types
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}[]", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Any backend: multi-row `INSERT … VALUES`, in chunks under SQLite's 32,766 parameters.
async fn insert_values(
    txn: &DatabaseTransaction,
    changed: &[Changed<'_>],
    now: DateTime<Utc>,
    day: NaiveDate,
) -> Result<(), DbErr> {
    for chunk in changed.chunks(1_000) {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new("battle_players"))
            .columns(aliases(&player_columns()))
            .on_conflict(
                OnConflict::column(Alias::new("id"))
                    .update_columns(aliases(
                        &player_columns()
                            .iter()
                            .copied()
                            .filter(|c| !matches!(*c, "id" | "first_seen_at"))
                            .collect::<Vec<_>>(),
                    ))
                    .to_owned(),
            );
        for c in chunk {
            let p = c.player;
            let mut row: Vec<SimpleExpr> = vec![
                p.account_id.into(),
                c.platform.into(),
                p.nickname.clone().into(),
                ts(p.created_at).into(),
                ts(p.last_battle_time).into(),
                ts(p.updated_at).into(),
            ];
            row.extend(c.current.iter().map(|&v| SimpleExpr::from(v)));
            let s = &p.statistics;
            row.extend(
                [s.max_damage, s.max_frags, s.max_xp, s.trees_cut]
                    .into_iter()
                    .map(SimpleExpr::from),
            );
            row.extend([now.into(), now.into(), day.into()]);
            insert.values_panic(row);
        }
        txn.execute(&insert).await?;
    }
    for (table, accumulate) in [("battle_totals", false), ("battle_diffs", true)] {
        let mut conflict = OnConflict::columns(aliases(&["day", "player_id"]));
        if accumulate {
            for &counter in COUNTERS {
                conflict.value(
                    Alias::new(counter),
                    Expr::col((Alias::new(table), Alias::new(counter)))
                        .add(Expr::col((Alias::new("excluded"), Alias::new(counter)))),
                );
            }
        } else {
            conflict.update_columns(aliases(COUNTERS));
        }
        for chunk in changed.chunks(2_000) {
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new(table))
                .columns(aliases(&daily_columns()))
                .on_conflict(conflict.clone());
            for c in chunk {
                let values = if accumulate { c.diff } else { c.current };
                let mut row: Vec<SimpleExpr> =
                    vec![day.into(), c.player.account_id.into(), c.platform.into()];
                row.extend(values.iter().map(|&v| SimpleExpr::from(v)));
                insert.values_panic(row);
            }
            txn.execute(&insert).await?;
        }
    }
    Ok(())
}

/// A snapshot of a run's progress, as the coordinator sees it.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Accounts per second lately.
    pub accounts_per_second: f64,
    /// Error kind to count.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Workers connected.
    pub workers_connected: i32,
    /// Each connected or departed worker of this process.
    pub workers: Vec<crawl_worker::Model>,
}

/// Records progress: the run's live figures, its workers, and a sample for charts.
pub async fn record_progress(
    db: &DatabaseConnection,
    run_id: i64,
    progress: &Progress,
) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    let now = Utc::now();
    let errors = serde_json::to_string(&progress.errors).unwrap_or_else(|_| "{}".into());
    crawl_run::Entity::update_many()
        .col_expr(
            crawl_run::Column::AccountsPerSecond,
            Expr::value(progress.accounts_per_second),
        )
        .col_expr(crawl_run::Column::Errors, Expr::value(errors))
        .col_expr(
            crawl_run::Column::WorkersConnected,
            Expr::value(progress.workers_connected),
        )
        .col_expr(crawl_run::Column::ProgressAt, Expr::value(now))
        .filter(crawl_run::Column::Id.eq(run_id))
        .exec(&txn)
        .await?;
    let run = crawl_run::Entity::find_by_id(run_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("crawl run {run_id}")))?;
    crawl_sample::Entity::insert(crawl_sample::ActiveModel {
        run_id: Set(run_id),
        at: Set(now),
        batches_done: Set(run.batches_done),
        accounts_done: Set(run.accounts_done),
        accounts_per_second: Set(progress.accounts_per_second),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    if !progress.workers.is_empty() {
        let rows = progress
            .workers
            .iter()
            .map(|worker| crawl_worker::ActiveModel::from(worker.clone()));
        // Unchanged values are inserted as they are: one statement for every worker.
        crawl_worker::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(crawl_worker::Column::Id)
                    .update_columns([
                        crawl_worker::Column::RequestsPerSecond,
                        crawl_worker::Column::LastSeenAt,
                        crawl_worker::Column::DisconnectedAt,
                        crawl_worker::Column::BatchesDone,
                        crawl_worker::Column::AccountsDone,
                        crawl_worker::Column::Errors,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
    }
    txn.commit().await
}

/// After the last batch: applies the growth rule and marks the run finishing, in one
/// transaction so a restart never grows a range twice. Returns the ranges that grew.
pub async fn finish(
    db: &DatabaseConnection,
    run_id: i64,
    settings: &CrawlerSettings,
) -> Result<Vec<(Platform, i64, i64)>, DbErr> {
    let txn = begin_write(db).await?;
    let run = crawl_run::Entity::find_by_id(run_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("crawl run {run_id}")))?;
    let mut grown = Vec::new();
    if run.status == RunStatus::Running {
        for range in crawl_range::Entity::find().all(&txn).await? {
            let highest: Option<i64> = arena_entity::battles::player::Entity::find()
                .select_only()
                .column_as(arena_entity::battles::player::Column::Id.max(), "max")
                .filter(arena_entity::battles::player::Column::Platform.eq(&range.platform))
                .filter(
                    arena_entity::battles::player::Column::Id.between(range.min_id, range.max_id),
                )
                .into_tuple::<Option<i64>>()
                .one(&txn)
                .await?
                .flatten();
            let Some(highest) = highest else { continue };
            if settings.growth_step > 0 && range.max_id - highest <= settings.growth_within {
                let max = range.max_id + settings.growth_step;
                crawl_range::Entity::update_many()
                    .col_expr(crawl_range::Column::MaxId, Expr::value(max))
                    .col_expr(crawl_range::Column::GrownAt, Expr::value(Utc::now()))
                    .col_expr(crawl_range::Column::UpdatedAt, Expr::value(Utc::now()))
                    .filter(crawl_range::Column::Platform.eq(&range.platform))
                    .exec(&txn)
                    .await?;
                if let Ok(platform) = range.platform.parse() {
                    grown.push((platform, range.max_id, max));
                }
            }
        }
        crawl_run::Entity::update_many()
            .col_expr(crawl_run::Column::Status, Expr::value(RunStatus::Finishing))
            .filter(crawl_run::Column::Id.eq(run_id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(grown)
}

/// Marks the run completed with its summary.
pub async fn complete(db: &DatabaseConnection, run_id: i64, summary: &str) -> Result<(), DbErr> {
    crawl_run::Entity::update_many()
        .col_expr(crawl_run::Column::Status, Expr::value(RunStatus::Completed))
        .col_expr(crawl_run::Column::Summary, Expr::value(summary))
        .col_expr(crawl_run::Column::FinishedAt, Expr::value(Utc::now()))
        .col_expr(crawl_run::Column::WorkersConnected, Expr::value(0))
        .filter(crawl_run::Column::Id.eq(run_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The run as stored.
pub async fn run(db: &DatabaseConnection, run_id: i64) -> Result<crawl_run::Model, DbErr> {
    crawl_run::Entity::find_by_id(run_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("crawl run {run_id}")))
}
