//! `crawl_ranges`: the account-id range crawled per platform, grown as new accounts appear.

use sea_orm::entity::prelude::*;

/// One platform's range.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crawl_ranges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub platform: String,
    pub min_id: i64,
    pub max_id: i64,
    /// When the growth rule last raised `max_id`.
    pub grown_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
