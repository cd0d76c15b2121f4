//! Accounts and access: registration, sessions, the viewer, roles and privileges, bans.

pub mod access;
pub mod account;
pub mod bans;
pub mod graphql;
pub mod inputs;
pub mod lifecycle;
pub mod limits;
pub mod password;
pub mod privileges;
pub mod roles;
pub mod session;
pub mod tokens;
pub mod totp;
pub mod viewer;

use arena_entity::auth::{role, user, user_role};
use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::Utc;
use ipnet::IpNet;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use self::{
    inputs::{DisplayName, Email, Password, Username, parse_country, parse_language, parse_phone},
    limits::AuthLimits,
    password::Passwords,
    tokens::TokenKeys,
    viewer::Viewer,
};
use crate::{
    context::AppContext,
    error::{ApiError, ApiResult, OnViolation},
    settings::Settings,
};

/// The role every new account gets.
pub const MEMBER_ROLE: &str = "member";

/// What the auth domain keeps for the life of the process.
pub struct AuthState {
    /// Access-token keys.
    pub keys: TokenKeys,
    /// Sign-in and registration limits.
    pub limits: AuthLimits,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// What each sign-in may do, cached.
    pub access: Arc<access::AccessCache>,
    /// Address bans in force, in memory.
    pub address_bans: Arc<access::AddressBans>,
    /// bcrypt, on its bounded pool.
    pub passwords: Passwords,
}

impl AuthState {
    /// Loads the signing key (making it on first start) and sets up the limits.
    pub async fn load(
        db: &impl ConnectionTrait,
        settings: &Settings,
    ) -> Result<Self, crate::startup::StartError> {
        let trusted_proxies = settings
            .trusted_proxies
            .iter()
            .filter_map(|p| crate::settings::parse_proxy(p))
            .map(access::canonical_net)
            .collect();
        let cache_ttl = Duration::from_secs(settings.viewer_cache_seconds);
        Ok(Self {
            keys: TokenKeys::load(db, settings.jwt_secret.as_ref())
                .await
                .map_err(crate::db::DbStartError::Prepare)?
                .with_access_ttl(chrono::Duration::seconds(
                    i64::try_from(settings.access_token_seconds).unwrap_or(i64::MAX),
                )),
            limits: AuthLimits::new(
                settings.auth_rate_per_minute,
                settings.analytics_rate_per_minute,
            ),
            trusted_proxies,
            access: Arc::new(access::AccessCache::new(cache_ttl)),
            address_bans: Arc::new(access::AddressBans::new(cache_ttl)),
            passwords: Passwords::for_settings(settings)?,
        })
    }

    /// Checks the password of a signed-in account, within the per-account limit that
    /// sign-in shares, so no mutation is a way around it.
    pub async fn check_password(
        &self,
        account: &user::Model,
        candidate: String,
    ) -> ApiResult<bool> {
        self.limits
            .password_by_account
            .check(&account.id.to_string())?;
        self.passwords
            .verify(candidate, Some(account.password.clone()))
            .await
    }
}

/// What a new account is made from, as the client sent it.
pub struct Registration {
    /// Username.
    pub username: String,
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
    /// Phone number, international form.
    pub phone: Option<String>,
    /// Country code.
    pub country: Option<String>,
    /// Language code; `en` when absent.
    pub language: Option<String>,
    /// Display name; the username when absent.
    pub display_name: Option<String>,
}

/// Creates an account with the member role. Usernames and emails are unique whatever their
/// case; a clash answers `CONFLICT` naming the field.
pub async fn register(
    ctx: &AppContext,
    viewer: &Viewer,
    input: Registration,
) -> ApiResult<user::Model> {
    ctx.auth
        .limits
        .register_by_address
        .check(&viewer.ip.to_string())?;
    viewer.refuse_if_banned(None)?;
    let new = NewAccount::parse(input)?;
    ctx.auth.passwords.refuse_if_full()?;
    // A taken name is told before the hash is paid for; the index still decides a race.
    new.refuse_taken(&ctx.db).await?;
    let new = new.hashed(&ctx.auth.passwords).await?;
    ctx.write(async |db, _| create_account(db, new, false).await)
        .await
}

