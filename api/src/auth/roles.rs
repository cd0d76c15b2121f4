//! The role tree and privilege grants. Every change needs `role.manage`, nobody hands out a
//! privilege they do not hold themselves, and each change is audited in its transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arena_entity::auth::{privilege, role, role_privilege, user_privilege, user_role};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::{MEMBER_ROLE, session, viewer::Viewer};
use crate::{
    audit::{self, Entry},
    auth::privileges,
    bus::{Change, Changes},
    context::AppContext,
    db::{grouped, lock_in_order},
    error::{ApiError, ApiResult, OnViolation},
};

/// Every role with its own privileges: enough to answer any question about the tree.
pub struct RoleTree {
    /// Roles by id.
    pub roles: BTreeMap<i32, role::Model>,
    /// Each role's own privileges.
    pub own: BTreeMap<i32, BTreeSet<String>>,
}

impl RoleTree {
    /// Loads the whole tree (a small table).
    pub async fn load(db: &impl ConnectionTrait) -> ApiResult<Self> {
        let roles = role::Entity::find()
            .order_by_asc(role::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let names: BTreeMap<i32, String> = privilege::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.privilege))
            .collect();
        let mut own: BTreeMap<i32, BTreeSet<String>> = BTreeMap::new();
        for grant in role_privilege::Entity::find().all(db).await? {
            if let Some(name) = names.get(&grant.privilege_id) {
                own.entry(grant.role_id).or_default().insert(name.clone());
            }
        }
        Ok(Self { roles, own })
    }

    /// `id` and its ancestors, nearest first.
    pub fn lineage(&self, id: i32) -> Vec<i32> {
        let mut line = Vec::new();
        let mut next = Some(id);
        while let Some(current) = next.filter(|c| !line.contains(c)) {
            line.push(current);
            next = self.roles.get(&current).and_then(|r| r.parent_id);
        }
        line
    }

    /// A role's own privileges plus every ancestor's.
    pub fn effective(&self, id: i32) -> BTreeSet<String> {
        self.lineage(id)
            .into_iter()
            .flat_map(|r| self.own.get(&r).cloned().unwrap_or_default())
            .collect()
    }

    fn get(&self, id: i32) -> ApiResult<&role::Model> {
        self.roles.get(&id).ok_or(ApiError::NotFound("role"))
    }
}

/// A role name: 2 to 32 of `a-z 0-9 _ . -`.
fn parse_role_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    let ok = (2..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(ApiError::bad_input(
            "name",
            "a role name is 2 to 32 lower-case letters, digits, '_', '.' or '-'",
        ));
    }
    Ok(name.to_owned())
}

/// Refuses unless the viewer holds every one of `privileges`.
fn require_holds(viewer: &Viewer, privileges: &BTreeSet<String>) -> ApiResult<()> {
    match privileges.iter().find(|p| !viewer.has_privilege(p)) {
        Some(_) => Err(ApiError::Forbidden),
        None => Ok(()),
    }
}

/// Starts a change to the tree: checks `role.manage` and locks the roles (so concurrent
/// moves cannot build a cycle), then loads the tree as it is now.
async fn lock_tree(db: &impl ConnectionTrait, viewer: &Viewer) -> ApiResult<(Uuid, RoleTree)> {
    let actor = viewer.require_privilege(privileges::ROLE_MANAGE)?.id;
    lock_in_order(db, role::Entity::find(), role::Column::Id).await?;
    let tree = RoleTree::load(db).await?;
    Ok((actor, tree))
}

/// The tree, for anyone in the dashboard.
pub async fn list_roles(ctx: &AppContext, viewer: &Viewer) -> ApiResult<RoleTree> {
    viewer.require_privilege(privileges::DASHBOARD_ACCESS)?;
    RoleTree::load(&ctx.db).await
}

/// Every privilege name, for anyone in the dashboard.
pub async fn list_privileges(ctx: &AppContext, viewer: &Viewer) -> ApiResult<Vec<String>> {
    viewer.require_privilege(privileges::DASHBOARD_ACCESS)?;
    Ok(privilege::Entity::find()
        .order_by_asc(privilege::Column::Privilege)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|p| p.privilege)
        .collect())
}

/// Creates a role under `parent_id` (or a root). The actor must hold everything the new role
/// inherits.
pub async fn create_role(
    ctx: &AppContext,
    viewer: &Viewer,
    name: &str,
    parent_id: Option<i32>,
    reason: Option<String>,
) -> ApiResult<role::Model> {
    ctx.write(async |db, _| create_role_in(db, viewer, name, parent_id, reason).await)
        .await
}

