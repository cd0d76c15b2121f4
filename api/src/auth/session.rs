//! Sign-in sessions: login, refresh-token rotation with reuse detection, logout.

use std::net::IpAddr;

use arena_entity::{
    auth::{
        user,
        user_token::{self, TokenType},
    },
    events::platform_event,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::{
    access,
    tokens::{self, REFRESH_TTL},
    viewer::Viewer,
};
use crate::{
    auth::privileges,
    bus::Change,
    context::AppContext,
    error::{ApiError, ApiResult},
};

const WRONG_CREDENTIALS: &str = "wrong username, email or password";

/// A signed-in session: the tokens and who they belong to.
pub struct Session {
    /// Short-lived signed access token.
    pub access_token: String,
    /// When it expires.
    pub access_token_expires_at: DateTime<Utc>,
    /// Opaque, single-use refresh token.
    pub refresh_token: String,
    /// When it expires if unused.
    pub refresh_token_expires_at: DateTime<Utc>,
    /// The account.
    pub user: user::Model,
}

/// Finds a live account by username or email, case-insensitively.
pub async fn find_by_login(
    db: &impl ConnectionTrait,
    login: &str,
) -> ApiResult<Option<user::Model>> {
    let lowered = login.trim().to_lowercase();
    let lower = |col: user::Column| Expr::expr(Func::lower(Expr::col(col)));
    Ok(user::Entity::find()
        .filter(user::Column::DeletedAt.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(lower(user::Column::Username).eq(lowered.clone()))
                .add(lower(user::Column::Email).eq(lowered)),
        )
        .one(db)
        .await?)
}

/// Signs in with username or email and password.
pub async fn login(
    ctx: &AppContext,
    viewer: &Viewer,
    login: &str,
    password: String,
    totp_code: Option<&str>,
) -> ApiResult<Session> {
    let limits = &ctx.auth.limits;
    limits.login_by_address.check(&viewer.ip.to_string())?;
    viewer.refuse_if_banned(None)?;
    if login.len() > 254 || password.len() > 72 {
        return Err(ApiError::Unauthenticated(WRONG_CREDENTIALS));
    }
    ctx.auth.passwords.refuse_if_full()?;
    let account = find_by_login(&ctx.db, login).await?;
    // Keyed by the account, whichever of its names was typed; unknown names by the name.
    let key = match &account {
        Some(account) => account.id.to_string(),
        None => login.trim().to_lowercase(),
    };
    limits.password_by_account.check(&key)?;
    let matched = ctx
        .auth
        .passwords
        .verify(password, account.as_ref().map(|a| a.password.clone()))
        .await?;
    let account = match account {
        Some(account) if matched => account,
        _ => return Err(ApiError::Unauthenticated(WRONG_CREDENTIALS)),
    };
    // Ban state is told only to whoever knows the password.
    refuse_if_account_banned(&ctx.db, account.id, viewer).await?;
    if !account.activated {
        return Err(ApiError::Forbidden);
    }
    super::totp::check_second_factor(&ctx.db, account.id, totp_code).await?;
    let txn = crate::db::begin_write(&ctx.db).await?;
    let now = Utc::now();
    // The first sign-in is the one that finds no earlier: of two at once, one.
    let first = user::Entity::update_many()
        .col_expr(user::Column::LoginAt, Expr::value(Some(now)))
        .filter(user::Column::Id.eq(account.id))
        .filter(user::Column::LoginAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    let mut signed_in: user::ActiveModel = account.into();
    signed_in.login_at = Set(Some(now));
    let account = signed_in.update(&txn).await?;
    // The platform's sign-in event, for quests: in the outbox with the sign-in.
    platform_event::ActiveModel {
        kind: Set("sign_in".into()),
        payload: Set(serde_json::json!({ "userId": account.id, "first": first })),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let session = start_series(ctx, &txn, account, (Uuid::new_v4(), None), viewer.ip).await?;
    txn.commit().await?;
    Ok(session)
}

/// Refuses an account under a full ban (on it or on the caller's address).
async fn refuse_if_account_banned(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    viewer: &Viewer,
) -> ApiResult<()> {
    // The address was checked when the caller was resolved; the in-memory set is not read
    // again here, inside a transaction.
    let mut bans = viewer.address_bans().to_vec();
    bans.extend(access::account_bans(db, user_id).await?);
    match bans.into_iter().find(|ban| ban.privileges.is_none()) {
        Some(ban) => Err(ApiError::Banned {
            reason: ban.reason,
            until: ban.until,
        }),
        None => Ok(()),
    }
}

/// Stores a new refresh token in `series` (after `previous`), issued to the client at `ip`,
/// and signs an access token.
async fn start_series(
    ctx: &AppContext,
    db: &impl ConnectionTrait,
    account: user::Model,
    (series, previous): (Uuid, Option<i64>),
    ip: IpAddr,
) -> ApiResult<Session> {
    let now = Utc::now();
    let (refresh_token, hash) = tokens::new_opaque();
    let refresh_token_expires_at = now + REFRESH_TTL;
    user_token::ActiveModel {
        token: Set(hash),
        token_type: Set(TokenType::Refresh),
        user_id: Set(account.id),
        previous_id: Set(previous),
        series: Set(Some(series)),
        expires_at: Set(Some(refresh_token_expires_at)),
        created_at: Set(now),
        ip: Set(Some(ip.to_string())),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let (access_token, access_token_expires_at) = ctx
        .auth
        .keys
        .issue_access(account.id, series)
        .map_err(|err| ApiError::Internal(err.into()))?;
    Ok(Session {
        access_token,
        access_token_expires_at,
        refresh_token,
        refresh_token_expires_at,
        user: account,
    })
}

/// Exchanges a refresh token for a new pair. A token already exchanged is a sign of theft:
/// the whole series is revoked and the caller refused.
pub async fn refresh(ctx: &AppContext, viewer: &Viewer, presented: &str) -> ApiResult<Session> {
    const INVALID: &str = "the refresh token is not valid";
    viewer.refuse_if_banned(None)?;
    if presented.len() > 128 {
        return Err(ApiError::Unauthenticated(INVALID));
    }
    let Some(token) = user_token::Entity::find()
        .filter(user_token::Column::Token.eq(tokens::hash_opaque(presented)))
        .filter(user_token::Column::TokenType.eq(TokenType::Refresh))
        .one(&ctx.db)
        .await?
    else {
        return Err(ApiError::Unauthenticated(INVALID));
    };
    let series = token.series.ok_or(ApiError::Unauthenticated(INVALID))?;
    if token.revoked_at.is_some() {
        return Err(ApiError::Unauthenticated(
            "the session has ended; sign in again",
        ));
    }
    if token.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::Unauthenticated(
            "the refresh token has expired; sign in again",
        ));
    }
    let txn = crate::db::begin_write(&ctx.db).await?;
    // Exactly one exchange of a token wins: the row is claimed only while unused.
    let claimed = user_token::Entity::update_many()
        .col_expr(user_token::Column::UsedAt, Expr::value(Some(Utc::now())))
        .filter(user_token::Column::Id.eq(token.id))
        .filter(user_token::Column::UsedAt.is_null())
        .filter(user_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        txn.rollback().await?;
        revoke_series(&ctx.db, series).await?;
        ctx.bus
            .publish(Change::Access {
                user_id: token.user_id,
            })
            .await;
        tracing::warn!(user = %token.user_id, %series, "refresh token reused; series revoked");
        return Err(ApiError::Unauthenticated(
            "the refresh token was already used; every token of this sign-in is revoked",
        ));
    }
    let account = user::Entity::find_by_id(token.user_id)
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::Activated.eq(true))
        .one(&txn)
        .await?
        .ok_or(ApiError::Unauthenticated("the account is no longer active"))?;
    refuse_if_account_banned(&txn, account.id, viewer).await?;
    let session = start_series(ctx, &txn, account, (series, Some(token.id)), viewer.ip).await?;
    txn.commit().await?;
    Ok(session)
}

/// Revokes every token of one sign-in.
pub async fn revoke_series(db: &impl ConnectionTrait, series: Uuid) -> ApiResult<u64> {
    Ok(user_token::Entity::update_many()
        .col_expr(user_token::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(user_token::Column::Series.eq(series))
        .filter(user_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// Revokes every sign-in of `user_id`; returns how many tokens were revoked.
pub async fn revoke_all(db: &impl ConnectionTrait, user_id: Uuid) -> ApiResult<u64> {
    Ok(user_token::Entity::update_many()
        .col_expr(user_token::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(user_token::Column::UserId.eq(user_id))
        .filter(user_token::Column::TokenType.eq(TokenType::Refresh))
        .filter(user_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// Ends the caller's own sign-in.
pub async fn logout(ctx: &AppContext, viewer: &Viewer) -> ApiResult<()> {
    let me = viewer.require_user()?;
    ctx.write(async |db, changes| {
        revoke_series(db, me.series).await?;
        changes.push(Change::Access { user_id: me.id });
        Ok(())
    })
    .await
}

/// Ends every sign-in of the caller.
pub async fn logout_everywhere(ctx: &AppContext, viewer: &Viewer) -> ApiResult<()> {
    let me = viewer.require_user()?;
    ctx.write(async |db, changes| {
        revoke_all(db, me.id).await?;
        changes.push(Change::Access { user_id: me.id });
        Ok(())
    })
    .await
}

/// One sign-in that has not ended.
pub struct ActiveSignIn {
    /// The refresh series.
    pub series: Uuid,
    /// When it began.
    pub started_at: DateTime<Utc>,
    /// When its tokens were last exchanged.
    pub last_refreshed_at: DateTime<Utc>,
    /// When it ends unless refreshed.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A user's sign-ins still in force, newest first. The user themself, or `user.read_private`.
pub async fn list_active(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    user_id: Uuid,
) -> ApiResult<Vec<ActiveSignIn>> {
    viewer.require_user()?;
    if !viewer.is_self_or(user_id, privileges::USER_READ_PRIVATE) {
        return Err(ApiError::Forbidden);
    }
    let tokens = user_token::Entity::find()
        .filter(user_token::Column::UserId.eq(user_id))
        .filter(user_token::Column::TokenType.eq(TokenType::Refresh))
        .filter(user_token::Column::RevokedAt.is_null())
        .all(db)
        .await?;
    let now = Utc::now();
    let mut by_series: std::collections::BTreeMap<Uuid, ActiveSignIn> =
        std::collections::BTreeMap::new();
    for token in &tokens {
        let Some(series) = token.series else { continue };
        let entry = by_series.entry(series).or_insert(ActiveSignIn {
            series,
            started_at: token.created_at,
            last_refreshed_at: token.created_at,
            expires_at: None,
        });
        entry.started_at = Ord::min(entry.started_at, token.created_at);
        entry.last_refreshed_at = Ord::max(entry.last_refreshed_at, token.created_at);
        if token.used_at.is_none() {
            entry.expires_at = token.expires_at;
        }
    }
    // A sign-in is in force while its unused refresh token has not expired.
    let mut active: Vec<ActiveSignIn> = by_series
        .into_values()
        .filter(|s| s.expires_at.is_some_and(|at| at > now))
        .collect();
    active.sort_by_key(|s| std::cmp::Reverse(s.started_at));
    Ok(active)
}
