//! GraphQL surface of the `auth` domain.

use arena_entity::auth::user;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Registration,
    roles::{Grantee, RoleTree},
    session::Session as SessionModel,
};
use crate::{
    error::{ApiError, ApiResult},
    graphql::{app, viewer},
};

/// Parses a GraphQL `ID` that must be a UUID.
pub(crate) fn parse_uuid(id: &ID, field: &'static str) -> ApiResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::bad_input(field, "that is not an id"))
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
        let private = viewer(ctx).is_self_or(model.id, "user.read_private");
        Self { model, private }
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
    /// Roles assigned to the account (private).
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<String>>> {
        if !self.private {
            return Ok(None);
        }
        Ok(Some(
            super::roles::user_roles(&app(ctx).db, self.model.id).await?,
        ))
    }
    /// Effective privileges: direct ones plus every role's and its ancestors' (private).
    async fn privileges(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<String>>> {
        if !self.private {
            return Ok(None);
        }
        let held = super::viewer::effective_privileges(&app(ctx).db, self.model.id)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(held.into_iter().collect()))
    }
}

/// A signed-in session.
pub struct Session(SessionModel);

#[Object]
impl Session {
    /// Send as `Authorization: Bearer …`; valid for 15 minutes.
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
}

/// Queries of the `auth` domain.
#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The caller's own account. Signed in.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let me = super::find_me(app(ctx), viewer(ctx)).await?;
        Ok(User::for_viewer(ctx, me))
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
        let session =
            super::session::login(app(ctx), viewer(ctx), &input.login, input.password).await?;
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

    /// Ends this sign-in: its refresh and access tokens stop working. Signed in.
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        super::session::logout(app(ctx), viewer(ctx)).await?;
        Ok(true)
    }

    /// Ends every sign-in of the caller, on every device. Signed in.
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        super::session::logout_everywhere(app(ctx), viewer(ctx)).await?;
        Ok(true)
    }
}

/// Parses a GraphQL `ID` that must be an integer row id.
pub(crate) fn parse_int_id(id: &ID, field: &'static str) -> ApiResult<i32> {
    id.as_str()
        .parse()
        .map_err(|_| ApiError::bad_input(field, "that is not an id"))
}

/// A role in the tree.
pub struct Role {
    id: i32,
    tree: std::sync::Arc<RoleTree>,
}

impl Role {
    fn model(&self) -> Option<&arena_entity::auth::role::Model> {
        self.tree.roles.get(&self.id)
    }
}

#[Object]
impl Role {
    /// Role id.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// Unique name.
    async fn name(&self) -> &str {
        self.model().map_or("", |m| m.role.as_str())
    }
    /// The parent, whose privileges this role inherits; null at the root.
    async fn parent(&self) -> Option<Role> {
        let parent = self.model()?.parent_id?;
        Some(Role {
            id: parent,
            tree: self.tree.clone(),
        })
    }
    /// Roles directly under this one.
    async fn children(&self) -> Vec<Role> {
        self.tree
            .roles
            .values()
            .filter(|r| r.parent_id == Some(self.id))
            .map(|r| Role {
                id: r.id,
                tree: self.tree.clone(),
            })
            .collect()
    }
    /// Privileges granted to this role itself.
    async fn privileges(&self) -> Vec<String> {
        self.tree
            .own
            .get(&self.id)
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default()
    }
    /// Its own privileges plus every ancestor's.
    async fn effective_privileges(&self) -> Vec<String> {
        self.tree.effective(self.id).into_iter().collect()
    }
}

fn role_of(tree: RoleTree, id: i32) -> Role {
    Role {
        id,
        tree: std::sync::Arc::new(tree),
    }
}

/// Who a privilege goes to: exactly one of `roleId` and `userId`.
#[derive(InputObject)]
pub struct PrivilegeGrantInput {
    /// The privilege, such as `user.ban`.
    privilege: String,
    /// Grant to this role.
    role_id: Option<ID>,
    /// Grant to this user directly.
    user_id: Option<ID>,
    /// Why, for the audit log.
    reason: Option<String>,
}

async fn set_user_role(
    ctx: &Context<'_>,
    user_id: &ID,
    role_id: &ID,
    assign: bool,
    reason: Option<String>,
) -> async_graphql::Result<bool> {
    let (user, role) = (
        parse_uuid(user_id, "userId")?,
        parse_int_id(role_id, "roleId")?,
    );
    super::roles::set_user_role(app(ctx), viewer(ctx), user, role, assign, reason).await?;
    Ok(true)
}

