//! The `battles` domain: the read side of the crawler's data. Players and their daily
//! totals and diffs are public (the WG API publishes them too); crawl runs, their workers
//! and progress need `crawler.read`.

pub mod graphql;

use std::time::Duration;

use arena_entity::battles::{
    crawl_run, crawl_sample, crawl_worker, daily_diff, daily_total, player,
};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{Stream, StreamExt};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Alias, Expr, ExprTrait, Func, LikeExpr, SimpleExpr},
};
use tokio_util::sync::CancellationToken;

use crate::{
    auth::viewer::Viewer,
    error::{ApiError, ApiResult},
    graphql::pagination::{OffsetWindow, Window},
};

/// The privilege that shows crawl runs.
pub const CRAWLER_READ: &str = "crawler.read";

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
pub struct HistoryDay {
    /// The day.
    pub day: NaiveDate,
    /// Counters at the end of the day.
    pub total: Option<daily_total::Model>,
    /// Growth that day.
    pub diff: Option<daily_diff::Model>,
}

/// A player's days with changes in `from..=to`, newest first, at most `limit`.
pub async fn history(
    db: &DatabaseConnection,
    player_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    limit: u64,
) -> ApiResult<Vec<HistoryDay>> {
    check_range(from, to)?;
    let totals = daily_total::Entity::find()
        .filter(daily_total::Column::PlayerId.eq(player_id))
        .filter(daily_total::Column::Day.between(from, to))
        .order_by_desc(daily_total::Column::Day)
        .limit(limit)
        .all(db)
        .await?;
    let diffs = daily_diff::Entity::find()
        .filter(daily_diff::Column::PlayerId.eq(player_id))
        .filter(daily_diff::Column::Day.between(from, to))
        .order_by_desc(daily_diff::Column::Day)
        .limit(limit)
        .all(db)
        .await?;
    let mut days: Vec<NaiveDate> = totals
        .iter()
        .map(|t| t.day)
        .chain(diffs.iter().map(|d| d.day))
        .collect();
    days.sort_unstable_by(|a, b| b.cmp(a));
    days.dedup();
    days.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(days
        .into_iter()
        .map(|day| HistoryDay {
            day,
            total: totals.iter().find(|t| t.day == day).cloned(),
            diff: diffs.iter().find(|d| d.day == day).cloned(),
        })
        .collect())
}

fn win_rate() -> SimpleExpr {
    Expr::cust("CAST(wins AS DOUBLE PRECISION) / NULLIF(battles, 0)")
}

/// Players matching `filter`, ordered, one page.
pub async fn players(
    db: &DatabaseConnection,
    filter: &PlayerFilter,
    order: PlayerOrder,
    descending: bool,
    page: impl FnOnce(u64) -> ApiResult<OffsetWindow>,
) -> ApiResult<(Vec<player::Model>, OffsetWindow)> {
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
    let total = query.clone().count(db).await?;
    let window = page(total)?;
    let direction = if descending { Order::Desc } else { Order::Asc };
    let query = match order {
        PlayerOrder::Counter(counter) => {
            query.order_by(Expr::col(Alias::new(counter.column())), direction.clone())
        }
        PlayerOrder::WinRate => query.order_by(win_rate(), direction.clone()),
        PlayerOrder::Id => query,
    };
    let rows = query
        .order_by(player::Column::Id, direction)
        .offset(window.offset)
        .limit(window.limit)
        .all(db)
        .await?;
    Ok((rows, window))
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
    let mut query = daily_diff::Entity::find()
        .select_only()
        .column(daily_diff::Column::Day)
        .column(daily_diff::Column::Platform)
        .column_as(daily_diff::Column::PlayerId.count(), "active_players")
        .column_as(sum(daily_diff::Column::Battles), "battles")
        .column_as(sum(daily_diff::Column::Wins), "wins")
        .column_as(sum(daily_diff::Column::DamageDealt), "damage_dealt")
        .filter(daily_diff::Column::Day.between(from, to))
        .group_by(daily_diff::Column::Day)
        .group_by(daily_diff::Column::Platform)
        .order_by_asc(daily_diff::Column::Day)
        .order_by_asc(daily_diff::Column::Platform);
    if let Some(platform) = platform {
        query = query.filter(daily_diff::Column::Platform.eq(platform));
    }
    Ok(query.into_model::<Activity>().all(db).await?)
}

