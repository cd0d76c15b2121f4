//! `crawl_batches`: up to 100 consecutive ids, one API request, leased to one worker at a time.

use sea_orm::entity::prelude::*;

/// One batch.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crawl_batches")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: i64,
    pub platform: String,
    pub first_id: i64,
    pub last_id: i64,
    /// `pending`, `leased` or `done`.
    pub state: String,
    pub worker_id: Option<Uuid>,
    pub lease_until: Option<DateTimeUtc>,
    /// Times it was handed out.
    pub attempts: i32,
    /// Accounts found, once done.
    pub players: Option<i32>,
    pub done_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
