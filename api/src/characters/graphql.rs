//! Characters over GraphQL.

use arena_entity::characters::{character, property, worn_item};
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::{
    auth::graphql::{User, parse_int_id, parse_uuid},
    catalog::graphql::Content,
    graphql::{
        app,
        guards::SignedIn,
        load,
        loaders::{ContentById, PropertiesOf, WornOf},
        viewer,
    },
};

/// A player's character.
pub struct Character(pub character::Model);

/// How a property's value is read.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "PropertyType", remote = "property::ValueType")]
pub enum PropertyType {
    /// Any text.
    String,
    /// A whole number.
    Int,
    /// A finite number.
    Float,
    /// `true` or `false`.
    Bool,
    /// A content item's id.
    Content,
}

/// A named value of a character.
pub struct Property(pub property::Model);

#[Object]
impl Property {
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.property
    }
    /// Its value as text, valid for its type.
    async fn value(&self) -> &str {
        &self.0.value
    }
    /// How the value is read.
    #[graphql(name = "type")]
    async fn value_type(&self) -> PropertyType {
        self.0.value_type.into()
    }
    /// The item a `CONTENT` property points to, when the caller may see it.
    async fn content(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        match self.0.related_content_id {
            Some(id) => visible(ctx, id).await,
            None => Ok(None),
        }
    }
}

/// An item the caller may see, by id.
async fn visible(ctx: &Context<'_>, id: i32) -> async_graphql::Result<Option<Content>> {
    let row = load(ctx).load_one(ContentById(id)).await?;
    Ok(match row {
        Some(row) if crate::catalog::may_see(&app(ctx).db, viewer(ctx), &row).await? => {
            Some(Content(row))
        }
        _ => None,
    })
}

#[Object]
impl Character {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Its player.
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.user_id)).await
    }
    /// The character item it is made from.
    async fn content(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        visible(ctx, self.0.content_id).await
    }
    /// Its properties, by name.
    async fn properties(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Property>> {
        Ok(load(ctx)
            .load_one(PropertiesOf(self.0.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Property)
            .collect())
    }
    /// The items it wears, first put on first.
    async fn worn_items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Content>> {
        let worn: Vec<worn_item::Model> = load(ctx)
            .load_one(WornOf(self.0.id))
            .await?
            .unwrap_or_default();
        let mut items = Vec::with_capacity(worn.len());
        for row in worn {
            items.extend(visible(ctx, row.content_id).await?);
        }
        Ok(items)
    }
    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Character queries.
#[derive(Default)]
pub struct CharactersQuery;

#[Object]
impl CharactersQuery {
    /// The caller's characters (another player's with `user.search`), oldest first. Signed
    /// in.
    #[graphql(guard = "SignedIn")]
    async fn characters(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
    ) -> async_graphql::Result<Vec<Character>> {
        let viewer = viewer(ctx);
        let me = viewer.require_user()?.id;
        let who = match user_id {
            Some(id) => parse_uuid(&id, "userId")?,
            None => me,
        };
        if !viewer.is_self_or(who, crate::auth::privileges::USER_SEARCH) {
            viewer.require_privilege(crate::auth::privileges::USER_SEARCH)?;
        }
        Ok(super::list(&app(ctx).db, who)
            .await?
            .into_iter()
            .map(Character)
            .collect())
    }
}

/// Character mutations.
#[derive(Default)]
pub struct CharactersMutation;

#[Object]
impl CharactersMutation {
    /// Makes a character for the caller from a published `CHARACTER` item they may see, with
    /// a name of 1 to 50 characters; at most 50 per player (`CONFLICT`). Signed in.
    #[graphql(guard = "SignedIn")]
    async fn create_character(
        &self,
        ctx: &Context<'_>,
        content_id: ID,
        name: String,
    ) -> async_graphql::Result<Character> {
        let content_id = parse_int_id(&content_id, "contentId")?;
        Ok(Character(
            super::create(app(ctx), viewer(ctx), content_id, &name).await?,
        ))
    }
    /// Sets a property of the caller's character (`value: null` removes it): the value must
    /// read as its type (`BAD_USER_INPUT` otherwise), a `CONTENT` value as the id of an item
    /// the caller may see. Names are 1 to 255 letters, digits, `_`, `-` or `.`; at most 100
    /// per character. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn set_character_property(
        &self,
        ctx: &Context<'_>,
        character_id: ID,
        name: String,
        #[graphql(name = "type")] value_type: PropertyType,
        value: Option<String>,
    ) -> async_graphql::Result<Character> {
        let id = parse_int_id(&character_id, "characterId")?;
        let value = value.map(|v| (value_type.into(), v));
        Ok(Character(
            super::set_property(app(ctx), viewer(ctx), id, &name, value).await?,
        ))
    }
    /// Puts an item on the caller's character (`wear: false` takes it off): a hat,
    /// accessory, front, back or tool the caller owns a live copy of (`FORBIDDEN`
    /// otherwise). Signed in.
    #[graphql(guard = "SignedIn")]
    async fn wear_item(
        &self,
        ctx: &Context<'_>,
        character_id: ID,
        content_id: ID,
        #[graphql(default = true)] wear: bool,
    ) -> async_graphql::Result<Character> {
        let id = parse_int_id(&character_id, "characterId")?;
        let content_id = parse_int_id(&content_id, "contentId")?;
        Ok(Character(
            super::wear(app(ctx), viewer(ctx), id, content_id, wear).await?,
        ))
    }
}
