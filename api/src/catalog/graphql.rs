//! The catalog over GraphQL: content with its nested fields (each through a DataLoader),
//! categories, listings and search, votes, favorites, comments, reports and the moderation
//! queue.

use arena_entity::catalog::{
    category,
    content::{self, ContentType, Privacy},
    moderator_action::{self, ModAction, RejectionReason},
    relation::{self, RelationKind},
    report::{self, ReportReason, ReportStatus},
    revision::{self, RevisionStatus},
    vote::VoteKind,
};
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Duration, Utc};

use super::{
    Direction, Fields, NewContent, NewRelation, Sight,
    categories::{Category as CategoryNode, CategoryFields},
    listing::{ContentFilter, ContentOrder},
    moderation::{Decision, NewReport, Penalty, Verdict},
    sight,
};
use crate::{
    auth::{
        graphql::{User, parse_int_id, parse_uuid},
        privileges,
    },
    error::{ApiError, ApiResult},
    games::graphql::{Game, GameInput},
    graphql::{
        app,
        guards::{Privilege, SignedIn},
        load,
        loaders::{
            BansOf, ContentById, FavoriteOf, GameOf, RelationsOf, ReportsOf, RevisionsOf,
            StandingWith, VoteOf,
        },
        pagination::{IdConnection, KeyConnection, Keyset, OffsetConnection, OffsetWindow, Window},
        viewer,
    },
    players::FriendState,
};

/// What a content item is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ContentType")]
pub enum ContentKind {
    /// Generic content.
    Content,
    /// Generic: a set of parts.
    Set,
    /// Character item: a character.
    Character,
    /// Character item.
    Hat,
    /// Character item.
    Accessory,
    /// Character item.
    Front,
    /// Character item.
    Back,
    /// Character item.
    Tool,
    /// Creator item.
    Mesh,
    /// Creator item.
    Texture,
    /// Creator item.
    Gameobject,
    /// Creator item.
    Sound,
    /// Creator item.
    Animation,
    /// A comment (made with `comment`).
    Comment,
    /// A player's status post.
    Status,
    /// A game.
    Game,
    /// A game world.
    World,
}

/// Who may see a published item.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "Privacy")]
pub enum ContentPrivacy {
    /// Everyone; listed.
    Public,
    /// The creator's friends.
    Friends,
    /// Anyone with its id; not listed.
    Unlisted,
    /// The creator alone.
    Private,
}

/// Where a revision stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "RevisionStatus")]
pub enum RevisionState {
    /// Made while nobody else could see the item; not reviewed.
    Draft,
    /// Waiting for a moderator.
    Pending,
    /// Approved.
    Approved,
    /// Rejected by a moderator.
    Rejected,
    /// Replaced by a newer revision before review.
    Superseded,
}

/// How the second item of a relation relates to the first.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "RelationKind")]
pub enum ContentRelationKind {
    /// Supports the first.
    Support,
    /// Depends on the first.
    Depend,
    /// A variant of the first.
    Variant,
    /// An alternative to the first.
    Alternative,
    /// Visualises the first (a thumbnail).
    Visual,
    /// Related to the first.
    Related,
    /// A comment on the first (made with `comment`).
    Comment,
    /// Part of the first.
    Part,
}

/// Up or down.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "VoteKind")]
pub enum ContentVote {
    /// Up.
    Up,
    /// Down.
    Down,
}

/// A listing's order.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ContentOrder")]
pub enum ContentOrderBy {
    /// Newest first.
    Newest,
    /// Best rated first: the Wilson lower bound of the up and down votes.
    Best,
    /// Hot first: net votes decayed by age.
    Hot,
    /// Most favorited first.
    MostFavorited,
}

/// Which way relations are read.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "Direction")]
pub enum RelationDirection {
    /// Relations where this item is the first: what relates to it.
    Outgoing,
    /// Relations where this item is the second: what it relates to.
    Incoming,
}

/// Parses a content id.
pub(crate) fn content_id(id: &ID) -> ApiResult<i32> {
    parse_int_id(id, "contentId")
}

/// A content item as the caller may see it.
pub struct Content(pub(crate) content::Model);

/// `row` when the caller may see it: [`super::may_see`]'s walk, reading friendships through
/// the standing loader and a comment's thread through the content loader.
pub(crate) async fn seen(
    ctx: &Context<'_>,
    row: content::Model,
) -> async_graphql::Result<Option<Content>> {
    let mut at = row.clone();
    for _ in 0..super::MAX_DEPTH {
        let ok = match sight(viewer(ctx), &at) {
            Sight::Yes => true,
            Sight::No => false,
            Sight::IfFriends(creator) => match viewer(ctx).user() {
                Some(me) if me.id != creator => load(ctx)
                    .load_one(StandingWith {
                        me: me.id,
                        other: creator,
                    })
                    .await?
                    .is_some_and(|s| s.friend == FriendState::Friends),
                _ => false,
            },
        };
        if !ok {
            return Ok(None);
        }
        match (at.follows_parent(), at.parent_id) {
            (true, Some(parent)) => match load(ctx).load_one(ContentById(parent)).await? {
                Some(parent) => at = parent,
                None => return Ok(None),
            },
            _ => return Ok(Some(Content(row))),
        }
    }
    Ok(None)
}

