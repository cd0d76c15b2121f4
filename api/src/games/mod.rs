//! The `games` domain: a game is a content item of type `game` with its `games` row (hosted,
//! most players) and its support flags, each optionally naming the content it supports.

pub mod graphql;

use std::collections::HashMap;

use arena_entity::{
    catalog::content::ContentType,
    games::{
        game,
        game_support::{self, SupportFlag},
    },
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::{
    auth::viewer::Viewer,
    bus::{Change, Changes},
    catalog,
    context::AppContext,
    error::{ApiError, ApiResult},
};

/// Most players a game may name.
pub const MAX_PLAYERS: i32 = 10_000;

/// One support flag to set.
#[derive(Debug, Clone, Copy)]
pub struct Support {
    /// The feature.
    pub flag: SupportFlag,
    /// Whether it is on.
    pub enabled: bool,
    /// The content it supports (a character), which the caller may see.
    pub content_id: Option<i32>,
}

/// A game's settings; `None` keeps (or defaults) a field.
#[derive(Debug, Clone, Default)]
pub struct GameFields {
    /// Plays only on self-hosted servers.
    pub hosted: Option<bool>,
    /// Most players in one session.
    pub max_players: Option<i32>,
    /// Its support flags, replacing the old ones.
    pub supports: Option<Vec<Support>>,
}

/// Writes the game row of item `id` (new or existing) and its flags.
async fn write_game_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    existing: Option<game::Model>,
    fields: GameFields,
) -> ApiResult<game::Model> {
    if fields
        .max_players
        .is_some_and(|n| !(1..=MAX_PLAYERS).contains(&n))
    {
        return Err(ApiError::bad_input(
            "maxPlayers",
            format!("a game has 1 to {MAX_PLAYERS} players"),
        ));
    }
    let mut row = existing.clone().unwrap_or(game::Model {
        id,
        hosted: false,
        max_players: 16,
        stats_handler: crate::stats::DEFAULT_HANDLER.to_owned(),
    });
    if let Some(hosted) = fields.hosted {
        row.hosted = hosted;
    }
    if let Some(n) = fields.max_players {
        row.max_players = n;
    }
    let active = game::ActiveModel {
        id: Set(id),
        hosted: Set(row.hosted),
        max_players: Set(row.max_players),
        // Chosen by `setStatsHandler` alone.
        stats_handler: sea_orm::ActiveValue::NotSet,
    };
    let saved = if existing.is_some() {
        active.update(db).await?
    } else {
        active.insert(db).await?
    };
    if let Some(supports) = fields.supports {
        for support in &supports {
            if let Some(content) = support.content_id {
                catalog::find_visible(db, viewer, content)
                    .await
                    .map_err(|_| ApiError::NotFound("supported content"))?;
            }
        }
        game_support::Entity::delete_many()
            .filter(game_support::Column::GameId.eq(id))
            .exec(db)
            .await?;
        if !supports.is_empty() {
            game_support::Entity::insert_many(supports.into_iter().map(|s| {
                game_support::ActiveModel {
                    game_id: Set(id),
                    flag: Set(s.flag),
                    enabled: Set(s.enabled),
                    content_id: Set(s.content_id),
                    ..Default::default()
                }
            }))
            .exec(db)
            .await?;
        }
    }
    Ok(saved)
}

/// Creates the game row of a new game item, inside its creation.
pub(crate) async fn create_game_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    fields: GameFields,
) -> ApiResult<game::Model> {
    write_game_in(db, viewer, id, None, fields).await
}

/// Changes a game of the caller's; see [`update_game_in`].
pub async fn update_game(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    fields: GameFields,
) -> ApiResult<game::Model> {
    ctx.write(async |db, changes| update_game_in(db, viewer, id, fields, changes).await)
        .await
}

/// Changes a game of the caller's.
pub async fn update_game_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    fields: GameFields,
    changes: &mut Changes,
) -> ApiResult<game::Model> {
    let row = catalog::lock_own(db, viewer, id).await?;
    if row.content_type != ContentType::Game {
        return Err(ApiError::NotFound("game"));
    }
    let existing = game::Entity::find_by_id(id).one(db).await?;
    let saved = write_game_in(db, viewer, id, existing, fields).await?;
    changes.push(Change::Content { content_id: id });
    Ok(saved)
}

/// Game rows of items, by id, in one statement.
pub async fn games_of(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, game::Model>> {
    Ok(game::Entity::find()
        .filter(game::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.id, g))
        .collect())
}

/// The support flags of each game, in one statement.
pub async fn supports_of(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<game_support::Model>>> {
    let mut found: HashMap<i32, Vec<game_support::Model>> = HashMap::new();
    for row in game_support::Entity::find()
        .filter(game_support::Column::GameId.is_in(ids.iter().copied()))
        .order_by_asc(game_support::Column::Id)
        .all(db)
        .await?
    {
        found.entry(row.game_id).or_default().push(row);
    }
    Ok(found)
}
