//! The event stream (seed 003): events from game servers (for the games they host) and from
//! trusted backends (`event.ingest`), stored in bulk, once per producer's id: the same id
//! sent again, or in the same batch, is accepted and ignored.

pub mod graphql;
pub mod process;
pub mod relay;

use std::collections::HashSet;

use arena_entity::{
    events::{game_event, platform_event},
    servers::server_game,
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::{
    auth::{privileges, viewer::Viewer},
    context::AppContext,
    error::{ApiError, ApiResult},
};

/// Most events one call stores.
pub const MAX_BATCH: usize = 1_000;
/// Longest event id.
pub const MAX_KEY: usize = 128;
/// Longest gameplay or state name.
pub const MAX_NAME: usize = 64;
/// Largest `data` of one event, as JSON text.
pub const MAX_DATA_BYTES: usize = 16 * 1024;
/// How far ahead of Arena's clock an event may say it happened.
const MAX_AHEAD_SECONDS: i64 = 300;

/// What an ingested event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A match ended: a winner and a loser.
    GameOver,
    /// Something a player did in play, by name, with data.
    Gameplay,
    /// A player's state changed, by name.
    StateChange,
}

impl Kind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GameOver => "game_over",
            Self::Gameplay => "gameplay",
            Self::StateChange => "state_change",
        }
    }
}

/// One event as a producer sends it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The producer's id for it; unique within its game.
    pub key: String,
    pub game_id: i32,
    pub kind: Kind,
    pub name: Option<String>,
    pub user_id: Option<Uuid>,
    pub winner_id: Option<Uuid>,
    pub loser_id: Option<Uuid>,
    pub data: Option<serde_json::Value>,
    /// When it happened; now when not given.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// What a call stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    /// Events stored now.
    pub accepted: u64,
    /// Events whose id was stored before (or earlier in the batch): ignored.
    pub duplicates: u64,
}

/// The scope an event id is unique in: its game's.
fn scope_of(game: i32) -> String {
    format!("game:{game}")
}

/// Stores a batch of events in one statement: all of them or, on bad input, none. A game
/// server may send events of the games it hosts; a signed-in caller needs `event.ingest`.
pub async fn ingest(
    ctx: &AppContext,
    viewer: &Viewer,
    events: Vec<Incoming>,
) -> ApiResult<Ingested> {
    let source = match viewer.machine {
        Some(_) => {
            let server = ctx.server_tokens.server_id(&ctx.db, viewer).await?;
            let hosted: HashSet<i32> = server_game::Entity::find()
                .filter(server_game::Column::ServerId.eq(server))
                .all(&ctx.db)
                .await?
                .into_iter()
                .map(|g| g.game_id)
                .collect();
            if events.iter().any(|e| !hosted.contains(&e.game_id)) {
                return Err(ApiError::Forbidden);
            }
            format!("server:{server}")
        }
        None => {
            let me = viewer.require_privilege(privileges::EVENT_INGEST)?;
            format!("backend:{}", me.id)
        }
    };
    let now = Utc::now();
    check(&events, now)?;
    let total = events.len() as u64;
    let games: std::collections::BTreeSet<i32> = events.iter().map(|e| e.game_id).collect();
    let rows = rows_of(events, &source, now);
    let stored = ctx
        .write(async move |db, changes| {
            let stored = store_in(db, rows).await?;
            if !stored.is_empty() {
                for game in games {
                    changes.push(crate::bus::Change::Events {
                        game_id: Some(game),
                    });
                }
            }
            Ok(stored)
        })
        .await?;
    let accepted = stored.len() as u64;
    ctx.events.push(stored).await;
    Ok(Ingested {
        accepted,
        duplicates: total - accepted,
    })
}

/// The rows of `events` sent by `source`, received `now`, as they are stored: pending.
pub fn rows_of(
    events: Vec<Incoming>,
    source: &str,
    now: DateTime<Utc>,
) -> Vec<game_event::ActiveModel> {
    events
        .into_iter()
        .map(|e| game_event::ActiveModel {
            scope: Set(scope_of(e.game_id)),
            event_key: Set(e.key),
            game_id: Set(Some(e.game_id)),
            kind: Set(e.kind.as_str().to_owned()),
            name: Set(e.name),
            user_id: Set(e.user_id),
            winner_id: Set(e.winner_id),
            loser_id: Set(e.loser_id),
            data: Set(e.data),
            occurred_at: Set(e.occurred_at.unwrap_or(now)),
            received_at: Set(now),
            source: Set(source.to_owned()),
            state: Set(game_event::State::Pending),
            processed_at: Set(None),
            failure: Set(None),
            ..Default::default()
        })
        .collect()
}

