//! `crawl_runs`: one crawl of every configured id for one day, with its live progress.

use sea_orm::entity::prelude::*;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum RunStatus {
    /// Batches are being fetched.
    #[sea_orm(string_value = "running")]
    Running,
    /// Every batch is written; growth and export are under way.
    #[sea_orm(string_value = "finishing")]
    Finishing,
    /// Done.
    #[sea_orm(string_value = "completed")]
    Completed,
}

/// One run.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "crawl_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The day being recorded.
    pub day: Date,
    pub status: RunStatus,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub batches_total: i64,
    pub batches_done: i64,
    /// Account ids covered by finished batches.
    pub accounts_done: i64,
    /// Ids that had an account.
    pub players_found: i64,
    /// Players whose battle count changed (the rows written).
    pub players_changed: i64,
    /// Over the last few seconds.
    pub accounts_per_second: f64,
    /// JSON object: error kind to count.
    pub errors: String,
    pub workers_connected: i32,
    /// The closing summary, once finished.
    pub summary: Option<String>,
    /// When progress was last recorded.
    pub progress_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
