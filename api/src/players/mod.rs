//! The `players` domain's social graph: friend requests and friendships, follows and blocks.
//!
//! Every write locks the two players' account rows in ascending id order first, so two writes
//! about the same pair (a request crossing another, a block racing a request) run one after
//! the other and each sees what the other did. A block removes the friendship, any request and
//! the follows between the two, and while it stands neither can ask, follow or see the other
//! in these lists.

pub mod graphql;

use std::collections::HashMap;

use arena_entity::{
    auth::user,
    players::{block, follow, friend},
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, ModelTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Select,
    sea_query::{ExprTrait, Query},
};
use uuid::Uuid;

use crate::{
    auth::viewer::Viewer,
    bus::{Change, Changes},
    context::AppContext,
    db::lock_rows,
    error::{ApiError, ApiResult, OnViolation},
    graphql::pagination::{TotalCount, Window},
};

/// Where two players stand as friends, seen from one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FriendState {
    /// Neither has asked.
    #[default]
    None,
    /// This player asked; the other has not answered.
    Requested,
    /// The other asked; this player has not answered.
    RequestReceived,
    /// Friends.
    Friends,
}

/// Everything between the viewer and another player that the viewer may know. Whether the
/// other blocks the viewer is not told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// As friends.
    pub friend: FriendState,
    /// The viewer follows them.
    pub following: bool,
    /// They follow the viewer.
    pub follows_you: bool,
    /// The viewer blocks them.
    pub blocked: bool,
}

/// One side of a friends row: who `me` is to it.
fn friend_state(row: &friend::Model, me: Uuid) -> FriendState {
    match (row.pending, row.user_id == me) {
        (false, _) => FriendState::Friends,
        (true, true) => FriendState::Requested,
        (true, false) => FriendState::RequestReceived,
    }
}

/// Rows of a pair table between `me` and any of `others`, in either direction.
fn either_way<C: ColumnTrait>(user: C, target: C, me: Uuid, others: &[Uuid]) -> Condition {
    let others = || others.iter().copied();
    Condition::any()
        .add(user.eq(me).and(target.is_in(others())))
        .add(target.eq(me).and(user.is_in(others())))
}

/// Rows of a pair table between `a` and `b`, in either direction.
fn between<C: ColumnTrait>(user: C, target: C, a: Uuid, b: Uuid) -> Condition {
    either_way(user, target, a, &[b])
}

/// The caller, and the other player, who must not be the caller.
fn pair(viewer: &Viewer, other: Uuid, what: &str) -> ApiResult<(Uuid, Uuid)> {
    let me = viewer.require_user()?.id;
    if me == other {
        return Err(ApiError::bad_input(
            "userId",
            format!("you cannot {what} yourself"),
        ));
    }
    Ok((me, other))
}

/// Locks both accounts, in ascending id order; `NOT_FOUND` when the other has no live account.
async fn lock_pair(db: &impl ConnectionTrait, me: Uuid, other: Uuid) -> ApiResult<()> {
    let locked = lock_rows::<user::Entity, _>(db, user::Column::Id, [me, other]).await?;
    if !locked
        .iter()
        .any(|u| u.id == other && u.deleted_at.is_none())
    {
        return Err(ApiError::NotFound("user"));
    }
    Ok(())
}

