//! Leaderboards (seed 003): per game, any number, each scoring the game's events its own way
//! (+1 a win, ELO, best, sum, last), higher or lower first, in seasons that end on a UTC
//! schedule or by hand. Records are written by the event processor in the transaction that
//! marks their events processed; of equal scores the earlier achieved ranks first, then the
//! lower player id, so the order is total.

pub mod graphql;
pub mod index;
pub mod live;

use std::collections::{HashMap, HashSet};

use arena_entity::{
    events::{
        game_event,
        leaderboard::{self, ResetEvery, Scoring},
        leaderboard_record::{self, Entity as Records},
        leaderboard_season,
    },
    games::game,
    players::friend,
};
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::OnConflict,
};
use uuid::Uuid;

use crate::{
    auth::{privileges, viewer::Viewer},
    bus::{Change, Changes},
    error::{ApiError, ApiResult},
};

/// An ELO rating before a player's first game.
pub const ELO_START: i64 = 1_000;
/// Longest board name.
pub const MAX_NAME: usize = 64;
/// Most entries one read answers.
pub const MAX_ENTRIES: u64 = 100;
/// Most records the minute's re-index writes again.
const REINDEX_MOST: u64 = 50_000;

/// A player's place on a board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// From 1.
    pub rank: u64,
    pub user_id: Uuid,
    pub score: i64,
    pub achieved_at: DateTime<Utc>,
}

/// A record's key in one batch: the board and the player (the season is the board's).
type Key = (i32, Uuid);

/// The boards of a batch's games, their records for the batch's players, and what the
/// batch changed: loaded once under the games' locks, written once at the end.
#[derive(Default)]
pub struct Batch {
    boards: HashMap<i32, Vec<leaderboard::Model>>,
    season: HashMap<i32, i32>,
    records: HashMap<Key, (i64, DateTime<Utc>)>,
    changed: HashSet<Key>,
}

/// One event's changes to records, kept only when the whole event is applied.
pub type Updates = Vec<(Key, i64, DateTime<Utc>)>;

impl Batch {
    /// The boards of `games` and the current records of `users` on them.
    pub async fn load_in(
        db: &impl ConnectionTrait,
        games: &[i32],
        users: &[Uuid],
    ) -> ApiResult<Self> {
        let boards = leaderboard::Entity::find()
            .filter(leaderboard::Column::GameId.is_in(games.iter().copied()))
            .order_by_asc(leaderboard::Column::Id)
            .all(db)
            .await?;
        if boards.is_empty() {
            return Ok(Self::default());
        }
        let season: HashMap<i32, i32> = boards.iter().map(|b| (b.id, b.season)).collect();
        let ids: Vec<i32> = boards.iter().map(|b| b.id).collect();
        let mut seasons: Vec<i32> = season.values().copied().collect();
        seasons.sort_unstable();
        seasons.dedup();
        let mut records = HashMap::new();
        for chunk in users.chunks(1_000) {
            // Each column a list, so all three bound the key's index scan (per-board pairs
            // in an OR leave the planner only the season: every record of it); a record of
            // another board's season number is dropped here.
            let rows = Records::find()
                .filter(crate::db::one_of(
                    db,
                    leaderboard_record::Column::LeaderboardId,
                    ids.clone(),
                ))
                .filter(crate::db::one_of(
                    db,
                    leaderboard_record::Column::Season,
                    seasons.clone(),
                ))
                .filter(crate::db::one_of(
                    db,
                    leaderboard_record::Column::UserId,
                    chunk.to_vec(),
                ))
                .all(db)
                .await?;
            records.extend(
                rows.into_iter()
                    .filter(|r| season.get(&r.leaderboard_id) == Some(&r.season))
                    .map(|r| ((r.leaderboard_id, r.user_id), (r.score, r.achieved_at))),
            );
        }
        Ok(Self {
            boards: crate::db::group_by(boards, |b| b.game_id),
            season,
            records,
            changed: HashSet::new(),
        })
    }