/// The item `id` when the caller may see it.
pub(crate) async fn seen_id(ctx: &Context<'_>, id: i32) -> async_graphql::Result<Option<Content>> {
    match load(ctx).load_one(ContentById(id)).await? {
        Some(row) => seen(ctx, row).await,
        None => Ok(None),
    }
}

impl Content {
    /// Whether the caller made it or moderates: they see its drafts and pending revisions.
    fn insider(&self, ctx: &Context<'_>) -> bool {
        self.0
            .user_id
            .is_some_and(|creator| viewer(ctx).is_self_or(creator, privileges::CONTENT_MODERATE))
    }
}

#[Object]
impl Content {
    /// The item's id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Its type.
    #[graphql(name = "type")]
    async fn kind(&self) -> ContentKind {
        self.0.content_type.into()
    }
    /// Its name: of the live revision (of the newest draft while none is live).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Its description, as the name.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Its license text.
    async fn license(&self) -> Option<&str> {
        self.0.license.as_deref()
    }
    /// Who may see it once published.
    async fn privacy(&self) -> ContentPrivacy {
        self.0.privacy.into()
    }
    /// Published by its creator.
    async fn published(&self) -> bool {
        self.0.published
    }
    /// Taken down by a moderator.
    async fn restricted(&self) -> bool {
        self.0.restricted
    }
    /// Offered for sale.
    async fn onsale(&self) -> bool {
        self.0.onsale
    }
    /// Comments allowed.
    async fn comments_enabled(&self) -> bool {
        self.0.comments_enabled
    }
    /// Open source: may be downloaded and reused.
    async fn open_source(&self) -> bool {
        self.0.open_source
    }
    /// Tradeable (character items only).
    async fn tradeable(&self) -> bool {
        self.0.tradeable
    }
    /// Owners may resell it (character items only).
    async fn marketable(&self) -> bool {
        self.0.marketable
    }
    /// Most copies sold (character items only).
    async fn stock(&self) -> Option<i32> {
        self.0.stock
    }
    /// Up votes.
    async fn up_votes(&self) -> i64 {
        self.0.up_votes
    }
    /// Down votes.
    async fn down_votes(&self) -> i64 {
        self.0.down_votes
    }
    /// The Wilson lower bound of its votes, which `BEST` orders by.
    async fn score(&self) -> f64 {
        self.0.best
    }
    /// Players who have it among their favorites.
    async fn favorite_count(&self) -> i64 {
        self.0.favorite_count
    }
    /// Comments on it (deleted ones not counted).
    async fn comment_count(&self) -> i64 {
        self.0.comment_count
    }
    /// When it was first published.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When it was deleted (only moderators see deleted items).
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
    /// Its creator; null once their account is deleted.
    async fn creator(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.user_id).await
    }
    /// The item it belongs to (a set, or what a comment is on), when the caller may see it.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        match self.0.parent_id {
            Some(id) => seen_id(ctx, id).await,
            None => Ok(None),
        }
    }
    /// The categories holding its type.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let tree = app(ctx).categories.get(&app(ctx).db).await?;
        Ok(tree
            .holding(self.0.content_type)
            .into_iter()
            .map(Category)
            .collect())
    }
    /// The caller's vote; null when they have none (or are not signed in).
    async fn my_vote(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ContentVote>> {
        let Some(me) = viewer(ctx).user().map(|u| u.id) else {
            return Ok(None);
        };
        let id = self.0.id;
        Ok(load(ctx).load_one(VoteOf { me, id }).await?.map(Into::into))
    }
    /// Among the caller's favorites.
    async fn favorited(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let Some(me) = viewer(ctx).user().map(|u| u.id) else {
            return Ok(false);
        };
        let id = self.0.id;
        Ok(load(ctx).load_one(FavoriteOf { me, id }).await?.is_some())
    }
    /// Its revisions, newest first (at most 100): every one for its creator and moderators,
    /// the approved ones for anyone else.
    async fn revisions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Revision>> {
        let all = load(ctx)
            .load_one(RevisionsOf(self.0.id))
            .await?
            .unwrap_or_default();
        let insider = self.insider(ctx);
        Ok(all
            .into_iter()
            .filter(|r| insider || r.status == RevisionStatus::Approved)
            .map(Revision)
            .collect())
    }
    /// The revision readers see; null until one is approved.
    async fn live_revision(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Revision>> {
        let Some(live) = self.0.live_revision_id else {
            return Ok(None);
        };
        let all = load(ctx)
            .load_one(RevisionsOf(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(all.into_iter().find(|r| r.id == live).map(Revision))
    }
    /// The revision waiting for a moderator, for its creator and moderators.
    async fn pending_revision(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Revision>> {
        if !self.insider(ctx) {
            return Ok(None);
        }
        let all = load(ctx)
            .load_one(RevisionsOf(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(all
            .into_iter()
            .find(|r| r.status == RevisionStatus::Pending)
            .map(Revision))
    }
    /// Its relations (comments aside), newest first, at most 100; those whose other item
    /// the caller may not see are left out.
    async fn relations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "RelationDirection::Outgoing")] direction: RelationDirection,
        kind: Option<ContentRelationKind>,
    ) -> async_graphql::Result<Vec<ContentRelation>> {
        let direction: Direction = direction.into();
        let rows = load(ctx)
            .load_one(RelationsOf {
                id: self.0.id,
                direction,
            })
            .await?
            .unwrap_or_default();
        let wanted: Option<RelationKind> = kind.map(Into::into);
        let mut shown = Vec::new();
        for row in rows {
            if wanted.is_some_and(|k| k != row.relation) {
                continue;
            }
            let other = match direction {
                Direction::Outgoing => row.second_content_id,
                Direction::Incoming => row.first_content_id,
            };
            if let Some(other) = seen_id(ctx, other).await? {
                shown.push(ContentRelation { row, other });
            }
        }
        Ok(shown)
    }
    /// Comments on it, newest first; replies are a comment's comments. Nobody in a block
    /// with the caller is shown.
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<KeyConnection<Content>> {
        let keyset = Keyset::parse(after, before, first, last)?;
        let (rows, total) =
            super::community::comments_of(&app(ctx).db, viewer(ctx), self.0.id, &keyset).await?;
        let order = ContentOrder::Newest;
        Ok(keyset.page(rows, total, |row| order.cursor(row), Content))
    }
    /// The files of the revision readers see (the newest draft's, while none is live).
    async fn assets(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::assets::graphql::ObjectAsset>> {
        let revision = crate::assets::graphql::current_revision(ctx, &self.0).await?;
        crate::assets::graphql::files(ctx, revision).await
    }
    /// Its thumbnail, rendered from its files; see `relations(kind: VISUAL)`.
    async fn thumbnail(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] format: crate::assets::graphql::ThumbnailFormat,
    ) -> async_graphql::Result<Option<crate::assets::graphql::Asset>> {
        crate::assets::graphql::thumbnail(ctx, self.0.id, format.mime()).await
    }
    /// Copies the store has sold new (purchases and gifts; not resales, not the creator's
    /// own).
    async fn sold(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(load(ctx)
            .load_one(crate::graphql::loaders::SoldOf(self.0.id))
            .await?
            .unwrap_or(0))
    }
    /// Its prices; an item on sale with none is free.
    async fn prices(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::store::graphql::Price>> {
        Ok(load(ctx)
            .load_one(crate::graphql::loaders::PricesOf(self.0.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(crate::store::graphql::Price)
            .collect())
    }
    /// Its game settings, for an item of type `GAME`.
    async fn game(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Game>> {
        if self.0.content_type != ContentType::Game {
            return Ok(None);
        }
        Ok(load(ctx).load_one(GameOf(self.0.id)).await?.map(Game::new))
    }
    /// The moderation decisions on it, newest first. Needs `content.moderate`.
    #[graphql(guard = "Privilege(privileges::CONTENT_MODERATE)")]
    async fn moderation_history(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ModerationItem>> {
        let rows = super::moderation::history_of(&app(ctx).db, viewer(ctx), self.0.id).await?;
        Ok(rows.into_iter().map(ModerationItem).collect())
    }
}

/// One version of an item's substance.
pub struct Revision(revision::Model);

#[Object]
impl Revision {
    /// The revision's id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Where it stands.
    async fn status(&self) -> RevisionState {
        self.0.status.into()
    }
    /// The name it gives the item.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The description it gives the item.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The license it gives the item.
    async fn license(&self) -> Option<&str> {
        self.0.license.as_deref()
    }
    /// The files it gives the item, with their thumbnails.
    async fn assets(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::assets::graphql::ObjectAsset>> {
        crate::assets::graphql::files(ctx, Some(self.0.id)).await
    }
    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A relation between two items.
pub struct ContentRelation {
    row: relation::Model,
    other: Content,
}

#[Object]
impl ContentRelation {
    /// The relation's id.
    async fn id(&self) -> ID {
        self.row.id.into()
    }
    /// How the second item relates to the first.
    async fn relation(&self) -> ContentRelationKind {
        self.row.relation.into()
    }
    /// A finer name (thumbnail, icon, texture, character).
    async fn relation_name(&self) -> Option<&str> {
        self.row.relation_name.as_deref()
    }
    /// The first item's id.
    async fn first_id(&self) -> ID {
        self.row.first_content_id.into()
    }
    /// The second item's id.
    async fn second_id(&self) -> ID {
        self.row.second_content_id.into()
    }
    /// The item at the other end from the one asked about.
    async fn other(&self) -> &Content {
        &self.other
    }
    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// A category of the tree.
pub struct Category(CategoryNode);

#[Object]
impl Category {
    /// The category's id.
    async fn id(&self) -> ID {
        self.0.row.id.into()
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.row.category
    }
    /// The category above it; null at the root.
    async fn parent_id(&self) -> Option<ID> {
        self.0.row.parent_id.map(Into::into)
    }
    /// The content types it holds itself (its sub-categories hold more).
    async fn content_types(&self) -> Vec<ContentKind> {
        self.0.types.iter().map(|&t| t.into()).collect()
    }
    /// The categories right below it.
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let tree = app(ctx).categories.get(&app(ctx).db).await?;
        let mut below: Vec<Category> = tree
            .nodes
            .values()
            .filter(|n| n.row.parent_id == Some(self.0.row.id))
            .cloned()
            .map(Category)
            .collect();
        below.sort_by(|a, b| a.0.row.category.cmp(&b.0.row.category));
        Ok(below)
    }
}

/// Which items to list; every field narrows.
#[derive(InputObject, Default)]
pub struct ContentFilterInput {
    /// Of these types.
    types: Option<Vec<ContentKind>>,
    /// In this category or any below it.
    category_id: Option<ID>,
    /// Made by this player.
    creator_id: Option<ID>,
    /// Parts of this item (a set's).
    parent_id: Option<ID>,
    /// Every word in the name or description.
    text: Option<String>,
    /// Unpublished, restricted and private items too; needs `content.moderate`.
    #[graphql(default)]
    include_hidden: bool,
    /// On sale (or not).
    onsale: Option<bool>,
}

impl ContentFilterInput {
    fn parse(self) -> ApiResult<ContentFilter> {
        Ok(ContentFilter {
            types: self.types.map(|t| t.into_iter().map(Into::into).collect()),
            category_id: self
                .category_id
                .map(|id| parse_int_id(&id, "categoryId"))
                .transpose()?,
            creator_id: self
                .creator_id
                .map(|id| parse_uuid(&id, "creatorId"))
                .transpose()?,
            parent_id: self
                .parent_id
                .map(|id| parse_int_id(&id, "parentId"))
                .transpose()?,
            text: self.text,
            include_hidden: self.include_hidden,
            onsale: self.onsale,
        })
    }
}

/// Catalog queries.
#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// An item. `NOT_FOUND` when it does not exist or the caller may not see it. Public.
    async fn content(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Content> {
        let id = content_id(&id)?;
        seen_id(ctx, id)
            .await?
            .ok_or_else(|| ApiError::NotFound("content").into())
    }

    /// Items the caller may see, filtered and ordered (newest first by default). Public.
    #[allow(clippy::too_many_arguments)] // the Relay arguments
    async fn contents(
        &self,
        ctx: &Context<'_>,
        filter: Option<ContentFilterInput>,
        #[graphql(default_with = "ContentOrderBy::Newest")] order_by: ContentOrderBy,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<KeyConnection<Content>> {
        let keyset = Keyset::parse(after, before, first, last)?;
        let filter = filter.unwrap_or_default().parse()?;
        let order: ContentOrder = order_by.into();
        let db = &app(ctx).db;
        let tree = app(ctx).categories.get(db).await?;
        let (rows, total) =
            super::listing::list(db, &tree, viewer(ctx), filter, order, &keyset).await?;
        Ok(keyset.page(rows, total, |row| order.cursor(row), Content))
    }

    /// Every category, by name; build the tree from `parentId` or walk `children` from the
    /// roots (`roots: true`). Public.
    async fn categories(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] roots: bool,
    ) -> async_graphql::Result<Vec<Category>> {
        let tree = app(ctx).categories.get(&app(ctx).db).await?;
        let mut all: Vec<Category> = tree
            .nodes
            .values()
            .filter(|n| !roots || n.row.parent_id.is_none())
            .cloned()
            .map(Category)
            .collect();
        all.sort_by(|a, b| a.0.row.category.cmp(&b.0.row.category));
        Ok(all)
    }

    /// The moderation queue in the order items are claimed: overdue first, then by report
    /// count, then oldest. Needs `content.moderate`.
    #[graphql(guard = "Privilege(privileges::CONTENT_MODERATE)")]
    async fn moderation_queue(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<OffsetConnection<ModerationItem>> {
        let (rows, window) = super::moderation::queue(&app(ctx).db, viewer(ctx), |total| {
            OffsetWindow::parse(after, before, first, last, total)
        })
        .await?;
        Ok(window.page(rows, ModerationItem))
    }

    /// Reports, newest first, by status. Needs `content.moderate`.
    #[graphql(guard = "Privilege(privileges::CONTENT_MODERATE)")]
    async fn content_reports(
        &self,
        ctx: &Context<'_>,
        status: Option<ContentReportStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<ContentReport>> {
        let window = Window::parse(after, before, first, last)?;
        let (rows, total) = super::moderation::list_reports(
            &app(ctx).db,
            viewer(ctx),
            status.map(Into::into),
            window,
        )
        .await?;
        Ok(window.page(rows, total, |row| i64::from(row.id), ContentReport))
    }
}

/// A new item.
#[derive(InputObject)]
pub struct CreateContentInput {
    /// Its type; comments are made with `comment`.
    #[graphql(name = "type")]
    kind: ContentKind,
    /// 1 to 255 characters.
    name: String,
    /// Up to 20,000 characters.
    #[graphql(default)]
    description: String,
    /// The item it belongs to: one of the caller's, not a comment.
    parent_id: Option<ID>,
    /// Who may see it once published.
    #[graphql(default_with = "ContentPrivacy::Public")]
    privacy: ContentPrivacy,
    /// Offered for sale.
    #[graphql(default)]
    onsale: bool,
    /// Comments allowed.
    #[graphql(default = true)]
    comments_enabled: bool,
    /// Open source.
    #[graphql(default)]
    open_source: bool,
    /// Tradeable (character items only).
    #[graphql(default)]
    tradeable: bool,
    /// Owners may resell it (character items only).
    #[graphql(default)]
    marketable: bool,
    /// Most copies sold (character items only).
    stock: Option<i32>,
    /// License text.
    license: Option<String>,
    /// For a `GAME`: its settings.
    game: Option<GameInput>,
}

/// Changes to an item; a field left out stays as it is, a null clears it.
#[derive(InputObject)]
pub struct UpdateContentInput {
    /// 1 to 255 characters.
    name: Option<String>,
    /// Up to 20,000 characters (5,000 for a comment).
    description: Option<String>,
    /// License text.
    license: MaybeUndefined<String>,
    /// The item it belongs to.
    parent_id: MaybeUndefined<ID>,
    /// Who may see it.
    privacy: Option<ContentPrivacy>,
    /// Offered for sale.
    onsale: Option<bool>,
    /// Comments allowed.
    comments_enabled: Option<bool>,
    /// Open source.
    open_source: Option<bool>,
    /// Tradeable (character items only).
    tradeable: Option<bool>,
    /// Resellable (character items only).
    marketable: Option<bool>,
    /// Most copies sold (character items only).
    stock: MaybeUndefined<i32>,
}

/// An optional input field: absent (`None`), set to null (`Some(None)`) or to a value.
pub(crate) fn maybe<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

impl UpdateContentInput {
    fn parse(self) -> ApiResult<Fields> {
        let parent_id = match maybe(self.parent_id) {
            Some(Some(id)) => Some(Some(parse_int_id(&id, "parentId")?)),
            Some(None) => Some(None),
            None => None,
        };
        Ok(Fields {
            name: self.name,
            description: self.description,
            license: maybe(self.license),
            parent_id,
            privacy: self.privacy.map(Into::into),
            onsale: self.onsale,
            comments_enabled: self.comments_enabled,
            open_source: self.open_source,
            tradeable: self.tradeable,
            marketable: self.marketable,
            stock: maybe(self.stock),
        })
    }
}

/// A relation to make from one of the caller's items.
#[derive(InputObject)]
pub struct RelateContentInput {
    /// The caller's item.
    first_id: ID,
    /// The item that relates to it, which the caller may see.
    second_id: ID,
    /// How the second relates to the first (not `COMMENT`).
    relation: ContentRelationKind,
    /// A finer name, up to 64 characters.
    relation_name: Option<String>,
}

/// A category to create, or changes to one.
#[derive(InputObject)]
pub struct CategoryInput {
    /// 1 to 64 characters, unique.
    name: Option<String>,
    /// The category above it; null makes it a root.
    parent_id: MaybeUndefined<ID>,
    /// Its content types, replacing the old ones.
    content_types: Option<Vec<ContentKind>>,
}

impl CategoryInput {
    fn parse(self) -> ApiResult<CategoryFields> {
        let parent_id = match maybe(self.parent_id) {
            Some(Some(id)) => Some(Some(parse_int_id(&id, "parentId")?)),
            Some(None) => Some(None),
            None => None,
        };
        Ok(CategoryFields {
            name: self.name,
            parent_id,
            types: self
                .content_types
                .map(|t| t.into_iter().map(Into::into).collect()),
        })
    }
}

/// Catalog mutations.
#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Creates an item of the caller's, unpublished, with its first revision. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn create_content(
        &self,
        ctx: &Context<'_>,
        input: CreateContentInput,
    ) -> async_graphql::Result<Content> {
        let parent_id = input
            .parent_id
            .map(|id| parse_int_id(&id, "parentId"))
            .transpose()?;
        let new = NewContent {
            content_type: input.kind.into(),
            fields: Fields {
                name: Some(input.name),
                description: Some(input.description),
                license: Some(input.license),
                parent_id: Some(parent_id),
                privacy: Some(input.privacy.into()),
                onsale: Some(input.onsale),
                comments_enabled: Some(input.comments_enabled),
                open_source: Some(input.open_source),
                tradeable: Some(input.tradeable),
                marketable: Some(input.marketable),
                stock: Some(input.stock),
            },
            game: input.game.map(GameInput::parse).transpose()?,
        };
        let row = super::create_content(app(ctx), viewer(ctx), new).await?;
        Ok(Content(row))
    }

    /// Changes an item of the caller's. A new name, description or license is a new
    /// revision; after the item's first approval, an untrusted creator's revisions wait for
    /// a moderator. `FORBIDDEN` on someone else's item. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn update_content(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateContentInput,
    ) -> async_graphql::Result<Content> {
        let row =
            super::update_content(app(ctx), viewer(ctx), content_id(&id)?, input.parse()?).await?;
        Ok(Content(row))
    }

    /// Publishes (or with `published: false` hides) an item of the caller's. An untrusted
    /// creator's item is seen by others once a moderator approves it. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn publish_content(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = true)] published: bool,
    ) -> async_graphql::Result<Content> {
        let row =
            super::publish_content(app(ctx), viewer(ctx), content_id(&id)?, published).await?;
        Ok(Content(row))
    }

    /// Deletes an item: the caller's own, or any with `content.moderate`. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn delete_content(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        super::delete_content(app(ctx), viewer(ctx), content_id(&id)?).await?;
        Ok(true)
    }

    /// Votes on an item the caller may see and did not make; a null vote withdraws it.
    /// Signed in.
    #[graphql(guard = "SignedIn")]
    async fn vote(
        &self,
        ctx: &Context<'_>,
        content_id: ID,
        vote: Option<ContentVote>,
    ) -> async_graphql::Result<Content> {
        let id = self::content_id(&content_id)?;
        let row = super::community::vote(app(ctx), viewer(ctx), id, vote.map(Into::into)).await?;
        Ok(Content(row))
    }

    /// Adds an item to the caller's favorites (or with `favorite: false` removes it).
    /// Signed in.
    #[graphql(guard = "SignedIn")]
    async fn favorite(
        &self,
        ctx: &Context<'_>,
        content_id: ID,
        #[graphql(default = true)] favorite: bool,
    ) -> async_graphql::Result<Content> {
        let id = self::content_id(&content_id)?;
        let row = super::community::favorite(app(ctx), viewer(ctx), id, favorite).await?;
        Ok(Content(row))
    }

    /// Comments on an item, or replies to a comment (1 to 5,000 characters). `FORBIDDEN`
    /// where comments are off or a block stands between the caller and a creator up the
    /// thread. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn comment(
        &self,
        ctx: &Context<'_>,
        content_id: ID,
        text: String,
    ) -> async_graphql::Result<Content> {
        let id = self::content_id(&content_id)?;
        let row = super::community::comment(app(ctx), viewer(ctx), id, text).await?;
        Ok(Content(row))
    }

    /// Relates one of the caller's items to another. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn relate_content(
        &self,
        ctx: &Context<'_>,
        input: RelateContentInput,
    ) -> async_graphql::Result<ContentRelation> {
        let new = NewRelation {
            first: parse_int_id(&input.first_id, "firstId")?,
            second: parse_int_id(&input.second_id, "secondId")?,
            kind: input.relation.into(),
            name: input.relation_name,
        };
        let row = super::relate(app(ctx), viewer(ctx), new).await?;
        let other = seen_id(ctx, row.second_content_id)
            .await?
            .ok_or(ApiError::NotFound("content"))?;
        Ok(ContentRelation { row, other })
    }

    /// Removes a relation from one of the caller's items. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn unrelate_content(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        super::unrelate(app(ctx), viewer(ctx), parse_int_id(&id, "id")?).await?;
        Ok(true)
    }

    /// Creates a category. Needs `catalog.manage`.
    #[graphql(guard = "Privilege(privileges::CATALOG_MANAGE)")]
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        input: CategoryInput,
    ) -> async_graphql::Result<Category> {
        let row = super::categories::create_category(app(ctx), viewer(ctx), input.parse()?).await?;
        category_node(ctx, row).await
    }

    /// Renames, moves or retypes a category; a move below itself is refused. Needs
    /// `catalog.manage`.
    #[graphql(guard = "Privilege(privileges::CATALOG_MANAGE)")]
    async fn update_category(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CategoryInput,
    ) -> async_graphql::Result<Category> {
        let id = parse_int_id(&id, "id")?;
        let row =
            super::categories::update_category(app(ctx), viewer(ctx), id, input.parse()?).await?;
        category_node(ctx, row).await
    }

    /// Removes a category that has no sub-categories. Needs `catalog.manage`.
    #[graphql(guard = "Privilege(privileges::CATALOG_MANAGE)")]
    async fn delete_category(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let id = parse_int_id(&id, "id")?;
        super::categories::delete_category(app(ctx), viewer(ctx), id).await?;
        Ok(true)
    }

    /// Reports an item the caller may see (its live revision unless one is named). Reports
    /// on the same revision gather in one queue item; one open report per player per item.
    /// Signed in.
    #[graphql(guard = "SignedIn")]
    async fn report_content(
        &self,
        ctx: &Context<'_>,
        input: ReportContentInput,
    ) -> async_graphql::Result<ContentReport> {
        let new = NewReport {
            content_id: content_id(&input.content_id)?,
            revision_id: input
                .revision_id
                .map(|id| parse_int_id(&id, "revisionId"))
                .transpose()?,
            reason: input.reason.into(),
            description: input.description,
        };
        let row = super::moderation::report_content(app(ctx), viewer(ctx), new).await?;
        Ok(ContentReport(row))
    }

    /// The item the caller holds, or the next free one claimed for them (null when the queue
    /// has none); a claim lapses after `ARENA_MODERATION_CLAIM_SECONDS`. Needs
    /// `content.moderate`.
    #[graphql(guard = "Privilege(privileges::CONTENT_MODERATE)")]
    async fn claim_moderation(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ModerationItem>> {
        let row = super::moderation::claim(app(ctx), viewer(ctx)).await?;
        Ok(row.map(ModerationItem))
    }

    /// Gives a claimed item back to the queue. Needs `content.moderate`.
    #[graphql(guard = "Privilege(privileges::CONTENT_MODERATE)")]
    async fn release_moderation(
        &self,
        ctx: &Context<'_>,
        item_id: ID,
    ) -> async_graphql::Result<ModerationItem> {
        let id = parse_int_id(&item_id, "itemId")?;
        let row = super::moderation::release(app(ctx), viewer(ctx), id).await?;
        Ok(ModerationItem(row))
    }

    /// Decides an item the caller holds: approve, reject (with a reason, optionally a ban on
    /// the creator) or forward to the admins. Written with its audit row. Needs
    /// `content.moderate` (and `user.ban` for a penalty).
    #[graphql(guard = "Privilege(privileges::CONTENT_MODERATE)")]
    async fn decide_moderation(
        &self,
        ctx: &Context<'_>,
        input: DecideModerationInput,
    ) -> async_graphql::Result<ModerationItem> {
        let decision = input.parse()?;
        let row = super::moderation::decide(app(ctx), viewer(ctx), decision).await?;
        Ok(ModerationItem(row))
    }
}

async fn category_node(ctx: &Context<'_>, row: category::Model) -> async_graphql::Result<Category> {
    let tree = app(ctx).categories.get(&app(ctx).db).await?;
    let node = tree
        .nodes
        .get(&row.id)
        .cloned()
        .ok_or(ApiError::NotFound("category"))?;
    Ok(Category(node))
}

/// Why a player reports an item.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ReportReason")]
pub enum ContentReportReason {
    /// Spam or advertising.
    Spam,
    /// Harassment or bullying.
    Harassment,
    /// Hate speech.
    Hate,
    /// Sexual content.
    Sexual,
    /// Violence or threats.
    Violence,
    /// Illegal content.
    Illegal,
    /// Someone else's work.
    Copyright,
    /// Cheats or exploits.
    Cheating,
    /// Anything else, in the description.
    Other,
}

/// A report's resolution.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ReportStatus")]
pub enum ContentReportStatus {
    /// Waiting for a decision.
    Open,
    /// Closed without a decision on it.
    Closed,
    /// The item was approved: nothing wrong.
    Invalid,
    /// The item was rejected.
    Resolved,
}

/// Where a moderation item stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ModAction")]
pub enum ModerationAction {
    /// In the queue.
    Pending,
    /// Approved.
    Approve,
    /// Rejected.
    Reject,
    /// Forwarded to the admins.
    Forward,
}

/// Why a revision was rejected.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "RejectionReason")]
pub enum ModerationRejection {
    /// Against the terms of service.
    Tos,
    /// Illegal.
    Illegal,
    /// A copyright claim.
    Dmca,
    /// Anything else, in the description.
    Other,
}

/// A report to file.
#[derive(InputObject)]
pub struct ReportContentInput {
    /// The item.
    content_id: ID,
    /// The revision; the live one when left out.
    revision_id: Option<ID>,
    /// Why.
    reason: ContentReportReason,
    /// Up to 2,000 characters.
    #[graphql(default)]
    description: String,
}

/// What a moderator decides.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ModerationVerdict {
    /// The revision is fine.
    Approve,
    /// The revision is refused; a live one is taken down.
    Reject,
    /// The admins decide.
    Forward,
}

/// A ban on the creator that goes with a rejection.
#[derive(InputObject)]
pub struct PenaltyInput {
    /// Shown to the creator, 1 to 1000 characters.
    reason: String,
    /// Days it lasts; permanent when left out.
    days: Option<i32>,
}

/// A decision on a claimed item.
#[derive(InputObject)]
pub struct DecideModerationInput {
    /// The item.
    item_id: ID,
    /// What is decided.
    decision: ModerationVerdict,
    /// Required with `REJECT`.
    rejection_reason: Option<ModerationRejection>,
    /// What the moderator adds, up to 2,000 characters.
    description: Option<String>,
    /// A ban on the creator (with `REJECT` only).
    penalty: Option<PenaltyInput>,
    /// Delete the revision's files and purge their bytes (with `REJECT` only).
    #[graphql(default)]
    delete_assets: bool,
}

impl DecideModerationInput {
    fn parse(self) -> ApiResult<Decision> {
        let verdict = match (self.decision, self.rejection_reason) {
            (ModerationVerdict::Reject, Some(reason)) => Verdict::Reject(reason.into()),
            (ModerationVerdict::Reject, None) => {
                return Err(ApiError::bad_input(
                    "rejectionReason",
                    "a rejection names its reason",
                ));
            }
            (_, Some(_)) => {
                return Err(ApiError::bad_input(
                    "rejectionReason",
                    "only a rejection has a reason",
                ));
            }
            (ModerationVerdict::Approve, None) => Verdict::Approve,
            (ModerationVerdict::Forward, None) => Verdict::Forward,
        };
        let penalty = match self.penalty {
            Some(p) => {
                let expires_at = match p.days {
                    Some(days) if !(1..=3650).contains(&days) => {
                        return Err(ApiError::bad_input(
                            "days",
                            "a penalty lasts 1 to 3650 days, or leave days out",
                        ));
                    }
                    Some(days) => Some(Utc::now() + Duration::days(i64::from(days))),
                    None => None,
                };
                Some(Penalty {
                    reason: p.reason,
                    expires_at,
                })
            }
            None => None,
        };
        Ok(Decision {
            item_id: parse_int_id(&self.item_id, "itemId")?,
            verdict,
            description: self.description,
            penalty,
            delete_assets: self.delete_assets,
        })
    }
}

/// A player's report.
pub struct ContentReport(report::Model);

#[Object]
impl ContentReport {
    /// The report's id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Why.
    async fn reason(&self) -> ContentReportReason {
        self.0.reason.into()
    }
    /// What the reporter said.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Its resolution.
    async fn status(&self) -> ContentReportStatus {
        self.0.status.into()
    }
    /// The item reported (as the caller may see it).
    async fn content(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        seen_id(ctx, self.0.content_id).await
    }
    /// The revision reported.
    async fn revision_id(&self) -> Option<ID> {
        self.0.revision_id.map(Into::into)
    }
    /// The queue item it gathered into.
    async fn item_id(&self) -> Option<ID> {
        self.0.action_id.map(Into::into)
    }
    /// The reporter, for moderators.
    #[graphql(guard = "Privilege(privileges::CONTENT_MODERATE)")]
    async fn reporter(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.user_id)).await
    }
    /// The moderator's notes, once decided.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// When it was filed.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was decided.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
}

