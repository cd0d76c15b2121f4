//! `crawl_samples`: a run's progress every few seconds, for charts.

use sea_orm::entity::prelude::*;

/// One sample.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "crawl_samples")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: i64,
    pub at: DateTimeUtc,
    pub batches_done: i64,
    pub accounts_done: i64,
    pub accounts_per_second: f64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