    /// What `event` does to its game's boards given the batch so far, or why it cannot be
    /// applied; `known` are the players that exist.
    pub fn score(
        &self,
        event: &game_event::Model,
        known: &HashSet<Uuid>,
    ) -> Result<Updates, String> {
        let mut out = Updates::new();
        let Some(boards) = event.game_id.and_then(|game| self.boards.get(&game)) else {
            return Ok(out);
        };
        let at = event.occurred_at;
        // Earlier changes of the same event count (two boards never share a record).
        let current = |key: &Key| self.records.get(key).map(|(score, _)| *score);
        for board in boards {
            match board.scoring {
                Scoring::Wins | Scoring::Elo => {
                    if event.kind != "game_over" {
                        continue;
                    }
                    let (Some(winner), Some(loser)) = (event.winner_id, event.loser_id) else {
                        return Err("`game_over` names a winner and a loser".into());
                    };
                    for player in [winner, loser] {
                        if !known.contains(&player) {
                            return Err(format!("unknown player {player}"));
                        }
                    }
                    let (w, l) = ((board.id, winner), (board.id, loser));
                    if board.scoring == Scoring::Wins {
                        out.push((w, current(&w).unwrap_or(0).saturating_add(1), at));
                    } else {
                        let (rw, rl) = (
                            current(&w).unwrap_or(ELO_START),
                            current(&l).unwrap_or(ELO_START),
                        );
                        let delta = elo_delta(rw, rl, board.k_factor);
                        out.push((w, rw + delta, at));
                        out.push((l, rl - delta, at));
                    }
                }
                Scoring::Best | Scoring::Sum | Scoring::Last => {
                    if event.kind != "gameplay" || event.name != board.event_name {
                        continue;
                    }
                    let field = board.field.as_deref().unwrap_or("");
                    let value = event
                        .data
                        .as_ref()
                        .and_then(|data| data.pointer(field))
                        .and_then(serde_json::Value::as_i64)
                        .ok_or_else(|| {
                            format!(
                                "board {} reads data{field}, which is not an integer",
                                board.id
                            )
                        })?;
                    let player = event.user_id.ok_or_else(|| {
                        format!("board {} scores the event's player (`userId`)", board.id)
                    })?;
                    if !known.contains(&player) {
                        return Err(format!("unknown player {player}"));
                    }
                    let key = (board.id, player);
                    let next = match (board.scoring, current(&key)) {
                        (Scoring::Sum, now) => now.unwrap_or(0).saturating_add(value),
                        (Scoring::Best, Some(now)) if !better(board, value, now) => continue,
                        _ => value,
                    };
                    out.push((key, next, at));
                }
            }
        }
        Ok(out)
    }

    /// Keeps an applied event's changes.
    pub fn keep(&mut self, updates: Updates) {
        for (key, score, at) in updates {
            self.records.insert(key, (score, at));
            self.changed.insert(key);
        }
    }

    /// Writes every changed record as its absolute score; the boards and seasons changed.
    pub async fn write_in(
        &self,
        db: &impl ConnectionTrait,
        now: DateTime<Utc>,
    ) -> ApiResult<Vec<Changed>> {
        let mut rows = RecordRows::default();
        let mut changed: HashMap<(i32, i32), Vec<index::Indexed>> = HashMap::new();
        let mut keys: Vec<&Key> = self.changed.iter().collect();
        keys.sort();
        for key in keys {
            let (score, at) = self.records[key];
            let season = self.season[&key.0];
            changed
                .entry((key.0, season))
                .or_default()
                .push(index::Indexed {
                    user: key.1,
                    score,
                    achieved_at: at,
                    updated_at: now,
                });
            rows.boards.push(key.0);
            rows.seasons.push(season);
            rows.users.push(key.1);
            rows.scores.push(score);
            rows.achieved.push(at);
        }
        rows.write_in(db, now).await?;
        let models: HashMap<i32, &leaderboard::Model> =
            self.boards.values().flatten().map(|b| (b.id, b)).collect();
        Ok(changed
            .into_iter()
            .map(|((board, season), records)| Changed {
                board: models[&board].clone(),
                season,
                records,
            })
            .collect())
    }
}

/// Records to write, column by column.
#[derive(Default)]
struct RecordRows {
    boards: Vec<i32>,
    seasons: Vec<i32>,
    users: Vec<Uuid>,
    scores: Vec<i64>,
    achieved: Vec<DateTime<Utc>>,
}

