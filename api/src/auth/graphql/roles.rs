//! GraphQL surface of the role tree and privilege grants.

use async_graphql::{Context, ID, InputObject, Object};

use super::{parse_int_id, parse_uuid};
use crate::{
    auth::privileges,
    auth::roles::{Grantee, RoleTree},
    error::{ApiError, ApiResult},
    graphql::{app, guards::Privilege, viewer},
};

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
    crate::auth::roles::set_user_role(app(ctx), viewer(ctx), user, role, assign, reason).await?;
    Ok(true)
}

impl PrivilegeGrantInput {
    async fn apply(self, ctx: &Context<'_>, grant: bool) -> async_graphql::Result<bool> {
        let grantee = self.grantee()?;
        crate::auth::roles::set_privilege(
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
    #[graphql(guard = "Privilege(privileges::DASHBOARD_ACCESS)")]
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Role>> {
        let tree =
            std::sync::Arc::new(crate::auth::roles::list_roles(app(ctx), viewer(ctx)).await?);
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
    #[graphql(guard = "Privilege(privileges::DASHBOARD_ACCESS)")]
    async fn privileges(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(crate::auth::roles::list_privileges(app(ctx), viewer(ctx)).await?)
    }
}

/// Role and privilege changes; each is audited.
#[derive(Default)]
pub struct RolesMutation;

#[Object]
impl RolesMutation {
    /// Creates a role under `parentId` (a root when absent). Privilege `role.manage`.
    #[graphql(guard = "Privilege(privileges::ROLE_MANAGE)")]
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
            crate::auth::roles::create_role(app(ctx), viewer(ctx), &name, parent, reason).await?;
        Ok(role_of(RoleTree::load(&app(ctx).db).await?, created.id))
    }

    /// Renames a role. Privilege `role.manage`.
    #[graphql(guard = "Privilege(privileges::ROLE_MANAGE)")]
    async fn rename_role(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
        reason: Option<String>,
    ) -> async_graphql::Result<Role> {
        let id = parse_int_id(&id, "id")?;
        crate::auth::roles::rename_role(app(ctx), viewer(ctx), id, &name, reason).await?;
        Ok(role_of(RoleTree::load(&app(ctx).db).await?, id))
    }

    /// Moves a role under `parentId` (to the root when absent); cycles are refused.
    /// Privilege `role.manage`.
    #[graphql(guard = "Privilege(privileges::ROLE_MANAGE)")]
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
        crate::auth::roles::move_role(app(ctx), viewer(ctx), id, parent, reason).await?;
        Ok(role_of(RoleTree::load(&app(ctx).db).await?, id))
    }

    /// Deletes a role without children. Privilege `role.manage`.
    #[graphql(guard = "Privilege(privileges::ROLE_MANAGE)")]
    async fn delete_role(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<bool> {
        let id = parse_int_id(&id, "id")?;
        crate::auth::roles::delete_role(app(ctx), viewer(ctx), id, reason).await?;
        Ok(true)
    }

    /// Grants a privilege the caller holds to a role or user. Privilege `role.manage`.
    #[graphql(guard = "Privilege(privileges::ROLE_MANAGE)")]
    async fn grant_privilege(
        &self,
        ctx: &Context<'_>,
        input: PrivilegeGrantInput,
    ) -> async_graphql::Result<bool> {
        input.apply(ctx, true).await
    }

    /// Revokes a privilege the caller holds from a role or user. Privilege `role.manage`.
    #[graphql(guard = "Privilege(privileges::ROLE_MANAGE)")]
    async fn revoke_privilege(
        &self,
        ctx: &Context<'_>,
        input: PrivilegeGrantInput,
    ) -> async_graphql::Result<bool> {
        input.apply(ctx, false).await
    }

    /// Gives a user a role whose privileges the caller all holds. Privilege `role.manage`.
    #[graphql(guard = "Privilege(privileges::ROLE_MANAGE)")]
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
    #[graphql(guard = "Privilege(privileges::ROLE_MANAGE)")]
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
    #[graphql(guard = "Privilege(privileges::USER_LOGOUT)")]
    async fn logout_user(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: String,
    ) -> async_graphql::Result<u64> {
        let user = parse_uuid(&user_id, "userId")?;
        Ok(crate::auth::roles::logout_user(app(ctx), viewer(ctx), user, reason).await?)
    }
}