/// Makes a verified admin (member and admin roles); for bootstrapping, so no viewer.
pub async fn create_admin(
    db: &sea_orm::DatabaseConnection,
    passwords: &Passwords,
    username: &str,
    email: &str,
    password: &str,
) -> ApiResult<user::Model> {
    let registration = Registration {
        username: username.to_owned(),
        email: email.to_owned(),
        password: password.to_owned(),
        phone: None,
        country: None,
        language: None,
        display_name: None,
    };
    let new = NewAccount::parse(registration)?;
    new.refuse_taken(db).await?;
    let new = new.hashed(passwords).await?;
    let txn = crate::db::begin_write(db).await?;
    let account = create_account(&txn, new, true).await?;
    assign_role_by_name(&txn, account.id, "admin").await?;
    crate::audit::record(
        &txn,
        None,
        crate::audit::Entry {
            action: "user.create_admin",
            target_type: "user",
            target_id: Some(account.id.to_string()),
            reason: Some("created with arena create-admin".into()),
            details: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(account)
}

/// A registration checked field by field; its password still in clear until [`Self::hashed`].
pub struct NewAccount {
    username: Username,
    email: Email,
    password: String,
    display_name: String,
    phone: Option<String>,
    country: Option<String>,
    language: String,
}

impl NewAccount {
    /// Checks every field of `input`.
    pub fn parse(input: Registration) -> ApiResult<Self> {
        let username = Username::parse(&input.username)?;
        let email = Email::parse(&input.email)?;
        let password = Password::parse(&input.password, &username)?
            .expose()
            .to_owned();
        let display_name = match input.display_name {
            Some(name) => DisplayName::parse(&name)?.into_inner(),
            None => username.as_str().to_owned(),
        };
        Ok(Self {
            phone: input.phone.as_deref().map(parse_phone).transpose()?,
            country: input.country.as_deref().map(parse_country).transpose()?,
            language: match input.language.as_deref() {
                Some(language) => parse_language(language)?,
                None => "en".to_owned(),
            },
            username,
            email,
            password,
            display_name,
        })
    }

    /// `CONFLICT` naming the field when the username or email is already taken.
    async fn refuse_taken(&self, db: &impl ConnectionTrait) -> ApiResult<()> {
        if session::find_by_login(db, self.username.as_str())
            .await?
            .is_some()
        {
            return Err(ApiError::Conflict("that username is taken".into()));
        }
        if session::find_by_login(db, self.email.as_str())
            .await?
            .is_some()
        {
            return Err(ApiError::Conflict(
                "that email address is already registered".into(),
            ));
        }
        Ok(())
    }

    /// Replaces the password with its hash; done before any transaction.
    pub async fn hashed(mut self, passwords: &Passwords) -> ApiResult<Self> {
        self.password = passwords.hash(std::mem::take(&mut self.password)).await?;
        Ok(self)
    }
}

/// Inserts the account (its password already hashed, its names checked by
/// [`NewAccount::refuse_taken`]) with the member role.
async fn create_account(
    txn: &impl ConnectionTrait,
    new: NewAccount,
    verified: bool,
) -> ApiResult<user::Model> {
    let NewAccount {
        username,
        email,
        password: hash,
        display_name,
        phone,
        country,
        language,
    } = new;
    let now = Utc::now();
    let account = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        username: Set(username.as_str().to_owned()),
        email: Set(email.as_str().to_owned()),
        phone: Set(phone),
        country: Set(country),
        language: Set(language),
        password: Set(hash),
        display_name: Set(display_name),
        verified: Set(verified),
        activated: Set(true),
        login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    // Two registrations racing for one name: the index decides, the loser hears why.
    let account = account
        .insert(txn)
        .await
        .on_unique("that username or email address is taken")?;
    assign_role_by_name(txn, account.id, MEMBER_ROLE).await?;
    Ok(account)
}

/// Gives `user_id` the role named `name`.
pub async fn assign_role_by_name(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    name: &str,
) -> ApiResult<()> {
    let role = role::Entity::find()
        .filter(role::Column::Role.eq(name))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("role"))?;
    user_role::ActiveModel {
        user_id: Set(user_id),
        role_id: Set(role.id),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A live account by id.
pub async fn find_user(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id)
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// Live accounts by id, in one statement.
pub async fn find_users(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .filter(user::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|user| (user.id, user))
        .collect())
}

/// The caller's own account.
pub async fn find_me(ctx: &AppContext, viewer: &Viewer) -> ApiResult<user::Model> {
    let me = viewer.require_user()?;
    find_user(&ctx.db, me.id)
        .await?
        .ok_or(ApiError::Unauthenticated("the account is gone"))
}

/// A live account by username, case-insensitively.
pub async fn find_user_by_name(
    db: &impl ConnectionTrait,
    username: &str,
) -> ApiResult<Option<user::Model>> {
    let Ok(name) = Username::parse(username) else {
        return Ok(None);
    };
    let found = session::find_by_login(db, name.as_str()).await?;
    Ok(found.filter(|u| u.username.eq_ignore_ascii_case(name.as_str())))
}
