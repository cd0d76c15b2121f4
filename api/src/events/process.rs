//! The event processor: applies stored events exactly once. The database is the truth: a
//! batch is applied in one transaction that locks its events, runs the handlers, writes
//! their effects and marks each event processed or failed, so a batch delivered twice (a
//! redelivery, a sweep, a second instance) changes nothing the second time. The queue only
//! says which events to look at: on PostgreSQL with Redis, a Redis Stream read by one
//! consumer group (instances share the work; what a dead consumer held is claimed after
//! [`Settings::event_requeue_seconds`]); otherwise an in-process channel. Events whose queue
//! entry was lost (a crash between commit and queueing, a flushed Redis, a full channel) are
//! queued again at start and by a sweep.
//!
//! [`Settings::event_requeue_seconds`]: crate::settings::Settings::event_requeue_seconds

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    time::Duration,
};

use arena_entity::{
    auth::user,
    events::{game_event, stat_rule},
    games::game,
};
use chrono::{DateTime, Utc};
use redis::streams::{StreamAutoClaimReply, StreamReadReply};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{
    Locked,
    auth::{privileges, viewer::Viewer},
    bus::{Change, Changes},
    context::AppContext,
    error::{ApiError, ApiResult},
    leaderboards, quests,
    redis_conn::Redis,
    stats::{self, Handlers, StatOp},
};

/// Ids a sweep queues at a time.
const SWEEP_CHUNK: u64 = 1_000;
/// Ids the in-process queue holds (as batches); past it a batch is left to the sweep.
const LOCAL_BATCHES: usize = 1_024;
/// The consumer group every instance reads the stream in.
const GROUP: &str = "processors";
/// Stream entries kept (approximately); an entry is one ingest call's ids.
const STREAM_MAX: u64 = 100_000;
/// The advisory-lock class of a game's statistics on PostgreSQL.
const STATS_LOCK: i32 = 0x5354_4154;
/// The advisory-lock class of a game's events being stored on PostgreSQL: held shared by
/// each storing transaction, taken exclusive for a moment by the processor.
const STORE_LOCK: i32 = 0x5354_4f52;

/// Rank-index writes after commits that may run beside the next batch's transaction.
const INDEX_WRITERS: usize = 4;

/// Where stored event ids wait for the processor.
#[derive(Clone)]
pub struct EventQueue(Arc<Transport>, Arc<Busy>, Arc<Floors>);

/// Per game, an id below which this instance saw every event of the game applied or
/// refused. Only a retried event is pending below it again, and a retry queues its own id.
/// The search for a game's earlier pending events starts there: the pending index keeps an
/// entry for every applied event until a vacuum, and a search from its start would walk them
/// all, each batch. Learned after commits, so a stale floor is only lower: still true.
#[derive(Default)]
pub struct Floors(Mutex<HashMap<i32, i64>>);

impl Floors {
    /// The lowest floor of `games`; 0 when one is unknown.
    fn lowest(&self, games: &[i32]) -> i64 {
        let floors = self.0.locked();
        games
            .iter()
            .map(|game| floors.get(game).copied().unwrap_or(0))
            .min()
            .unwrap_or(0)
    }

    fn raise(&self, settled: &[(i32, i64)]) {
        let mut floors = self.0.locked();
        for &(game, floor) in settled {
            let at = floors.entry(game).or_default();
            *at = (*at).max(floor);
        }
    }
}

/// Batches being applied, and the rank-index writers after their commits.
struct Busy {
    count: std::sync::atomic::AtomicUsize,
    writers: Arc<tokio::sync::Semaphore>,
}

impl Default for Busy {
    fn default() -> Self {
        Self {
            count: std::sync::atomic::AtomicUsize::new(0),
            writers: Arc::new(tokio::sync::Semaphore::new(INDEX_WRITERS)),
        }
    }
}

/// Counts as busy while alive.
struct BusyGuard(Arc<Busy>);

