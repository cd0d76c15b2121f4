//! Player statistics over GraphQL: a player's statistics, and a game's handler and rules.

use arena_entity::events::{player_stat, stat_rule};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use crate::{
    auth::{
        graphql::{parse_int_id, parse_uuid},
        privileges,
    },
    events::graphql::EventType,
    graphql::{app, guards::Privilege, viewer},
};

/// One statistic of a player in a game.
#[derive(SimpleObject)]
pub struct PlayerStat {
    /// Its name, such as `wins` or `rock_selection_count`.
    pub name: String,
    pub value: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<player_stat::Model> for PlayerStat {
    fn from(row: player_stat::Model) -> Self {
        Self {
            name: row.stat,
            value: row.value,
            updated_at: row.updated_at,
        }
    }
}

/// Whose statistic a rule changes.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "stat_rule::Subject")]
pub enum StatSubject {
    /// The event's player (`userId`).
    User,
    /// A `game_over`'s winner.
    Winner,
    /// A `game_over`'s loser.
    Loser,
}

/// How a rule's number meets the statistic.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "stat_rule::Op")]
pub enum StatOp {
    /// Added to it (a sum).
    Add,
    /// Replaces it.
    Set,
    /// Kept when greater.
    Max,
    /// Kept when smaller.
    Min,
}

/// A rule of a game's statistics: on an event of `eventType` (named `eventName`, when
/// given), apply the integer at `field` of its data (1 without one) to `subject`'s `stat`.
#[derive(SimpleObject)]
pub struct StatRule {
    pub id: ID,
    pub game_id: ID,
    pub event_type: String,
    pub event_name: Option<String>,
    pub subject: StatSubject,
    /// A JSON pointer into the event's data, such as `/score`.
    pub field: Option<String>,
    pub stat: String,
    pub op: StatOp,
    pub created_at: DateTime<Utc>,
}

impl From<stat_rule::Model> for StatRule {
    fn from(row: stat_rule::Model) -> Self {
        Self {
            id: ID(row.id.to_string()),
            game_id: ID(row.game_id.to_string()),
            event_type: row.event_kind,
            event_name: row.event_name,
            subject: row.subject.into(),
            field: row.field,
            stat: row.stat,
            op: row.op.into(),
            created_at: row.created_at,
        }
    }
}

/// How a game's events become statistics: its Rust handler, then its rules in order.
#[derive(SimpleObject)]
pub struct StatsSetup {
    pub game_id: ID,
    /// The handler's name (see `statsHandlers`).
    pub handler: String,
    pub rules: Vec<StatRule>,
}

/// Input of `createStatRule`.
#[derive(InputObject)]
pub struct StatRuleInput {
    pub game_id: ID,
    pub event_type: EventType,
    /// Only events with this name (gameplay, state changes); any when not given.
    pub event_name: Option<String>,
    pub subject: StatSubject,
    /// A JSON pointer into the event's data to an integer, such as `/score`; the rule
    /// applies 1 without one. An event whose data has no integer there fails.
    pub field: Option<String>,
    /// The statistic's name, 1 to 64 bytes.
    pub stat: String,
    pub op: StatOp,
}

/// Statistics queries.
#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// A player's statistics in a game, by name.
    async fn player_stats(
        &self,
        ctx: &Context<'_>,
        game_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<Vec<PlayerStat>> {
        let game = parse_int_id(&game_id, "gameId")?;
        let user = parse_uuid(&user_id, "userId")?;
        Ok(super::of_player(&app(ctx).db, game, user)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The Rust statistics handlers a game can use. Needs `event.manage`.
    #[graphql(guard = "Privilege(privileges::EVENT_MANAGE)")]
    async fn stats_handlers(&self, ctx: &Context<'_>) -> Vec<String> {
        app(ctx).stats_handlers.names()
    }

    /// How a game's events become statistics. Needs `event.manage`.
    #[graphql(guard = "Privilege(privileges::EVENT_MANAGE)")]
    async fn stats_setup(
        &self,
        ctx: &Context<'_>,
        game_id: ID,
    ) -> async_graphql::Result<StatsSetup> {
        let game = parse_int_id(&game_id, "gameId")?;
        Ok(setup(&app(ctx).db, game).await?)
    }
}

async fn setup(
    db: &impl sea_orm::ConnectionTrait,
    game: i32,
) -> crate::error::ApiResult<StatsSetup> {
    use sea_orm::EntityTrait;
    let row = arena_entity::games::game::Entity::find_by_id(game)
        .one(db)
        .await?
        .ok_or(crate::error::ApiError::NotFound("game"))?;
    Ok(StatsSetup {
        game_id: ID(row.id.to_string()),
        handler: row.stats_handler,
        rules: super::rules_of(db, game)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}

/// Statistics mutations; each needs `event.manage` and applies to events processed after it.
#[derive(Default)]
pub struct StatsMutation;

#[Object]
impl StatsMutation {
    /// Adds a rule to a game's statistics.
    #[graphql(guard = "Privilege(privileges::EVENT_MANAGE)")]
    async fn create_stat_rule(
        &self,
        ctx: &Context<'_>,
        input: StatRuleInput,
    ) -> async_graphql::Result<StatRule> {
        let new = super::NewRule {
            game_id: parse_int_id(&input.game_id, "gameId")?,
            event_kind: input.event_type.into(),
            event_name: input.event_name,
            subject: input.subject.into(),
            field: input.field,
            stat: input.stat,
            op: input.op.into(),
        };
        let viewer = viewer(ctx);
        Ok(app(ctx)
            .write(async |db, _changes| super::create_rule(db, viewer, new).await)
            .await?
            .into())
    }

    /// Removes a rule; its id.
    #[graphql(guard = "Privilege(privileges::EVENT_MANAGE)")]
    async fn remove_stat_rule(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let rule = parse_int_id(&id, "id")?;
        let viewer = viewer(ctx);
        app(ctx)
            .write(async |db, _changes| super::remove_rule(db, viewer, rule).await)
            .await?;
        Ok(id)
    }

    /// Chooses the Rust handler a game's events go through (see `statsHandlers`).
    #[graphql(guard = "Privilege(privileges::EVENT_MANAGE)")]
    async fn set_stats_handler(
        &self,
        ctx: &Context<'_>,
        game_id: ID,
        handler: String,
    ) -> async_graphql::Result<StatsSetup> {
        let game = parse_int_id(&game_id, "gameId")?;
        let (ctx, viewer) = (app(ctx), viewer(ctx));
        Ok(ctx
            .write(async |db, _changes| {
                super::set_handler(db, viewer, &ctx.stats_handlers, game, &handler).await?;
                setup(db, game).await
            })
            .await?)
    }
}

/// Live player statistics.
#[derive(Default)]
pub struct StatsSubscription;

#[Subscription]
impl StatsSubscription {
    /// A player's statistics in a game now, then each time events applied on any instance
    /// change them.
    async fn player_stats_updated(
        &self,
        ctx: &Context<'_>,
        game_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Vec<PlayerStat>>>> {
        let game = parse_int_id(&game_id, "gameId")?;
        let user = parse_uuid(&user_id, "userId")?;
        let stats = crate::leaderboards::live::watch(
            app(ctx),
            move |change| {
                matches!(change, crate::bus::Change::PlayerStats { game_id, users }
                    if *game_id == game && users.contains(&user))
            },
            move |ctx| async move { super::of_player(&ctx.db, game, user).await },
        );
        Ok(stats.map(|read| {
            read.map(|rows| rows.into_iter().map(Into::into).collect())
                .map_err(Into::into)
        }))
    }
}