/// The body of [`create_role`], for a caller's transaction.
pub async fn create_role_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    name: &str,
    parent_id: Option<i32>,
    reason: Option<String>,
) -> ApiResult<role::Model> {
    let name = parse_role_name(name)?;
    let (actor, tree) = lock_tree(db, viewer).await?;
    if let Some(parent) = parent_id {
        tree.get(parent)?;
        require_holds(viewer, &tree.effective(parent))?;
    }
    let now = Utc::now();
    let created = role::ActiveModel {
        role: Set(name.clone()),
        parent_id: Set(parent_id),
        created_by: Set(Some(actor)),
        updated_by: Set(Some(actor)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .on_unique("a role of that name exists")?;
    audit::record(
        db,
        Some(actor),
        Entry {
            action: "role.create",
            target_type: "role",
            target_id: Some(created.id.to_string()),
            reason,
            details: Some(json!({ "name": name, "parentId": parent_id })),
        },
    )
    .await?;
    Ok(created)
}

/// Renames a role.
pub async fn rename_role(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    name: &str,
    reason: Option<String>,
) -> ApiResult<role::Model> {
    ctx.write(async |db, _| rename_role_in(db, viewer, id, name, reason).await)
        .await
}

/// The body of [`rename_role`], for a caller's transaction.
pub async fn rename_role_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    name: &str,
    reason: Option<String>,
) -> ApiResult<role::Model> {
    let name = parse_role_name(name)?;
    let (actor, tree) = lock_tree(db, viewer).await?;
    let current = tree.get(id)?.clone();
    if current.role == MEMBER_ROLE {
        return Err(ApiError::Conflict("the member role keeps its name".into()));
    }
    let details = json!({ "from": current.role, "to": name });
    let mut renamed: role::ActiveModel = current.into();
    renamed.role = Set(name);
    update_role(db, actor, renamed, "role.rename", reason, details).await
}

/// Saves a changed role with who changed it, and audits.
async fn update_role(
    db: &impl ConnectionTrait,
    actor: Uuid,
    mut changed: role::ActiveModel,
    action: &'static str,
    reason: Option<String>,
    details: serde_json::Value,
) -> ApiResult<role::Model> {
    changed.updated_by = Set(Some(actor));
    changed.updated_at = Set(Utc::now());
    let saved = changed
        .update(db)
        .await
        .on_unique("a role of that name exists")?;
    audit::record(
        db,
        Some(actor),
        Entry {
            action,
            target_type: "role",
            target_id: Some(saved.id.to_string()),
            reason,
            details: Some(details),
        },
    )
    .await?;
    Ok(saved)
}

/// Moves a role under another (or to the root). Refuses cycles, and moves that would give
/// the role's holders privileges the actor lacks.
pub async fn move_role(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    parent_id: Option<i32>,
    reason: Option<String>,
) -> ApiResult<role::Model> {
    ctx.write(async |db, changes| move_role_in(db, viewer, id, parent_id, reason, changes).await)
        .await
}

/// The body of [`move_role`], for a caller's transaction.
pub async fn move_role_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    parent_id: Option<i32>,
    reason: Option<String>,
    changes: &mut Changes,
) -> ApiResult<role::Model> {
    let (actor, tree) = lock_tree(db, viewer).await?;
    let current = tree.get(id)?.clone();
    if let Some(parent) = parent_id {
        tree.get(parent)?;
        if tree.lineage(parent).contains(&id) {
            return Err(ApiError::bad_input(
                "parentId",
                "a role cannot move under itself or one of its descendants",
            ));
        }
        require_holds(viewer, &tree.effective(parent))?;
    }
    require_holds(viewer, &tree.effective(id))?;
    let details = json!({ "fromParentId": current.parent_id, "toParentId": parent_id });
    let mut moved: role::ActiveModel = current.into();
    moved.parent_id = Set(parent_id);
    let saved = update_role(db, actor, moved, "role.move", reason, details).await?;
    changes.push(Change::AccessAll);
    Ok(saved)
}

/// Deletes a role with no children; its holders lose it.
pub async fn delete_role(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    reason: Option<String>,
) -> ApiResult<()> {
    ctx.write(async |db, changes| delete_role_in(db, viewer, id, reason, changes).await)
        .await
}

