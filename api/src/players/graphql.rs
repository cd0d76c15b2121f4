//! The social graph over GraphQL: friends, requests, follows, blocks, and each player's
//! standing with the caller, live.

use arena_entity::players::{block, follow, friend};
use async_graphql::{Context, Enum, ID, Object, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::{FollowList, FriendList, FriendState, Standing};
use crate::{
    auth::graphql::{User, parse_uuid},
    bus::{Change, Received},
    graphql::{
        app,
        guards::SignedIn,
        live, load,
        loaders::StandingWith,
        pagination::{IdConnection, Window},
        viewer,
    },
};

/// Where two players stand as friends, seen from the caller.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "FriendState")]
pub enum FriendStatus {
    /// Neither has asked.
    None,
    /// The caller asked; the other has not answered.
    Requested,
    /// The other asked; the caller has not answered.
    RequestReceived,
    /// Friends.
    Friends,
}

/// What stands between the caller and another player. Whether the other blocks the caller
/// is not told.
pub struct Relationship {
    other: Uuid,
    standing: Standing,
}

impl Relationship {
    pub(crate) fn new(other: Uuid, standing: Standing) -> Self {
        Self { other, standing }
    }
}

#[Object]
impl Relationship {
    /// The other player; null once their account is deleted.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.other)).await
    }
    /// As friends.
    async fn friend(&self) -> FriendStatus {
        self.standing.friend.into()
    }
    /// The caller follows them.
    async fn following(&self) -> bool {
        self.standing.following
    }
    /// They follow the caller.
    async fn follows_you(&self) -> bool {
        self.standing.follows_you
    }
    /// The caller blocks them.
    async fn blocked(&self) -> bool {
        self.standing.blocked
    }
}

/// The caller's standing with `other`, through the DataLoader: null for anonymous callers
/// and for the caller themself.
pub(crate) async fn standing_with(
    ctx: &Context<'_>,
    other: Uuid,
) -> async_graphql::Result<Option<Relationship>> {
    let Some(me) = viewer(ctx).user().map(|u| u.id) else {
        return Ok(None);
    };
    if me == other {
        return Ok(None);
    }
    let standing = load(ctx).load_one(StandingWith { me, other }).await?;
    Ok(Some(Relationship::new(other, standing.unwrap_or_default())))
}

/// A player in one of the caller's lists, and since when.
pub struct PlayerLink {
    other: Uuid,
    since: DateTime<Utc>,
}

#[Object]
impl PlayerLink {
    /// The player; null once their account is deleted.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.other)).await
    }
    /// When the link was made (the request sent, the friendship accepted, the follow, the
    /// block).
    async fn since(&self) -> DateTime<Utc> {
        self.since
    }
}

fn friend_link(me: Uuid) -> impl Fn(friend::Model) -> PlayerLink {
    move |row| PlayerLink {
        other: if row.user_id == me {
            row.target_id
        } else {
            row.user_id
        },
        since: row.updated_at,
    }
}

/// Which friend requests.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum RequestDirection {
    /// Sent to the caller.
    Incoming,
    /// Sent by the caller.
    Outgoing,
}

/// Queries of the social graph.
#[derive(Default)]
pub struct SocialQuery;

#[Object]
impl SocialQuery {
    /// The caller's friends, newest friendship first. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn friends(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<PlayerLink>> {
        friends_page(ctx, FriendList::Friends, (after, before, first, last)).await
    }

    /// Friend requests waiting for an answer, newest first. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn friend_requests(
        &self,
        ctx: &Context<'_>,
        direction: RequestDirection,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<PlayerLink>> {
        let list = match direction {
            RequestDirection::Incoming => FriendList::Incoming,
            RequestDirection::Outgoing => FriendList::Outgoing,
        };
        friends_page(ctx, list, (after, before, first, last)).await
    }

    /// The players following a player, newest first. Public; nobody in a block with the
    /// caller is listed, and a player in a block with the caller is `NOT_FOUND`.
    async fn followers(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<PlayerLink>> {
        follows_page(
            ctx,
            &user_id,
            FollowList::Followers,
            (after, before, first, last),
        )
        .await
    }

    /// The players a player follows, newest first. Public, as `followers`.
    async fn following(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<PlayerLink>> {
        follows_page(
            ctx,
            &user_id,
            FollowList::Following,
            (after, before, first, last),
        )
        .await
    }

    /// The players the caller blocks, newest first. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn blocked_players(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<PlayerLink>> {
        let window = Window::parse(after, before, first, last)?;
        let (rows, total) = super::list_blocks(&app(ctx).db, viewer(ctx), window).await?;
        Ok(window.page(
            rows,
            total,
            |row| i64::from(row.id),
            |row: block::Model| PlayerLink {
                other: row.target_id,
                since: row.created_at,
            },
        ))
    }
}

