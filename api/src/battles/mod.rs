//! The `battles` domain: the read side of the crawler's data. Players and their daily
//! totals and diffs are public (the WG API publishes them too); crawl runs, their workers
//! and progress need `crawler.read`.

pub mod graphql;

use std::{
    collections::{BTreeMap, HashMap},
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use arena_entity::battles::{
    crawl_run::{self, RunStatus},
    crawl_sample, crawl_worker, daily_activity, daily_diff, daily_total, player,
};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{Stream, StreamExt};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult,
    ModelTrait, QueryFilter, QueryOrder, QuerySelect, Value,
    sea_query::{Alias, Expr, ExprTrait, Func, LikeExpr, SimpleExpr},
};

use crate::{
    auth::privileges,
    auth::viewer::Viewer,
    bus::{Change, Listener, Received},
    context::AppContext,
    db::{placeholders, raw},
    error::{ApiError, ApiResult},
    graphql::pagination::{
        KeyCursor, KeyOrder, Keyset, OffsetWindow, SortKey, TotalCount, Window, fetch_keyset,
    },
};

/// Longest date range one query may cover.
pub const MAX_DAYS: i64 = 366;

/// A counter players, totals and diffs can be ordered or summed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// One of the `statistics.all` counters, kept per day too.
    Daily(&'static str),
    /// A record kept on the player only (max damage and the like).
    Record(&'static str),
}

impl Counter {
    /// The column it is stored in.
    pub fn column(self) -> &'static str {
        match self {
            Self::Daily(name) | Self::Record(name) => name,
        }
    }
}

/// How players are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerOrder {
    /// By a counter.
    Counter(Counter),
    /// By wins over battles.
    WinRate,
    /// By account id.
    Id,
}

/// Narrows the player list; every field given must match.
#[derive(Debug, Clone, Default)]
pub struct PlayerFilter {
    /// `xbox` or `ps`.
    pub platform: Option<String>,
    /// Nickname starts with this, whatever the case.
    pub nickname_prefix: Option<String>,
    /// Last battle at or after.
    pub active_since: Option<DateTime<Utc>>,
    /// Last battle before.
    pub active_until: Option<DateTime<Utc>>,
    /// At least this many battles.
    pub min_battles: Option<i64>,
}

