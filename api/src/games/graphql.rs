//! Games over GraphQL: a game's settings and support flags, beside its content item.

use arena_entity::games::{
    game,
    game_support::{self, SupportFlag},
};
use async_graphql::{Context, Enum, ID, InputObject, Object};

use super::{GameFields, Support};
use crate::{
    auth::graphql::parse_int_id,
    catalog::graphql::{Content, content_id, seen},
    error::{ApiError, ApiResult},
    graphql::{
        app,
        guards::SignedIn,
        load,
        loaders::{ContentById, SupportsOf},
        viewer,
    },
};

/// A feature a game supports.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "SupportFlag")]
pub enum GameSupportFlag {
    /// Players' characters.
    Character,
    /// Individual character features.
    IndividualCharacterFeatures,
    /// Chat.
    Chat,
}

/// A game: its content item's settings for play.
pub struct Game(game::Model);

impl Game {
    pub(crate) fn new(row: game::Model) -> Self {
        Self(row)
    }
}

#[Object]
impl Game {
    /// The game's id, which is its content item's.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Plays only on self-hosted servers.
    async fn hosted(&self) -> bool {
        self.0.hosted
    }
    /// Most players in one session.
    async fn max_players(&self) -> i32 {
        self.0.max_players
    }
    /// What it supports.
    async fn supports(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GameSupport>> {
        let rows = load(ctx)
            .load_one(SupportsOf(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(GameSupport).collect())
    }
    /// Its content item.
    async fn content(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        match load(ctx).load_one(ContentById(self.0.id)).await? {
            Some(row) => seen(ctx, row).await,
            None => Ok(None),
        }
    }
}

/// One support flag of a game.
pub struct GameSupport(game_support::Model);

#[Object]
impl GameSupport {
    /// The feature.
    async fn flag(&self) -> GameSupportFlag {
        self.0.flag.into()
    }
    /// Whether it is on.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// The content it supports (a character), when the caller may see it.
    async fn content(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        let Some(id) = self.0.content_id else {
            return Ok(None);
        };
        match load(ctx).load_one(ContentById(id)).await? {
            Some(row) => seen(ctx, row).await,
            None => Ok(None),
        }
    }
}

/// One support flag to set.
#[derive(InputObject)]
pub struct GameSupportInput {
    /// The feature.
    flag: GameSupportFlag,
    /// Whether it is on.
    #[graphql(default = true)]
    enabled: bool,
    /// The content it supports (a character).
    content_id: Option<ID>,
}

/// A game's settings; a field left out stays as it is.
#[derive(InputObject)]
pub struct GameInput {
    /// Plays only on self-hosted servers.
    hosted: Option<bool>,
    /// Most players in one session, 1 to 10,000.
    max_players: Option<i32>,
    /// Its support flags, replacing the old ones.
    supports: Option<Vec<GameSupportInput>>,
}

impl GameInput {
    pub(crate) fn parse(self) -> ApiResult<GameFields> {
        let supports = match self.supports {
            Some(list) => Some(
                list.into_iter()
                    .map(|s| {
                        Ok(Support {
                            flag: s.flag.into(),
                            enabled: s.enabled,
                            content_id: s
                                .content_id
                                .map(|id| parse_int_id(&id, "contentId"))
                                .transpose()?,
                        })
                    })
                    .collect::<ApiResult<Vec<_>>>()?,
            ),
            None => None,
        };
        Ok(GameFields {
            hosted: self.hosted,
            max_players: self.max_players,
            supports,
        })
    }
}

/// Game queries.
#[derive(Default)]
pub struct GamesQuery;

#[Object]
impl GamesQuery {
    /// A game. `NOT_FOUND` when there is none or the caller may not see its item. Public.
    async fn game(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Game> {
        let id = content_id(&id)?;
        let row = load(ctx)
            .load_one(ContentById(id))
            .await?
            .ok_or(ApiError::NotFound("game"))?;
        seen(ctx, row).await?.ok_or(ApiError::NotFound("game"))?;
        let found = load(ctx)
            .load_one(crate::graphql::loaders::GameOf(id))
            .await?
            .ok_or(ApiError::NotFound("game"))?;
        Ok(Game(found))
    }
}

/// Game mutations.
#[derive(Default)]
pub struct GamesMutation;

#[Object]
impl GamesMutation {
    /// Changes a game of the caller's. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn update_game(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: GameInput,
    ) -> async_graphql::Result<Game> {
        let fields = input.parse()?;
        let row = super::update_game(app(ctx), viewer(ctx), content_id(&id)?, fields).await?;
        Ok(Game(row))
    }
}
