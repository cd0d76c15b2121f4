//! Delivers the outbox over SMTP, retrying with backoff; several instances may run at once.

use std::time::Duration;

use arena_entity::mail::outbox_message;
use chrono::Utc;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, message::Mailbox};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::{context::AppContext, settings::redact_url};

const POLL: Duration = Duration::from_secs(2);
const BATCH: u64 = 20;

/// Starts the sender when SMTP is configured; it stops with the server.
pub fn spawn(ctx: &AppContext) -> Result<(), String> {
    let Some(url) = &ctx.settings.smtp_url else {
        return Ok(());
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
        .map_err(|err| format!("ARENA_SMTP_URL {}: {err}", redact_url(url.expose())))?
        .timeout(Some(Duration::from_secs(20)))
        .build();
    let from: Mailbox = ctx
        .settings
        .mail_from
        .parse()
        .map_err(|err| format!("ARENA_MAIL_FROM {:?}: {err}", ctx.settings.mail_from))?;
    let (db, shutdown) = (ctx.db.clone(), ctx.shutdown.clone());
    ctx.tasks.spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(POLL) => {}
            }
            if let Err(err) = deliver_due(&db, &transport, &from).await {
                tracing::warn!(error = %err, "mail delivery round failed");
            }
        }
    });
    Ok(())
}

/// Sends the due messages of one batch; returns how many went out.
pub async fn deliver_due(
    db: &DatabaseConnection,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
) -> Result<usize, sea_orm::DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let mut due = outbox_message::Entity::find()
        .filter(outbox_message::Column::SentAt.is_null())
        .filter(outbox_message::Column::NextAttemptAt.lte(Utc::now()))
        .order_by_asc(outbox_message::Column::Id)
        .limit(BATCH);
    // Instances share the work: each takes rows nobody else holds.
    if db.get_database_backend() == DbBackend::Postgres {
        due = due.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    let mut sent = 0;
    for message in due.all(&txn).await? {
        let attempts = message.attempts.saturating_add(1);
        let outcome = send(transport, from, &message).await;
        let mut update: outbox_message::ActiveModel = message.into();
        update.attempts = Set(attempts);
        match outcome {
            Ok(()) => {
                update.sent_at = Set(Some(Utc::now()));
                update.last_error = Set(None);
                sent += 1;
            }
            Err(err) => {
                // 30 s, 1 min, 2 min … at most 6 hours apart.
                let wait = 30_i64
                    .saturating_mul(1 << attempts.clamp(0, 10))
                    .min(6 * 3600);
                update.next_attempt_at = Set(Utc::now() + chrono::Duration::seconds(wait));
                update.last_error = Set(Some(err));
            }
        }
        update.update(&txn).await?;
    }
    txn.commit().await?;
    Ok(sent)
}

async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    message: &outbox_message::Model,
) -> Result<(), String> {
    let to: Mailbox = message
        .recipient
        .parse()
        .map_err(|err| format!("recipient: {err}"))?;
    let email = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&message.subject)
        .body(message.body.clone())
        .map_err(|err| format!("message: {err}"))?;
    transport
        .send(email)
        .await
        .map(|_| ())
        .map_err(|err| err.to_string())
}