impl BusyGuard {
    fn new(busy: &Arc<Busy>) -> Self {
        busy.count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Self(busy.clone())
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

enum Transport {
    Local {
        sender: mpsc::Sender<Vec<i64>>,
        receiver: Mutex<Option<mpsc::Receiver<Vec<i64>>>>,
    },
    Stream {
        redis: Redis,
        key: String,
    },
}

impl EventQueue {
    /// A Redis Stream when Redis is configured, an in-process channel otherwise.
    pub fn new(redis: Option<&Redis>) -> Self {
        Self(
            Arc::new(match redis {
                Some(redis) => Transport::Stream {
                    key: redis.key("events"),
                    redis: redis.clone(),
                },
                None => {
                    let (sender, receiver) = mpsc::channel(LOCAL_BATCHES);
                    Transport::Local {
                        sender,
                        receiver: Mutex::new(Some(receiver)),
                    }
                }
            }),
            Arc::default(),
            Arc::default(),
        )
    }

    /// Whether this instance is applying a batch (committing it, or writing its ranks after
    /// the commit): with no pending event left, not busy means every effect is in place.
    pub fn busy(&self) -> bool {
        self.1.count.load(std::sync::atomic::Ordering::Acquire) > 0
    }

    /// Queues committed events. Never fails the caller: an id that does not make it onto
    /// the queue is still pending in the database, and the sweep queues it again.
    pub async fn push(&self, ids: Vec<i64>) {
        if ids.is_empty() {
            return;
        }
        match &*self.0 {
            Transport::Local { sender, .. } => {
                if sender.try_send(ids).is_err() {
                    tracing::debug!("event queue full; the sweep queues the rest");
                }
            }
            Transport::Stream { redis, key } => {
                let joined = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                let mut conn = redis.conn();
                let added: Result<String, _> = redis::cmd("XADD")
                    .arg(key)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(STREAM_MAX)
                    .arg("*")
                    .arg("ids")
                    .arg(joined)
                    .query_async(&mut conn)
                    .await;
                if let Err(err) = added {
                    tracing::warn!(%err, "events not put on the stream; the sweep queues them");
                }
            }
        }
    }
}

/// What one application did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Events applied now.
    pub processed: usize,
    /// Events refused now, with their reason stored.
    pub failed: usize,
    /// The statistics written.
    pub stats: HashSet<stats::StatKey>,
    /// The leaderboard records written.
    pub boards: Vec<leaderboards::Changed>,
    /// Whether earlier events of the batch's games filled the transaction, leaving some
    /// of the batch for the next one.
    pub more: bool,
    /// Games whose every event below the id given was applied or refused by now.
    pub settled: Vec<(i32, i64)>,
}

impl Applied {
    fn add(&mut self, other: Self) {
        self.processed += other.processed;
        self.failed += other.failed;
        self.stats.extend(other.stats);
        self.boards.extend(other.boards);
        self.settled.extend(other.settled);
    }
}

/// Which events a transaction applies besides the ones it is given.
#[derive(Clone, Copy)]
pub enum Reach<'a> {
    /// Also every earlier pending event of the same games, first: a game's events apply in
    /// the order they were stored (what ELO needs), whichever queue entry comes first
    /// after a crash, a redelivery or on another instance. None is below the games' floors.
    EarlierOfGames { floors: &'a Floors },
    /// Only the events given (one event tried alone).
    Exactly,
}

/// Pending events of the games of the pending events among `ids`, stored before the last
/// of `ids` (at most a transaction's worth).
async fn earlier_pending(
    db: &impl ConnectionTrait,
    ids: &[i64],
    limit: usize,
) -> ApiResult<Vec<i64>> {
    let games = pending_games(db, ids).await?;
    let Some(last) = ids.iter().max().copied() else {
        return Ok(Vec::new());
    };
    if games.is_empty() {
        return Ok(Vec::new());
    }
    Ok(game_event::Entity::find()
        .select_only()
        .column(game_event::Column::Id)
        .filter(game_event::Column::State.eq(game_event::State::Pending))
        .filter(game_event::Column::GameId.is_in(games))
        .filter(game_event::Column::Id.lt(last))
        .order_by_asc(game_event::Column::Id)
        .limit(limit as u64)
        .into_tuple()
        .all(db)
        .await?)
}

/// The games of the pending events among `ids`.
async fn pending_games(db: &impl ConnectionTrait, ids: &[i64]) -> ApiResult<Vec<i32>> {
    let games: Vec<Option<i32>> = game_event::Entity::find()
        .select_only()
        .column(game_event::Column::GameId)
        .distinct()
        .filter(crate::db::one_of(db, game_event::Column::Id, ids.to_vec()))
        .filter(game_event::Column::State.eq(game_event::State::Pending))
        .into_tuple()
        .all(db)
        .await?;
    let mut games: Vec<i32> = games.into_iter().flatten().collect();
    games.sort_unstable();
    Ok(games)
}

/// Applies the pending events among `ids` in one transaction; events already applied or
/// refused (by an earlier delivery) are skipped. When the transaction fails as a whole, each
/// event is tried alone, and one the database refuses alone is marked failed with the
/// database's reason, so one event never holds back the others.
pub async fn apply(ctx: &AppContext, ids: &[i64]) -> ApiResult<Applied> {
    let _busy = BusyGuard::new(&ctx.events.1);
    apply_all(ctx, ids).await
}

async fn apply_all(ctx: &AppContext, ids: &[i64]) -> ApiResult<Applied> {
    let handlers = &ctx.stats_handlers;
    let batch = ctx.settings.event_batch;
    let floors = &ctx.events.2;
    let mut total = Applied::default();
    let err = loop {
        let reach = Reach::EarlierOfGames { floors };
        match ctx
            .write(async |db, changes| apply_in(db, handlers, ids, reach, batch, changes).await)
            .await
        {
            Ok(applied) => {
                floors.raise(&applied.settled);
                boards_changed(ctx, applied.boards.clone()).await;
                let more = applied.more;
                total.add(applied);
                if !more {
                    return Ok(total);
                }
            }
            Err(err) if !refused_content(&err) => return Err(err),
            Err(err) => break err,
        }
    };
    // One by one, in id order: the batch and the earlier events of its games it reached for.
    let mut alone = earlier_pending(&ctx.db, ids, batch).await?;
    alone.extend_from_slice(ids);
    alone.sort_unstable();
    alone.dedup();
    tracing::warn!(
        ?err,
        events = alone.len(),
        "a batch failed; applying its events one by one"
    );
    for id in alone {
        let one = match ctx
            .write(async |db, changes| {
                apply_in(db, handlers, &[id], Reach::Exactly, 1, changes).await
            })
            .await
        {
            Ok(one) => {
                boards_changed(ctx, one.boards.clone()).await;
                one
            }
            Err(ApiError::Db(err)) if refuses(&err) => {
                let reason = format!("the database refused its effects: {err}");
                fail(ctx, id, &reason).await?
            }
            Err(err) => return Err(err),
        };
        total.add(one);
    }
    Ok(total)
}

/// After a commit: the changed records go into the rank index, and only then is the change
/// published, so a live board that wakes on it reads the new ranks. This runs beside the
/// next batch's transaction (a few at a time; the index is versioned, so two writes in
/// either order leave the newer), and the queue counts as busy until it is done.
async fn boards_changed(ctx: &AppContext, boards: Vec<leaderboards::Changed>) {
    if boards.is_empty() {
        return;
    }
    let busy = BusyGuard::new(&ctx.events.1);
    let Ok(permit) = ctx.events.1.writers.clone().acquire_owned().await else {
        return;
    };
    let ctx = ctx.clone();
    tokio::spawn(async move {
        leaderboards::index_changes(&ctx, &boards).await;
        let changes = boards
            .iter()
            .map(|changed| Change::Leaderboard {
                board_id: changed.board.id,
                season: changed.season,
                users: changed.records.iter().map(|r| r.user).collect(),
            })
            .collect();
        ctx.bus.publish_all(changes).await;
        drop((permit, busy));
    });
}

/// Whether the database refused what was written (a constraint, a value out of range)
/// rather than failed to serve (gone, busy, a deadlock): only the first fails an event; the
/// second is tried again later.
fn refused_content(err: &ApiError) -> bool {
    matches!(err, ApiError::Db(err) if refuses(err))
}

fn refuses(err: &sea_orm::DbErr) -> bool {
    if err.sql_err().is_some() {
        return true;
    }
    let message = err.to_string().to_lowercase();
    [
        "constraint",
        "violates",
        "too long",
        "out of range",
        "invalid input",
    ]
    .iter()
    .any(|part| message.contains(part))
}

/// Takes the scoring locks of `games` (statistics and leaderboards) for the transaction, in
/// game order, on PostgreSQL; SQLite has one writer at a time anyway.
pub async fn lock_games_in(db: &impl ConnectionTrait, games: &[i32]) -> ApiResult<()> {
    per_game_in(
        db,
        "SELECT pg_advisory_xact_lock($1, g) FROM unnest($2::int[]) AS g ORDER BY g",
        STATS_LOCK,
        games,
    )
    .await
}

/// Takes the store locks of `games` (shared) for the transaction, on PostgreSQL, before it
/// draws event ids.
pub async fn lock_stores_in(db: &impl ConnectionTrait, games: &[i32]) -> ApiResult<()> {
    per_game_in(
        db,
        "SELECT pg_advisory_xact_lock_shared($1, g) FROM unnest($2::int[]) AS g ORDER BY g",
        STORE_LOCK,
        games,
    )
    .await
}

/// Waits, on PostgreSQL, until every transaction storing events of `games` that began
/// before now has ended. Ids are drawn before commit, so a store can commit after a later
/// one of its game; an event of it would then still be invisible when the later ones are
/// applied, and be applied after them, out of order (ELO depends on the order). A queued
/// event committed before it was queued, so once the stores that began before now have
/// ended, every event of these games with a smaller id is visible. Each game's lock is
/// taken and let go in one statement (held, it would stall ingest for the whole batch), in
/// game order, as stores take theirs.
pub async fn wait_for_stores_in(db: &impl ConnectionTrait, games: &[i32]) -> ApiResult<()> {
    per_game_in(
        db,
        "SELECT pg_advisory_lock($1, g), pg_advisory_unlock($1, g) FROM unnest($2::int[]) AS g",
        STORE_LOCK,
        games,
    )
    .await
}

/// Runs `sql` with the advisory-lock class `class` as `$1` and `games`, in order and once
/// each, as `$2`, on PostgreSQL.
async fn per_game_in(
    db: &impl ConnectionTrait,
    sql: &str,
    class: i32,
    games: &[i32],
) -> ApiResult<()> {
    if db.get_database_backend() != DbBackend::Postgres || games.is_empty() {
        return Ok(());
    }
    let mut games = games.to_vec();
    games.sort_unstable();
    games.dedup();
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [class.into(), games.into()],
    ))
    .await?;
    Ok(())
}

