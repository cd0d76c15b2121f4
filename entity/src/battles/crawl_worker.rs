//! `crawl_workers`: each worker connection of a run, with what it did.

use sea_orm::entity::prelude::*;

/// One connection.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crawl_workers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub run_id: i64,
    /// What the worker calls itself.
    pub name: String,
    pub application_id: String,
    pub requests_per_second: i32,
    pub connected_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub disconnected_at: Option<DateTimeUtc>,
    pub batches_done: i64,
    pub accounts_done: i64,
    /// Retries and failed batches.
    pub errors: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