impl RecordRows {
    /// Inserts the records, or replaces a stored one's score and time.
    async fn write_in(self, db: &impl ConnectionTrait, now: DateTime<Utc>) -> ApiResult<()> {
        let count = self.boards.len();
        if count == 0 {
            return Ok(());
        }
        if db.get_database_backend() == DbBackend::Postgres {
            crate::db::upsert_columns(
                db,
                "leaderboard_records",
                vec![
                    ("leaderboard_id", "int", self.boards.into()),
                    ("season", "int", self.seasons.into()),
                    ("user_id", "uuid", self.users.into()),
                    ("score", "bigint", self.scores.into()),
                    ("achieved_at", "timestamptz", self.achieved.into()),
                    ("updated_at", "timestamptz", vec![now; count].into()),
                ],
                "leaderboard_id, season, user_id",
                "score = excluded.score, achieved_at = excluded.achieved_at, \
                 updated_at = excluded.updated_at",
            )
            .await?;
            return Ok(());
        }
        let rows: Vec<leaderboard_record::ActiveModel> = (0..count)
            .map(|at| leaderboard_record::ActiveModel {
                leaderboard_id: Set(self.boards[at]),
                season: Set(self.seasons[at]),
                user_id: Set(self.users[at]),
                score: Set(self.scores[at]),
                achieved_at: Set(self.achieved[at]),
                updated_at: Set(now),
            })
            .collect();
        for chunk in rows.chunks(5_000) {
            Records::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([
                        leaderboard_record::Column::LeaderboardId,
                        leaderboard_record::Column::Season,
                        leaderboard_record::Column::UserId,
                    ])
                    .update_columns([
                        leaderboard_record::Column::Score,
                        leaderboard_record::Column::AchievedAt,
                        leaderboard_record::Column::UpdatedAt,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    }
}

/// The records of a board's season a batch changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub board: leaderboard::Model,
    pub season: i32,
    pub records: Vec<index::Indexed>,
}

/// Whether `value` beats `current` on `board`.
fn better(board: &leaderboard::Model, value: i64, current: i64) -> bool {
    if board.descending {
        value > current
    } else {
        value < current
    }
}

/// The points a winner rated `winner` takes from a loser rated `loser`: `k` times the
/// winner's chance of losing, rounded, so ratings stay integers and the sum stays the same.
pub fn elo_delta(winner: i64, loser: i64, k: i32) -> i64 {
    let expected = 1.0 / (1.0 + 10f64.powf((loser - winner) as f64 / 400.0));
    (f64::from(k) * (1.0 - expected)).round() as i64
}

/// The order of a season's records, best first.
fn ordered<Q: QueryOrder>(query: Q, board: &leaderboard::Model) -> Q {
    let by_score = if board.descending {
        sea_orm::Order::Desc
    } else {
        sea_orm::Order::Asc
    };
    query
        .order_by(leaderboard_record::Column::Score, by_score)
        .order_by_asc(leaderboard_record::Column::AchievedAt)
        .order_by_asc(leaderboard_record::Column::UserId)
}

fn of_season(board: i32, season: i32) -> Condition {
    Condition::all()
        .add(leaderboard_record::Column::LeaderboardId.eq(board))
        .add(leaderboard_record::Column::Season.eq(season))
}

/// The first `first` of a season, from rank `offset + 1`.
pub async fn top(
    db: &impl ConnectionTrait,
    board: &leaderboard::Model,
    season: i32,
    offset: u64,
    first: u64,
) -> ApiResult<Vec<Entry>> {
    let rows = ordered(Records::find().filter(of_season(board.id, season)), board)
        .offset(offset)
        .limit(first.min(MAX_ENTRIES))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .zip(offset + 1..)
        .map(|(r, rank)| Entry {
            rank,
            user_id: r.user_id,
            score: r.score,
            achieved_at: r.achieved_at,
        })
        .collect())
}

/// A player's place in a season; `None` without a record.
pub async fn rank(
    db: &impl ConnectionTrait,
    board: &leaderboard::Model,
    season: i32,
    user: Uuid,
) -> ApiResult<Option<Entry>> {
    let Some(record) = Records::find_by_id((board.id, season, user))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let score = leaderboard_record::Column::Score;
    let at = leaderboard_record::Column::AchievedAt;
    let beats = if board.descending {
        score.gt(record.score)
    } else {
        score.lt(record.score)
    };
    let ahead = Condition::any().add(beats).add(
        Condition::all().add(score.eq(record.score)).add(
            Condition::any().add(at.lt(record.achieved_at)).add(
                Condition::all()
                    .add(at.eq(record.achieved_at))
                    .add(leaderboard_record::Column::UserId.lt(user)),
            ),
        ),
    );
    let before = sea_orm::PaginatorTrait::count(
        Records::find()
            .filter(of_season(board.id, season))
            .filter(ahead),
        db,
    )
    .await?;
    Ok(Some(Entry {
        rank: before + 1,
        user_id: user,
        score: record.score,
        achieved_at: record.achieved_at,
    }))
}

/// A player and their friends in a season, ranked among themselves.
pub async fn among_friends(
    db: &impl ConnectionTrait,
    board: &leaderboard::Model,
    season: i32,
    user: Uuid,
) -> ApiResult<Vec<Entry>> {
    let friends: Vec<(Uuid, Uuid)> = friend::Entity::find()
        .select_only()
        .column(friend::Column::UserId)
        .column(friend::Column::TargetId)
        .filter(friend::Column::Pending.eq(false))
        .filter(
            Condition::any()
                .add(friend::Column::UserId.eq(user))
                .add(friend::Column::TargetId.eq(user)),
        )
        .into_tuple()
        .all(db)
        .await?;
    let mut players: Vec<Uuid> = friends
        .into_iter()
        .map(|(a, b)| if a == user { b } else { a })
        .collect();
    players.push(user);
    let rows = ordered(
        Records::find()
            .filter(of_season(board.id, season))
            .filter(leaderboard_record::Column::UserId.is_in(players)),
        board,
    )
    .all(db)
    .await?;
    Ok(rows
        .into_iter()
        .zip(1..)
        .map(|(r, rank)| Entry {
            rank,
            user_id: r.user_id,
            score: r.score,
            achieved_at: r.achieved_at,
        })
        .collect())
}

/// The entries from rank `offset + 1` through the rank index, or from the database when the
/// index cannot answer (Redis away).
pub async fn ranked(
    ctx: &crate::context::AppContext,
    board: &leaderboard::Model,
    season: i32,
    offset: u64,
    first: u64,
) -> ApiResult<Vec<Entry>> {
    let first = first.min(MAX_ENTRIES);
    match ctx
        .rank_index
        .range(&ctx.db, board, season, offset, first)
        .await
    {
        Ok(entries) => Ok(entries),
        Err(err) => {
            tracing::warn!(?err, "the rank index did not answer; reading the database");
            top(&ctx.db, board, season, offset, first).await
        }
    }
}

/// A player's place through the rank index, or from the database when it cannot answer.
pub async fn rank_of(
    ctx: &crate::context::AppContext,
    board: &leaderboard::Model,
    season: i32,
    user: Uuid,
) -> ApiResult<Option<Entry>> {
    match ctx.rank_index.rank(&ctx.db, board, season, user).await {
        Ok(entry) => Ok(entry),
        Err(err) => {
            tracing::warn!(?err, "the rank index did not answer; reading the database");
            rank(&ctx.db, board, season, user).await
        }
    }
}

/// A player and the `count` players either side, through the rank index.
pub async fn around_of(
    ctx: &crate::context::AppContext,
    board: &leaderboard::Model,
    season: i32,
    user: Uuid,
    count: u64,
) -> ApiResult<Vec<Entry>> {
    let count = count.min(MAX_ENTRIES / 2);
    let Some(me) = rank_of(ctx, board, season, user).await? else {
        return Ok(Vec::new());
    };
    let from = me.rank.saturating_sub(count + 1);
    ranked(ctx, board, season, from, me.rank + count - from).await
}

/// Writes a batch's changed records into the rank index; a failure is logged (the minute's
/// re-index repairs it).
pub async fn index_changes(ctx: &crate::context::AppContext, changed: &[Changed]) {
    for change in changed {
        let written = ctx
            .rank_index
            .apply(&change.board, change.season, &change.records)
            .await;
        if let Err(err) = written {
            tracing::warn!(
                ?err,
                board = change.board.id,
                "the rank index was not written"
            );
        }
    }
}

/// Writes the records changed since `since` into the rank index again, versioned, so an
/// instance that died between a commit and its index write leaves nothing stale.
pub async fn reindex_since(
    ctx: &crate::context::AppContext,
    since: DateTime<Utc>,
) -> ApiResult<()> {
    // The newest first, and a bounded number: under a heavy load the last ones matter.
    let rows = Records::find()
        .filter(leaderboard_record::Column::UpdatedAt.gte(since))
        .order_by_desc(leaderboard_record::Column::UpdatedAt)
        .limit(REINDEX_MOST)
        .all(&ctx.db)
        .await?;
    let mut changed: HashMap<(i32, i32), Vec<index::Indexed>> = HashMap::new();
    for row in &rows {
        changed
            .entry((row.leaderboard_id, row.season))
            .or_default()
            .push(row.into());
    }
    let boards: HashMap<i32, leaderboard::Model> = leaderboard::Entity::find()
        .filter(leaderboard::Column::Id.is_in(changed.keys().map(|(board, _)| *board)))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|board| (board.id, board))
        .collect();
    let changed: Vec<Changed> = changed
        .into_iter()
        .filter_map(|((board, season), records)| {
            Some(Changed {
                board: boards.get(&board)?.clone(),
                season,
                records,
            })
        })
        .collect();
    index_changes(ctx, &changed).await;
    Ok(())
}

