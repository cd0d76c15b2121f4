//! Account lifecycle by single-use tokens sent by mail: email verification and reactivation
//! (`activation`), password reset (`password`), deactivation (`deactivation`) and data export
//! (`gdpr`). Tokens expire, work once, and are stored only as hashes.

use arena_entity::{
    audit::audit_entry,
    auth::{
        ban, user,
        user_token::{self, TokenType},
    },
};
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    inputs::{Password, Username},
    session, tokens,
    viewer::Viewer,
};
use crate::{
    bus::Change,
    context::AppContext,
    error::{ApiError, ApiResult},
    mail,
};

const INVALID: &str = "the code is not valid or has expired";

/// How long the longest-lived mailed code works; mail older than this carries none that do.
pub const LONGEST_CODE_LIFE: Duration = Duration::days(2);

fn ttl(kind: TokenType) -> Duration {
    match kind {
        TokenType::Password | TokenType::Deactivation => Duration::hours(1),
        _ => LONGEST_CODE_LIFE,
    }
}

/// Issues a token of `kind` for `account` (earlier unused ones of the kind stop working)
/// and queues the mail that carries it, both in `txn`.
async fn issue_and_mail(
    txn: &impl ConnectionTrait,
    account: &user::Model,
    kind: TokenType,
    subject: &str,
    what: &str,
    mutation: &str,
) -> ApiResult<()> {
    user_token::Entity::update_many()
        .col_expr(user_token::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(user_token::Column::UserId.eq(account.id))
        .filter(user_token::Column::TokenType.eq(kind))
        .filter(user_token::Column::UsedAt.is_null())
        .filter(user_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    let (plain, hash) = tokens::new_opaque();
    let now = Utc::now();
    let expires_at = now + ttl(kind);
    user_token::ActiveModel {
        token: Set(hash),
        token_type: Set(kind),
        user_id: Set(account.id),
        expires_at: Set(Some(expires_at)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let body = format!(
        "Hello {name},\n\n{what}\n\nYour code: {plain}\n\nUse it with `{mutation}` before {expires}.\n\
         If you did not ask for this, ignore this message.\n",
        name = account.display_name,
        expires = expires_at.to_rfc3339(),
    );
    mail::enqueue(txn, &account.email, subject, body).await
}

/// Uses up a token of `kind`: exactly one use succeeds. Returns its owner.
async fn consume(txn: &impl ConnectionTrait, plain: &str, kind: TokenType) -> ApiResult<Uuid> {
    let token = unexpired(txn, plain, kind).await?;
    claim(txn, &token).await?;
    Ok(token.user_id)
}

/// The unexpired code `plain` of `kind` (used or not: [`claim`] decides that).
async fn unexpired(
    db: &impl ConnectionTrait,
    plain: &str,
    kind: TokenType,
) -> ApiResult<user_token::Model> {
    let refuse = || ApiError::bad_input("token", INVALID);
    if plain.len() > 128 {
        return Err(refuse());
    }
    let token = user_token::Entity::find()
        .filter(user_token::Column::Token.eq(tokens::hash_opaque(plain)))
        .filter(user_token::Column::TokenType.eq(kind))
        .one(db)
        .await?
        .ok_or_else(refuse)?;
    if token.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(refuse());
    }
    Ok(token)
}

/// Marks `token` used; refuses when it was used or revoked already (by a racing request too).
async fn claim(txn: &impl ConnectionTrait, token: &user_token::Model) -> ApiResult<()> {
    let refuse = || ApiError::bad_input("token", INVALID);
    let claimed = user_token::Entity::update_many()
        .col_expr(user_token::Column::UsedAt, Expr::value(Some(Utc::now())))
        .filter(user_token::Column::Id.eq(token.id))
        .filter(user_token::Column::UsedAt.is_null())
        .filter(user_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        return Err(refuse());
    }
    Ok(())
}

async fn live_account(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<user::Model> {
    super::find_user(db, id)
        .await?
        .ok_or_else(|| ApiError::bad_input("token", INVALID))
}

async fn account_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> ApiResult<Option<user::Model>> {
    let found = session::find_by_login(db, email).await?;
    Ok(found.filter(|u| u.email.eq_ignore_ascii_case(email.trim())))
}

/// Mails `account` a code of `kind`, in one transaction with the token.
async fn mail_code(
    ctx: &AppContext,
    account: &user::Model,
    kind: TokenType,
    subject: &str,
    what: &str,
    mutation: &str,
) -> ApiResult<()> {
    ctx.write(async |db, _| {
        issue_and_mail(db, account, kind, subject, what, mutation).await?;
        Ok(())
    })
    .await
}

/// Mails the caller a code that verifies their email address.
pub async fn request_email_verification(ctx: &AppContext, viewer: &Viewer) -> ApiResult<()> {
    let me = super::find_me(ctx, viewer).await?;
    if me.verified {
        return Err(ApiError::Conflict(
            "the email address is already verified".into(),
        ));
    }
    mail_code(
        ctx,
        &me,
        TokenType::Activation,
        "Verify your email address",
        "Verify your email address for Arena.",
        "activateAccount",
    )
    .await
}

/// Mails a reactivation code to a deactivated account's address. Answers the same whether
/// or not such an account exists.
pub async fn request_reactivation(ctx: &AppContext, viewer: &Viewer, email: &str) -> ApiResult<()> {
    viewer.refuse_if_banned(None)?;
    ctx.auth
        .limits
        .register_by_address
        .check(&viewer.ip.to_string())?;
    ctx.write(async |db, _| {
        if let Some(account) = account_by_email(db, email).await?.filter(|a| !a.activated) {
            issue_and_mail(
                db,
                &account,
                TokenType::Activation,
                "Reactivate your account",
                "Reactivate your Arena account.",
                "activateAccount",
            )
            .await?;
        }
        Ok(())
    })
    .await
}

/// Uses an activation code: the address is verified and the account active.
pub async fn activate(ctx: &AppContext, viewer: &Viewer, token: &str) -> ApiResult<user::Model> {
    viewer.refuse_if_banned(None)?;
    ctx.write(async |db, _| {
        let account = live_account(db, consume(db, token, TokenType::Activation).await?).await?;
        let mut active: user::ActiveModel = account.into();
        active.verified = Set(true);
        active.activated = Set(true);
        active.updated_at = Set(Utc::now());
        let account = active.update(db).await?;
        Ok(account)
    })
    .await
}

/// Mails a password-reset code. Answers the same whether or not the address is known.
pub async fn request_password_reset(
    ctx: &AppContext,
    viewer: &Viewer,
    email: &str,
) -> ApiResult<()> {
    viewer.refuse_if_banned(None)?;
    ctx.auth
        .limits
        .login_by_address
        .check(&viewer.ip.to_string())?;
    ctx.write(async |db, _| {
        if let Some(account) = account_by_email(db, email).await? {
            issue_and_mail(
                db,
                &account,
                TokenType::Password,
                "Reset your password",
                "Someone asked to reset your Arena password.",
                "resetPassword",
            )
            .await?;
        }
        Ok(())
    })
    .await
}

/// Uses a reset code to set a new password; every sign-in ends.
pub async fn reset_password(
    ctx: &AppContext,
    viewer: &Viewer,
    token: &str,
    new_password: &str,
) -> ApiResult<()> {
    viewer.refuse_if_banned(None)?;
    let code = unexpired(&ctx.db, token, TokenType::Password).await?;
    let account = live_account(&ctx.db, code.user_id).await?;
    let new = Password::parse(new_password, &Username::parse(&account.username)?)?;
    // Hashed before the transaction: bcrypt never holds a write lock.
    let hash = ctx.auth.passwords.hash(new.expose().to_owned()).await?;
    ctx.write(async |db, changes| {
        claim(db, &code).await?;
        let user_id = account.id;
        super::account::store_password(db, account, hash).await?;
        session::revoke_all(db, user_id).await?;
        changes.push(Change::Access { user_id });
        Ok(())
    })
    .await
}

/// Mails the caller a code that deactivates their account.
pub async fn request_deactivation(ctx: &AppContext, viewer: &Viewer) -> ApiResult<()> {
    let me = super::find_me(ctx, viewer).await?;
    mail_code(
        ctx,
        &me,
        TokenType::Deactivation,
        "Deactivate your account",
        "Someone asked to deactivate your Arena account.",
        "deactivateAccount",
    )
    .await
}

/// Uses a deactivation code: the account can no longer sign in until reactivated.
pub async fn deactivate(ctx: &AppContext, viewer: &Viewer, token: &str) -> ApiResult<()> {
    viewer.refuse_if_banned(None)?;
    ctx.write(async |db, changes| {
        let account = live_account(db, consume(db, token, TokenType::Deactivation).await?).await?;
        let user_id = account.id;
        let mut inactive: user::ActiveModel = account.into();
        inactive.activated = Set(false);
        inactive.updated_at = Set(Utc::now());
        inactive.update(db).await?;
        session::revoke_all(db, user_id).await?;
        changes.push(Change::Access { user_id });
        Ok(())
    })
    .await
}

/// Mails the caller a code that fetches everything Arena holds about them.
pub async fn request_data_export(ctx: &AppContext, viewer: &Viewer) -> ApiResult<()> {
    let me = super::find_me(ctx, viewer).await?;
    mail_code(
        ctx,
        &me,
        TokenType::Gdpr,
        "Your data export",
        "Here is the code for the export of your Arena data.",
        "exportData",
    )
    .await
}

/// Uses an export code: everything Arena holds about its owner, as JSON. Password hashes
/// and token hashes are secrets of the server, not data about the person, and are left out.
pub async fn export_data(ctx: &AppContext, viewer: &Viewer, token: &str) -> ApiResult<Value> {
    viewer.refuse_if_banned(None)?;
    ctx.write(async |db, _| {
        let account = live_account(db, consume(db, token, TokenType::Gdpr).await?).await?;
        let id = account.id;
        let tokens: Vec<Value> = user_token::Entity::find()
            .filter(user_token::Column::UserId.eq(id))
            .order_by_asc(user_token::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|t| json!({ "type": t.token_type.to_value(), "createdAt": t.created_at, "expiresAt": t.expires_at, "usedAt": t.used_at, "revokedAt": t.revoked_at }))
            .collect();
        let bans: Vec<Value> = ban::Entity::find()
            .filter(ban::Column::UserId.eq(id))
            .all(db)
            .await?
            .into_iter()
            .map(|b| json!({ "reason": b.reason, "createdAt": b.created_at, "expiresAt": b.expires_at, "liftedAt": b.lifted_at }))
            .collect();
        let audit: Vec<Value> = audit_entry::Entity::find()
            .filter(
                Condition::any()
                    .add(audit_entry::Column::ActorId.eq(id))
                    .add(audit_entry::Column::TargetId.eq(id.to_string())),
            )
            .order_by_asc(audit_entry::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|a| json!({ "action": a.action, "byYou": a.actor_id == Some(id), "reason": a.reason, "details": a.details, "at": a.created_at }))
            .collect();
        let roles = super::roles::user_roles(db, id).await?;
        Ok(json!({
            "account": {
                "id": account.id,
                "username": account.username,
                "email": account.email,
                "phone": account.phone,
                "country": account.country,
                "language": account.language,
                "displayName": account.display_name,
                "verified": account.verified,
                "activated": account.activated,
                "loginAt": account.login_at,
                "createdAt": account.created_at,
                "updatedAt": account.updated_at,
            },
            "roles": roles,
            "tokens": tokens,
            "bans": bans,
            "audit": audit,
            "exportedAt": Utc::now(),
        }))
    })
    .await
}

/// Deletes the caller's account after checking the password: it is kept, marked deleted,
/// so history stays; the name stays taken and every sign-in ends.
pub async fn delete_account(ctx: &AppContext, viewer: &Viewer, password: String) -> ApiResult<()> {
    let me = super::find_me(ctx, viewer).await?;
    if !ctx.auth.check_password(&me, password).await? {
        return Err(ApiError::bad_input("password", "the password is wrong"));
    }
    ctx.write(async |db, changes| {
        let user_id = me.id;
        let mut deleted: user::ActiveModel = me.into();
        deleted.deleted_at = Set(Some(Utc::now()));
        deleted.update(db).await?;
        session::revoke_all(db, user_id).await?;
        changes.push(Change::Access { user_id });
        Ok(())
    })
    .await
}
