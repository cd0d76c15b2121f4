//! Events over GraphQL: ingest, the stored list and counts per day.

use arena_entity::events::game_event;
use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject, Subscription};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{Stream, StreamExt};

use crate::{
    auth::{
        graphql::{parse_int_id, parse_uuid},
        privileges,
    },
    graphql::{
        app,
        guards::Privilege,
        live,
        pagination::{IdConnection, Window},
        viewer,
    },
    servers::registry,
};

/// What an event records.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "EventType", remote = "super::Kind")]
pub enum EventType {
    /// A match ended: `winnerId` and `loserId`.
    GameOver,
    /// Something a player did in play: a `name` and `data`.
    Gameplay,
    /// A player's state changed: a `name`.
    StateChange,
}

/// One event for `ingestEvents`.
#[derive(InputObject)]
pub struct EventInput {
    /// The sender's id for the event, unique within its game: the same id again is
    /// accepted and ignored. 1 to 128 bytes.
    pub id: String,
    pub game_id: ID,
    #[graphql(name = "type")]
    pub kind: EventType,
    /// The gameplay event's or the new state's name (at most 64 bytes).
    pub name: Option<String>,
    /// The player it is about.
    pub user_id: Option<ID>,
    pub winner_id: Option<ID>,
    pub loser_id: Option<ID>,
    /// Anything the game's handlers read, at most 16 KiB of JSON.
    pub data: Option<Json<serde_json::Value>>,
    /// When it happened (at most five minutes ahead of Arena's clock); now when not given.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// What `ingestEvents` stored.
#[derive(SimpleObject)]
pub struct IngestResult {
    /// Events stored by this call.
    pub accepted: u64,
    /// Events whose id was stored before, or earlier in the batch: ignored.
    pub duplicates: u64,
}

/// Event mutations.
#[derive(Default)]
pub struct EventsMutation;

#[Object]
impl EventsMutation {
    /// Stores up to 1,000 events in one call: all of them, or none when one is malformed
    /// (`BAD_USER_INPUT` naming it). A game server (`Authorization: Server <token>`) sends
    /// events of the games it hosts; a signed-in backend needs `event.ingest`.
    async fn ingest_events(
        &self,
        ctx: &Context<'_>,
        events: Vec<EventInput>,
    ) -> async_graphql::Result<IngestResult> {
        let viewer = viewer(ctx);
        // Who may send is settled before what they sent is read.
        registry::require_someone(viewer)?;
        if viewer.machine.is_none() {
            viewer.require_privilege(privileges::EVENT_INGEST)?;
        }
        let uuid =
            |id: Option<ID>, field: &'static str| id.map(|id| parse_uuid(&id, field)).transpose();
        let incoming = events
            .into_iter()
            .map(|e| {
                Ok(super::Incoming {
                    key: e.id,
                    game_id: parse_int_id(&e.game_id, "gameId")?,
                    kind: e.kind.into(),
                    name: e.name,
                    user_id: uuid(e.user_id, "userId")?,
                    winner_id: uuid(e.winner_id, "winnerId")?,
                    loser_id: uuid(e.loser_id, "loserId")?,
                    data: e.data.map(|d| d.0),
                    occurred_at: e.occurred_at,
                })
            })
            .collect::<Result<Vec<_>, async_graphql::Error>>()?;
        let stored = super::ingest(app(ctx), viewer, incoming).await?;
        Ok(IngestResult {
            accepted: stored.accepted,
            duplicates: stored.duplicates,
        })
    }