/// Refuses when a block stands between the two: the caller's own is named (they can lift
/// it); the other's is a plain refusal.
async fn refuse_if_blocked(db: &impl ConnectionTrait, me: Uuid, other: Uuid) -> ApiResult<()> {
    let blocks = blocks_between(db, me, other).await?;
    if blocks.iter().any(|b| b.user_id == me) {
        return Err(ApiError::Conflict(
            "you block this player; unblock them first".into(),
        ));
    }
    if !blocks.is_empty() {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

async fn friends_row(
    db: &impl ConnectionTrait,
    a: Uuid,
    b: Uuid,
) -> ApiResult<Option<friend::Model>> {
    Ok(friend::Entity::find()
        .filter(between(
            friend::Column::UserId,
            friend::Column::TargetId,
            a,
            b,
        ))
        .one(db)
        .await?)
}

fn changed(changes: &mut Changes, me: Uuid, other: Uuid) {
    changes.push(Change::Relationship { a: me, b: other });
}

/// Runs `body` in a write transaction and answers the caller's standing with `other` after it.
async fn write_pair(
    ctx: &AppContext,
    viewer: &Viewer,
    other: Uuid,
    body: impl AsyncFnOnce(&sea_orm::DatabaseTransaction, &mut Changes) -> ApiResult<()>,
) -> ApiResult<Standing> {
    ctx.write(async |db, changes| {
        body(db, changes).await?;
        let me = viewer.require_user()?.id;
        Ok(standings(db, me, &[other])
            .await?
            .remove(&other)
            .unwrap_or_default())
    })
    .await
}

macro_rules! wrapper {
    ($(#[$doc:meta])* $name:ident => $body:ident) => {
        $(#[$doc])*
        pub async fn $name(ctx: &AppContext, viewer: &Viewer, other: Uuid) -> ApiResult<Standing> {
            write_pair(ctx, viewer, other, async |db, changes| {
                $body(db, viewer, other, changes).await
            })
            .await
        }
    };
}

/// Asks `other` to be friends; see [`request_friend_in`].
pub async fn request_friend(ctx: &AppContext, viewer: &Viewer, other: Uuid) -> ApiResult<Standing> {
    let most = u64::from(ctx.settings.max_pending_friend_requests);
    write_pair(ctx, viewer, other, async |db, changes| {
        request_friend_in(db, viewer, other, most, changes).await
    })
    .await
}
wrapper!(
    /// Accepts `other`'s request; see [`accept_friend_in`].
    accept_friend => accept_friend_in
);
wrapper!(
    /// Declines `other`'s request; see [`decline_friend_in`].
    decline_friend => decline_friend_in
);
wrapper!(
    /// Withdraws the request to `other`; see [`cancel_friend_request_in`].
    cancel_friend_request => cancel_friend_request_in
);
wrapper!(
    /// Ends the friendship with `other`; see [`remove_friend_in`].
    remove_friend => remove_friend_in
);
wrapper!(
    /// Follows `other`; see [`follow_in`].
    follow => follow_in
);
wrapper!(
    /// Stops following `other`; see [`unfollow_in`].
    unfollow => unfollow_in
);
wrapper!(
    /// Blocks `other`; see [`block_in`].
    block => block_in
);
wrapper!(
    /// Lifts the caller's block on `other`; see [`unblock_in`].
    unblock => unblock_in
);

/// Asks `other` to be friends. When `other` has already asked the caller, this accepts
/// instead: two requests crossing make a friendship, not a conflict. A caller with `most`
/// unanswered requests out is refused; the lock on their account keeps the count exact.
pub async fn request_friend_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    other: Uuid,
    most: u64,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (me, other) = pair(viewer, other, "befriend")?;
    lock_pair(db, me, other).await?;
    refuse_if_blocked(db, me, other).await?;
    match friends_row(db, me, other).await? {
        None => {
            let out = friend::Entity::find()
                .filter(friend::Column::UserId.eq(me))
                .filter(friend::Column::Pending.eq(true))
                .count(db)
                .await?;
            if out >= most {
                return Err(ApiError::Conflict(format!(
                    "you have {out} unanswered friend requests; withdraw some or wait for answers"
                )));
            }
            let now = Utc::now();
            friend::ActiveModel {
                user_id: Set(me),
                target_id: Set(other),
                pending: Set(true),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .on_unique("a friend request between you exists already")?;
        }
        Some(row) => match friend_state(&row, me) {
            FriendState::RequestReceived => befriend(db, row).await?,
            FriendState::Requested => {
                return Err(ApiError::Conflict(
                    "you have asked this player already".into(),
                ));
            }
            FriendState::Friends | FriendState::None => {
                return Err(ApiError::Conflict("you are friends already".into()));
            }
        },
    }
    changed(changes, me, other);
    Ok(())
}

async fn befriend(db: &impl ConnectionTrait, row: friend::Model) -> ApiResult<()> {
    let mut accepted: friend::ActiveModel = row.into();
    accepted.pending = Set(false);
    accepted.updated_at = Set(Utc::now());
    accepted.update(db).await?;
    Ok(())
}

/// The friends row between the caller and `other` when it stands as `state` from the
/// caller's side, read after locking both accounts; `NOT_FOUND` naming `what` otherwise.
async fn locked_row_in(
    db: &impl ConnectionTrait,
    (me, other): (Uuid, Uuid),
    state: FriendState,
    what: &'static str,
) -> ApiResult<friend::Model> {
    lock_pair(db, me, other).await?;
    friends_row(db, me, other)
        .await?
        .filter(|row| friend_state(row, me) == state)
        .ok_or(ApiError::NotFound(what))
}

/// Accepts the request `other` sent the caller.
pub async fn accept_friend_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    other: Uuid,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (me, other) = pair(viewer, other, "befriend")?;
    let row = locked_row_in(
        db,
        (me, other),
        FriendState::RequestReceived,
        "friend request",
    )
    .await?;
    befriend(db, row).await?;
    changed(changes, me, other);
    Ok(())
}

/// Declines the request `other` sent the caller; they may ask again.
pub async fn decline_friend_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    other: Uuid,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (me, other) = pair(viewer, other, "befriend")?;
    locked_row_in(
        db,
        (me, other),
        FriendState::RequestReceived,
        "friend request",
    )
    .await?
    .delete(db)
    .await?;
    changed(changes, me, other);
    Ok(())
}

/// Withdraws the caller's unanswered request to `other`.
pub async fn cancel_friend_request_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    other: Uuid,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (me, other) = pair(viewer, other, "befriend")?;
    locked_row_in(db, (me, other), FriendState::Requested, "friend request")
        .await?
        .delete(db)
        .await?;
    changed(changes, me, other);
    Ok(())
}

/// Ends the caller's friendship with `other`.
pub async fn remove_friend_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    other: Uuid,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (me, other) = pair(viewer, other, "unfriend")?;
    locked_row_in(db, (me, other), FriendState::Friends, "friend")
        .await?
        .delete(db)
        .await?;
    changed(changes, me, other);
    Ok(())
}

