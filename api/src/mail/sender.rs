//! Delivers the outbox over SMTP, retrying with backoff; several instances may run at once.

use std::time::Duration;

use arena_entity::mail::outbox_message;
use chrono::Utc;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, message::Mailbox};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, LockBehavior, LockType},
};

use crate::{context::AppContext, settings::redact_url};

const POLL: Duration = Duration::from_secs(2);
const BATCH: u64 = 5;
/// Longer than a batch can take: each send times out after 20 s.
const LEASE: Duration = Duration::from_secs(5 * 20 + 30);

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

/// Sends the due messages of one batch; returns how many went out. The batch is claimed in
/// a short transaction (a lease: nobody else takes it until the lease ends), then sent with
/// no transaction open, then each message is marked. A sender that dies mid-batch leaves its
/// messages to be sent again when their lease ends: a message may go out twice, never not.
pub async fn deliver_due(
    db: &DatabaseConnection,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
) -> Result<usize, sea_orm::DbErr> {
    let mut sent = 0;
    for message in claim_due(db, LEASE).await? {
        let outcome = send(transport, from, &message).await;
        let mut update =
            outbox_message::Entity::update_many().filter(outbox_message::Column::Id.eq(message.id));
        match outcome {
            Ok(()) => {
                update = update
                    .col_expr(
                        outbox_message::Column::SentAt,
                        Expr::value(Some(Utc::now())),
                    )
                    .col_expr(
                        outbox_message::Column::LastError,
                        Expr::value(None::<String>),
                    );
                sent += 1;
            }
            Err(err) => {
                // 30 s, 1 min, 2 min … at most 6 hours apart.
                let wait = 30_i64
                    .saturating_mul(1 << message.attempts.clamp(0, 10))
                    .min(6 * 3600);
                update = update
                    .col_expr(
                        outbox_message::Column::NextAttemptAt,
                        Expr::value(Utc::now() + chrono::Duration::seconds(wait)),
                    )
                    .col_expr(outbox_message::Column::LastError, Expr::value(Some(err)));
            }
        }
        update.exec(db).await?;
    }
    Ok(sent)
}

/// Claims up to a batch of due messages for `lease`: their next attempt moves past the lease
/// and their attempts count up, in one short transaction. Returns them as claimed.
pub async fn claim_due(
    db: &DatabaseConnection,
    lease: Duration,
) -> Result<Vec<outbox_message::Model>, sea_orm::DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    let mut due = outbox_message::Entity::find()
        .filter(outbox_message::Column::SentAt.is_null())
        .filter(outbox_message::Column::NextAttemptAt.lte(now))
        // A purged body has nothing left to send.
        .filter(outbox_message::Column::Body.ne(""))
        .order_by_asc(outbox_message::Column::Id)
        .limit(BATCH);
    // Instances share the work: each takes rows nobody else holds.
    if db.get_database_backend() == DbBackend::Postgres {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let mut due = due.all(&txn).await?;
    if due.is_empty() {
        txn.rollback().await?;
        return Ok(due);
    }
    use sea_orm::sea_query::ExprTrait;
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    outbox_message::Entity::update_many()
        .col_expr(outbox_message::Column::NextAttemptAt, Expr::value(until))
        .col_expr(
            outbox_message::Column::Attempts,
            Expr::col(outbox_message::Column::Attempts).add(1),
        )
        .filter(outbox_message::Column::Id.is_in(due.iter().map(|m| m.id)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    for message in &mut due {
        message.attempts = message.attempts.saturating_add(1);
        message.next_attempt_at = until;
    }
    Ok(due)
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
