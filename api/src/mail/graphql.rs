//! GraphQL surface of the outbox.

use arena_entity::mail::outbox_message;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::auth::privileges;
use crate::graphql::{
    app,
    guards::Privilege,
    pagination::{IdConnection, Window},
    viewer,
};

/// A message in the outbox.
pub struct OutboxMessage(outbox_message::Model);

#[Object]
impl OutboxMessage {
    /// Message id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// To whom.
    async fn recipient(&self) -> &str {
        &self.0.recipient
    }
    /// Subject line.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// Plain-text body with its codes hidden; empty once purged
    /// (`ARENA_MAIL_KEEP_SENT_SECONDS` after it was sent).
    async fn body(&self) -> String {
        super::masked(&self.0.body)
    }
    /// When it was queued.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was delivered; null while waiting.
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
    /// Delivery attempts so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
}

/// Outbox queries.
#[derive(Default)]
pub struct MailQuery;

#[Object]
impl MailQuery {
    /// Outgoing mail, newest first. Privilege `mail.read`.
    #[graphql(guard = "Privilege(privileges::MAIL_READ)")]
    async fn outbox(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<OutboxMessage>> {
        let window = Window::parse(after, before, first, last)?;
        let (rows, total) = super::list_outbox(&app(ctx).db, viewer(ctx), window).await?;
        Ok(window.page(rows, total, |row| row.id, OutboxMessage))
    }
}