/// Inserts a `follows` or `blocks` row from `me` to `other`; `CONFLICT` saying `taken` when
/// there is one.
macro_rules! insert_edge {
    ($table:ident, $db:expr, $me:expr, $other:expr, $taken:expr) => {{
        let now = Utc::now();
        $table::ActiveModel {
            user_id: Set($me),
            target_id: Set($other),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert($db)
        .await
        .on_unique($taken)
    }};
}

/// Deletes the row from `me` to `other` of a pair table; `NOT_FOUND` naming `what` when none.
async fn delete_edge<E: EntityTrait>(
    db: &impl ConnectionTrait,
    user: E::Column,
    target: E::Column,
    (me, other): (Uuid, Uuid),
    what: &'static str,
) -> ApiResult<()> {
    let gone = E::delete_many()
        .filter(user.eq(me))
        .filter(target.eq(other))
        .exec(db)
        .await?;
    if gone.rows_affected == 0 {
        return Err(ApiError::NotFound(what));
    }
    Ok(())
}

/// Follows `other`.
pub async fn follow_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    other: Uuid,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (me, other) = pair(viewer, other, "follow")?;
    lock_pair(db, me, other).await?;
    refuse_if_blocked(db, me, other).await?;
    insert_edge!(follow, db, me, other, "you follow this player already")?;
    changed(changes, me, other);
    Ok(())
}

/// Stops following `other`.
pub async fn unfollow_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    other: Uuid,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (me, other) = pair(viewer, other, "unfollow")?;
    delete_edge::<follow::Entity>(
        db,
        follow::Column::UserId,
        follow::Column::TargetId,
        (me, other),
        "follow",
    )
    .await?;
    changed(changes, me, other);
    Ok(())
}

