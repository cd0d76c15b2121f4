//! GraphQL surface of the `auth` domain.

use arena_entity::auth::user;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

mod bans;
mod lifecycle;
mod roles;
mod totp;

pub use self::{
    bans::{BansMutation, BansQuery},
    lifecycle::LifecycleMutation,
    roles::{RolesMutation, RolesQuery},
    totp::TotpMutation,
};
use super::{Registration, session::Session as SessionModel};
use crate::{
    auth::account::{self, ProfileChange},
    auth::privileges,
    error::{ApiError, ApiResult},
    graphql::{
        app,
        guards::{Privilege, SignedIn},
        load,
        loaders::{PrivilegesOf, RolesOf, TwoFactorOf, UserById},
        pagination::{KeyConnection, Keyset},
        viewer,
    },
};

/// `Some(None)` for an explicit null, `None` when the field was left out.
fn change<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// A sign-in still in force.
#[derive(async_graphql::SimpleObject)]
pub struct ActiveSignIn {
    /// The sign-in's id.
    id: ID,
    /// When it began.
    started_at: DateTime<Utc>,
    /// When its tokens were last exchanged.
    last_refreshed_at: DateTime<Utc>,
    /// When it ends unless refreshed.
    expires_at: Option<DateTime<Utc>>,
    /// Whether it is the caller's own current sign-in.
    current: bool,
}

/// New accounts on one day.
#[derive(async_graphql::SimpleObject)]
pub struct DailyCount {
    /// The UTC day, `YYYY-MM-DD`.
    day: String,
    /// Accounts made that day.
    count: u64,
}

/// Figures for the dashboard's home page.
#[derive(async_graphql::SimpleObject)]
pub struct DashboardStats {
    /// Live accounts.
    users: u64,
    /// Bans in force now.
    active_bans: u64,
    /// New accounts per UTC day, oldest first.
    signups_per_day: Vec<DailyCount>,
}

/// Changes to one's own profile; fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// 1 to 64 characters.
    display_name: Option<String>,
    /// International form; null clears it.
    phone: MaybeUndefined<String>,
    /// ISO 3166-1 alpha-2; null clears it.
    country: MaybeUndefined<String>,
    /// ISO 639-1.
    language: Option<String>,
}

/// Parses a GraphQL `ID` that must be a UUID.
pub(crate) fn parse_uuid(id: &ID, field: &'static str) -> ApiResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::bad_input(field, "that is not an id"))
}

/// Parses a GraphQL `ID` that must be an integer row id.
pub(crate) fn parse_int_id(id: &ID, field: &'static str) -> ApiResult<i32> {
    id.as_str()
        .parse()
        .map_err(|_| ApiError::bad_input(field, "that is not an id"))
}

/// An account. Email, phone and last sign-in are shown only to the account itself and to
/// holders of `user.read_private`; to others they are null.
pub struct User {
    model: user::Model,
    private: bool,
}

impl User {
    /// The account as `ctx`'s viewer may see it.
    pub(crate) fn for_viewer(ctx: &Context<'_>, model: user::Model) -> Self {
        let private = viewer(ctx).is_self_or(model.id, privileges::USER_READ_PRIVATE);
        Self { model, private }
    }

    /// The live account `id` through the DataLoader, as `ctx`'s viewer may see it; null for
    /// no id or a deleted account.
    pub(crate) async fn load(
        ctx: &Context<'_>,
        id: Option<Uuid>,
    ) -> async_graphql::Result<Option<Self>> {
        let Some(id) = id else { return Ok(None) };
        let found = load(ctx).load_one(UserById(id)).await?;
        Ok(found.map(|model| Self::for_viewer(ctx, model)))
    }
}