/// Checks a date range: `from` not after `to`, at most [`MAX_DAYS`] days.
pub fn check_range(from: NaiveDate, to: NaiveDate) -> ApiResult<()> {
    if from > to {
        return Err(ApiError::bad_input("to", "the range ends before it starts"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::bad_input(
            "to",
            format!("a range covers at most {MAX_DAYS} days"),
        ));
    }
    Ok(())
}

/// What an analytical field costs the complexity limit: one per day its range covers (a
/// reversed or overlong range costs 1 and is refused by [`check_range`]).
pub fn range_cost(from: NaiveDate, to: NaiveDate) -> usize {
    usize::try_from((to - from).num_days() + 1)
        .unwrap_or(1)
        .clamp(1, usize::try_from(MAX_DAYS).unwrap_or(366))
}

/// Refuses anonymous callers past their share of analytical queries per minute.
pub fn limit_anonymous_analytics(ctx: &AppContext, viewer: &Viewer) -> ApiResult<()> {
    if viewer.user().is_some() {
        return Ok(());
    }
    ctx.auth
        .limits
        .analytics_by_address
        .check(&viewer.ip.to_string())
}

/// A player by account id.
pub async fn player_by_id(db: &DatabaseConnection, id: i64) -> ApiResult<Option<player::Model>> {
    Ok(player::Entity::find_by_id(id).one(db).await?)
}

/// A player by nickname, whatever the case.
pub async fn player_by_nickname(
    db: &DatabaseConnection,
    nickname: &str,
) -> ApiResult<Option<player::Model>> {
    Ok(player::Entity::find()
        .filter(
            Expr::expr(Func::lower(Expr::col(player::Column::Nickname)))
                .eq(nickname.to_lowercase()),
        )
        .one(db)
        .await?)
}

/// One day of a player's history.
#[derive(Debug, Clone)]
pub struct HistoryDay {
    /// The day.
    pub day: NaiveDate,
    /// Counters at the end of the day.
    pub total: Option<daily_total::Model>,
    /// Growth that day.
    pub diff: Option<daily_diff::Model>,
}

/// Each of `player_ids`' days with changes in `from..=to`, newest first, at most `limit`
/// each: two statements for any number of players.
pub async fn histories(
    db: &DatabaseConnection,
    player_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
    limit: u64,
) -> ApiResult<HashMap<i64, Vec<HistoryDay>>> {
    check_range(from, to)?;
    let ids = player_ids.iter().copied();
    let totals = daily_total::Entity::find()
        .filter(daily_total::Column::PlayerId.is_in(ids.clone()))
        .filter(daily_total::Column::Day.between(from, to))
        .order_by_desc(daily_total::Column::Day)
        .all(db)
        .await?;
    let diffs = daily_diff::Entity::find()
        .filter(daily_diff::Column::PlayerId.is_in(ids))
        .filter(daily_diff::Column::Day.between(from, to))
        .order_by_desc(daily_diff::Column::Day)
        .all(db)
        .await?;
    let mut days: HashMap<i64, BTreeMap<NaiveDate, HistoryDay>> = HashMap::new();
    let blank = |day| HistoryDay {
        day,
        total: None,
        diff: None,
    };
    for total in totals {
        let (player_id, on) = (total.player_id, total.day);
        let entry = days.entry(player_id).or_default().entry(on);
        entry.or_insert_with(|| blank(on)).total = Some(total);
    }
    for diff in diffs {
        let (player_id, on) = (diff.player_id, diff.day);
        let entry = days.entry(player_id).or_default().entry(on);
        entry.or_insert_with(|| blank(on)).diff = Some(diff);
    }
    let keep = usize::try_from(limit).unwrap_or(usize::MAX);
    Ok(days
        .into_iter()
        .map(|(player_id, days)| (player_id, days.into_values().rev().take(keep).collect()))
        .collect())
}

fn win_rate() -> SimpleExpr {
    Expr::cust("CAST(wins AS DOUBLE PRECISION) / NULLIF(battles, 0)")
}

/// Players matching `filter`, ordered, one keyset page: any page reads about as many index
/// entries as it holds, and the count waits until a client asks for it.
pub async fn players(
    db: &DatabaseConnection,
    filter: &PlayerFilter,
    order: PlayerOrder,
    descending: bool,
    keyset: Keyset,
) -> ApiResult<(Vec<player::Model>, TotalCount, Keyset)> {
    let mut condition = Condition::all();
    if let Some(platform) = &filter.platform {
        condition = condition.add(player::Column::Platform.eq(platform.as_str()));
    }
    if let Some(prefix) = &filter.nickname_prefix {
        let escaped: String = prefix
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        condition = condition.add(
            Expr::expr(Func::lower(Expr::col(player::Column::Nickname)))
                .like(LikeExpr::new(format!("{escaped}%")).escape('\\')),
        );
    }
    if let Some(since) = filter.active_since {
        condition = condition.add(player::Column::LastBattleTime.gte(since));
    }
    if let Some(until) = filter.active_until {
        condition = condition.add(player::Column::LastBattleTime.lt(until));
    }
    let mut min_battles = filter.min_battles.unwrap_or(0);
    if order == PlayerOrder::WinRate {
        // A win rate needs battles.
        min_battles = Ord::max(min_battles, 1);
    }
    if min_battles > 0 {
        condition = condition.add(player::Column::Battles.gte(min_battles));
    }
    let query = player::Entity::find().filter(condition);
    let total = TotalCount::of(db, query.clone());
    let key_order = KeyOrder {
        key: match order {
            PlayerOrder::Counter(counter) => {
                Some((Expr::col(Alias::new(counter.column())), |k: &SortKey| {
                    matches!(k, SortKey::Int(_))
                }))
            }
            PlayerOrder::WinRate => {
                Some((win_rate(), |k: &SortKey| matches!(k, SortKey::Float(_))))
            }
            PlayerOrder::Id => None,
        },
        id: Expr::col((player::Entity, player::Column::Id)),
        descending,
    };
    let rows = fetch_keyset(db, &keyset, query, &key_order).await?;
    Ok((rows, total, keyset))
}

/// Where `player` stands in `order`, as a cursor.
pub fn player_cursor(player: &player::Model, order: PlayerOrder) -> KeyCursor {
    let key = match order {
        PlayerOrder::Counter(counter) => {
            let value = player::Column::from_str(counter.column())
                .ok()
                .map(|column| player.get(column));
            Some(SortKey::Int(match value {
                Some(sea_orm::Value::BigInt(Some(v))) => v,
                Some(sea_orm::Value::Int(Some(v))) => i64::from(v),
                _ => 0,
            }))
        }
        // The same division the database makes, so the cursor compares equal to the row.
        PlayerOrder::WinRate => Some(SortKey::Float(player.wins as f64 / player.battles as f64)),
        PlayerOrder::Id => None,
    };
    KeyCursor {
        key,
        id: player.id.into(),
    }
}

/// One day on one platform.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Activity {
    /// The day.
    pub day: NaiveDate,
    /// `xbox` or `ps`.
    pub platform: String,
    /// Players whose battle count grew.
    pub active_players: i64,
    /// Battles played.
    pub battles: i64,
    /// Battles won.
    pub wins: i64,
    /// Damage dealt.
    pub damage_dealt: i64,
}