/// A board by id.
pub async fn find(db: &impl ConnectionTrait, id: i32) -> ApiResult<leaderboard::Model> {
    leaderboard::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("leaderboard"))
}

/// A game's boards, oldest first.
pub async fn of_game(db: &impl ConnectionTrait, game: i32) -> ApiResult<Vec<leaderboard::Model>> {
    Ok(leaderboard::Entity::find()
        .filter(leaderboard::Column::GameId.eq(game))
        .order_by_asc(leaderboard::Column::Id)
        .all(db)
        .await?)
}

/// A board's ended seasons, newest first.
pub async fn seasons(
    db: &impl ConnectionTrait,
    board: i32,
) -> ApiResult<Vec<leaderboard_season::Model>> {
    Ok(leaderboard_season::Entity::find()
        .filter(leaderboard_season::Column::LeaderboardId.eq(board))
        .order_by_desc(leaderboard_season::Column::Season)
        .all(db)
        .await?)
}

/// A board as an admin asks for it.
#[derive(Debug, Clone)]
pub struct NewBoard {
    pub game_id: i32,
    pub name: String,
    pub scoring: Scoring,
    pub event_name: Option<String>,
    pub field: Option<String>,
    pub k_factor: Option<i32>,
    pub descending: bool,
    pub reset_every: ResetEvery,
}