/// Marks one pending event failed with `reason`.
async fn fail(ctx: &AppContext, id: i64, reason: &str) -> ApiResult<Applied> {
    let failed = ctx
        .write(async |db, _changes| {
            mark_in(
                db,
                &[id],
                game_event::State::Failed,
                Some(reason),
                Utc::now(),
            )
            .await
        })
        .await?;
    Ok(Applied {
        failed: failed as usize,
        ..Applied::default()
    })
}

/// Sets the state of those of `ids` still pending.
async fn mark_in(
    db: &impl ConnectionTrait,
    ids: &[i64],
    state: game_event::State,
    failure: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let done = game_event::Entity::update_many()
        .col_expr(game_event::Column::State, Expr::value(state))
        .col_expr(game_event::Column::ProcessedAt, Expr::value(now))
        .col_expr(game_event::Column::Failure, Expr::value(failure))
        .filter(crate::db::one_of(db, game_event::Column::Id, ids.to_vec()))
        .filter(game_event::Column::State.eq(game_event::State::Pending))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// The body of [`apply`]: lock the games of the pending events among `ids` on PostgreSQL
/// (in game order, so two instances never overwrite each other's sums, and before any
/// event row, so two batches never wait on each other crosswise), lock the pending events
/// (with `reach`, the earlier ones of those games too; in id order; at most `batch`), run
/// each event through its game's handler and rules, then write every statistic once and
/// every event's state.
pub async fn apply_in(
    db: &impl ConnectionTrait,
    handlers: &Handlers,
    ids: &[i64],
    reach: Reach<'_>,
    batch: usize,
    changes: &mut Changes,
) -> ApiResult<Applied> {
    // The batch's reads take lists of up to thousands of ids.
    crate::db::custom_plans_in(db).await?;
    let locked = pending_games(db, ids).await?;
    lock_games_in(db, &locked).await?;
    let earlier = match reach {
        Reach::EarlierOfGames { floors } => {
            wait_for_stores_in(db, &locked).await?;
            // A batch of this instance that committed meanwhile may not have raised them
            // yet: lower floors are still true.
            Some(floors.lowest(&locked))
        }
        Reach::Exactly => None,
    };
    // Read under the games' locks: records are versioned by this time in the rank index, so
    // a batch that waited for another must carry a later one.
    let now = Utc::now();
    // Every event wanted is at most the last given: bounding the scan of pending ids there
    // keeps it from walking the backlog behind the batch for a row that cannot match.
    let last = ids.iter().max().copied().unwrap_or(0);
    // And at least the first given, or the games' floor when that is lower (no earlier
    // event of theirs is pending below it).
    let mut first = ids.iter().min().copied().unwrap_or(0);
    let mut wanted =
        sea_orm::Condition::any().add(crate::db::one_of(db, game_event::Column::Id, ids.to_vec()));
    if let Some(floor) = earlier
        && !locked.is_empty()
    {
        first = first.min(floor);
        wanted = wanted.add(
            sea_orm::Condition::all()
                .add(game_event::Column::GameId.is_in(locked.iter().copied()))
                .add(game_event::Column::Id.lt(last)),
        );
    }
    let mut events = game_event::Entity::find()
        .filter(game_event::Column::State.eq(game_event::State::Pending))
        .filter(game_event::Column::Id.between(first, last))
        .filter(wanted)
        .order_by_asc(game_event::Column::Id)
        .limit(batch as u64 + 1)
        .lock_exclusive()
        .all(db)
        .await?;
    let more = events.len() > batch;
    events.truncate(batch);
    // Every pending event of the locked games up to the last read (all of them up to the
    // last given, when none was left over) is applied or refused once this commits.
    let reached = if more {
        events.last().map_or(0, |e| e.id)
    } else {
        last
    };
    let settled: Vec<(i32, i64)> = match earlier {
        Some(_) => locked.iter().map(|&game| (game, reached + 1)).collect(),
        None => Vec::new(),
    };
    if events.is_empty() {
        return Ok(Applied {
            more,
            settled,
            ..Applied::default()
        });
    }
    let game_ids: BTreeSet<i32> = events.iter().filter_map(|e| e.game_id).collect();
    let game_list: Vec<i32> = game_ids.iter().copied().collect();
    let games: HashMap<i32, String> = game::Entity::find()
        .filter(game::Column::Id.is_in(game_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.id, g.stats_handler))
        .collect();
    let rules = crate::db::group_by(
        stat_rule::Entity::find()
            .filter(stat_rule::Column::GameId.is_in(game_ids.iter().copied()))
            .order_by_asc(stat_rule::Column::Id)
            .all(db)
            .await?,
        |rule| rule.game_id,
    );
    let named: BTreeSet<Uuid> = events
        .iter()
        .flat_map(|e| [e.user_id, e.winner_id, e.loser_id])
        .flatten()
        .collect();
    let mut known: HashSet<Uuid> = HashSet::new();
    for chunk in named.iter().copied().collect::<Vec<_>>().chunks(1_000) {
        known.extend(
            user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .filter(crate::db::one_of(db, user::Column::Id, chunk.to_vec()))
                .into_tuple::<Uuid>()
                .all(db)
                .await?,
        );
    }

    let named: Vec<Uuid> = named.into_iter().collect();
    let mut boards = leaderboards::Batch::load_in(db, &game_list, &named).await?;
    let mut quests = quests::Batch::load_in(db, &events, &known, now).await?;

    let mut ops: Vec<(i32, StatOp)> = Vec::new();
    let mut processed = Vec::new();
    let mut failed: Vec<(i64, String)> = Vec::new();
    for event in &events {
        // An event is applied whole or not at all: its statistics and its boards.
        let outcome = effects(event, &games, &rules, handlers, &known).and_then(|stats| {
            Ok((
                stats,
                boards.score(event, &known)?,
                quests.score(event, &known)?,
            ))
        });
        match outcome {
            Ok((effects, board_updates, quest_updates)) => {
                processed.push(event.id);
                if let Some(game) = event.game_id {
                    ops.extend(effects.into_iter().map(|op| (game, op)));
                }
                boards.keep(board_updates);
                quests.keep(quest_updates);
            }
            Err(reason) => failed.push((event.id, reason)),
        }
    }
    let stats = stats::write_in(db, &ops, now).await?;
    let boards = boards.write_in(db, now).await?;
    quests.write_in(db, now, changes).await?;
    mark_in(db, &processed, game_event::State::Processed, None, now).await?;
    for (reason, ids) in crate::db::group_by(failed.clone(), |(_, reason)| reason.clone()) {
        let ids: Vec<i64> = ids.iter().map(|(id, _)| *id).collect();
        mark_in(db, &ids, game_event::State::Failed, Some(&reason), now).await?;
    }
    let mut players: HashMap<i32, BTreeSet<Uuid>> = HashMap::new();
    for (game, user, _) in &stats {
        players.entry(*game).or_default().insert(*user);
    }
    for (game_id, users) in players {
        changes.push(Change::PlayerStats {
            game_id,
            users: users.into_iter().collect(),
        });
    }
    Ok(Applied {
        processed: processed.len(),
        failed: failed.len(),
        stats,
        boards,
        more,
        settled,
    })
}

/// The statistics changes of one event, or why it is refused. A handler that panics
/// refuses its event; nothing it did survives, as it returns its changes rather than
/// making them.
fn effects(
    event: &game_event::Model,
    games: &HashMap<i32, String>,
    rules: &HashMap<i32, Vec<stat_rule::Model>>,
    handlers: &Handlers,
    known: &HashSet<Uuid>,
) -> Result<Vec<StatOp>, String> {
    let Some(game) = event.game_id else {
        // A platform event: no game's statistics.
        return Ok(Vec::new());
    };
    let name = games
        .get(&game)
        .ok_or_else(|| format!("unknown game {game}"))?;
    let handler = handlers
        .get(name)
        .ok_or_else(|| format!("no statistics handler is called {name:?}"))?;
    let mut out = Vec::new();
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
        handler.handle(event, &mut out)?;
        for rule in rules.get(&game).into_iter().flatten() {
            stats::apply_rule(rule, event, &mut out)?;
        }
        Ok::<_, String>(())
    }));
    match ran {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => return Err(reason),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            return Err(format!("the {name:?} handler panicked: {message}"));
        }
    }
    for op in &out {
        if !known.contains(&op.user) {
            return Err(format!("unknown player {}", op.user));
        }
        stats::check_stat(&op.stat).map_err(|_| {
            format!(
                "a statistic's name is 1 to {} bytes without surrounding spaces",
                stats::MAX_STAT
            )
        })?;
    }
    Ok(out)
}

