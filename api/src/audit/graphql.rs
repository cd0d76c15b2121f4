//! GraphQL surface of the `audit` domain.

use arena_entity::audit::audit_entry;
use async_graphql::{Context, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};

use super::AuditFilter;
use crate::{
    auth::graphql::{User, parse_uuid},
    auth::privileges,
    graphql::{
        app,
        guards::Privilege,
        pagination::{IdConnection, Window},
        viewer,
    },
};

/// One recorded moderation or administration action.
pub struct AuditEntry(audit_entry::Model);

#[Object]
impl AuditEntry {
    /// Entry id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Who did it; null for the system.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.actor_id).await
    }
    /// What was done, such as `ban.create`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The kind of thing it was done to.
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }
    /// The id of the thing it was done to.
    async fn target_id(&self) -> Option<&str> {
        self.0.target_id.as_deref()
    }
    /// The reason given.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// Further details of the action.
    async fn details(&self) -> Option<Json<serde_json::Value>> {
        self.0.details.clone().map(Json)
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Narrows the audit log; every field given must match.
#[derive(InputObject, Default)]
pub struct AuditFilterInput {
    /// Done by this user.
    actor_id: Option<ID>,
    /// This action, such as `ban.create`.
    action: Option<String>,
    /// Done to this kind of thing, such as `user`.
    target_type: Option<String>,
    /// Done to this thing.
    target_id: Option<String>,
    /// At or after.
    since: Option<DateTime<Utc>>,
    /// Before.
    until: Option<DateTime<Utc>>,
}

/// Queries of the `audit` domain.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log, newest first. Privilege `audit.read`.
    #[graphql(guard = "Privilege(privileges::AUDIT_READ)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<AuditEntry>> {
        let window = Window::parse(after, before, first, last)?;
        let filter = filter.unwrap_or_default();
        let filter = AuditFilter {
            actor_id: filter
                .actor_id
                .as_ref()
                .map(|id| parse_uuid(id, "actorId"))
                .transpose()?,
            action: filter.action,
            target_type: filter.target_type,
            target_id: filter.target_id,
            since: filter.since,
            until: filter.until,
        };
        let (rows, total) = super::list(&app(ctx).db, viewer(ctx), filter, window).await?;
        Ok(window.page(rows, total, |row| row.id, AuditEntry))
    }
}