/// `CAST(sum(column) AS BIGINT)`: PostgreSQL sums bigints into numerics.
fn sum(column: impl ColumnTrait) -> SimpleExpr {
    Expr::expr(Func::sum(Expr::col(column))).cast_as(Alias::new("BIGINT"))
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
    let mut base = daily_diff::Entity::find().filter(daily_diff::Column::Day.between(from, to));
    if let Some(platform) = platform {
        base = base.filter(daily_diff::Column::Platform.eq(platform));
    }
    let total = base
        .clone()
        .select_only()
        .column_as(Expr::cust("COUNT(DISTINCT player_id)"), "n")
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0);
    let window = page(u64::try_from(total).unwrap_or(0))?;
    let value = Expr::expr(Func::sum(Expr::col(Alias::new(column)))).cast_as(Alias::new("BIGINT"));
    let ranked = base
        .select_only()
        .column(daily_diff::Column::PlayerId)
        .column_as(value.clone(), "value")
        .group_by(daily_diff::Column::PlayerId)
        .order_by(value, Order::Desc)
        .order_by_asc(daily_diff::Column::PlayerId)
        .offset(window.offset)
        .limit(window.limit)
        .into_model::<Ranked>()
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
) -> ApiResult<(Vec<crawl_run::Model>, u64)> {
    viewer.require_privilege(CRAWLER_READ)?;
    let total = crawl_run::Entity::find().count(db).await?;
    let rows = window
        .select(crawl_run::Entity::find(), crawl_run::Column::Id)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// One crawl run. Privilege `crawler.read`.
pub async fn run(db: &DatabaseConnection, viewer: &Viewer, id: i64) -> ApiResult<crawl_run::Model> {
    viewer.require_privilege(CRAWLER_READ)?;
    crawl_run::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("crawl run"))
}

/// A run's workers, most recently connected first.
pub async fn run_workers(
    db: &DatabaseConnection,
    run_id: i64,
) -> ApiResult<Vec<crawl_worker::Model>> {
    Ok(crawl_worker::Entity::find()
        .filter(crawl_worker::Column::RunId.eq(run_id))
        .order_by_desc(crawl_worker::Column::ConnectedAt)
        .limit(200)
        .all(db)
        .await?)
}

/// A run's latest `limit` progress samples, oldest first.
pub async fn run_samples(
    db: &DatabaseConnection,
    run_id: i64,
    limit: u64,
) -> ApiResult<Vec<crawl_sample::Model>> {
    let mut rows = crawl_sample::Entity::find()
        .filter(crawl_sample::Column::RunId.eq(run_id))
        .order_by_desc(crawl_sample::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    rows.reverse();
    Ok(rows)
}

/// The run every `every`, whenever its progress changed, until it completes (its last
/// state is sent) or the server stops. The coordinator records progress every two seconds.
pub fn progress(
    db: DatabaseConnection,
    run_id: i64,
    every: Duration,
    shutdown: CancellationToken,
) -> impl Stream<Item = ApiResult<crawl_run::Model>> {
    let state = (db, None::<(DateTime<Utc>, i64, String)>, false);
    futures_util::stream::unfold(state, move |(db, last, ended)| async move {
        if ended {
            return None;
        }
        loop {
            let found = crawl_run::Entity::find_by_id(run_id).one(&db).await;
            let run = match found {
                Ok(Some(run)) => run,
                Ok(None) => return Some((Err(ApiError::NotFound("crawl run")), (db, last, true))),
                Err(err) => return Some((Err(err.into()), (db, last, true))),
            };
            let key = (run.progress_at, run.batches_done, run.status.clone());
            if last.as_ref() != Some(&key) {
                let ended = run.status == "completed";
                return Some((Ok(run), (db, Some(key), ended)));
            }
            tokio::time::sleep(every).await;
        }
    })
    .take_until(shutdown.cancelled_owned())
}
