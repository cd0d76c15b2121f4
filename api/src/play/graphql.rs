//! Play sessions and plays over GraphQL.

use arena_entity::{characters::character, games::game_play, servers::play_session};
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    auth::{
        graphql::{User, parse_int_id},
        privileges,
    },
    catalog::graphql::{Content, seen_id},
    characters::graphql::{Character, Property},
    graphql::{
        app,
        guards::{Privilege, SignedIn},
        load,
        loaders::{CharacterById, ServerById},
        viewer,
    },
    servers::{graphql::GameServer, registry},
};

/// Where a session is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SessionState {
    /// Issued; its server has not validated the token yet.
    Waiting,
    /// Its server validated the token; the player is on it.
    Joined,
    /// Over.
    Ended,
}

/// A player's place on a game server, from Play to its end.
pub struct PlaySession(pub play_session::Model);

#[Object]
impl PlaySession {
    /// Its id: game servers name it in `pingSession`, `endSession` and `pingServer`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Where it is.
    async fn state(&self) -> SessionState {
        match (self.0.joined_at, self.0.ended_at) {
            (_, Some(_)) => SessionState::Ended,
            (Some(_), None) => SessionState::Joined,
            (None, None) => SessionState::Waiting,
        }
    }
    /// Its player.
    async fn player(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.user_id)).await
    }
    /// The game.
    async fn game(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        seen_id(ctx, self.0.game_id).await
    }
    /// The server it is on.
    async fn server(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<GameServer>> {
        Ok(load(ctx)
            .load_one(ServerById(self.0.server_id))
            .await?
            .map(GameServer))
    }
    /// The character played.
    async fn character(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Character>> {
        match self.0.character_id {
            Some(id) => Ok(load(ctx).load_one(CharacterById(id)).await?.map(Character)),
            None => Ok(None),
        }
    }
    /// `host` on a player's own server, `provision` on an official or provisioned one.
    async fn server_type(&self) -> &str {
        &self.0.server_type
    }
    /// When Play was pressed.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The token is good until then unless validated first.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// When its server validated the token.
    async fn joined_at(&self) -> Option<DateTime<Utc>> {
        self.0.joined_at
    }
    /// Its last keepalive.
    async fn pinged_at(&self) -> Option<DateTime<Utc>> {
        self.0.pinged_at
    }
    /// When it ended.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// Why: `ended` (by its server), `left` (by its player), `replaced` (Play again),
    /// `expired`, `timeout`, `server_unhealthy`, `shut_down`, `host_ban`,
    /// `ended_by_moderator`.
    async fn end_reason(&self) -> Option<&str> {
        self.0.end_reason.as_deref()
    }
}

/// What Play answers: the session token (shown this once) and where to connect.
#[derive(SimpleObject)]
pub struct PlayTicket {
    /// The session.
    session: PlaySession,
    /// Give it to the server on connecting; it validates it once, within
    /// `ARENA_SESSION_JOIN_SECONDS`.
    token: String,
    /// The server.
    server: GameServer,
    /// Where to connect.
    socket_host: String,
    /// Its port.
    socket_port: i32,
}

/// A character as a game server receives it at validation.
pub struct SessionCharacter {
    row: character::Model,
    properties: Vec<Property>,
    worn: Vec<i32>,
}

#[Object]
impl SessionCharacter {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.row.name
    }
    /// The character item it is made from.
    async fn content_id(&self) -> ID {
        ID(self.row.content_id.to_string())
    }
    /// Its properties, by name.
    async fn properties(&self) -> &[Property] {
        &self.properties
    }
    /// The items it wears that its player still owns, first put on first; empty unless the
    /// game supports individual character features.
    async fn worn_item_ids(&self) -> Vec<ID> {
        self.worn.iter().map(|id| ID(id.to_string())).collect()
    }
}

/// What a game server learns when it validates a session token.
#[derive(SimpleObject)]
pub struct ValidatedSession {
    /// The session, now joined.
    session: PlaySession,
    /// Its player.
    player: User,
    /// The character played, if any.
    character: Option<SessionCharacter>,
}

/// One play of a game.
pub struct GamePlay(pub game_play::Model);

#[Object]
impl GamePlay {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The game.
    async fn game(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        seen_id(ctx, self.0.game_id).await
    }
    /// Its player.
    async fn player(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.user_id)).await
    }
    /// When the server validated the session.
    async fn start_time(&self) -> DateTime<Utc> {
        self.0.start_time
    }
    /// When the session ended.
    async fn end_time(&self) -> Option<DateTime<Utc>> {
        self.0.end_time
    }
}

/// Plays of one game on one UTC day.
#[derive(SimpleObject)]
pub struct PlaysOnDay {
    /// The day.
    day: NaiveDate,
    /// The game's id.
    game_id: ID,
    /// Plays that started that day.
    plays: i64,
    /// Players among them.
    players: i64,
}

/// Play queries.
#[derive(Default)]
pub struct PlayQuery;