/// An item of the moderation queue, or a decision once made.
pub struct ModerationItem(moderator_action::Model);

#[Object]
impl ModerationItem {
    /// The item's id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Where it stands.
    async fn action(&self) -> ModerationAction {
        self.0.action.into()
    }
    /// Forwarded to the admins.
    async fn forwarded(&self) -> bool {
        self.0.forwarded
    }
    /// The content (moderators see every item).
    async fn content(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        seen_id(ctx, self.0.content_id).await
    }
    /// The revision to decide on.
    async fn revision(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Revision>> {
        let all = load(ctx)
            .load_one(RevisionsOf(self.0.content_id))
            .await?
            .unwrap_or_default();
        Ok(all
            .into_iter()
            .find(|r| r.id == self.0.revision_id)
            .map(Revision))
    }
    /// Reports gathered on it.
    async fn report_count(&self) -> i32 {
        self.0.report_count
    }
    /// The reports, newest first.
    async fn reports(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ContentReport>> {
        let rows = load(ctx)
            .load_one(ReportsOf(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(ContentReport).collect())
    }
    /// The moderator holding it (while pending) or who decided it.
    async fn moderator(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.user_id).await
    }
    /// Until when the claim holds.
    async fn claimed_until(&self) -> Option<DateTime<Utc>> {
        self.0
            .claimed_until
            .filter(|_| self.0.action == ModAction::Pending)
    }
    /// When it is due.
    async fn due_at(&self) -> DateTime<Utc> {
        self.0.due_at
    }
    /// Still pending past its due time.
    async fn overdue(&self) -> bool {
        self.0.action == ModAction::Pending && self.0.due_at <= Utc::now()
    }
    /// Why it was rejected.
    async fn rejection_reason(&self) -> Option<ModerationRejection> {
        self.0.rejection_reason.map(Into::into)
    }
    /// What the moderator added.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// A penalty went with it.
    async fn penalty(&self) -> bool {
        self.0.penalty
    }
    /// The moderator ordered the revision's files deleted.
    async fn asset_delete(&self) -> bool {
        self.0.asset_delete
    }
    /// The bans its penalty placed.
    async fn ban_ids(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ID>> {
        let found = load(ctx)
            .load_one(BansOf(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(found.into_iter().map(Into::into).collect())
    }
    /// When it entered the queue.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was decided.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
}