/// Inserts events, ignoring those whose id its scope holds already; the ids of those it
/// stored, for the processor's queue once committed. On PostgreSQL the transaction holds
/// its games' store locks (shared) from before the ids are drawn until it ends, so the
/// processor can wait for every store of a game that drew an earlier id
/// ([`process::wait_for_stores_in`]).
pub async fn store_in(
    db: &impl ConnectionTrait,
    rows: impl IntoIterator<Item = game_event::ActiveModel>,
) -> ApiResult<Vec<i64>> {
    let rows: Vec<_> = rows.into_iter().collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let games: Vec<i32> = rows
        .iter()
        .filter_map(|row| match &row.game_id {
            sea_orm::ActiveValue::Set(game) | sea_orm::ActiveValue::Unchanged(game) => *game,
            sea_orm::ActiveValue::NotSet => None,
        })
        .collect();
    process::lock_stores_in(db, &games).await?;
    // RETURNING reports the rows inserted, not those skipped; SQLite has it since 3.35.
    let insert = sea_orm::QueryTrait::into_query(
        game_event::Entity::insert_many(rows).on_conflict(crate::db::any_conflict()),
    )
    .returning_col(game_event::Column::Id)
    .to_owned();
    let stored = db
        .query_all_raw(db.get_database_backend().build(&insert))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0))
        .collect::<Result<_, _>>()?;
    Ok(stored)
}

/// Refuses a batch with an event that cannot be stored as it is, naming the event.
fn check(events: &[Incoming], now: DateTime<Utc>) -> ApiResult<()> {
    if events.is_empty() || events.len() > MAX_BATCH {
        return Err(ApiError::bad_input(
            "events",
            format!("a batch holds 1 to {MAX_BATCH} events"),
        ));
    }
    for (at, event) in events.iter().enumerate() {
        let refuse = |why: String| {
            ApiError::bad_input("events", format!("event {at} (id {:?}): {why}", event.key))
        };
        let key = event.key.trim();
        if key.is_empty() || key.len() > MAX_KEY || key.len() != event.key.len() {
            return Err(refuse(format!(
                "an id is 1 to {MAX_KEY} bytes without surrounding spaces"
            )));
        }
        let name = event.name.as_deref().map(str::trim);
        match event.kind {
            Kind::GameOver => match (event.winner_id, event.loser_id) {
                (Some(w), Some(l)) if w != l => {}
                (Some(_), Some(_)) => return Err(refuse("the winner is not the loser".into())),
                _ => return Err(refuse("`game_over` names a winner and a loser".into())),
            },
            Kind::Gameplay | Kind::StateChange if name.is_none_or(str::is_empty) => {
                return Err(refuse(format!("`{}` has a name", event.kind.as_str())));
            }
            _ => {}
        }
        if name.is_some_and(|n| n.len() > MAX_NAME) {
            return Err(refuse(format!("a name is at most {MAX_NAME} bytes")));
        }
        if event
            .data
            .as_ref()
            .is_some_and(|data| data.to_string().len() > MAX_DATA_BYTES)
        {
            return Err(refuse(format!(
                "data is at most {MAX_DATA_BYTES} bytes of JSON"
            )));
        }
        if event
            .occurred_at
            .is_some_and(|t| t > now + Duration::seconds(MAX_AHEAD_SECONDS))
        {
            return Err(refuse(format!(
                "it cannot have happened more than {MAX_AHEAD_SECONDS} s from now"
            )));
        }
    }
    Ok(())
}

/// Events of one kind in one game on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub day: chrono::NaiveDate,
    pub game_id: i32,
    pub kind: String,
    pub events: i64,
}