/// The body of [`delete_role`], for a caller's transaction.
pub async fn delete_role_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    reason: Option<String>,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (actor, tree) = lock_tree(db, viewer).await?;
    let current = tree.get(id)?.clone();
    if current.role == MEMBER_ROLE {
        return Err(ApiError::Conflict(
            "every account has the member role; it stays".into(),
        ));
    }
    if tree.roles.values().any(|r| r.parent_id == Some(id)) {
        return Err(ApiError::Conflict(
            "move or delete the role's children first".into(),
        ));
    }
    require_holds(viewer, &tree.effective(id))?;
    role::Entity::delete_by_id(id).exec(db).await?;
    audit::record(
        db,
        Some(actor),
        Entry {
            action: "role.delete",
            target_type: "role",
            target_id: Some(id.to_string()),
            reason,
            details: Some(json!({ "name": current.role })),
        },
    )
    .await?;
    changes.push(Change::AccessAll);
    Ok(())
}

/// Who a privilege is granted to or revoked from.
#[derive(Debug, Clone, Copy)]
pub enum Grantee {
    /// A role (and so everyone holding it or a descendant).
    Role(i32),
    /// One user directly.
    User(Uuid),
}

impl Grantee {
    fn audit_target(self) -> (&'static str, String) {
        match self {
            Self::Role(id) => ("role", id.to_string()),
            Self::User(id) => ("user", id.to_string()),
        }
    }
}

async fn privilege_id(db: &impl ConnectionTrait, name: &str) -> ApiResult<i32> {
    privilege::Entity::find()
        .filter(privilege::Column::Privilege.eq(name))
        .select_only()
        .column(privilege::Column::Id)
        .into_tuple::<i32>()
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("privilege"))
}

async fn require_user_exists(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<()> {
    super::find_user(db, id)
        .await?
        .ok_or(ApiError::NotFound("user"))
        .map(|_| ())
}

/// Grants (`grant`) or revokes a privilege the actor holds; idempotent.
pub async fn set_privilege(
    ctx: &AppContext,
    viewer: &Viewer,
    grantee: Grantee,
    privilege: &str,
    grant: bool,
    reason: Option<String>,
) -> ApiResult<()> {
    ctx.write(async |db, changes| {
        set_privilege_in(db, viewer, grantee, privilege, grant, reason, changes).await
    })
    .await
}

/// The body of [`set_privilege`], for a caller's transaction.
pub async fn set_privilege_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    grantee: Grantee,
    privilege: &str,
    grant: bool,
    reason: Option<String>,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (actor, tree) = lock_tree(db, viewer).await?;
    require_holds(viewer, &BTreeSet::from([privilege.to_owned()]))?;
    let privilege_id = privilege_id(db, privilege).await?;
    match (grantee, grant) {
        (Grantee::Role(role_id), true) => {
            tree.get(role_id)?;
            role_privilege::Entity::insert(role_privilege::ActiveModel {
                role_id: Set(role_id),
                privilege_id: Set(privilege_id),
            })
            .on_conflict_do_nothing()
            .exec(db)
            .await?;
        }
        (Grantee::Role(role_id), false) => {
            tree.get(role_id)?;
            role_privilege::Entity::delete_by_id((role_id, privilege_id))
                .exec(db)
                .await?;
        }
        (Grantee::User(user_id), true) => {
            require_user_exists(db, user_id).await?;
            user_privilege::Entity::insert(user_privilege::ActiveModel {
                user_id: Set(user_id),
                privilege_id: Set(privilege_id),
            })
            .on_conflict_do_nothing()
            .exec(db)
            .await?;
        }
        (Grantee::User(user_id), false) => {
            require_user_exists(db, user_id).await?;
            user_privilege::Entity::delete_by_id((user_id, privilege_id))
                .exec(db)
                .await?;
        }
    }
    let (target_type, target_id) = grantee.audit_target();
    audit::record(
        db,
        Some(actor),
        Entry {
            action: if grant {
                "privilege.grant"
            } else {
                "privilege.revoke"
            },
            target_type,
            target_id: Some(target_id),
            reason,
            details: Some(json!({ "privilege": privilege })),
        },
    )
    .await?;
    let change = match grantee {
        Grantee::Role(_) => Change::AccessAll,
        Grantee::User(user_id) => Change::Access { user_id },
    };
    changes.push(change);
    Ok(())
}

/// Assigns (`assign`) or removes a role of a user; the actor must hold all it carries.
pub async fn set_user_role(
    ctx: &AppContext,
    viewer: &Viewer,
    user_id: Uuid,
    role_id: i32,
    assign: bool,
    reason: Option<String>,
) -> ApiResult<()> {
    ctx.write(async |db, changes| {
        set_user_role_in(db, viewer, user_id, role_id, assign, reason, changes).await
    })
    .await
}

