//! Leaderboards over GraphQL: boards with their top, ranks, neighbours, friends and seasons;
//! admins create and reset them.

use arena_entity::events::{
    leaderboard::{self, ResetEvery, Scoring},
    leaderboard_season,
};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use crate::{
    auth::{
        graphql::{User, parse_int_id, parse_uuid},
        privileges,
    },
    bus::Change,
    graphql::{
        app,
        guards::{Privilege, SignedIn},
        live, viewer,
    },
};

/// How a board turns events into scores.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "LeaderboardScoring", remote = "Scoring")]
pub enum LeaderboardScoring {
    /// +1 for each `GAME_OVER` won.
    Wins,
    /// An ELO rating from `GAME_OVER`, from 1000, moved by `kFactor`.
    Elo,
    /// The best value the named `GAMEPLAY` events carried at `field`.
    Best,
    /// The sum of those values.
    Sum,
    /// The last of those values.
    Last,
}

/// When a board's season ends by itself, at UTC midnight.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "LeaderboardReset", remote = "ResetEvery")]
pub enum LeaderboardReset {
    Never,
    Daily,
    /// Starting a Monday.
    Weekly,
    /// Starting a month's first day.
    Monthly,
}

/// A player's place on a board.
pub struct LeaderboardEntry(super::Entry);

#[Object]
impl LeaderboardEntry {
    /// From 1.
    async fn rank(&self) -> u64 {
        self.0.rank
    }
    async fn user_id(&self) -> ID {
        ID(self.0.user_id.to_string())
    }
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.user_id)).await
    }
    async fn score(&self) -> i64 {
        self.0.score
    }
    /// When the event that made the score happened; of equal scores the earlier ranks first.
    async fn achieved_at(&self) -> DateTime<Utc> {
        self.0.achieved_at
    }
}

/// An ended season; its records are read with `season` on the board's fields.
#[derive(SimpleObject)]
pub struct LeaderboardSeason {
    pub season: i32,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
}

impl From<leaderboard_season::Model> for LeaderboardSeason {
    fn from(row: leaderboard_season::Model) -> Self {
        Self {
            season: row.season,
            started_at: row.started_at,
            ended_at: row.ended_at,
        }
    }
}

/// A game's leaderboard.
pub struct Leaderboard(pub leaderboard::Model);

impl Leaderboard {
    fn season_or_current(&self, season: Option<i32>) -> i32 {
        season.unwrap_or(self.0.season)
    }
}

fn count(n: i32, field: &'static str) -> async_graphql::Result<u64> {
    u64::try_from(n)
        .ok()
        .filter(|n| *n <= super::MAX_ENTRIES)
        .ok_or_else(|| {
            crate::error::ApiError::bad_input(
                field,
                format!("at most {} entries", super::MAX_ENTRIES),
            )
            .into()
        })
}