/// Events per game, kind and UTC day they happened, from `from` to `to` (both included, at
/// most [`crate::battles::MAX_DAYS`]), oldest first.
pub async fn activity(
    db: &impl ConnectionTrait,
    game: Option<i32>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> ApiResult<Vec<Activity>> {
    crate::battles::check_range(from, to)?;
    let (day, start, end) = crate::db::utc_days(db, "occurred_at", from, to);
    let mut values: Vec<sea_orm::Value> = vec![start.into(), end.into()];
    let one_game = match game {
        Some(game) => {
            values.push(game.into());
            " AND game_id = $3"
        }
        None => " AND game_id IS NOT NULL",
    };
    let sql = format!(
        "SELECT {day} AS day, game_id, kind, COUNT(*) AS events FROM game_events \
         WHERE occurred_at >= $1 AND occurred_at < $2{one_game} \
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    );
    db.query_all_raw(crate::db::raw(db, &sql, values))
        .await?
        .iter()
        .map(|row| {
            Ok(Activity {
                day: row.try_get("", "day")?,
                game_id: row.try_get("", "game_id")?,
                kind: row.try_get("", "kind")?,
                events: row.try_get("", "events")?,
            })
        })
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(Into::into)
}

/// Distinct players a game's events named (as player, winner or loser) in each period from
/// `from` to `to` (both included, at most [`crate::battles::MAX_DAYS`]): each UTC day, or
/// each week from Monday (the first and last clipped to the range), oldest first.
pub async fn active_players(
    db: &impl ConnectionTrait,
    game: i32,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    weekly: bool,
) -> ApiResult<Vec<(chrono::NaiveDate, i64)>> {
    use chrono::Datelike;
    crate::battles::check_range(from, to)?;
    let (day, start, end) = crate::db::utc_days(db, "occurred_at", from, to);
    let players = |range: &str| {
        ["user_id", "winner_id", "loser_id"]
            .iter()
            .map(|column| {
                format!(
                    "SELECT occurred_at, {column} AS player FROM game_events \
                     WHERE game_id = $3 AND {range} AND {column} IS NOT NULL"
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    };
    let range = "occurred_at >= $1 AND occurred_at < $2";
    let count = |row: &sea_orm::QueryResult| row.try_get::<i64>("", "players");
    if !weekly {
        let sql = format!(
            "SELECT {day} AS day, COUNT(DISTINCT player) AS players FROM ({}) p \
             GROUP BY 1 ORDER BY 1",
            players(range)
        );
        let values = vec![start.into(), end.into(), game.into()];
        return db
            .query_all_raw(crate::db::raw(db, &sql, values))
            .await?
            .iter()
            .map(|row| Ok((row.try_get("", "day")?, count(row)?)))
            .collect::<Result<_, sea_orm::DbErr>>()
            .map_err(Into::into);
    }
    let sql = format!(
        "SELECT COUNT(DISTINCT player) AS players FROM ({}) p",
        players(range)
    );
    let mut out = Vec::new();
    let mut week = from - Duration::days(i64::from(from.weekday().num_days_from_monday()));
    while week <= to {
        let (_, week_start, week_end) =
            crate::db::utc_days(db, "occurred_at", week, week + Duration::days(6));
        let values = vec![
            week_start.max(start).into(),
            week_end.min(end).into(),
            game.into(),
        ];
        let row = db.query_one_raw(crate::db::raw(db, &sql, values)).await?;
        out.push((week, row.as_ref().map(count).transpose()?.unwrap_or(0)));
        week += Duration::days(7);
    }
    Ok(out)
}

/// Which stored events a list shows; `None` does not narrow it.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub game: Option<i32>,
    pub state: Option<game_event::State>,
}

/// Stored events by filter, in the window (newest first by arrival), with their count.
pub async fn events_of(
    db: &sea_orm::DatabaseConnection,
    filter: EventFilter,
    window: crate::graphql::pagination::Window,
) -> ApiResult<(
    Vec<game_event::Model>,
    crate::graphql::pagination::TotalCount,
)> {
    let mut query = game_event::Entity::find();
    if let Some(game) = filter.game {
        query = query.filter(game_event::Column::GameId.eq(game));
    }
    if let Some(state) = filter.state {
        query = query.filter(game_event::Column::State.eq(state));
    }
    let total = crate::graphql::pagination::TotalCount::of(db, query.clone());
    let rows = window.select(query, game_event::Column::Id).all(db).await?;
    Ok((rows, total))
}

/// Events stored after now, as they are stored (`game`'s, or every game's and the
/// platform's), until the server stops. Each read takes at most [`TAIL_READ`] in arrival
/// order, so a slow subscriber costs a cursor, not memory.
pub fn tail(
    ctx: &AppContext,
    game: Option<i32>,
    after: i64,
) -> impl futures_util::Stream<Item = ApiResult<game_event::Model>> + Send + Unpin + use<> {
    use crate::bus::{Change, Received};
    use sea_orm::{QueryOrder, QuerySelect};
    struct State {
        db: sea_orm::DatabaseConnection,
        listener: crate::bus::Listener,
        after: i64,
        ready: std::collections::VecDeque<game_event::Model>,
        /// Whether the last read was a full one: more may be stored already.
        full: bool,
    }
    let state = State {
        db: ctx.db.clone(),
        listener: ctx.bus.subscribe(),
        after,
        ready: std::collections::VecDeque::new(),
        full: false,
    };
    let stream = futures_util::stream::unfold(state, move |mut s| async move {
        loop {
            if let Some(next) = s.ready.pop_front() {
                return Some((Ok(next), s));
            }
            if !s.full {
                match s.listener.recv().await? {
                    Received::Change(Change::Events { game_id })
                        if game.is_none() || game_id == game => {}
                    Received::Change(Change::Resync) | Received::Lagged(_) => {}
                    Received::Change(_) => continue,
                }
            }
            // The read covers every change delivered by now.
            s.listener.skip_pending();
            let mut query = game_event::Entity::find()
                .filter(game_event::Column::Id.gt(s.after))
                .order_by_asc(game_event::Column::Id)
                .limit(TAIL_READ);
            if let Some(game) = game {
                query = query.filter(game_event::Column::GameId.eq(game));
            }
            match query.all(&s.db).await {
                Ok(rows) => {
                    if let Some(last) = rows.last() {
                        s.after = last.id;
                    }
                    s.full = rows.len() as u64 == TAIL_READ;
                    s.ready.extend(rows);
                }
                Err(err) => return Some((Err(err.into()), s)),
            }
        }
    });
    Box::pin(futures_util::StreamExt::take_until(
        Box::pin(stream),
        ctx.shutdown.clone().cancelled_owned(),
    ))
}

/// Most events one read of a tail takes.
pub const TAIL_READ: u64 = 500;

/// The id of the newest stored event (0 for none): where a tail starts.
pub async fn newest_id(db: &impl ConnectionTrait) -> ApiResult<i64> {
    use sea_orm::{QueryOrder, QuerySelect};
    Ok(game_event::Entity::find()
        .select_only()
        .column(game_event::Column::Id)
        .order_by_desc(game_event::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0))
}

/// Ids one delete of the prune covers.
const PRUNE_CHUNK: i64 = 5_000;

/// Deletes applied events received before `before`, and outbox rows relayed and written
/// before it; failed and pending events stay (staff may still retry them). Walks the ids
/// from the oldest in chunks, stopping at the first row that is new enough, so each delete
/// and each step reads the primary key only. The events and outbox rows deleted.
pub async fn prune(db: &impl ConnectionTrait, before: DateTime<Utc>) -> ApiResult<(u64, u64)> {
    let events = prune_table::<game_event::Entity>(
        db,
        (game_event::Column::Id, game_event::Column::ReceivedAt),
        Condition::all().add(game_event::Column::State.eq(game_event::State::Processed)),
        before,
    )
    .await?;
    let outbox = prune_table::<platform_event::Entity>(
        db,
        (
            platform_event::Column::Id,
            platform_event::Column::CreatedAt,
        ),
        Condition::all().add(platform_event::Column::Relayed.eq(true)),
        before,
    )
    .await?;
    Ok((events, outbox))
}

/// [`prune`] of one table, by its id and time columns: the rows meeting `done` and older
/// than `before`.
async fn prune_table<E: EntityTrait>(
    db: &impl ConnectionTrait,
    (id, at): (E::Column, E::Column),
    done: Condition,
    before: DateTime<Utc>,
) -> ApiResult<u64> {
    let mut deleted = 0;
    let mut from = i64::MIN;
    loop {
        let oldest: Option<(i64, DateTime<Utc>)> = E::find()
            .select_only()
            .column(id)
            .column(at)
            .filter(id.gte(from))
            .order_by_asc(id)
            .into_tuple()
            .one(db)
            .await?;
        let Some((first, _)) = oldest.filter(|(_, when)| *when < before) else {
            return Ok(deleted);
        };
        let to = first.saturating_add(PRUNE_CHUNK);
        deleted += E::delete_many()
            .filter(id.gte(first))
            .filter(id.lt(to))
            .filter(done.clone())
            .filter(at.lt(before))
            .exec(db)
            .await?
            .rows_affected;
        from = to;
    }
}

/// Every hour (the first after an hour), prunes what `event_retention_days` no longer
/// keeps; never with 0.
pub(crate) async fn prune_hourly(ctx: AppContext) {
    let days = ctx.settings.event_retention_days;
    if days == 0 {
        return;
    }
    loop {
        tokio::select! {
            () = ctx.shutdown.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(3_600)) => {}
        }
        let before = Utc::now() - Duration::days(i64::from(days));
        match prune(&ctx.db, before).await {
            Ok((events, outbox)) if events + outbox > 0 => {
                tracing::info!(events, outbox, "old events pruned");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(?err, "pruning old events failed"),
        }
    }
}
