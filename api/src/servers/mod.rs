//! The `servers` domain (seed 001, Server service): who may host game servers. Host bans
//! keep an address or network from hosting, separately from the user bans that keep
//! players out; holders of `server.manage` place and lift them, each with an audit row.

pub mod graphql;
pub mod registry;

use std::net::IpAddr;

use arena_entity::servers::host_ban;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit::{self, Entry},
    auth::{privileges, viewer::Viewer},
    context::AppContext,
    db::lock_rows,
    error::{ApiError, ApiResult},
};

/// A host ban to place.
pub struct NewHostBan {
    /// An address, or a network such as `203.0.113.0/24`.
    pub address: String,
    /// The user behind the hosting, when known.
    pub user_id: Option<Uuid>,
    pub reason: String,
    /// When it ends; `None` never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Bans an address or network from hosting, audited (`host_ban.create`).
pub async fn ban_host(
    ctx: &AppContext,
    viewer: &Viewer,
    new: NewHostBan,
) -> ApiResult<host_ban::Model> {
    let admin = viewer.require_privilege(privileges::SERVER_MANAGE)?.id;
    let net = crate::auth::bans::parse_address(&new.address)?;
    let reason = crate::catalog::text_field(&new.reason, "reason", 1, 500)?;
    let now = Utc::now();
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::bad_input("expiresAt", "a ban ends in the future"));
    }
    ctx.write(async |db, changes| {
        if let Some(user) = new.user_id
            && crate::auth::find_user(db, user).await?.is_none()
        {
            return Err(ApiError::NotFound("user"));
        }
        let made = host_ban::ActiveModel {
            ip: Set(net.addr().to_string()),
            cidr: Set(i16::from(net.prefix_len())),
            admin_id: Set(admin),
            user_id: Set(new.user_id),
            reason: Set(reason.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            expires_at: Set(new.expires_at),
            lifted_at: Set(None),
            lifted_by: Set(None),
            lift_reason: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await?;
        let shut = registry::enforce_ban_in(db, changes, &made.ip, made.cidr).await?;
        audit::record(
            db,
            Some(admin),
            Entry {
                action: "host_ban.create",
                target_type: "host_ban",
                target_id: Some(made.id.to_string()),
                reason: Some(reason.clone()),
                details: Some(json!({
                    "network": format!("{}/{}", made.ip, made.cidr),
                    "userId": made.user_id,
                    "expiresAt": made.expires_at,
                    "serversShutDown": shut,
                })),
            },
        )
        .await?;
        Ok(made)
    })
    .await
}

/// Lifts a host ban, audited (`host_ban.lift`); one lifted already stays as it was.
pub async fn lift_host_ban(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    reason: &str,
) -> ApiResult<host_ban::Model> {
    let admin = viewer.require_privilege(privileges::SERVER_MANAGE)?.id;
    let reason = crate::catalog::text_field(reason, "reason", 1, 500)?;
    ctx.write(async |db, _changes| {
        let found = lock_rows::<host_ban::Entity, _>(db, host_ban::Column::Id, [id])
            .await?
            .pop()
            .ok_or(ApiError::NotFound("host ban"))?;
        if found.lifted_at.is_some() {
            return Ok(found);
        }
        let now = Utc::now();
        let mut row: host_ban::ActiveModel = found.into();
        row.lifted_at = Set(Some(now));
        row.lifted_by = Set(Some(admin));
        row.lift_reason = Set(Some(reason.clone()));
        row.updated_at = Set(now);
        let lifted = row.update(db).await?;
        audit::record(
            db,
            Some(admin),
            Entry {
                action: "host_ban.lift",
                target_type: "host_ban",
                target_id: Some(id.to_string()),
                reason: Some(reason.clone()),
                details: None,
            },
        )
        .await?;
        Ok(lifted)
    })
    .await
}

/// The bans in force (or, with `active: false`, the lifted and expired ones; `None` all),
/// newest first.
pub async fn host_bans(
    db: &impl ConnectionTrait,
    active: Option<bool>,
) -> ApiResult<Vec<host_ban::Model>> {
    let now = Utc::now();
    let in_force = Condition::all()
        .add(host_ban::Column::LiftedAt.is_null())
        .add(
            Condition::any()
                .add(host_ban::Column::ExpiresAt.is_null())
                .add(host_ban::Column::ExpiresAt.gt(now)),
        );
    let mut query = host_ban::Entity::find().order_by_desc(host_ban::Column::Id);
    query = match active {
        Some(true) => query.filter(in_force),
        Some(false) => query.filter(in_force.not()),
        None => query,
    };
    Ok(query.all(db).await?)
}

/// The bans in force that cover `ip`: a host there may not host.
pub async fn covering(db: &impl ConnectionTrait, ip: IpAddr) -> ApiResult<Vec<host_ban::Model>> {
    Ok(host_bans(db, Some(true))
        .await?
        .into_iter()
        .filter(|ban| crate::auth::viewer::ban_covers(&ban.ip, Some(ban.cidr), ip))
        .collect())
}
