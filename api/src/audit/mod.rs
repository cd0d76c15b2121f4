//! The audit log: every moderation and administration action, written in the same
//! transaction as the action, and read by holders of `audit.read`.

pub mod graphql;

use arena_entity::audit::audit_entry;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use crate::{
    auth::privileges,
    auth::viewer::Viewer,
    error::ApiResult,
    graphql::pagination::{TotalCount, Window},
};

/// One action to record.
pub struct Entry {
    /// What was done, such as `ban.create`.
    pub action: &'static str,
    /// The kind of thing it was done to, such as `user`.
    pub target_type: &'static str,
    /// Its id.
    pub target_id: Option<String>,
    /// The reason the actor gave.
    pub reason: Option<String>,
    /// Anything else worth keeping.
    pub details: Option<serde_json::Value>,
}

/// Writes `entry` by `actor` (None: the system) on `db`, normally the action's transaction.
pub async fn record(db: &impl ConnectionTrait, actor: Option<Uuid>, entry: Entry) -> ApiResult<()> {
    audit_entry::ActiveModel {
        actor_id: Set(actor),
        action: Set(entry.action.to_owned()),
        target_type: Set(entry.target_type.to_owned()),
        target_id: Set(entry.target_id),
        reason: Set(entry.reason),
        details: Set(entry.details),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Records a staff member's change to a set-up (a quest, a board, a game's statistics):
/// no reason, the target by id, and `details`.
pub async fn configured(
    db: &impl ConnectionTrait,
    actor: Uuid,
    action: &'static str,
    (target_type, target_id): (&'static str, impl ToString),
    details: serde_json::Value,
) -> ApiResult<()> {
    record(
        db,
        Some(actor),
        Entry {
            action,
            target_type,
            target_id: Some(target_id.to_string()),
            reason: None,
            details: Some(details),
        },
    )
    .await
}

/// Which entries to list; every field narrows.
#[derive(Default)]
pub struct AuditFilter {
    /// Done by this user.
    pub actor_id: Option<Uuid>,
    /// This action.
    pub action: Option<String>,
    /// Done to this kind of thing.
    pub target_type: Option<String>,
    /// Done to this thing.
    pub target_id: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// A page of entries, newest first, and how many match. Needs `audit.read`.
pub async fn list(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: AuditFilter,
    window: Window,
) -> ApiResult<(Vec<audit_entry::Model>, TotalCount)> {
    viewer.require_privilege(privileges::AUDIT_READ)?;
    let mut matching = Condition::all();
    if let Some(actor) = filter.actor_id {
        matching = matching.add(audit_entry::Column::ActorId.eq(actor));
    }
    if let Some(action) = filter.action {
        matching = matching.add(audit_entry::Column::Action.eq(action));
    }
    if let Some(target_type) = filter.target_type {
        matching = matching.add(audit_entry::Column::TargetType.eq(target_type));
    }
    if let Some(target_id) = filter.target_id {
        matching = matching.add(audit_entry::Column::TargetId.eq(target_id));
    }
    if let Some(since) = filter.since {
        matching = matching.add(audit_entry::Column::CreatedAt.gte(since));
    }
    if let Some(until) = filter.until {
        matching = matching.add(audit_entry::Column::CreatedAt.lt(until));
    }
    let total = TotalCount::of(db, audit_entry::Entity::find().filter(matching.clone()));
    let rows = window
        .select(
            audit_entry::Entity::find().filter(matching),
            audit_entry::Column::Id,
        )
        .all(db)
        .await?;
    Ok((rows, total))
}
