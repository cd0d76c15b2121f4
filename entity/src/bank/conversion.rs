//! `currency_conversions`: a rate from one currency to another, valid for a time.

use sea_orm::entity::prelude::*;

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "currency_conversions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub currency_source_id: i32,
    pub currency_destination_id: i32,
    pub ratio: i32,
    pub volume: Option<i64>,
    pub valid_from: DateTimeUtc,
    pub valid_to: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