#[Object]
impl User {
    /// The account id.
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }
    /// Unique name, as registered.
    async fn username(&self) -> &str {
        &self.model.username
    }
    /// Name shown to other players.
    async fn display_name(&self) -> &str {
        &self.model.display_name
    }
    /// ISO 3166-1 alpha-2 country code.
    async fn country(&self) -> Option<&str> {
        self.model.country.as_deref()
    }
    /// ISO 639-1 language code.
    async fn language(&self) -> &str {
        &self.model.language
    }
    /// Whether the email address is verified.
    async fn verified(&self) -> bool {
        self.model.verified
    }
    /// When the account was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    /// Email address (private).
    async fn email(&self) -> Option<&str> {
        self.private.then_some(self.model.email.as_str())
    }
    /// Phone number (private).
    async fn phone(&self) -> Option<&str> {
        self.model.phone.as_deref().filter(|_| self.private)
    }
    /// Last sign-in (private).
    async fn login_at(&self) -> Option<DateTime<Utc>> {
        self.model.login_at.filter(|_| self.private)
    }
    /// Whether sign-in needs a second factor (private).
    async fn two_factor_enabled(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        if !self.private {
            return Ok(None);
        }
        let enabled = load(ctx).load_one(TwoFactorOf(self.model.id)).await?;
        Ok(Some(enabled.unwrap_or_default()))
    }
    /// Roles assigned to the account (private).
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<String>>> {
        if !self.private {
            return Ok(None);
        }
        let roles = load(ctx).load_one(RolesOf(self.model.id)).await?;
        Ok(Some(roles.unwrap_or_default()))
    }
    /// Effective privileges: direct ones plus every role's and its ancestors' (private).
    async fn privileges(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<String>>> {
        if !self.private {
            return Ok(None);
        }
        let held = load(ctx).load_one(PrivilegesOf(self.model.id)).await?;
        Ok(Some(held.unwrap_or_default()))
    }
    /// Where the caller stands with this player: friends, follows, the caller's block. Null
    /// for anonymous callers and on the caller's own account.
    async fn relationship(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::players::graphql::Relationship>> {
        crate::players::graphql::standing_with(ctx, self.model.id).await
    }
}

/// A signed-in session.
pub struct Session(SessionModel);

#[Object]
impl Session {
    /// Send as `Authorization: Bearer …`; valid until `accessTokenExpiresAt`.
    async fn access_token(&self) -> &str {
        &self.0.access_token
    }
    /// When the access token expires.
    async fn access_token_expires_at(&self) -> DateTime<Utc> {
        self.0.access_token_expires_at
    }
    /// Exchange once with `refreshToken` for a new pair; a second use ends the sign-in.
    async fn refresh_token(&self) -> &str {
        &self.0.refresh_token
    }
    /// When the refresh token expires if unused.
    async fn refresh_token_expires_at(&self) -> DateTime<Utc> {
        self.0.refresh_token_expires_at
    }
    /// The signed-in account.
    async fn user(&self, ctx: &Context<'_>) -> User {
        User::for_viewer(ctx, self.0.user.clone())
    }
}

/// A new account.
#[derive(InputObject)]
pub struct RegisterInput {
    /// 3 to 32 letters, digits, `_`, `.` or `-`; unique whatever the case.
    username: String,
    /// Unique whatever the case.
    email: String,
    /// At least 10 characters, not the username.
    password: String,
    /// International form, such as +358401234567.
    phone: Option<String>,
    /// ISO 3166-1 alpha-2.
    country: Option<String>,
    /// ISO 639-1; `en` when absent.
    language: Option<String>,
    /// The username when absent.
    display_name: Option<String>,
}

/// Sign-in credentials.
#[derive(InputObject)]
pub struct LoginInput {
    /// Username or email address.
    login: String,
    /// The password.
    password: String,
    /// A current code from the authenticator app, or a recovery code; needed when
    /// two-factor sign-in is on.
    totp_code: Option<String>,
}

/// Queries of the `auth` domain.
#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The caller's own account. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let me = super::find_me(app(ctx), viewer(ctx)).await?;
        Ok(User::for_viewer(ctx, me))
    }

    /// Accounts matching `search` (an id, or part of a username or email), by username.
    /// Privilege `user.search`.
    #[graphql(guard = "Privilege(privileges::USER_SEARCH)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<KeyConnection<User>> {
        let db = &app(ctx).db;
        let keyset = Keyset::parse(after, before, first, last)?;
        let (rows, total) =
            account::search_users(db, viewer(ctx), search.as_deref(), &keyset).await?;
        Ok(keyset.page(rows, total, account::search_cursor, |model| {
            User::for_viewer(ctx, model)
        }))
    }

    /// Account and ban counts, and sign-ups per day over the last `days` days (1 to 366).
    /// Privilege `dashboard.access`.
    #[graphql(guard = "Privilege(privileges::DASHBOARD_ACCESS)")]
    async fn dashboard_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 14)] days: i32,
    ) -> async_graphql::Result<DashboardStats> {
        let stats = account::dashboard_stats(&app(ctx).db, viewer(ctx), days).await?;
        Ok(DashboardStats {
            users: stats.users,
            active_bans: stats.active_bans,
            signups_per_day: stats
                .signups_per_day
                .into_iter()
                .map(|(day, count)| DailyCount {
                    day: day.to_string(),
                    count,
                })
                .collect(),
        })
    }

    /// A user's sign-ins still in force, newest first. Signed in: the user themself, or
    /// privilege `user.read_private`.
    #[graphql(guard = "SignedIn")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<Vec<ActiveSignIn>> {
        let user_id = parse_uuid(&user_id, "userId")?;
        let current = viewer(ctx).user().map(|u| u.series);
        let active = super::session::list_active(&app(ctx).db, viewer(ctx), user_id).await?;
        Ok(active
            .into_iter()
            .map(|s| ActiveSignIn {
                id: ID(s.series.to_string()),
                started_at: s.started_at,
                last_refreshed_at: s.last_refreshed_at,
                expires_at: s.expires_at,
                current: Some(s.series) == current,
            })
            .collect())
    }

    /// An account by id; null when there is none. Public.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        let id = parse_uuid(&id, "id")?;
        let found = super::find_user(&app(ctx).db, id).await?;
        Ok(found.map(|model| User::for_viewer(ctx, model)))
    }

    /// An account by username, whatever its case; null when there is none. Public.
    async fn user_by_name(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<Option<User>> {
        let found = super::find_user_by_name(&app(ctx).db, &username).await?;
        Ok(found.map(|model| User::for_viewer(ctx, model)))
    }
}