type Slice = (Option<String>, Option<String>, Option<i32>, Option<i32>);

async fn friends_page(
    ctx: &Context<'_>,
    list: FriendList,
    (after, before, first, last): Slice,
) -> async_graphql::Result<IdConnection<PlayerLink>> {
    let window = Window::parse(after, before, first, last)?;
    let me = viewer(ctx).require_user()?.id;
    let (rows, total) = super::list_friends(&app(ctx).db, viewer(ctx), list, window).await?;
    Ok(window.page(rows, total, |row| i64::from(row.id), friend_link(me)))
}

async fn follows_page(
    ctx: &Context<'_>,
    user_id: &ID,
    list: FollowList,
    (after, before, first, last): Slice,
) -> async_graphql::Result<IdConnection<PlayerLink>> {
    let window = Window::parse(after, before, first, last)?;
    let player = parse_uuid(user_id, "userId")?;
    let (rows, total) =
        super::list_follows(&app(ctx).db, viewer(ctx), player, list, window).await?;
    Ok(window.page(
        rows,
        total,
        |row| i64::from(row.id),
        move |row: follow::Model| PlayerLink {
            other: match list {
                FollowList::Followers => row.user_id,
                FollowList::Following => row.target_id,
            },
            since: row.created_at,
        },
    ))
}

/// Mutations of the social graph; each answers the caller's standing with the player after it.
#[derive(Default)]
pub struct SocialMutation;

macro_rules! social_mutations {
    ($($(#[$doc:meta])* $field:ident => $service:ident;)*) => {
        #[Object]
        impl SocialMutation {
            $(
                $(#[$doc])*
                #[graphql(guard = "SignedIn")]
                async fn $field(
                    &self,
                    ctx: &Context<'_>,
                    user_id: ID,
                ) -> async_graphql::Result<Relationship> {
                    let other = parse_uuid(&user_id, "userId")?;
                    let standing = super::$service(app(ctx), viewer(ctx), other).await?;
                    Ok(Relationship::new(other, standing))
                }
            )*
        }
    };
}

social_mutations! {
    /// Asks a player to be friends; when they have asked the caller already, accepts.
    /// `CONFLICT` when asked already or friends, or when the caller blocks them; `FORBIDDEN`
    /// when they do not take the caller's requests. Signed in.
    request_friend => request_friend;
    /// Accepts a player's friend request. `NOT_FOUND` when there is none. Signed in.
    accept_friend => accept_friend;
    /// Declines a player's friend request; they may ask again. Signed in.
    decline_friend => decline_friend;
    /// Withdraws the caller's unanswered request to a player. Signed in.
    cancel_friend_request => cancel_friend_request;
    /// Ends a friendship. Signed in.
    remove_friend => remove_friend;
    /// Follows a player. `CONFLICT` when following already; `FORBIDDEN` when a block stands
    /// between them. Signed in.
    follow => follow;
    /// Stops following a player. Signed in.
    unfollow => unfollow;
    /// Blocks a player: ends the friendship, any friend request and the follows between the
    /// two, and hides each from the other in these lists. Signed in.
    block => block;
    /// Lifts the caller's block on a player; nothing it ended comes back. Signed in.
    unblock => unblock;
}

/// Live changes of the social graph.
#[derive(Default)]
pub struct SocialSubscription;

#[Subscription]
impl SocialSubscription {
    /// The caller's standing with a player each time it changes: a request sent or answered,
    /// a follow, a block. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn relationship_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Relationship>>> {
        let me = viewer(ctx).require_user()?.id;
        let db = app(ctx).db.clone();
        let others = app(ctx)
            .bus
            .subscribe()
            .into_stream()
            .filter_map(move |received| {
                // A listener that lagged cannot tell which pairs it missed; it goes on with
                // the next change (the lists are the record).
                std::future::ready(match received {
                    Received::Change(Change::Relationship { a, b }) if a == me => Some(b),
                    Received::Change(Change::Relationship { a, b }) if b == me => Some(a),
                    _ => None,
                })
            });
        let standings = others
            .then(move |other| {
                let db = db.clone();
                async move {
                    let mut found = super::standings(&db, me, &[other]).await?;
                    Ok::<_, async_graphql::Error>(Relationship::new(
                        other,
                        found.remove(&other).unwrap_or_default(),
                    ))
                }
            })
            .take_until(app(ctx).shutdown.clone().cancelled_owned())
            .boxed();
        Ok(live(ctx, |v| v.require_user().map(drop), standings))
    }
}