/// The body of [`set_user_role`], for a caller's transaction.
pub async fn set_user_role_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    user_id: Uuid,
    role_id: i32,
    assign: bool,
    reason: Option<String>,
    changes: &mut Changes,
) -> ApiResult<()> {
    let (actor, tree) = lock_tree(db, viewer).await?;
    let role = tree.get(role_id)?.clone();
    require_holds(viewer, &tree.effective(role_id))?;
    require_user_exists(db, user_id).await?;
    if assign {
        user_role::Entity::insert(user_role::ActiveModel {
            user_id: Set(user_id),
            role_id: Set(role_id),
        })
        .on_conflict_do_nothing()
        .exec(db)
        .await?;
    } else {
        if role.role == MEMBER_ROLE {
            return Err(ApiError::Conflict(
                "every account keeps the member role".into(),
            ));
        }
        user_role::Entity::delete_by_id((user_id, role_id))
            .exec(db)
            .await?;
    }
    audit::record(
        db,
        Some(actor),
        Entry {
            action: if assign { "role.assign" } else { "role.remove" },
            target_type: "user",
            target_id: Some(user_id.to_string()),
            reason,
            details: Some(json!({ "roleId": role_id, "role": role.role })),
        },
    )
    .await?;
    changes.push(Change::Access { user_id });
    Ok(())
}

/// The roles assigned to a user directly.
pub async fn user_roles(db: &impl ConnectionTrait, user_id: Uuid) -> ApiResult<Vec<String>> {
    Ok(roles_of(db, &[user_id])
        .await?
        .remove(&user_id)
        .unwrap_or_default())
}

/// [`user_roles`] of many users, in one statement.
pub async fn roles_of(
    db: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, Vec<String>>> {
    let sql = |list: &str| {
        format!(
            "SELECT ur.user_id, r.role FROM user_roles ur JOIN roles r ON r.id = ur.role_id
              WHERE ur.user_id IN ({list}) ORDER BY r.id"
        )
    };
    Ok(grouped(db, user_ids, sql, ("user_id", "role")).await?)
}

/// Ends every sign-in of another user. Needs `user.logout`.
pub async fn logout_user(
    ctx: &AppContext,
    viewer: &Viewer,
    user_id: Uuid,
    reason: String,
) -> ApiResult<u64> {
    ctx.write(async |db, changes| logout_user_in(db, viewer, user_id, reason, changes).await)
        .await
}

/// The body of [`logout_user`], for a caller's transaction.
pub async fn logout_user_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    user_id: Uuid,
    reason: String,
    changes: &mut Changes,
) -> ApiResult<u64> {
    let actor = viewer.require_privilege(privileges::USER_LOGOUT)?.id;
    require_user_exists(db, user_id).await?;
    super::bans::refuse_acting_above(db, viewer, &[user_id]).await?;
    let revoked = session::revoke_all(db, user_id).await?;
    audit::record(
        db,
        Some(actor),
        Entry {
            action: "user.logout",
            target_type: "user",
            target_id: Some(user_id.to_string()),
            reason: Some(reason),
            details: Some(json!({ "tokensRevoked": revoked })),
        },
    )
    .await?;
    changes.push(Change::Access { user_id });
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(edges: &[(i32, Option<i32>)], own: &[(i32, &str)]) -> RoleTree {
        let now = Utc::now();
        let roles = edges
            .iter()
            .map(|(id, parent)| {
                let model = role::Model {
                    id: *id,
                    role: format!("r{id}"),
                    parent_id: *parent,
                    created_by: None,
                    updated_by: None,
                    created_at: now,
                    updated_at: now,
                };
                (*id, model)
            })
            .collect();
        let mut owned: BTreeMap<i32, BTreeSet<String>> = BTreeMap::new();
        for (id, p) in own {
            owned.entry(*id).or_default().insert((*p).to_owned());
        }
        RoleTree { roles, own: owned }
    }

    #[test]
    fn effective_privileges_include_every_ancestor() {
        let t = tree(
            &[(1, None), (2, Some(1)), (3, Some(2))],
            &[(1, "a"), (2, "b"), (3, "c")],
        );
        assert_eq!(
            t.effective(3),
            BTreeSet::from(["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(t.effective(1), BTreeSet::from(["a".into()]));
        assert_eq!(t.lineage(3), vec![3, 2, 1]);
    }

    #[test]
    fn a_corrupt_cycle_does_not_loop() {
        let t = tree(&[(1, Some(2)), (2, Some(1))], &[]);
        assert_eq!(t.lineage(1), vec![1, 2]);
    }

    #[test]
    fn role_names() {
        assert!(parse_role_name("game-master").is_ok());
        assert!(parse_role_name("Admin").is_err());
        assert!(parse_role_name("x").is_err());
    }
}