/// Creates a board; it scores events processed from now on.
pub async fn create_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    new: NewBoard,
) -> ApiResult<leaderboard::Model> {
    let me = viewer.require_privilege(privileges::LEADERBOARD_MANAGE)?;
    let game = game::Entity::find_by_id(new.game_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("game"))?;
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(ApiError::bad_input(
            "name",
            format!("a board's name is 1 to {MAX_NAME} bytes"),
        ));
    }
    let reads_events = matches!(new.scoring, Scoring::Best | Scoring::Sum | Scoring::Last);
    let event_name = crate::stats::check_source(new.event_name, new.field.as_deref())?;
    if reads_events != event_name.is_some() || reads_events != new.field.is_some() {
        return Err(ApiError::bad_input(
            "scoring",
            "BEST, SUM and LAST read a gameplay event's `eventName` and `field`; WINS and ELO read neither",
        ));
    }
    let k_factor = new.k_factor.unwrap_or(32);
    if !(1..=400).contains(&k_factor) {
        return Err(ApiError::bad_input("kFactor", "a K-factor is 1 to 400"));
    }
    let taken = leaderboard::Entity::find()
        .filter(leaderboard::Column::GameId.eq(game.id))
        .filter(leaderboard::Column::Name.eq(&name))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(ApiError::Conflict(format!(
            "the game has a board called {name:?}"
        )));
    }
    let now = Utc::now();
    let board = leaderboard::ActiveModel {
        game_id: Set(game.id),
        name: Set(name),
        scoring: Set(new.scoring),
        event_name: Set(event_name),
        field: Set(new.field),
        k_factor: Set(k_factor),
        descending: Set(new.descending),
        reset_every: Set(new.reset_every),
        season: Set(1),
        season_started_at: Set(season_start(new.reset_every, now)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audited(db, me.id, "leaderboard.create", &board).await?;
    Ok(board)
}

/// Ends a board's season now and starts the next; the ended season's records stay.
pub async fn reset_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    changes: &mut Changes,
) -> ApiResult<leaderboard::Model> {
    let me = viewer.require_privilege(privileges::LEADERBOARD_MANAGE)?;
    let board = lock_in(db, id).await?;
    let now = Utc::now();
    let next = next_season_in(db, board, now, now, changes).await?;
    audited(db, me.id, "leaderboard.reset", &next).await?;
    Ok(next)
}

