//! Outgoing mail through an outbox: messages are written in the transaction that causes
//! them, so none is lost or sent for work that rolled back. With `ARENA_SMTP_URL` set, a
//! sender delivers them; without, they stay for an admin to read.

pub mod graphql;
pub mod sender;

use arena_entity::mail::outbox_message;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, QueryFilter, sea_query::Expr,
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

/// A body as people may see it: every code (a run of 32 or more URL-safe characters, as
/// [`crate::auth::tokens::new_opaque`] makes) hidden. Only the mail itself carries codes.
pub fn masked(body: &str) -> String {
    let is_code_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(body.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 32 {
            out.push_str("[code hidden]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in body.chars() {
        if is_code_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Empties the bodies that have done their work: sent ones after `keep_sent`, and any older
/// than the longest-lived code, whose codes no longer work (those are not sent any more).
pub async fn purge_bodies(
    db: &DatabaseConnection,
    keep_sent: std::time::Duration,
) -> Result<u64, sea_orm::DbErr> {
    let now = Utc::now();
    let sent_before = now - chrono::Duration::from_std(keep_sent).unwrap_or(chrono::Duration::MAX);
    let created_before = now - crate::auth::lifecycle::LONGEST_CODE_LIFE;
    let purged = outbox_message::Entity::update_many()
        .col_expr(outbox_message::Column::Body, Expr::value(""))
        .filter(outbox_message::Column::Body.ne(""))
        .filter(
            Condition::any()
                .add(outbox_message::Column::SentAt.lt(sent_before))
                .add(outbox_message::Column::CreatedAt.lt(created_before)),
        )
        .exec(db)
        .await?;
    Ok(purged.rows_affected)
}

/// Purges bodies (see [`purge_bodies`]) every so often until shutdown, on every instance.
pub fn spawn_janitor(ctx: &crate::context::AppContext) {
    let keep_sent = std::time::Duration::from_secs(ctx.settings.mail_keep_sent_seconds);
    let every = (keep_sent / 2).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(60),
    );
    let (db, shutdown) = (ctx.db.clone(), ctx.shutdown.clone());
    ctx.tasks.spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
            if let Err(err) = purge_bodies(&db, keep_sent).await {
                tracing::warn!(error = %err, "purging sent mail bodies failed");
            }
        }
    });
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