/// Mutations of the `auth` domain.
#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an account (a member). Public; rate limited per address.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<User> {
        let registration = Registration {
            username: input.username,
            email: input.email,
            password: input.password,
            phone: input.phone,
            country: input.country,
            language: input.language,
            display_name: input.display_name,
        };
        let account = super::register(app(ctx), viewer(ctx), registration).await?;
        Ok(User::for_viewer(ctx, account))
    }

    /// Signs in with username or email. Public; rate limited per address and account.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> async_graphql::Result<Session> {
        let session = super::session::login(
            app(ctx),
            viewer(ctx),
            &input.login,
            input.password,
            input.totp_code.as_deref(),
        )
        .await?;
        Ok(Session(session))
    }

    /// Exchanges a refresh token for a new access and refresh token. Public.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<Session> {
        let session = super::session::refresh(app(ctx), viewer(ctx), &refresh_token).await?;
        Ok(Session(session))
    }

    /// Changes the caller's profile. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> async_graphql::Result<User> {
        let profile = ProfileChange {
            display_name: input.display_name,
            phone: change(input.phone),
            country: change(input.country),
            language: input.language,
        };
        let updated = account::update_profile(app(ctx), viewer(ctx), profile).await?;
        Ok(User::for_viewer(ctx, updated))
    }

    /// Changes the caller's password; every other sign-in ends. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        account::change_password(app(ctx), viewer(ctx), current_password, &new_password).await?;
        Ok(true)
    }

    /// Ends this sign-in: its refresh and access tokens stop working. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        super::session::logout(app(ctx), viewer(ctx)).await?;
        Ok(true)
    }

    /// Ends every sign-in of the caller, on every device. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        super::session::logout_everywhere(app(ctx), viewer(ctx)).await?;
        Ok(true)
    }
}