/// Blocks `other`: ends the friendship, any request and the follows between the two.
pub async fn block_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    other: Uuid,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (me, other) = pair(viewer, other, "block")?;
    lock_pair(db, me, other).await?;
    insert_edge!(block, db, me, other, "you block this player already")?;
    friend::Entity::delete_many()
        .filter(between(
            friend::Column::UserId,
            friend::Column::TargetId,
            me,
            other,
        ))
        .exec(db)
        .await?;
    follow::Entity::delete_many()
        .filter(between(
            follow::Column::UserId,
            follow::Column::TargetId,
            me,
            other,
        ))
        .exec(db)
        .await?;
    changed(changes, me, other);
    Ok(())
}

/// Lifts the caller's block on `other`. Nothing that the block ended comes back.
pub async fn unblock_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    other: Uuid,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (me, other) = pair(viewer, other, "unblock")?;
    lock_pair(db, me, other).await?;
    delete_edge::<block::Entity>(
        db,
        block::Column::UserId,
        block::Column::TargetId,
        (me, other),
        "block",
    )
    .await?;
    changed(changes, me, other);
    Ok(())
}

/// Whether a block stands between `a` and `b`, either way: for every domain that shows one
/// player to another (comments, server selection, trades).
pub async fn blocked_between(db: &impl ConnectionTrait, a: Uuid, b: Uuid) -> ApiResult<bool> {
    Ok(!blocks_between(db, a, b).await?.is_empty())
}

/// The blocks between `a` and `b`, either way (at most two).
async fn blocks_between(
    db: &impl ConnectionTrait,
    a: Uuid,
    b: Uuid,
) -> ApiResult<Vec<block::Model>> {
    Ok(block::Entity::find()
        .filter(between(
            block::Column::UserId,
            block::Column::TargetId,
            a,
            b,
        ))
        .all(db)
        .await?)
}

/// Whether `to` is a live player `from` may deal with: `NOT_FOUND` when `to` does not exist
/// (or was deleted), `FORBIDDEN` across a block either way. One statement: money and gifts
/// check it on every request.
pub async fn check_reachable(db: &impl ConnectionTrait, from: Uuid, to: Uuid) -> ApiResult<()> {
    let found = db
        .query_one_raw(crate::db::raw(
            db,
            "SELECT EXISTS (SELECT 1 FROM blocks
                             WHERE (user_id = $1 AND target_id = $2)
                                OR (user_id = $2 AND target_id = $1)) AS blocked
               FROM users WHERE id = $2 AND deleted_at IS NULL",
            vec![from.into(), to.into()],
        ))
        .await?;
    match found {
        None => Err(ApiError::NotFound("player")),
        Some(row) if row.try_get::<bool>("", "blocked")? => Err(ApiError::Forbidden),
        Some(_) => Ok(()),
    }
}

/// Whether `a` and `b` are friends: for `friends` privacy.
pub async fn are_friends(db: &impl ConnectionTrait, a: Uuid, b: Uuid) -> ApiResult<bool> {
    Ok(friends_row(db, a, b).await?.is_some_and(|row| !row.pending))
}