/// Daily activity per platform over `from..=to`, oldest first.
pub async fn daily_activity(
    db: &DatabaseConnection,
    from: NaiveDate,
    to: NaiveDate,
    platform: Option<&str>,
) -> ApiResult<Vec<Activity>> {
    check_range(from, to)?;
    // One rollup row per day and platform, which the crawler rebuilds as each day finishes.
    let mut query = daily_activity::Entity::find()
        .filter(daily_activity::Column::Day.between(from, to))
        .order_by_asc(daily_activity::Column::Day)
        .order_by_asc(daily_activity::Column::Platform);
    if let Some(platform) = platform {
        query = query.filter(daily_activity::Column::Platform.eq(platform));
    }
    Ok(query.into_model::<Activity>().all(db).await?)
}

/// Which rows cover `from..=to`: the whole months inside it from the monthly rollup, the
/// days before and after them from the daily rows.
#[derive(Debug, PartialEq, Eq)]
struct Coverage {
    /// Spans of daily rows, inclusive.
    days: Vec<(NaiveDate, NaiveDate)>,
    /// First days of the first and last whole month, inclusive.
    months: Option<(NaiveDate, NaiveDate)>,
}

impl Coverage {
    fn of(from: NaiveDate, to: NaiveDate) -> Self {
        use chrono::{Datelike, Months};
        let month_start = |d: NaiveDate| d.with_day(1).unwrap_or(d);
        let next_month = |d: NaiveDate| {
            month_start(d)
                .checked_add_months(Months::new(1))
                .unwrap_or(d)
        };
        let first_whole = if from.day() == 1 {
            from
        } else {
            next_month(from)
        };
        // The first day after the last whole month.
        let after_whole = if next_month(to).pred_opt() == Some(to) {
            next_month(to)
        } else {
            month_start(to)
        };
        if first_whole >= after_whole {
            return Self {
                days: vec![(from, to)],
                months: None,
            };
        }
        let mut days = Vec::new();
        if from < first_whole {
            days.push((from, first_whole.pred_opt().unwrap_or(from)));
        }
        if after_whole <= to {
            days.push((after_whole, to));
        }
        let last_whole = month_start(after_whole.pred_opt().unwrap_or(after_whole));
        Self {
            days,
            months: Some((first_whole, last_whole)),
        }
    }