/// Queues a failed event again, for after what refused it was put right (a game created,
/// a rule fixed); staff with `event.manage`.
pub async fn retry(ctx: &AppContext, viewer: &Viewer, id: i64) -> ApiResult<game_event::Model> {
    viewer.require_privilege(privileges::EVENT_MANAGE)?;
    let event = ctx
        .write(async |db, _changes| {
            let done = game_event::Entity::update_many()
                .col_expr(
                    game_event::Column::State,
                    Expr::value(game_event::State::Pending),
                )
                .col_expr(
                    game_event::Column::ProcessedAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    game_event::Column::Failure,
                    Expr::value(Option::<String>::None),
                )
                .filter(game_event::Column::Id.eq(id))
                .filter(game_event::Column::State.eq(game_event::State::Failed))
                .exec(db)
                .await?;
            let event = game_event::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or(ApiError::NotFound("event"))?;
            if done.rows_affected == 0 {
                return Err(ApiError::Conflict(
                    "only a failed event is tried again".into(),
                ));
            }
            Ok(event)
        })
        .await?;
    ctx.events.push(vec![event.id]).await;
    Ok(event)
}

/// Starts this instance's processor, when the settings ask for one: the consumer, then the
/// pending events queued again (before the server takes requests, so a restart's backlog is
/// on its way first), then the relay and the sweep; all end with the context's shutdown.
pub async fn start(ctx: &AppContext) {
    if !ctx.settings.event_processor {
        return;
    }
    match &*ctx.events.0 {
        Transport::Local { receiver, .. } => {
            let receiver = receiver.locked().take();
            if let Some(receiver) = receiver {
                ctx.tasks.spawn(consume_local(ctx.clone(), receiver));
            }
        }
        Transport::Stream { redis, key } => {
            ctx.tasks
                .spawn(consume_stream(ctx.clone(), redis.clone(), key.clone()));
        }
    }
    if let Err(err) = requeue(ctx, None).await {
        tracing::warn!(?err, "queueing pending events at start failed");
    }
    super::relay::spawn(ctx);
    ctx.tasks.spawn(sweep(ctx.clone()));
    ctx.tasks.spawn(super::prune_hourly(ctx.clone()));
}

