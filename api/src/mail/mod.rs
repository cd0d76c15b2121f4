//! Outgoing mail through an outbox: messages are written in the transaction that causes
//! them, so none is lost or sent for work that rolled back. With `ARENA_SMTP_URL` set, a
//! sender delivers them; without, they stay for an admin to read.

pub mod graphql;
pub mod sender;

use arena_entity::mail::outbox_message;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait,
};

use crate::{
    auth::privileges,
    auth::viewer::Viewer,
    error::ApiResult,
    graphql::pagination::{TotalCount, Window},
};

/// Queues a message to `recipient` on `db` (normally the caller's transaction).
pub async fn enqueue(
    db: &impl ConnectionTrait,
    recipient: &str,
    subject: &str,
    body: String,
) -> ApiResult<()> {
    let now = Utc::now();
    outbox_message::ActiveModel {
        recipient: Set(recipient.to_owned()),
        subject: Set(subject.to_owned()),
        body: Set(body),
        created_at: Set(now),
        next_attempt_at: Set(now),
        attempts: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A page of the outbox, newest first. Needs `mail.read`.
pub async fn list_outbox(
    db: &DatabaseConnection,
    viewer: &Viewer,
    window: Window,
) -> ApiResult<(Vec<outbox_message::Model>, TotalCount)> {
    viewer.require_privilege(privileges::MAIL_READ)?;
    let total = TotalCount::of(db, outbox_message::Entity::find());
    let rows = window
        .select(outbox_message::Entity::find(), outbox_message::Column::Id)
        .all(db)
        .await?;
    Ok((rows, total))
}