#[Object]
impl PlayQuery {
    /// The caller's play sessions, newest first: the live ones (`live: true`, the default)
    /// or all, at most 100. Signed in. (`sessions` lists sign-ins.)
    #[graphql(guard = "SignedIn")]
    async fn play_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = true)] live: bool,
    ) -> async_graphql::Result<Vec<PlaySession>> {
        let me = viewer(ctx).require_user()?.id;
        let mine = super::SessionFilter {
            player: Some(me),
            live_only: live,
            ..Default::default()
        };
        Ok(super::sessions_of(&app(ctx).db, mine, 100)
            .await?
            .into_iter()
            .map(PlaySession)
            .collect())
    }
    /// The caller's plays, newest first, at most 100. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn plays(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GamePlay>> {
        let me = viewer(ctx).require_user()?.id;
        Ok(super::plays_of(&app(ctx).db, me, 100)
            .await?
            .into_iter()
            .map(GamePlay)
            .collect())
    }
    /// Play sessions of every player, newest first, at most 500: of one game or server,
    /// live only (the default) or all. Needs `server.quarantine`.
    #[graphql(guard = "Privilege(privileges::SERVER_QUARANTINE)")]
    async fn all_play_sessions(
        &self,
        ctx: &Context<'_>,
        game_id: Option<ID>,
        server_id: Option<ID>,
        #[graphql(default = true)] live: bool,
    ) -> async_graphql::Result<Vec<PlaySession>> {
        let game = game_id.map(|id| parse_int_id(&id, "gameId")).transpose()?;
        let server = server_id
            .map(|id| parse_int_id(&id, "serverId"))
            .transpose()?;
        let filter = super::SessionFilter {
            player: None,
            server,
            game,
            live_only: live,
        };
        Ok(super::sessions_of(&app(ctx).db, filter, 500)
            .await?
            .into_iter()
            .map(PlaySession)
            .collect())
    }
    /// Plays per game per UTC day from `from` to `to` (at most 366 days), oldest first.
    /// Needs `dashboard.access`.
    #[graphql(guard = "Privilege(privileges::DASHBOARD_ACCESS)")]
    async fn plays_per_day(
        &self,
        ctx: &Context<'_>,
        game_id: Option<ID>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<Vec<PlaysOnDay>> {
        let game = game_id.map(|id| parse_int_id(&id, "gameId")).transpose()?;
        Ok(super::plays_per_day(&app(ctx).db, game, from, to)
            .await?
            .into_iter()
            .map(|(day, game, plays, players)| PlaysOnDay {
                day,
                game_id: ID(game.to_string()),
                plays,
                players,
            })
            .collect())
    }
}

/// Play mutations.
#[derive(Default)]
pub struct PlayMutation;

#[Object]
impl PlayMutation {
    /// Presses Play: picks a server of the game with room (friends first, then official,
    /// then the caller's country, then the fewest players; never toward someone in a block
    /// with the caller when another fits), or asks a provisioning host and waits for one
    /// (`UNAVAILABLE` when none comes in time). Returns the session token once and where to
    /// connect. A live session of the caller in this game ends. The character must be the
    /// caller's and of a kind the game supports. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn play(
        &self,
        ctx: &Context<'_>,
        game_id: ID,
        character_id: Option<ID>,
    ) -> async_graphql::Result<PlayTicket> {
        let game = parse_int_id(&game_id, "gameId")?;
        let character = character_id
            .map(|id| parse_int_id(&id, "characterId"))
            .transpose()?;
        let placed = super::play(app(ctx), viewer(ctx), game, character).await?;
        Ok(PlayTicket {
            session: PlaySession(placed.session.row),
            token: placed.session.token,
            socket_host: placed.server.socket_host.clone(),
            socket_port: placed.server.socket_port,
            server: GameServer(placed.server),
        })
    }
    /// A game server validates the token a player brought: once, only on the server it was
    /// issued for (`FORBIDDEN` elsewhere), before it expires (`CONFLICT` after, or when
    /// validated already). Answers the player and their character. Send `Authorization:
    /// Server <token>`.
    async fn validate_session(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<ValidatedSession> {
        let validated = super::validate(app(ctx), viewer(ctx), &token).await?;
        Ok(ValidatedSession {
            session: PlaySession(validated.session),
            player: User::for_viewer(ctx, validated.user),
            character: validated.character.map(|row| SessionCharacter {
                row,
                properties: validated.properties.into_iter().map(Property).collect(),
                worn: validated.worn.iter().map(|w| w.content_id).collect(),
            }),
        })
    }
    /// A game server keeps one of its joined sessions alive (`pingServer` can name many at
    /// once). One silent for `ARENA_SESSION_TIMEOUT_SECONDS` ends. Send `Authorization:
    /// Server <token>`.
    async fn ping_session(
        &self,
        ctx: &Context<'_>,
        session_id: ID,
    ) -> async_graphql::Result<PlaySession> {
        registry::require_server_credential(viewer(ctx))?;
        let id = parse_int_id(&session_id, "sessionId")?;
        Ok(PlaySession(
            super::ping_session(app(ctx), viewer(ctx), id).await?,
        ))
    }
    /// Ends a session, which records the play: its server (with its token), its player, or
    /// a moderator (`server.quarantine`). Ending an ended session returns it as it is.
    /// Signed in or a game server.
    async fn end_session(
        &self,
        ctx: &Context<'_>,
        session_id: ID,
    ) -> async_graphql::Result<PlaySession> {
        registry::require_someone(viewer(ctx))?;
        let id = parse_int_id(&session_id, "sessionId")?;
        Ok(PlaySession(
            super::end_session(app(ctx), viewer(ctx), id).await?,
        ))
    }
}