#[Object]
impl Leaderboard {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn game_id(&self) -> ID {
        ID(self.0.game_id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn scoring(&self) -> LeaderboardScoring {
        self.0.scoring.into()
    }
    /// `BEST`, `SUM`, `LAST`: the gameplay events it reads.
    async fn event_name(&self) -> Option<&str> {
        self.0.event_name.as_deref()
    }
    /// `BEST`, `SUM`, `LAST`: the JSON pointer to the value in their data.
    async fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }
    /// `ELO`: how far one game moves a rating.
    async fn k_factor(&self) -> i32 {
        self.0.k_factor
    }
    /// Higher scores rank first.
    async fn descending(&self) -> bool {
        self.0.descending
    }
    async fn reset_every(&self) -> LeaderboardReset {
        self.0.reset_every.into()
    }
    /// The current season, from 1.
    async fn season(&self) -> i32 {
        self.0.season
    }
    async fn season_started_at(&self) -> DateTime<Utc> {
        self.0.season_started_at
    }
    /// The ended seasons, newest first.
    async fn seasons(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<LeaderboardSeason>> {
        Ok(super::seasons(&app(ctx).db, self.0.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
    /// The first `first` (at most 100) from rank `offset + 1`, of the current season or of
    /// `season`.
    async fn top(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
        #[graphql(default = 0)] offset: i32,
        season: Option<i32>,
    ) -> async_graphql::Result<Vec<LeaderboardEntry>> {
        let first = count(first, "first")?;
        let offset = u64::try_from(offset)
            .map_err(|_| crate::error::ApiError::bad_input("offset", "at least 0"))?;
        let season = self.season_or_current(season);
        let entries = super::ranked(app(ctx), &self.0, season, offset, first).await?;
        Ok(entries.into_iter().map(LeaderboardEntry).collect())
    }
    /// A player's place; null without a record.
    async fn rank(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        season: Option<i32>,
    ) -> async_graphql::Result<Option<LeaderboardEntry>> {
        let user = parse_uuid(&user_id, "userId")?;
        let season = self.season_or_current(season);
        Ok(super::rank_of(app(ctx), &self.0, season, user)
            .await?
            .map(LeaderboardEntry))
    }
    /// A player and the `count` (at most 50) players either side; empty without a record.
    async fn around(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        #[graphql(default = 5)] count: i32,
        season: Option<i32>,
    ) -> async_graphql::Result<Vec<LeaderboardEntry>> {
        let user = parse_uuid(&user_id, "userId")?;
        let count = self::count(count, "count")?;
        let season = self.season_or_current(season);
        let entries = super::around_of(app(ctx), &self.0, season, user, count).await?;
        Ok(entries.into_iter().map(LeaderboardEntry).collect())
    }
    /// The signed-in player and their friends, ranked among themselves.
    #[graphql(guard = "SignedIn")]
    async fn friends(
        &self,
        ctx: &Context<'_>,
        season: Option<i32>,
    ) -> async_graphql::Result<Vec<LeaderboardEntry>> {
        let me = viewer(ctx).require_user()?;
        let entries =
            super::among_friends(&app(ctx).db, &self.0, self.season_or_current(season), me.id)
                .await?;
        Ok(entries.into_iter().map(LeaderboardEntry).collect())
    }
}

/// Input of `createLeaderboard`.
#[derive(InputObject)]
pub struct LeaderboardInput {
    pub game_id: ID,
    /// Unique within the game, 1 to 64 bytes.
    pub name: String,
    pub scoring: LeaderboardScoring,
    /// `BEST`, `SUM`, `LAST`: the gameplay events it reads, by name.
    pub event_name: Option<String>,
    /// `BEST`, `SUM`, `LAST`: a JSON pointer to an integer in their data, such as `/score`.
    pub field: Option<String>,
    /// `ELO`: 1 to 400; 32 when not given.
    pub k_factor: Option<i32>,
    /// Higher first (the default) or lower first (times, say).
    #[graphql(default = true)]
    pub descending: bool,
    #[graphql(default_with = "LeaderboardReset::Never")]
    pub reset_every: LeaderboardReset,
}

/// Leaderboard queries.
#[derive(Default)]
pub struct LeaderboardsQuery;

#[Object]
impl LeaderboardsQuery {
    /// A board by id.
    async fn leaderboard(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Leaderboard> {
        let id = parse_int_id(&id, "id")?;
        Ok(Leaderboard(super::find(&app(ctx).db, id).await?))
    }

    /// A game's boards, oldest first.
    async fn leaderboards(
        &self,
        ctx: &Context<'_>,
        game_id: ID,
    ) -> async_graphql::Result<Vec<Leaderboard>> {
        let game = parse_int_id(&game_id, "gameId")?;
        Ok(super::of_game(&app(ctx).db, game)
            .await?
            .into_iter()
            .map(Leaderboard)
            .collect())
    }
}

/// Leaderboard mutations; each needs `leaderboard.manage`.
#[derive(Default)]
pub struct LeaderboardsMutation;

#[Object]
impl LeaderboardsMutation {
    /// Creates a board; it scores the events processed from now on. `CONFLICT` for a name
    /// the game has.
    #[graphql(guard = "Privilege(privileges::LEADERBOARD_MANAGE)")]
    async fn create_leaderboard(
        &self,
        ctx: &Context<'_>,
        input: LeaderboardInput,
    ) -> async_graphql::Result<Leaderboard> {
        let new = super::NewBoard {
            game_id: parse_int_id(&input.game_id, "gameId")?,
            name: input.name,
            scoring: input.scoring.into(),
            event_name: input.event_name,
            field: input.field,
            k_factor: input.k_factor,
            descending: input.descending,
            reset_every: input.reset_every.into(),
        };
        let viewer = viewer(ctx);
        Ok(Leaderboard(
            app(ctx)
                .write(async |db, _changes| super::create_in(db, viewer, new).await)
                .await?,
        ))
    }

    /// Ends the board's season now and starts the next; the ended season stays readable.
    #[graphql(guard = "Privilege(privileges::LEADERBOARD_MANAGE)")]
    async fn reset_leaderboard(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Leaderboard> {
        let id = parse_int_id(&id, "id")?;
        let viewer = viewer(ctx);
        Ok(Leaderboard(
            app(ctx)
                .write(async |db, changes| super::reset_in(db, viewer, id, changes).await)
                .await?,
        ))
    }
}

/// A board's top as `leaderboardUpdated` pushes it.
pub struct LeaderboardTop(std::sync::Arc<super::live::Top>);

#[Object]
impl LeaderboardTop {
    async fn leaderboard_id(&self) -> ID {
        ID(self.0.board_id.to_string())
    }
    /// The season it is of (a reset starts the next, empty).
    async fn season(&self) -> i32 {
        self.0.season
    }
    async fn entries(&self) -> Vec<LeaderboardEntry> {
        self.0
            .entries
            .iter()
            .cloned()
            .map(LeaderboardEntry)
            .collect()
    }
}

/// The signed-in player's place as `rankChanged` pushes it.
pub struct RankUpdate {
    board_id: i32,
    season: i32,
    entry: Option<super::Entry>,
}

#[Object]
impl RankUpdate {
    async fn leaderboard_id(&self) -> ID {
        ID(self.board_id.to_string())
    }
    async fn season(&self) -> i32 {
        self.season
    }
    /// Null while the player has no record this season.
    async fn entry(&self) -> Option<LeaderboardEntry> {
        self.entry.clone().map(LeaderboardEntry)
    }
}

/// Live leaderboards.
#[derive(Default)]
pub struct LeaderboardsSubscription;

#[Subscription]
impl LeaderboardsSubscription {
    /// The board's top `first` (at most 100) now, then each time it changes, from events
    /// applied on any instance; changes close together are pushed together (at most one push
    /// per `ARENA_LIVE_INTERVAL_MS`). A slow subscriber gets the latest top, skipping those
    /// it had no time for.
    async fn leaderboard_updated(
        &self,
        ctx: &Context<'_>,
        leaderboard_id: ID,
        #[graphql(default = 10)] first: i32,
    ) -> async_graphql::Result<impl Stream<Item = LeaderboardTop>> {
        let id = parse_int_id(&leaderboard_id, "leaderboardId")?;
        let first = count(first, "first")?;
        super::find(&app(ctx).db, id).await?;
        Ok(super::live::top(app(ctx), id, first).map(LeaderboardTop))
    }

    /// The signed-in player's place on the board now, then each time it changes (their
    /// score, others passing them, a new season). Signed in.
    #[graphql(guard = "SignedIn")]
    async fn rank_changed(
        &self,
        ctx: &Context<'_>,
        leaderboard_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<RankUpdate>>> {
        let id = parse_int_id(&leaderboard_id, "leaderboardId")?;
        let me = viewer(ctx).require_user()?.id;
        super::find(&app(ctx).db, id).await?;
        let ranks = super::live::watch(
            app(ctx),
            move |change| matches!(change, Change::Leaderboard { board_id, .. } if *board_id == id),
            move |ctx| async move {
                let board = super::find(&ctx.db, id).await?;
                let entry = super::rank_of(&ctx, &board, board.season, me).await?;
                Ok((board.season, entry))
            },
        )
        .map(move |read| {
            read.map(|(season, entry)| RankUpdate {
                board_id: id,
                season,
                entry,
            })
            .map_err(Into::into)
        });
        Ok(live(ctx, |v| v.require_user().map(drop), ranks))
    }
}
