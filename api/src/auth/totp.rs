//! Two-factor sign-in with TOTP (RFC 6238) and single-use recovery codes. The TOTP secret
//! must be read back to check codes, so unlike other tokens it is stored as is; recovery
//! codes are stored hashed. Each accepted time step is remembered, so a code works once.

use arena_entity::auth::user_token::{self, TokenType};
use chrono::{Duration, Utc};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QuerySelect, sea_query::Expr,
};
use totp_rs::{Builder, Secret, Totp};
use uuid::Uuid;

use super::{tokens, viewer::Viewer};
use crate::{
    context::AppContext,
    error::{ApiError, ApiResult},
};

const RECOVERY_CODES: usize = 10;
const ENROLMENT_TTL: Duration = Duration::minutes(15);

/// A started enrolment: the secret to put in an authenticator app.
pub struct Enrolment {
    /// Base32 secret.
    pub secret: String,
    /// `otpauth://` URI for QR codes.
    pub otpauth_uri: String,
}

fn totp_of(secret: &str) -> ApiResult<Totp> {
    let secret = Secret::try_from_base32(secret)
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("stored TOTP secret: {err}")))?;
    Builder::new()
        .with_secret(secret)
        .build()
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("TOTP: {err}")))
}

fn unix_now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}

/// The enrolled TOTP row of a user (confirmed: used, not revoked).
async fn enrolled(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> ApiResult<Option<user_token::Model>> {
    Ok(user_token::Entity::find()
        .filter(user_token::Column::UserId.eq(user_id))
        .filter(user_token::Column::TokenType.eq(TokenType::Totp))
        .filter(user_token::Column::UsedAt.is_not_null())
        .filter(user_token::Column::RevokedAt.is_null())
        .one(db)
        .await?)
}

/// Which of `user_ids` sign in with a second factor, in one statement.
pub async fn two_factor_of(
    db: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> ApiResult<std::collections::HashSet<Uuid>> {
    Ok(user_token::Entity::find()
        .filter(user_token::Column::UserId.is_in(user_ids.iter().copied()))
        .filter(user_token::Column::TokenType.eq(TokenType::Totp))
        .filter(user_token::Column::UsedAt.is_not_null())
        .filter(user_token::Column::RevokedAt.is_null())
        .select_only()
        .column(user_token::Column::UserId)
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Whether the user signs in with a second factor.
pub async fn is_enabled(db: &impl ConnectionTrait, user_id: Uuid) -> ApiResult<bool> {
    Ok(enrolled(db, user_id).await?.is_some())
}

async fn revoke_kind(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    kinds: &[TokenType],
) -> ApiResult<()> {
    user_token::Entity::update_many()
        .col_expr(user_token::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(user_token::Column::UserId.eq(user_id))
        .filter(user_token::Column::TokenType.is_in(kinds.iter().copied()))
        .filter(user_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Starts enrolment: a new secret, pending until confirmed with a code from it.
pub async fn begin_enrolment(ctx: &AppContext, viewer: &Viewer) -> ApiResult<Enrolment> {
    let me = super::find_me(ctx, viewer).await?;
    if is_enabled(&ctx.db, me.id).await? {
        return Err(ApiError::Conflict(
            "two-factor sign-in is already on; turn it off first".into(),
        ));
    }
    let secret = Secret::generate().to_base32();
    ctx.write(async |db, _| {
        revoke_kind(db, me.id, &[TokenType::Totp]).await?;
        user_token::ActiveModel {
            token: Set(secret.clone()),
            token_type: Set(TokenType::Totp),
            user_id: Set(me.id),
            expires_at: Set(Some(Utc::now() + ENROLMENT_TTL)),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        Ok(())
    })
    .await?;
    // Usernames are URL-safe by their own rules.
    let otpauth_uri = format!(
        "otpauth://totp/Arena:{name}?secret={secret}&issuer=Arena&algorithm=SHA1&digits=6&period=30",
        name = me.username
    );
    Ok(Enrolment {
        secret,
        otpauth_uri,
    })
}

/// Confirms enrolment with a current code; returns the recovery codes, shown only now.
pub async fn confirm_enrolment(
    ctx: &AppContext,
    viewer: &Viewer,
    code: &str,
) -> ApiResult<Vec<String>> {
    let me = viewer.require_user()?.id;
    ctx.write(async |db, _| confirm_enrolment_in(db, me, code).await)
        .await
}

/// The body of [`confirm_enrolment`], for a caller's transaction.
pub async fn confirm_enrolment_in(
    txn: &impl ConnectionTrait,
    me: Uuid,
    code: &str,
) -> ApiResult<Vec<String>> {
    let pending = user_token::Entity::find()
        .filter(user_token::Column::UserId.eq(me))
        .filter(user_token::Column::TokenType.eq(TokenType::Totp))
        .filter(user_token::Column::UsedAt.is_null())
        .filter(user_token::Column::RevokedAt.is_null())
        .filter(user_token::Column::ExpiresAt.gt(Utc::now()))
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::Conflict("no enrolment is waiting; begin one first".into()))?;
    let step = totp_of(&pending.token)?
        .check(code, unix_now())
        .ok_or_else(|| ApiError::bad_input("code", "that code is not right"))?;
    let mut confirmed: user_token::ActiveModel = pending.into();
    confirmed.used_at = Set(Some(Utc::now()));
    confirmed.expires_at = Set(None);
    confirmed.nonce = Set(Some(step_key(step)));
    confirmed.update(txn).await?;
    revoke_kind(txn, me, &[TokenType::Recovery]).await?;
    let codes = new_recovery_codes();
    for code in &codes {
        user_token::ActiveModel {
            token: Set(tokens::hash_opaque(code)),
            token_type: Set(TokenType::Recovery),
            user_id: Set(me),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(codes)
}

/// Turns two-factor sign-in off after checking the password.
pub async fn disable(ctx: &AppContext, viewer: &Viewer, password_given: String) -> ApiResult<()> {
    let me = super::find_me(ctx, viewer).await?;
    if !ctx.auth.check_password(&me, password_given).await? {
        return Err(ApiError::bad_input("password", "the password is wrong"));
    }
    revoke_kind(&ctx.db, me.id, &[TokenType::Totp, TokenType::Recovery]).await
}

/// Steps compared as text on both databases: fixed width keeps the order.
fn step_key(step: u64) -> String {
    format!("{step:020}")
}

fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..10)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// At sign-in: nothing for accounts without two-factor; otherwise a current TOTP code not
/// used before, or an unused recovery code, is required.
pub async fn check_second_factor(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    code: Option<&str>,
) -> ApiResult<()> {
    let Some(enrolled) = enrolled(db, user_id).await? else {
        return Ok(());
    };
    let code = code
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or(ApiError::Unauthenticated("a two-factor code is needed"))?;
    let wrong = ApiError::Unauthenticated("the two-factor code is wrong or already used");
    if code.len() > 32 {
        return Err(wrong);
    }
    if let Some(step) = totp_of(&enrolled.token)?.check(code, unix_now()) {
        let key = step_key(step);
        // Only a later step than the last accepted one: each code works once.
        let accepted = user_token::Entity::update_many()
            .col_expr(user_token::Column::Nonce, Expr::value(Some(key.clone())))
            .filter(user_token::Column::Id.eq(enrolled.id))
            .filter(
                Condition::any()
                    .add(user_token::Column::Nonce.is_null())
                    .add(user_token::Column::Nonce.lt(key)),
            )
            .exec(db)
            .await?
            .rows_affected;
        return if accepted == 1 { Ok(()) } else { Err(wrong) };
    }
    let used = user_token::Entity::update_many()
        .col_expr(user_token::Column::UsedAt, Expr::value(Some(Utc::now())))
        .filter(user_token::Column::UserId.eq(user_id))
        .filter(user_token::Column::TokenType.eq(TokenType::Recovery))
        .filter(user_token::Column::Token.eq(tokens::hash_opaque(&code.to_lowercase())))
        .filter(user_token::Column::UsedAt.is_null())
        .filter(user_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    if used == 1 { Ok(()) } else { Err(wrong) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_keys_sort_like_numbers() {
        assert!(step_key(9) < step_key(10));
        assert!(step_key(59_000_000) < step_key(59_000_001));
    }

    #[test]
    fn recovery_codes_are_distinct_and_readable() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
        );
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
    }

    #[test]
    fn codes_from_the_secret_check() {
        let secret = Secret::generate().to_base32();
        let totp = totp_of(&secret).expect("valid");
        let code = totp.generate(1_700_000_000).to_string();
        assert_eq!(totp.check(&code, 1_700_000_000), Some(1_700_000_000 / 30));
    }
}