/// `me`'s standing with each of `others`, in three statements whatever their number.
pub async fn standings(
    db: &impl ConnectionTrait,
    me: Uuid,
    others: &[Uuid],
) -> ApiResult<HashMap<Uuid, Standing>> {
    let mut found: HashMap<Uuid, Standing> = others
        .iter()
        .map(|&other| (other, Standing::default()))
        .collect();
    if others.is_empty() {
        return Ok(found);
    }
    let friends = friend::Entity::find()
        .filter(either_way(
            friend::Column::UserId,
            friend::Column::TargetId,
            me,
            others,
        ))
        .all(db)
        .await?;
    for row in friends {
        let other = if row.user_id == me {
            row.target_id
        } else {
            row.user_id
        };
        if let Some(standing) = found.get_mut(&other) {
            standing.friend = friend_state(&row, me);
        }
    }
    let follows = follow::Entity::find()
        .filter(either_way(
            follow::Column::UserId,
            follow::Column::TargetId,
            me,
            others,
        ))
        .all(db)
        .await?;
    for row in follows {
        if row.user_id == me {
            if let Some(standing) = found.get_mut(&row.target_id) {
                standing.following = true;
            }
        } else if let Some(standing) = found.get_mut(&row.user_id) {
            standing.follows_you = true;
        }
    }
    let blocked: Vec<Uuid> = block::Entity::find()
        .select_only()
        .column(block::Column::TargetId)
        .filter(block::Column::UserId.eq(me))
        .filter(block::Column::TargetId.is_in(others.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    for other in blocked {
        if let Some(standing) = found.get_mut(&other) {
            standing.blocked = true;
        }
    }
    Ok(found)
}

/// Which friends rows a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FriendList {
    /// Accepted, either way.
    Friends,
    /// Requests others sent the caller.
    Incoming,
    /// Requests the caller sent.
    Outgoing,
}

/// The caller's friends or requests, newest first.
pub async fn list_friends(
    db: &DatabaseConnection,
    viewer: &Viewer,
    list: FriendList,
    window: Window,
) -> ApiResult<(Vec<friend::Model>, TotalCount)> {
    let me = viewer.require_user()?.id;
    let matching = match list {
        FriendList::Friends => Condition::all().add(friend::Column::Pending.eq(false)).add(
            Condition::any()
                .add(friend::Column::UserId.eq(me))
                .add(friend::Column::TargetId.eq(me)),
        ),
        FriendList::Incoming => Condition::all()
            .add(friend::Column::Pending.eq(true))
            .add(friend::Column::TargetId.eq(me)),
        FriendList::Outgoing => Condition::all()
            .add(friend::Column::Pending.eq(true))
            .add(friend::Column::UserId.eq(me)),
    };
    page(
        db,
        friend::Entity::find().filter(matching),
        friend::Column::Id,
        window,
    )
    .await
}

/// Whose follows a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowList {
    /// Those following the player.
    Followers,
    /// Those the player follows.
    Following,
}

/// A player's followers or the players they follow, newest first. Public; a player in a
/// block with the caller (either way) is `NOT_FOUND`, and the caller sees nobody in a block
/// with them in the list.
pub async fn list_follows(
    db: &DatabaseConnection,
    viewer: &Viewer,
    player: Uuid,
    list: FollowList,
    window: Window,
) -> ApiResult<(Vec<follow::Model>, TotalCount)> {
    if crate::auth::find_user(db, player).await?.is_none() {
        return Err(ApiError::NotFound("user"));
    }
    let (owner, shown) = match list {
        FollowList::Followers => (follow::Column::TargetId, follow::Column::UserId),
        FollowList::Following => (follow::Column::UserId, follow::Column::TargetId),
    };
    let mut query = follow::Entity::find().filter(owner.eq(player));
    if let Some(me) = viewer.user().map(|u| u.id) {
        if me != player && blocked_between(db, me, player).await? {
            return Err(ApiError::NotFound("user"));
        }
        query = query.filter(hidden_from(shown, me));
    }
    page(db, query, follow::Column::Id, window).await
}

/// Rows whose `shown` player is in no block with `me`.
pub(crate) fn hidden_from(shown: impl ColumnTrait, me: Uuid) -> Condition {
    let blocks = |pick: block::Column, by: block::Column| {
        Query::select()
            .column(pick)
            .from(block::Entity)
            .and_where(by.eq(me))
            .to_owned()
    };
    Condition::all()
        .add(shown.not_in_subquery(blocks(block::Column::TargetId, block::Column::UserId)))
        .add(shown.not_in_subquery(blocks(block::Column::UserId, block::Column::TargetId)))
}

/// The players the caller blocks, newest first.
pub async fn list_blocks(
    db: &DatabaseConnection,
    viewer: &Viewer,
    window: Window,
) -> ApiResult<(Vec<block::Model>, TotalCount)> {
    let me = viewer.require_user()?.id;
    let query = block::Entity::find().filter(block::Column::UserId.eq(me));
    page(db, query, block::Column::Id, window).await
}

async fn page<E>(
    db: &DatabaseConnection,
    query: Select<E>,
    id: E::Column,
    window: Window,
) -> ApiResult<(Vec<E::Model>, TotalCount)>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let total = TotalCount::of(db, query.clone());
    let rows = window.select(query, id).all(db).await?;
    Ok((rows, total))
}