    /// `SELECT player_id, {column} AS v …` over every part, `UNION ALL`, with its values.
    fn union(&self, column: &str, platform: Option<&str>) -> (String, Vec<Value>) {
        let mut parts = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let mut part = |table: &str, key: &str, (a, b): (NaiveDate, NaiveDate)| {
            let n = values.len();
            let mut sql = format!(
                "SELECT player_id, {column} AS v FROM {table} WHERE {key} BETWEEN ${} AND ${}",
                n + 1,
                n + 2
            );
            values.push(a.into());
            values.push(b.into());
            if let Some(platform) = platform {
                sql.push_str(&format!(" AND platform = ${}", n + 3));
                values.push(platform.into());
            }
            parts.push(sql);
        };
        for span in &self.days {
            part("battle_diffs", "day", *span);
        }
        if let Some(months) = self.months {
            part("battle_monthly_diffs", "month", months);
        }
        (parts.join(" UNION ALL "), values)
    }
}

/// A player's sum of a counter over a period.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Ranked {
    /// The player.
    pub player_id: i64,
    /// The sum.
    pub value: i64,
}

/// The players with the highest sum of `counter` over `from..=to`, one page.
pub async fn top_players(
    db: &DatabaseConnection,
    from: NaiveDate,
    to: NaiveDate,
    counter: Counter,
    platform: Option<&str>,
    page: impl FnOnce(u64) -> ApiResult<OffsetWindow>,
) -> ApiResult<(Vec<(Ranked, Option<player::Model>)>, OffsetWindow)> {
    check_range(from, to)?;
    let Counter::Daily(column) = counter else {
        return Err(ApiError::bad_input(
            "counter",
            "records are not kept per day; rank by a daily counter",
        ));
    };
    // Whole months come from the monthly rollup: a year is 12 rows per player, not 366.
    let (union, values) = Coverage::of(from, to).union(column, platform);
    let total = db
        .query_one_raw(raw(
            db,
            &format!("SELECT COUNT(DISTINCT player_id) AS n FROM ({union}) parts"),
            values.clone(),
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    let window = page(u64::try_from(total).unwrap_or(0))?;
    let n = values.len();
    let mut values = values;
    values.push(i64::try_from(window.limit).unwrap_or(i64::MAX).into());
    values.push(i64::try_from(window.offset).unwrap_or(i64::MAX).into());
    let ranked = Ranked::find_by_statement(raw(
        db,
        &format!(
            "SELECT player_id, CAST(SUM(v) AS BIGINT) AS value FROM ({union}) parts \
             GROUP BY player_id ORDER BY value DESC, player_id ASC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        ),
        values,
    ))
    .all(db)
    .await?;
    let players = player::Entity::find()
        .filter(player::Column::Id.is_in(ranked.iter().map(|r| r.player_id)))
        .all(db)
        .await?;
    let rows = ranked
        .into_iter()
        .map(|r| {
            let player = players.iter().find(|p| p.id == r.player_id).cloned();
            (r, player)
        })
        .collect();
    Ok((rows, window))
}

/// Crawl runs, newest first. Privilege `crawler.read`.
pub async fn runs(
    db: &DatabaseConnection,
    viewer: &Viewer,
    window: Window,
) -> ApiResult<(Vec<crawl_run::Model>, TotalCount)> {
    viewer.require_privilege(privileges::CRAWLER_READ)?;
    let total = TotalCount::of(db, crawl_run::Entity::find());
    let rows = window
        .select(crawl_run::Entity::find(), crawl_run::Column::Id)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// One crawl run. Privilege `crawler.read`.
pub async fn run(db: &DatabaseConnection, viewer: &Viewer, id: i64) -> ApiResult<crawl_run::Model> {
    viewer.require_privilege(privileges::CRAWLER_READ)?;
    crawl_run::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("crawl run"))
}

/// Workers kept per run.
const WORKERS_SHOWN: i64 = 200;

/// The workers of each of `run_ids`, most recently connected first, at most 200 each; one
/// statement.
pub async fn workers_of_runs(
    db: &DatabaseConnection,
    run_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<crawl_worker::Model>>> {
    latest_of_runs::<crawl_worker::Entity>(
        db,
        "crawl_workers",
        "connected_at",
        run_ids,
        WORKERS_SHOWN,
    )
    .await
}

/// The latest `last` progress samples of each of `run_ids`, oldest first; one statement.
pub async fn samples_of_runs(
    db: &DatabaseConnection,
    run_ids: &[i64],
    last: u64,
) -> ApiResult<HashMap<i64, Vec<crawl_sample::Model>>> {
    let last = i64::try_from(last).unwrap_or(i64::MAX);
    let mut samples =
        latest_of_runs::<crawl_sample::Entity>(db, "crawl_samples", "id", run_ids, last).await?;
    for rows in samples.values_mut() {
        rows.reverse();
    }
    Ok(samples)
}

/// The newest `keep` rows by `order` of each run in `table`, newest first, in one statement.
async fn latest_of_runs<E>(
    db: &DatabaseConnection,
    table: &str,
    order: &str,
    run_ids: &[i64],
    keep: i64,
) -> ApiResult<HashMap<i64, Vec<E::Model>>>
where
    E: EntityTrait,
    E::Model: RunRow,
{
    let mut by_run: HashMap<i64, Vec<E::Model>> = HashMap::new();
    if run_ids.is_empty() {
        return Ok(by_run);
    }
    let sql = format!(
        "SELECT * FROM (
             SELECT t.*, ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY {order} DESC, id DESC) AS n
               FROM {table} t WHERE run_id IN ({})
         ) ranked WHERE n <= ${} ORDER BY run_id, n",
        placeholders(1, run_ids.len()),
        run_ids.len() + 1
    );
    let mut values: Vec<sea_orm::Value> = run_ids.iter().map(|id| (*id).into()).collect();
    values.push(keep.into());
    let rows = E::find()
        .from_raw_sql(raw(db, &sql, values))
        .all(db)
        .await?;
    for row in rows {
        by_run.entry(row.run_id()).or_default().push(row);
    }
    Ok(by_run)
}

/// A row that belongs to a crawl run.
trait RunRow {
    fn run_id(&self) -> i64;
}

impl RunRow for crawl_worker::Model {
    fn run_id(&self) -> i64 {
        self.run_id
    }
}

impl RunRow for crawl_sample::Model {
    fn run_id(&self) -> i64 {
        self.run_id
    }
}

/// What identifies one state of a run's progress.
type ProgressKey = (DateTime<Utc>, i64, RunStatus);

/// One subscriber following one run.
struct Follow {
    db: DatabaseConnection,
    listener: Listener,
    last: Option<ProgressKey>,
    ended: bool,
    _watching: Watching,
}

/// The run now, then each time its progress changes, until it completes (its last state is
/// sent) or the server stops. It wakes on the bus's [`Change::CrawlRun`], which
/// [`watch_runs`] publishes; a listener that fell behind reads the run again.
pub fn progress(
    ctx: &AppContext,
    run_id: i64,
) -> impl Stream<Item = ApiResult<crawl_run::Model>> + Send + Unpin + use<> {
    let follow = Follow {
        db: ctx.db.clone(),
        listener: ctx.bus.subscribe(),
        last: None,
        ended: false,
        _watching: ctx.crawl_watch.enter(),
    };
    let changes = futures_util::stream::unfold(follow, move |mut f| async move {
        if f.ended {
            return None;
        }
        loop {
            if f.last.is_some() {
                match f.listener.recv().await? {
                    Received::Change(Change::CrawlRun { run_id: id }) if id == run_id => {}
                    Received::Change(Change::Resync) | Received::Lagged(_) => {}
                    Received::Change(_) => continue,
                }
                // The read covers every change delivered by now.
                f.listener.skip_pending();
            }
            let run = match crawl_run::Entity::find_by_id(run_id).one(&f.db).await {
                Ok(Some(run)) => run,
                Ok(None) => {
                    f.ended = true;
                    return Some((Err(ApiError::NotFound("crawl run")), f));
                }
                Err(err) => {
                    f.ended = true;
                    return Some((Err(err.into()), f));
                }
            };
            let key = (run.progress_at, run.batches_done, run.status);
            if f.last.as_ref() != Some(&key) {
                f.ended = run.status == RunStatus::Completed;
                f.last = Some(key);
                return Some((Ok(run), f));
            }
        }
    });
    Box::pin(changes.take_until(ctx.shutdown.clone().cancelled_owned()))
}

/// How many subscribers follow crawl runs on this instance; [`watch_runs`] reads the runs
/// table only while there are some.
#[derive(Default)]
pub struct RunWatch(Arc<AtomicUsize>);

/// One subscriber's share of a [`RunWatch`]; leaving drops it.
struct Watching(Arc<AtomicUsize>);

impl RunWatch {
    fn enter(&self) -> Watching {
        self.0.fetch_add(1, Ordering::AcqRel);
        Watching(self.0.clone())
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How often the crawler's progress is looked for while someone follows it. The crawler is
/// another process (often on SQLite, without Redis), so one reader per instance turns its
/// writes into bus changes for every subscriber here.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// Publishes [`Change::CrawlRun`] on this instance whenever a run's progress or status
/// changes, while anyone follows runs, until `shutdown`.
pub async fn watch_runs(ctx: AppContext) {
    let mut seen: HashMap<i64, ProgressKey> = HashMap::new();
    let mut ticks = tokio::time::interval(WATCH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = ctx.shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if ctx.crawl_watch.0.load(Ordering::Acquire) == 0 {
            seen.clear();
            continue;
        }
        let since = Utc::now() - chrono::Duration::minutes(1);
        let rows = crawl_run::Entity::find()
            .select_only()
            .columns([
                crawl_run::Column::Id,
                crawl_run::Column::ProgressAt,
                crawl_run::Column::BatchesDone,
                crawl_run::Column::Status,
            ])
            .filter(
                Condition::any()
                    .add(crawl_run::Column::Status.ne(RunStatus::Completed))
                    .add(crawl_run::Column::ProgressAt.gte(since)),
            )
            .into_tuple::<(i64, DateTime<Utc>, i64, RunStatus)>()
            .all(&ctx.db)
            .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(err) => {
                tracing::warn!(error = %err, "reading crawl progress failed");
                continue;
            }
        };
        for (run_id, at, done, status) in rows {
            let key = (at, done, status);
            if seen.get(&run_id) != Some(&key) {
                seen.insert(run_id, key);
                ctx.bus.notify_local(Change::CrawlRun { run_id });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn long_ranges_read_whole_months_from_the_rollup() {
        assert_eq!(
            Coverage::of(d("2026-10-15"), d("2026-12-10")),
            Coverage {
                days: vec![
                    (d("2026-10-15"), d("2026-10-31")),
                    (d("2026-12-01"), d("2026-12-10"))
                ],
                months: Some((d("2026-11-01"), d("2026-11-01"))),
            }
        );
        assert_eq!(
            Coverage::of(d("2026-01-01"), d("2026-12-31")),
            Coverage {
                days: vec![],
                months: Some((d("2026-01-01"), d("2026-12-01"))),
            }
        );
        // Inside one month, or across two partial ones: daily rows only.
        for (from, to) in [("2026-11-03", "2026-11-20"), ("2026-10-20", "2026-11-10")] {
            assert_eq!(
                Coverage::of(d(from), d(to)),
                Coverage {
                    days: vec![(d(from), d(to))],
                    months: None,
                }
            );
        }
        // A whole month that ends the range.
        assert_eq!(
            Coverage::of(d("2026-10-20"), d("2026-11-30")),
            Coverage {
                days: vec![(d("2026-10-20"), d("2026-10-31"))],
                months: Some((d("2026-11-01"), d("2026-11-01"))),
            }
        );
    }
}
