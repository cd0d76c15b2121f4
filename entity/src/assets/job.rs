//! `asset_jobs`: background work on one stored file, taken by one worker at a time under a
//! lease, so it survives restarts.

use sea_orm::entity::prelude::*;

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum JobKind {
    /// Make thumbnails of the file.
    #[sea_orm(string_value = "render")]
    Render,
    /// Remove the file's bytes (and its thumbnails') from the store.
    #[sea_orm(string_value = "purge")]
    Purge,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum JobStatus {
    /// Waiting, or taken by a worker until `next_attempt_at`.
    #[sea_orm(string_value = "queued")]
    Queued,
    #[sea_orm(string_value = "done")]
    Done,
    /// Given up, with the reason.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// One job.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "asset_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub asset_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub attempts: i32,
    /// When it may be taken next: now for a new job, the lease's end for a taken one.
    pub next_attempt_at: DateTimeUtc,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
