//! The background jobs on stored files. A job is taken under a lease in a short transaction
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so instances share the work), worked with no
//! transaction open, then finished in one transaction with what it made. A worker that dies
//! mid-job leaves it to be taken again when the lease ends; after [`MAX_ATTEMPTS`] takings
//! the job fails, so a file that kills the renderer cannot do so forever. A file the
//! renderer refuses fails its job at once, with the reason.

use std::time::Duration;

use arena_entity::{
    assets::{
        asset,
        job::{self, JobKind, JobStatus},
        object_asset,
    },
    catalog::content,
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};

use super::{render, store::Store};
use crate::{context::AppContext, error::ApiError};

/// How long a taken job is held before another worker may take it.
pub const LEASE: Duration = Duration::from_secs(300);
/// Takings before a job that never finished is given up.
pub const MAX_ATTEMPTS: i32 = 3;
/// Longest an idle worker waits without looking: new jobs wake it through the change bus and
/// it wakes itself when a taken job's lease ends, so this only covers a lost wake-up.
const IDLE: Duration = Duration::from_secs(600);

/// Starts the configured number of workers.
pub fn spawn(ctx: &AppContext) {
    for _ in 0..ctx.settings.render_workers {
        let ctx = ctx.clone();
        ctx.tasks.clone().spawn(async move {
            loop {
                let worked = match run_one(&ctx).await {
                    Ok(worked) => worked,
                    Err(err) => {
                        tracing::warn!(error = ?err, "asset job round failed");
                        false
                    }
                };
                if worked {
                    continue;
                }
                // Until the next lease ends (a worker may have died holding it), a wake-up,
                // or the idle bound.
                let wait = match next_lease_end(&ctx.db).await {
                    Ok(Some(at)) => (at - Utc::now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                        .clamp(Duration::from_secs(1), IDLE),
                    Ok(None) => IDLE,
                    Err(err) => {
                        tracing::warn!(error = %err, "looking for leased asset jobs failed");
                        Duration::from_secs(5)
                    }
                };
                tokio::select! {
                    () = ctx.shutdown.cancelled() => break,
                    () = ctx.assets.wake.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        });
    }
}

/// Takes one due job and works it; whether there was one.
pub async fn run_one(ctx: &AppContext) -> Result<bool, ApiError> {
    let Some(taken) = take(&ctx.db).await? else {
        return Ok(false);
    };
    if taken.attempts > MAX_ATTEMPTS {
        finish(
            &ctx.db,
            taken.id,
            Err(format!(
                "gave up after {MAX_ATTEMPTS} attempts that did not finish"
            )),
        )
        .await?;
        return Ok(true);
    }
    let outcome = match taken.kind {
        JobKind::Render => render_job(ctx, &taken).await,
        JobKind::Purge => purge_job(ctx, &taken).await,
    };
    match outcome {
        Ok(Outcome::Finished(result)) => finish(&ctx.db, taken.id, result).await?,
        Ok(Outcome::Recorded) => {}
        // The store failed: the lease runs out and the job is taken again.
        Ok(Outcome::Retry(why)) => {
            tracing::warn!(job = taken.id, reason = %why, "asset job will be retried");
        }
        Err(err) => return Err(err),
    }
    Ok(true)
}

enum Outcome {
    /// Done, or failed for good with the reason.
    Finished(Result<(), String>),
    /// Done, and marked so with what it made.
    Recorded,
    /// Failed for now (the store is unreachable).
    Retry(String),
}

/// When the earliest queued job not yet due (one taken under a lease) comes due.
async fn next_lease_end(
    db: &DatabaseConnection,
) -> Result<Option<chrono::DateTime<Utc>>, sea_orm::DbErr> {
    Ok(job::Entity::find()
        .filter(job::Column::Status.eq(JobStatus::Queued))
        .order_by_asc(job::Column::NextAttemptAt)
        .one(db)
        .await?
        .map(|j| j.next_attempt_at))
}

/// Takes the oldest due job under a lease.
pub async fn take(db: &DatabaseConnection) -> Result<Option<job::Model>, sea_orm::DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    let mut due = job::Entity::find()
        .filter(job::Column::Status.eq(JobStatus::Queued))
        .filter(job::Column::NextAttemptAt.lte(now))
        .order_by_asc(job::Column::NextAttemptAt)
        .order_by_asc(job::Column::Id)
        .limit(1);
    if db.get_database_backend() == DbBackend::Postgres {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let Some(mut taken) = due.one(&txn).await? else {
        txn.rollback().await?;
        return Ok(None);
    };
    let until = now + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::MAX);
    job::Entity::update_many()
        .col_expr(job::Column::NextAttemptAt, Expr::value(until))
        .col_expr(
            job::Column::Attempts,
            Expr::col(job::Column::Attempts).add(1),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(taken.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    taken.attempts += 1;
    taken.next_attempt_at = until;
    Ok(Some(taken))
}

async fn finish(
    db: &impl sea_orm::ConnectionTrait,
    id: i32,
    result: Result<(), String>,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let (status, reason) = match result {
        Ok(()) => (JobStatus::Done, None),
        Err(reason) => (JobStatus::Failed, Some(reason)),
    };
    if let Some(reason) = &reason {
        tracing::info!(job = id, reason = %reason, "asset job failed");
    }
    job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(status))
        .col_expr(job::Column::Reason, Expr::value(reason))
        .col_expr(job::Column::FinishedAt, Expr::value(Some(now)))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

async fn render_job(ctx: &AppContext, taken: &job::Model) -> Result<Outcome, ApiError> {
    let Some(source) = asset::Entity::find_by_id(taken.asset_id)
        .one(&ctx.db)
        .await?
    else {
        return Ok(Outcome::Finished(Err("the asset is gone".into())));
    };
    if source.deleted_at.is_some() {
        return Ok(Outcome::Finished(Err("the asset was deleted".into())));
    }
    let Some(key) = source.source_uri.clone() else {
        return Ok(Outcome::Finished(Err(
            "the asset has no stored bytes".into()
        )));
    };
    // A job taken again after its worker died may find its thumbnails made already.
    if super::thumbnails_of(&ctx.db, &[source.id])
        .await?
        .is_empty()
    {
        let store = &ctx.assets.store;
        let bytes = match store.get(&key).await {
            Ok(bytes) => bytes,
            Err(err) => return Ok(Outcome::Retry(format!("reading {key}: {err}"))),
        };
        let mime = source.mimetype.clone();
        // A panic in a decoder ends this task only; the worker reads it as a failure.
        let drawn = tokio::task::spawn_blocking(move || render::render(&mime, &bytes)).await;
        let thumbnail = match drawn {
            Ok(Ok(thumbnail)) => thumbnail,
            Ok(Err(reason)) => return Ok(Outcome::Finished(Err(reason))),
            Err(err) => {
                return Ok(Outcome::Finished(Err(format!(
                    "the renderer failed: {err}"
                ))));
            }
        };
        let mut stored = Vec::new();
        for (bytes, mime, name) in [
            (thumbnail.png, super::check::PNG, "thumbnail.png"),
            (thumbnail.webp, super::check::WEBP, "thumbnail.webp"),
        ] {
            let key = Store::new_key();
            let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
            if let Err(err) = store.put(&key, bytes).await {
                forget(store, &stored).await;
                return Ok(Outcome::Retry(format!("storing a thumbnail: {err}")));
            }
            stored.push((key, mime, name, size));
        }
        // Under the source's row lock, which an attachment takes too: whichever commits
        // second sees the other's rows.
        let recorded = ctx
            .write(async |db, _changes| {
                crate::db::lock_rows::<asset::Entity, _>(db, asset::Column::Id, [source.id])
                    .await?;
                let now = Utc::now();
                for (key, mime, name, size) in &stored {
                    asset::ActiveModel::from(asset::Model {
                        id: uuid::Uuid::now_v7(),
                        user_id: source.user_id,
                        kind: asset::AssetKind::Image,
                        asset_tag: Some("thumbnail".into()),
                        source_uri: Some(key.clone()),
                        source: Some("render".into()),
                        originalname: Some((*name).into()),
                        mimetype: (*mime).into(),
                        filesize: *size,
                        upload_ip: None,
                        public: source.public,
                        derived_from: Some(source.id),
                        created_at: now,
                        updated_at: now,
                        deleted_at: None,
                    })
                    .insert(db)
                    .await?;
                }
                Ok(())
            })
            .await;
        if let Err(err) = recorded {
            forget(store, &stored).await;
            return Err(err);
        }
    }
    // Then the items holding the file show its thumbnails, and the job is done.
    let id = taken.id;
    ctx.write(async |db, changes| {
        let holders: Vec<i32> = object_asset::Entity::find()
            .select_only()
            .column(object_asset::Column::ContentId)
            .distinct()
            .filter(object_asset::Column::AssetId.eq(source.id))
            .into_tuple()
            .all(db)
            .await?;
        for item in
            crate::db::lock_rows::<content::Entity, _>(db, content::Column::Id, holders).await?
        {
            crate::catalog::thumbnails::link_in(db, &item, changes).await?;
        }
        finish(db, id, Ok(())).await?;
        Ok(())
    })
    .await?;
    Ok(Outcome::Recorded)
}

async fn forget(store: &Store, stored: &[(String, &str, &str, i64)]) {
    for (key, ..) in stored {
        if let Err(err) = store.delete(key).await {
            tracing::warn!(key, error = %err, "could not remove an unrecorded thumbnail");
        }
    }
}

/// Removes the bytes of a deleted asset and of its thumbnails.
async fn purge_job(ctx: &AppContext, taken: &job::Model) -> Result<Outcome, ApiError> {
    let rows = asset::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(asset::Column::Id.eq(taken.asset_id))
                .add(asset::Column::DerivedFrom.eq(taken.asset_id)),
        )
        .filter(asset::Column::DeletedAt.is_not_null())
        .all(&ctx.db)
        .await?;
    for row in rows {
        if let Some(key) = &row.source_uri
            && let Err(err) = ctx.assets.store.delete(key).await
        {
            return Ok(Outcome::Retry(format!("removing {key}: {err}")));
        }
    }
    Ok(Outcome::Finished(Ok(())))
}