    /// Queues a failed event again (its `id`, not the sender's), once what refused it is put
    /// right: a game created, a rule or handler changed. `CONFLICT` unless it failed. Needs
    /// `event.manage`.
    #[graphql(guard = "Privilege(privileges::EVENT_MANAGE)")]
    async fn retry_event(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<GameEvent> {
        let id: i64 = id
            .parse()
            .map_err(|_| crate::error::ApiError::bad_input("id", "that is not an id"))?;
        Ok(GameEvent(
            super::process::retry(app(ctx), viewer(ctx), id).await?,
        ))
    }
}

/// Events of one type in one game on one UTC day.
#[derive(SimpleObject)]
pub struct EventsOnDay {
    /// The day they happened.
    pub day: NaiveDate,
    pub game_id: ID,
    /// `game_over`, `gameplay` or `state_change`.
    #[graphql(name = "type")]
    pub kind: String,
    pub events: i64,
}

/// The periods `activePlayers` counts in.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ActivityPeriod {
    /// UTC days.
    Day,
    /// Weeks from Monday (UTC).
    Week,
}

/// Players active in a game in one period.
#[derive(SimpleObject)]
pub struct ActivePlayers {
    /// The period's first day (a week's Monday, even before the range).
    pub start: NaiveDate,
    pub players: i64,
}

/// Where an event's processing stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "game_event::State")]
pub enum EventState {
    /// Stored, not applied yet.
    Pending,
    /// Applied.
    Processed,
    /// Refused by processing, with its reason.
    Failed,
}

/// A stored event.
pub struct GameEvent(pub game_event::Model);

#[Object]
impl GameEvent {
    /// Its place in arrival order.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The sender's id for it.
    async fn event_id(&self) -> &str {
        &self.0.event_key
    }
    async fn game_id(&self) -> Option<ID> {
        self.0.game_id.map(|g| ID(g.to_string()))
    }
    /// `game_over`, `gameplay` or `state_change`.
    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.map(|u| ID(u.to_string()))
    }
    async fn winner_id(&self) -> Option<ID> {
        self.0.winner_id.map(|u| ID(u.to_string()))
    }
    async fn loser_id(&self) -> Option<ID> {
        self.0.loser_id.map(|u| ID(u.to_string()))
    }
    async fn data(&self) -> Option<Json<serde_json::Value>> {
        self.0.data.clone().map(Json)
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    async fn received_at(&self) -> DateTime<Utc> {
        self.0.received_at
    }
    /// Who sent it: `server:<id>` or `backend:<user id>`.
    async fn source(&self) -> &str {
        &self.0.source
    }
    async fn state(&self) -> EventState {
        self.0.state.into()
    }
    async fn processed_at(&self) -> Option<DateTime<Utc>> {
        self.0.processed_at
    }
    /// Why processing refused it.
    async fn failure(&self) -> Option<&str> {
        self.0.failure.as_deref()
    }
}

/// Event queries.
#[derive(Default)]
pub struct EventsQuery;

#[Object]
impl EventsQuery {
    /// Stored events, newest first; one game's with `gameId`, in one state with `state`.
    /// Needs `event.manage`.
    #[graphql(guard = "Privilege(privileges::EVENT_MANAGE)")]
    #[allow(clippy::too_many_arguments)] // the Relay arguments
    async fn events(
        &self,
        ctx: &Context<'_>,
        game_id: Option<ID>,
        state: Option<EventState>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<GameEvent>> {
        let window = Window::parse(after, before, first, last)?;
        let filter = super::EventFilter {
            game: game_id.map(|id| parse_int_id(&id, "gameId")).transpose()?,
            state: state.map(Into::into),
        };
        let (rows, total) = super::events_of(&app(ctx).db, filter, window).await?;
        Ok(window.page(rows, total, |row| row.id, GameEvent))
    }

    /// Distinct players a game's events named (as player, winner or loser) per UTC day (the
    /// default) or per week from Monday, from `from` to `to` (at most 366 days): daily and weekly
    /// active players. Needs `dashboard.access`.
    #[graphql(guard = "Privilege(privileges::DASHBOARD_ACCESS)")]
    async fn active_players(
        &self,
        ctx: &Context<'_>,
        game_id: ID,
        from: NaiveDate,
        to: NaiveDate,
        period: Option<ActivityPeriod>,
    ) -> async_graphql::Result<Vec<ActivePlayers>> {
        let game = parse_int_id(&game_id, "gameId")?;
        let weekly = period == Some(ActivityPeriod::Week);
        Ok(super::active_players(&app(ctx).db, game, from, to, weekly)
            .await?
            .into_iter()
            .map(|(start, players)| ActivePlayers { start, players })
            .collect())
    }

    /// Events per game, type and UTC day they happened, from `from` to `to` (at most 366
    /// days), oldest first; one game's with `gameId`. Needs `dashboard.access`.
    #[graphql(guard = "Privilege(privileges::DASHBOARD_ACCESS)")]
    async fn event_activity(
        &self,
        ctx: &Context<'_>,
        game_id: Option<ID>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<Vec<EventsOnDay>> {
        let game = game_id.map(|id| parse_int_id(&id, "gameId")).transpose()?;
        Ok(super::activity(&app(ctx).db, game, from, to)
            .await?
            .into_iter()
            .map(|a| EventsOnDay {
                day: a.day,
                game_id: ID(a.game_id.to_string()),
                kind: a.kind,
                events: a.events,
            })
            .collect())
    }
}

/// The live tail of stored events.
#[derive(Default)]
pub struct EventsSubscription;

#[Subscription]
impl EventsSubscription {
    /// Events as they are stored from now on, through any instance, oldest first; one
    /// game's with `gameId`. Needs `event.manage`.
    #[graphql(guard = "Privilege(privileges::EVENT_MANAGE)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        game_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<GameEvent>>> {
        let game = game_id.map(|id| parse_int_id(&id, "gameId")).transpose()?;
        let after = super::newest_id(&app(ctx).db).await?;
        let events = super::tail(app(ctx), game, after)
            .map(|event| event.map(GameEvent).map_err(Into::into));
        Ok(live(
            ctx,
            |v| v.require_privilege(privileges::EVENT_MANAGE).map(drop),
            events,
        ))
    }
}
