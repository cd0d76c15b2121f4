//! A run's live figures, its workers and its samples.

use super::*;

/// A snapshot of a run's progress, as the coordinator sees it.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Accounts per second lately.
    pub accounts_per_second: f64,
    /// Error kind to count.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Workers connected.
    pub workers_connected: i32,
    /// Each connected or departed worker of this process.
    pub workers: Vec<crawl_worker::Model>,
}

/// Records progress: the run's live figures, its workers, and a sample for charts.
pub async fn record_progress(
    db: &DatabaseConnection,
    run_id: i64,
    progress: &Progress,
) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    let now = Utc::now();
    let errors = serde_json::to_string(&progress.errors).unwrap_or_else(|_| "{}".into());
    crawl_run::Entity::update_many()
        .col_expr(
            crawl_run::Column::AccountsPerSecond,
            Expr::value(progress.accounts_per_second),
        )
        .col_expr(crawl_run::Column::Errors, Expr::value(errors))
        .col_expr(
            crawl_run::Column::WorkersConnected,
            Expr::value(progress.workers_connected),
        )
        .col_expr(crawl_run::Column::ProgressAt, Expr::value(now))
        .filter(crawl_run::Column::Id.eq(run_id))
        .exec(&txn)
        .await?;
    let run = crawl_run::Entity::find_by_id(run_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("crawl run {run_id}")))?;
    crawl_sample::Entity::insert(crawl_sample::ActiveModel {
        run_id: Set(run_id),
        at: Set(now),
        batches_done: Set(run.batches_done),
        accounts_done: Set(run.accounts_done),
        accounts_per_second: Set(progress.accounts_per_second),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    if !progress.workers.is_empty() {
        let rows = progress
            .workers
            .iter()
            .map(|worker| crawl_worker::ActiveModel::from(worker.clone()));
        // Unchanged values are inserted as they are: one statement for every worker.
        crawl_worker::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(crawl_worker::Column::Id)
                    .update_columns([
                        crawl_worker::Column::RequestsPerSecond,
                        crawl_worker::Column::LastSeenAt,
                        crawl_worker::Column::DisconnectedAt,
                        crawl_worker::Column::BatchesDone,
                        crawl_worker::Column::AccountsDone,
                        crawl_worker::Column::Errors,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
    }
    txn.commit().await
}
