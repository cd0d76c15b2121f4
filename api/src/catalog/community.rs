//! What players do with each other's content: votes (one per player per item, changeable),
//! favorites and threaded comments. Each write locks the item first and changes its counts
//! in the same transaction, so the counts always equal a recount of the rows.

use arena_entity::catalog::{
    content::{self, ContentType},
    favorite,
    relation::{self, RelationKind},
    revision::RevisionStatus,
    vote::{self, VoteKind},
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ModelTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{
    MAX_DEPTH, Substance, blank, changed, find, find_visible, insert, lock_visible, save,
    text_field,
};
use crate::{
    auth::viewer::Viewer,
    bus::Changes,
    context::AppContext,
    error::{ApiError, ApiResult, OnViolation},
    graphql::pagination::{Keyset, TotalCount, fetch_keyset},
    players,
};

/// Longest comment, in characters.
pub const MAX_COMMENT: usize = 5_000;

/// Sets, changes or (with `None`) withdraws the caller's vote; see [`vote_in`].
pub async fn vote(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    vote: Option<VoteKind>,
) -> ApiResult<content::Model> {
    ctx.write(async |db, changes| vote_in(db, viewer, id, vote, changes).await)
        .await
}

/// Sets, changes or withdraws the caller's vote on an item they may see and did not make.
pub async fn vote_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    wanted: Option<VoteKind>,
    changes: &mut Changes,
) -> ApiResult<content::Model> {
    let me = viewer.require_user()?.id;
    let mut row = lock_visible(db, viewer, id).await?;
    if row.user_id == Some(me) {
        return Err(ApiError::bad_input(
            "contentId",
            "you cannot vote on your own item",
        ));
    }
    let existing = vote::Entity::find()
        .filter(vote::Column::ContentId.eq(id))
        .filter(vote::Column::UserId.eq(me))
        .one(db)
        .await?;
    let old = existing.as_ref().map(|v| v.vote);
    if old == wanted {
        return Ok(row);
    }
    let count = |kind: Option<VoteKind>| match kind {
        Some(VoteKind::Up) => (1, 0),
        Some(VoteKind::Down) => (0, 1),
        None => (0, 0),
    };
    let ((old_up, old_down), (new_up, new_down)) = (count(old), count(wanted));
    let now = Utc::now();
    match (existing, wanted) {
        (Some(found), None) => {
            found.delete(db).await?;
        }
        (Some(found), Some(kind)) => {
            let mut active: vote::ActiveModel = found.into();
            active.vote = Set(kind);
            active.updated_at = Set(now);
            active.update(db).await?;
        }
        (None, Some(kind)) => {
            vote::ActiveModel {
                content_id: Set(id),
                user_id: Set(me),
                vote: Set(kind),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .on_unique("you voted on this item already")?;
        }
        (None, None) => {}
    }
    row.up_votes += new_up - old_up;
    row.down_votes += new_down - old_down;
    let saved = save(db, row).await?;
    changed(changes, id);
    Ok(saved)
}

/// Adds or removes an item from the caller's favorites; see [`favorite_in`].
pub async fn favorite(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    on: bool,
) -> ApiResult<content::Model> {
    ctx.write(async |db, changes| favorite_in(db, viewer, id, on, changes).await)
        .await
}

/// Adds (`on`) or removes an item the caller may see from their favorites; doing what is
/// already done changes nothing.
pub async fn favorite_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    on: bool,
    changes: &mut Changes,
) -> ApiResult<content::Model> {
    let me = viewer.require_user()?.id;
    let mut row = lock_visible(db, viewer, id).await?;
    let existing = favorite::Entity::find()
        .filter(favorite::Column::ContentId.eq(id))
        .filter(favorite::Column::UserId.eq(me))
        .one(db)
        .await?;
    match (existing, on) {
        (None, true) => {
            let now = Utc::now();
            favorite::ActiveModel {
                content_id: Set(id),
                user_id: Set(me),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .on_unique("this item is among your favorites already")?;
            row.favorite_count += 1;
        }
        (Some(found), false) => {
            found.delete(db).await?;
            row.favorite_count -= 1;
        }
        _ => return Ok(row),
    }
    let saved = save(db, row).await?;
    changed(changes, id);
    Ok(saved)
}

/// Comments on an item; see [`comment_in`].
pub async fn comment(
    ctx: &AppContext,
    viewer: &Viewer,
    subject: i32,
    text: String,
) -> ApiResult<content::Model> {
    ctx.write(async |db, changes| comment_in(db, viewer, subject, text, changes).await)
        .await
}

/// Comments on an item, or replies to a comment. Every item up the thread must allow
/// comments, and no block may stand between the caller and the creator of any of them.
pub async fn comment_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    subject: i32,
    text: String,
    changes: &mut Changes,
) -> ApiResult<content::Model> {
    let me = viewer.require_user()?.id;
    let text = text_field(&text, "text", 1, MAX_COMMENT)?;
    let mut target = lock_visible(db, viewer, subject).await?;
    let mut at = Some(target.clone());
    for _ in 0..MAX_DEPTH {
        let Some(item) = at else { break };
        if !item.comments_enabled {
            return Err(ApiError::Forbidden);
        }
        if let Some(creator) = item.user_id.filter(|&c| c != me)
            && players::blocked_between(db, me, creator).await?
        {
            return Err(ApiError::Forbidden);
        }
        at = match (item.content_type.is_comment(), item.parent_id) {
            (true, Some(parent)) => find(db, parent).await?,
            _ => None,
        };
    }
    if at.is_some() {
        return Err(ApiError::bad_input("contentId", "this thread is too deep"));
    }
    let now = Utc::now();
    let name: String = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect();
    let mut row = blank(me, ContentType::Comment, Some(subject), now);
    row.published = true;
    row.published_at = Some(now);
    let substance = Substance {
        name,
        description: text,
        license: None,
    };
    let made = insert(db, row, &substance, RevisionStatus::Approved).await?;
    relation::ActiveModel {
        first_content_id: Set(subject),
        second_content_id: Set(made.id),
        relation: Set(RelationKind::Comment),
        relation_name: Set(None),
        created_by: Set(Some(me)),
        updated_by: Set(Some(me)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    target.comment_count += 1;
    save(db, target).await?;
    changed(changes, subject);
    changed(changes, made.id);
    Ok(made)
}

/// Adds `delta` to an item's comment count, in one statement.
pub(crate) async fn count_comment(
    db: &impl ConnectionTrait,
    subject: i32,
    delta: i64,
) -> ApiResult<()> {
    content::Entity::update_many()
        .col_expr(
            content::Column::CommentCount,
            Expr::col(content::Column::CommentCount).add(delta),
        )
        .filter(content::Column::Id.eq(subject))
        .exec(db)
        .await?;
    Ok(())
}

/// The comments on an item the caller may see, newest first: none by a player in a block
/// with the caller, none deleted, and none restricted unless the caller moderates.
pub async fn comments_of(
    db: &DatabaseConnection,
    viewer: &Viewer,
    subject: i32,
    keyset: &Keyset,
) -> ApiResult<(Vec<content::Model>, TotalCount)> {
    find_visible(db, viewer, subject).await?;
    let mut query = content::Entity::find()
        .filter(content::Column::ParentId.eq(subject))
        .filter(content::Column::ContentType.eq(ContentType::Comment))
        .filter(content::Column::DeletedAt.is_null());
    if !viewer.has_privilege(crate::auth::privileges::CONTENT_MODERATE) {
        query = query.filter(content::Column::Restricted.eq(false));
    }
    if let Some(me) = viewer.user().map(|u| u.id) {
        query = query.filter(players::hidden_from(content::Column::UserId, me));
    }
    let total = TotalCount::of(db, query.clone());
    let order = super::listing::ContentOrder::Newest.key_order();
    let rows = fetch_keyset(db, keyset, query, &order).await?;
    Ok((rows, total))
}

/// Whether `me` votes on each item, in one statement.
pub async fn votes_of(
    db: &impl ConnectionTrait,
    me: Uuid,
    ids: &[i32],
) -> ApiResult<Vec<vote::Model>> {
    Ok(vote::Entity::find()
        .filter(vote::Column::UserId.eq(me))
        .filter(vote::Column::ContentId.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// Which of the items `me` has among their favorites, in one statement.
pub async fn favorites_of(db: &impl ConnectionTrait, me: Uuid, ids: &[i32]) -> ApiResult<Vec<i32>> {
    use sea_orm::QuerySelect;
    Ok(favorite::Entity::find()
        .select_only()
        .column(favorite::Column::ContentId)
        .filter(favorite::Column::UserId.eq(me))
        .filter(favorite::Column::ContentId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?)
}