/// Locks a board's game's scoring (as the processor does) and reads the board.
async fn lock_in(db: &impl ConnectionTrait, id: i32) -> ApiResult<leaderboard::Model> {
    let board = find(db, id).await?;
    crate::events::process::lock_games_in(db, &[board.game_id]).await?;
    // Read again under the lock: a reset that waited sees the season the other made.
    find(db, id).await
}

/// Archives `board`'s season as ended at `ended`, and starts the next at `started`.
async fn next_season_in(
    db: &impl ConnectionTrait,
    board: leaderboard::Model,
    ended: DateTime<Utc>,
    started: DateTime<Utc>,
    changes: &mut Changes,
) -> ApiResult<leaderboard::Model> {
    leaderboard_season::ActiveModel {
        leaderboard_id: Set(board.id),
        season: Set(board.season),
        started_at: Set(board.season_started_at),
        ended_at: Set(ended),
    }
    .insert(db)
    .await?;
    let season = board.season + 1;
    let mut active: leaderboard::ActiveModel = board.into();
    active.season = Set(season);
    active.season_started_at = Set(started);
    let next = active.update(db).await?;
    changes.push(Change::Leaderboard {
        board_id: next.id,
        season: next.season,
        users: Vec::new(),
    });
    Ok(next)
}

/// Starts the next season of every scheduled board whose period is over; how many.
pub async fn reset_due_in(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    changes: &mut Changes,
) -> ApiResult<usize> {
    // In game order, as the processor takes the games' locks.
    let boards = leaderboard::Entity::find()
        .filter(leaderboard::Column::ResetEvery.ne(ResetEvery::Never))
        .order_by_asc(leaderboard::Column::GameId)
        .order_by_asc(leaderboard::Column::Id)
        .all(db)
        .await?;
    let mut done = 0;
    for board in boards {
        let start = season_start(board.reset_every, now);
        if board.season_started_at >= start {
            continue;
        }
        let board = lock_in(db, board.id).await?;
        if board.season_started_at < start {
            next_season_in(db, board, start, start, changes).await?;
            done += 1;
        }
    }
    Ok(done)
}

/// Ends the seasons that are due, every minute or sweep interval, on every instance (a
/// board's lock makes the second instance find it done), and re-indexes the records of the
/// last three minutes.
pub fn spawn_resets(ctx: &crate::context::AppContext) {
    let ctx = ctx.clone();
    ctx.tasks.clone().spawn(async move {
        loop {
            tokio::select! {
                () = ctx.shutdown.cancelled() => return,
                // Never more often than a minute.
                () = tokio::time::sleep(std::time::Duration::from_millis(
                    ctx.settings.expiry_sweep_ms.max(60_000),
                )) => {}
            }
            let due = ctx
                .write(async |db, changes| reset_due_in(db, Utc::now(), changes).await)
                .await;
            if let Err(err) = due {
                tracing::warn!(?err, "ending leaderboard seasons failed");
            }
            let since = Utc::now() - Duration::minutes(3);
            if let Err(err) = reindex_since(&ctx, since).await {
                tracing::warn!(?err, "re-indexing recent leaderboard records failed");
            }
        }
    });
}

/// The start of the period `now` is in: midnight UTC of the day, the Monday or the first.
pub fn season_start(every: ResetEvery, now: DateTime<Utc>) -> DateTime<Utc> {
    let day = now.date_naive();
    let first = match every {
        ResetEvery::Never => return now,
        ResetEvery::Daily => day,
        ResetEvery::Weekly => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        ResetEvery::Monthly => day.with_day(1).unwrap_or(day),
    };
    Utc.from_utc_datetime(&first.and_time(NaiveTime::MIN))
}

/// Records a change to a board in the audit log.
async fn audited(
    db: &impl ConnectionTrait,
    actor: Uuid,
    action: &'static str,
    board: &leaderboard::Model,
) -> ApiResult<()> {
    let details =
        serde_json::json!({ "gameId": board.game_id, "name": board.name, "season": board.season });
    crate::audit::configured(db, actor, action, ("leaderboard", board.id), details).await
}