/// Applies `ids`, waiting while the database is away: a batch is never dropped for a
/// failure of the database.
async fn apply_until_done(ctx: &AppContext, ids: &[i64]) -> bool {
    let mut wait = Duration::from_millis(100);
    loop {
        match apply(ctx, ids).await {
            Ok(_) => return true,
            Err(err) => {
                tracing::warn!(?err, "events not applied; trying again");
                tokio::select! {
                    () = ctx.shutdown.cancelled() => return false,
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn consume_local(ctx: AppContext, mut receiver: mpsc::Receiver<Vec<i64>>) {
    loop {
        let first = tokio::select! {
            () = ctx.shutdown.cancelled() => return,
            next = receiver.recv() => match next {
                Some(ids) => ids,
                None => return,
            },
        };
        let mut ids = first;
        while ids.len() < ctx.settings.event_batch {
            match receiver.try_recv() {
                Ok(more) => ids.extend(more),
                Err(_) => break,
            }
        }
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(ctx.settings.event_batch) {
            if !apply_until_done(&ctx, chunk).await {
                return;
            }
        }
    }
}

/// Reads the stream as one consumer of the group: new entries, and every so often the
/// entries another consumer took and never acknowledged. An entry is acknowledged after
/// its events are applied.
async fn consume_stream(ctx: AppContext, redis: Redis, key: String) {
    let consumer = Uuid::new_v4().simple().to_string();
    let idle_ms = ctx.settings.event_requeue_seconds * 1_000;
    let mut conn = None;
    let mut last_claim = tokio::time::Instant::now();
    while !ctx.shutdown.is_cancelled() {
        let Some(c) = conn.as_mut() else {
            conn = stream_connection(&ctx, &redis, &key).await;
            continue;
        };
        let claim = last_claim.elapsed() >= Duration::from_millis(idle_ms / 2);
        let read = if claim {
            last_claim = tokio::time::Instant::now();
            redis::cmd("XAUTOCLAIM")
                .arg(&key)
                .arg(GROUP)
                .arg(&consumer)
                .arg(idle_ms)
                .arg("0-0")
                .arg("COUNT")
                .arg(64)
                .query_async::<StreamAutoClaimReply>(c)
                .await
                .map(|reply| reply.claimed)
        } else {
            let mut read = redis::cmd("XREADGROUP");
            read.arg("GROUP")
                .arg(GROUP)
                .arg(&consumer)
                .arg("COUNT")
                .arg(64)
                .arg("BLOCK")
                .arg(1_000)
                .arg("STREAMS")
                .arg(&key)
                .arg(">");
            let reply = tokio::select! {
                () = ctx.shutdown.cancelled() => return,
                reply = read.query_async::<Option<StreamReadReply>>(c) => reply,
            };
            reply.map(|reply| {
                reply
                    .into_iter()
                    .flat_map(|r| r.keys)
                    .flat_map(|k| k.ids)
                    .collect()
            })
        };
        let entries = match read {
            Ok(entries) => entries,
            Err(err) => {
                // A flushed or restarted Redis lost the group: make it again.
                tracing::warn!(%err, "reading the event stream failed; reconnecting");
                conn = None;
                tokio::select! {
                    () = ctx.shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
                continue;
            }
        };
        if entries.is_empty() {
            continue;
        }
        let mut ids: Vec<i64> = entries
            .iter()
            .filter_map(|entry| entry.get::<String>("ids"))
            .flat_map(|ids| {
                ids.split(',')
                    .filter_map(|id| id.parse().ok())
                    .collect::<Vec<i64>>()
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(ctx.settings.event_batch) {
            if !apply_until_done(&ctx, chunk).await {
                return;
            }
        }
        let acked: Result<i64, _> = redis::cmd("XACK")
            .arg(&key)
            .arg(GROUP)
            .arg(entries.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
            .query_async(c)
            .await;
        if let Err(err) = acked {
            // Applied already: a later claim of these entries changes nothing.
            tracing::warn!(%err, "acknowledging stream entries failed");
        }
    }
}

/// A connection of the consumer's own (its blocking reads would stall a shared one), with
/// the group made when missing.
async fn stream_connection(
    ctx: &AppContext,
    redis: &Redis,
    key: &str,
) -> Option<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let connected = async {
        let mut conn = redis
            .client()
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let made: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(key)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match made {
            Err(err) if err.code() != Some("BUSYGROUP") => Err(err),
            _ => Ok(conn),
        }
    };
    match connected.await {
        Ok(conn) => Some(conn),
        Err(err) => {
            tracing::warn!(%err, "the event stream is unreachable; trying again");
            tokio::select! {
                () = ctx.shutdown.cancelled() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            None
        }
    }
}

/// Every requeue interval, queues the events pending longer than it: what a lost queue
/// entry left behind.
async fn sweep(ctx: AppContext) {
    let every = Duration::from_secs(ctx.settings.event_requeue_seconds);
    loop {
        tokio::select! {
            () = ctx.shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(err) = requeue(&ctx, Some(every)).await {
            tracing::warn!(?err, "queueing pending events again failed");
        }
    }
}

/// Queues the pending events received more than `older_than` ago (all of them on `None`).
async fn requeue(ctx: &AppContext, older_than: Option<Duration>) -> ApiResult<()> {
    let before = older_than
        .map(|age| Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX));
    let mut after = 0;
    loop {
        let mut query = game_event::Entity::find()
            .select_only()
            .column(game_event::Column::Id)
            .filter(game_event::Column::State.eq(game_event::State::Pending))
            .filter(game_event::Column::Id.gt(after))
            .order_by_asc(game_event::Column::Id)
            .limit(SWEEP_CHUNK);
        if let Some(before) = before {
            query = query.filter(game_event::Column::ReceivedAt.lt(before));
        }
        let ids: Vec<i64> = query.into_tuple().all(&ctx.db).await?;
        let Some(last) = ids.last().copied() else {
            return Ok(());
        };
        after = last;
        let full = ids.len() as u64 == SWEEP_CHUNK;
        match &*ctx.events.0 {
            // The sweep may wait for room: it is not the channel's reader.
            Transport::Local { sender, .. } => {
                tokio::select! {
                    () = ctx.shutdown.cancelled() => return Ok(()),
                    sent = sender.send(ids) => if sent.is_err() { return Ok(()) },
                }
            }
            Transport::Stream { .. } => ctx.events.push(ids).await,
        }
        if !full {
            return Ok(());
        }
    }
}