impl PrivilegeGrantInput {
    async fn apply(self, ctx: &Context<'_>, grant: bool) -> async_graphql::Result<bool> {
        let grantee = self.grantee()?;
        super::roles::set_privilege(
            app(ctx),
            viewer(ctx),
            grantee,
            &self.privilege,
            grant,
            self.reason,
        )
        .await?;
        Ok(true)
    }

    fn grantee(&self) -> ApiResult<Grantee> {
        match (&self.role_id, &self.user_id) {
            (Some(role), None) => Ok(Grantee::Role(parse_int_id(role, "roleId")?)),
            (None, Some(user)) => Ok(Grantee::User(parse_uuid(user, "userId")?)),
            _ => Err(ApiError::bad_input(
                "roleId",
                "give exactly one of roleId and userId",
            )),
        }
    }
}

/// Role and privilege queries.
#[derive(Default)]
pub struct RolesQuery;

#[Object]
impl RolesQuery {
    /// Every role, root first. Privilege `dashboard.access`.
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Role>> {
        let tree = std::sync::Arc::new(super::roles::list_roles(app(ctx), viewer(ctx)).await?);
        Ok(tree
            .roles
            .keys()
            .map(|id| Role {
                id: *id,
                tree: tree.clone(),
            })
            .collect())
    }

    /// Every privilege name. Privilege `dashboard.access`.
    async fn privileges(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(super::roles::list_privileges(app(ctx), viewer(ctx)).await?)
    }
}

/// Role and privilege changes; each is audited.
#[derive(Default)]
pub struct RolesMutation;

#[Object]
impl RolesMutation {
    /// Creates a role under `parentId` (a root when absent). Privilege `role.manage`.
    async fn create_role(
        &self,
        ctx: &Context<'_>,
        name: String,
        parent_id: Option<ID>,
        reason: Option<String>,
    ) -> async_graphql::Result<Role> {
        let parent = parent_id
            .as_ref()
            .map(|p| parse_int_id(p, "parentId"))
            .transpose()?;
        let created =
            super::roles::create_role(app(ctx), viewer(ctx), &name, parent, reason).await?;
        Ok(role_of(RoleTree::load(&app(ctx).db).await?, created.id))
    }

    /// Renames a role. Privilege `role.manage`.
    async fn rename_role(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
        reason: Option<String>,
    ) -> async_graphql::Result<Role> {
        let id = parse_int_id(&id, "id")?;
        super::roles::rename_role(app(ctx), viewer(ctx), id, &name, reason).await?;
        Ok(role_of(RoleTree::load(&app(ctx).db).await?, id))
    }

    /// Moves a role under `parentId` (to the root when absent); cycles are refused.
    /// Privilege `role.manage`.
    async fn move_role(
        &self,
        ctx: &Context<'_>,
        id: ID,
        parent_id: Option<ID>,
        reason: Option<String>,
    ) -> async_graphql::Result<Role> {
        let id = parse_int_id(&id, "id")?;
        let parent = parent_id
            .as_ref()
            .map(|p| parse_int_id(p, "parentId"))
            .transpose()?;
        super::roles::move_role(app(ctx), viewer(ctx), id, parent, reason).await?;
        Ok(role_of(RoleTree::load(&app(ctx).db).await?, id))
    }

    /// Deletes a role without children. Privilege `role.manage`.
    async fn delete_role(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<bool> {
        let id = parse_int_id(&id, "id")?;
        super::roles::delete_role(app(ctx), viewer(ctx), id, reason).await?;
        Ok(true)
    }

    /// Grants a privilege the caller holds to a role or user. Privilege `role.manage`.
    async fn grant_privilege(
        &self,
        ctx: &Context<'_>,
        input: PrivilegeGrantInput,
    ) -> async_graphql::Result<bool> {
        input.apply(ctx, true).await
    }

    /// Revokes a privilege the caller holds from a role or user. Privilege `role.manage`.
    async fn revoke_privilege(
        &self,
        ctx: &Context<'_>,
        input: PrivilegeGrantInput,
    ) -> async_graphql::Result<bool> {
        input.apply(ctx, false).await
    }

    /// Gives a user a role whose privileges the caller all holds. Privilege `role.manage`.
    async fn assign_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role_id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<bool> {
        set_user_role(ctx, &user_id, &role_id, true, reason).await
    }

    /// Takes a role from a user. Privilege `role.manage`.
    async fn remove_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role_id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<bool> {
        set_user_role(ctx, &user_id, &role_id, false, reason).await
    }

    /// Ends every sign-in of a user; returns how many refresh tokens were revoked.
    /// Privilege `user.logout`.
    async fn logout_user(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: String,
    ) -> async_graphql::Result<u64> {
        let user = parse_uuid(&user_id, "userId")?;
        Ok(super::roles::logout_user(app(ctx), viewer(ctx), user, reason).await?)
    }
}
