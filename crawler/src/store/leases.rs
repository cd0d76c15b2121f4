//! Batches leased to workers, and put back.

use super::*;

/// Records that `jobs` are leased to `worker` until `until`.
pub async fn lease(
    db: &DatabaseConnection,
    batch_ids: &[i64],
    worker: Uuid,
    until: DateTime<Utc>,
) -> Result<(), DbErr> {
    crawl_batch::Entity::update_many()
        .col_expr(crawl_batch::Column::State, Expr::value(LEASED))
        .col_expr(crawl_batch::Column::WorkerId, Expr::value(worker))
        .col_expr(crawl_batch::Column::LeaseUntil, Expr::value(until))
        .col_expr(
            crawl_batch::Column::Attempts,
            Expr::col(crawl_batch::Column::Attempts).add(1),
        )
        .filter(crawl_batch::Column::Id.is_in(batch_ids.iter().copied()))
        .filter(crawl_batch::Column::State.ne(DONE))
        .exec(db)
        .await?;
    Ok(())
}

/// Puts batches back in the queue.
pub async fn release(db: &DatabaseConnection, batch_ids: &[i64]) -> Result<(), DbErr> {
    unleased(PENDING)
        .filter(crawl_batch::Column::Id.is_in(batch_ids.iter().copied()))
        .filter(crawl_batch::Column::State.eq(LEASED))
        .exec(db)
        .await?;
    Ok(())
}
