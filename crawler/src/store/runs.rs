//! A run's lifecycle: its ranges, opening or resuming it with its batches, the month
//! partitions it writes into, and finishing it.

use super::*;

/// The run being crawled and its unfinished batches.
pub struct OpenRun {
    /// The run.
    pub run: crawl_run::Model,
    /// Whether it was found unfinished in the database.
    pub resumed: bool,
    /// Batches not yet done, each with its platform, in id order.
    pub pending: Vec<(Job, Platform)>,
}

/// The stored range of each configured platform: the configured minimum, and the larger of
/// the configured and the stored (grown) maximum.
pub async fn ranges(
    db: &DatabaseConnection,
    settings: &CrawlerSettings,
) -> Result<Vec<(Platform, i64, i64)>, DbErr> {
    let stored: HashMap<String, crawl_range::Model> = crawl_range::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|range| (range.platform.clone(), range))
        .collect();
    let now = Utc::now();
    let mut out = Vec::new();
    for (platform, min, max) in settings.platforms() {
        let max = stored
            .get(platform.as_str())
            .map_or(max, |range| Ord::max(range.max_id, max));
        crawl_range::Entity::insert(crawl_range::ActiveModel {
            platform: Set(platform.as_str().into()),
            min_id: Set(min),
            max_id: Set(max),
            grown_at: Set(None),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(crawl_range::Column::Platform)
                .update_columns([
                    crawl_range::Column::MinId,
                    crawl_range::Column::MaxId,
                    crawl_range::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
        out.push((platform, min, max));
    }
    Ok(out)
}

/// Resumes the unfinished run, or starts one for `day` over `ranges`.
pub async fn open_run(
    db: &DatabaseConnection,
    day: NaiveDate,
    ranges: &[(Platform, i64, i64)],
) -> Result<OpenRun, DbErr> {
    let unfinished = crawl_run::Entity::find()
        .filter(crawl_run::Column::Status.is_in([RunStatus::Running, RunStatus::Finishing]))
        .order_by_asc(crawl_run::Column::Id)
        .one(db)
        .await?;
    let (run, resumed) = match unfinished {
        Some(run) => {
            // Leases of a coordinator that is gone mean nothing now.
            unleased(PENDING)
                .filter(crawl_batch::Column::RunId.eq(run.id))
                .filter(crawl_batch::Column::State.eq(LEASED))
                .exec(db)
                .await?;
            crawl_worker::Entity::update_many()
                .col_expr(
                    crawl_worker::Column::DisconnectedAt,
                    Expr::value(Utc::now()),
                )
                .filter(crawl_worker::Column::RunId.eq(run.id))
                .filter(crawl_worker::Column::DisconnectedAt.is_null())
                .exec(db)
                .await?;
            (run, true)
        }
        None => (create_run(db, day, ranges).await?, false),
    };
    ensure_partitions(db, run.day).await?;
    #[derive(FromQueryResult)]
    struct Row {
        id: i64,
        platform: String,
        first_id: i64,
        last_id: i64,
    }
    let rows = crawl_batch::Entity::find()
        .select_only()
        .columns([
            crawl_batch::Column::Id,
            crawl_batch::Column::Platform,
            crawl_batch::Column::FirstId,
            crawl_batch::Column::LastId,
        ])
        .filter(crawl_batch::Column::RunId.eq(run.id))
        .filter(crawl_batch::Column::State.ne(DONE))
        .order_by_asc(crawl_batch::Column::Id)
        .into_model::<Row>()
        .all(db)
        .await?;
    let pending = rows
        .into_iter()
        .map(|row| {
            let platform = row.platform.parse().unwrap_or(Platform::Xbox);
            let job = Job {
                batch_id: row.id,
                first_id: row.first_id,
                last_id: row.last_id,
            };
            (job, platform)
        })
        .collect();
    Ok(OpenRun {
        run,
        resumed,
        pending,
    })
}

async fn create_run(
    db: &DatabaseConnection,
    day: NaiveDate,
    ranges: &[(Platform, i64, i64)],
) -> Result<crawl_run::Model, DbErr> {
    let txn = begin_write(db).await?;
    let now = Utc::now();
    let total: i64 = ranges
        .iter()
        .map(|(_, min, max)| (max - min) / MAX_IDS as i64 + 1)
        .sum();
    let run = crawl_run::Entity::insert(crawl_run::ActiveModel {
        day: Set(day),
        status: Set(RunStatus::Running),
        started_at: Set(now),
        batches_total: Set(total),
        errors: Set("{}".into()),
        progress_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(&txn)
    .await?;
    // Six values a row; 5,000 rows stay under both backends' parameter limits.
    let mut insert = batch_insert();
    let mut rows = 0;
    for (platform, min, max) in ranges {
        let mut first = *min;
        while first <= *max {
            let last = Ord::min(first + MAX_IDS as i64 - 1, *max);
            insert.values_panic([
                run.id.into(),
                platform.as_str().into(),
                first.into(),
                last.into(),
                PENDING.into(),
                0.into(),
            ]);
            rows += 1;
            if rows == 5_000 {
                txn.execute(&insert).await?;
                insert = batch_insert();
                rows = 0;
            }
            first = last + 1;
        }
    }
    if rows > 0 {
        txn.execute(&insert).await?;
    }
    txn.commit().await?;
    Ok(run)
}

fn batch_insert() -> sea_orm::sea_query::InsertStatement {
    Query::insert()
        .into_table(crawl_batch::Entity)
        .columns([
            crawl_batch::Column::RunId,
            crawl_batch::Column::Platform,
            crawl_batch::Column::FirstId,
            crawl_batch::Column::LastId,
            crawl_batch::Column::State,
            crawl_batch::Column::Attempts,
        ])
        .to_owned()
}

/// On PostgreSQL, the month partitions of the daily tables for `day` and the month after,
/// so that writes never find a day without a partition.
pub async fn ensure_partitions(db: &DatabaseConnection, day: NaiveDate) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut month = day.with_day(1).unwrap_or(day);
    for _ in 0..2 {
        let next = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(month);
        for table in ["battle_totals", "battle_diffs"] {
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {table}_{y:04}_{m:02} PARTITION OF {table} \
                 FOR VALUES FROM ('{month}') TO ('{next}')",
                y = month.year(),
                m = month.month(),
            );
            db.execute_unprepared(&sql).await?;
        }
        month = next;
    }
    Ok(())
}

/// After the last batch: applies the growth rule, rebuilds the day's rollups and marks the
/// run finishing, in one transaction so a restart never grows a range twice. Returns the
/// ranges that grew.
pub async fn finish(
    db: &DatabaseConnection,
    run_id: i64,
    settings: &CrawlerSettings,
) -> Result<Vec<(Platform, i64, i64)>, DbErr> {
    let txn = begin_write(db).await?;
    let run = crawl_run::Entity::find_by_id(run_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("crawl run {run_id}")))?;
    let mut grown = Vec::new();
    if run.status == RunStatus::Running {
        for range in crawl_range::Entity::find().all(&txn).await? {
            let highest: Option<i64> = arena_entity::battles::player::Entity::find()
                .select_only()
                .column_as(arena_entity::battles::player::Column::Id.max(), "max")
                .filter(arena_entity::battles::player::Column::Platform.eq(&range.platform))
                .filter(
                    arena_entity::battles::player::Column::Id.between(range.min_id, range.max_id),
                )
                .into_tuple::<Option<i64>>()
                .one(&txn)
                .await?
                .flatten();
            let Some(highest) = highest else { continue };
            if settings.growth_step > 0 && range.max_id - highest <= settings.growth_within {
                let max = range.max_id + settings.growth_step;
                crawl_range::Entity::update_many()
                    .col_expr(crawl_range::Column::MaxId, Expr::value(max))
                    .col_expr(crawl_range::Column::GrownAt, Expr::value(Utc::now()))
                    .col_expr(crawl_range::Column::UpdatedAt, Expr::value(Utc::now()))
                    .filter(crawl_range::Column::Platform.eq(&range.platform))
                    .exec(&txn)
                    .await?;
                if let Ok(platform) = range.platform.parse() {
                    grown.push((platform, range.max_id, max));
                }
            }
        }
        super::rollups::refresh(&txn, run.day).await?;
        crawl_run::Entity::update_many()
            .col_expr(crawl_run::Column::Status, Expr::value(RunStatus::Finishing))
            .filter(crawl_run::Column::Id.eq(run_id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(grown)
}

/// Marks the run completed with its summary.
pub async fn complete(db: &DatabaseConnection, run_id: i64, summary: &str) -> Result<(), DbErr> {
    crawl_run::Entity::update_many()
        .col_expr(crawl_run::Column::Status, Expr::value(RunStatus::Completed))
        .col_expr(crawl_run::Column::Summary, Expr::value(summary))
        .col_expr(crawl_run::Column::FinishedAt, Expr::value(Utc::now()))
        .col_expr(crawl_run::Column::WorkersConnected, Expr::value(0))
        .filter(crawl_run::Column::Id.eq(run_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The run as stored.
pub async fn run(db: &DatabaseConnection, run_id: i64) -> Result<crawl_run::Model, DbErr> {
    crawl_run::Entity::find_by_id(run_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("crawl run {run_id}")))
}
