//! `object_prices`: what an item costs in one currency.

use sea_orm::entity::prelude::*;

pub use crate::bank::currency::CurrencyType;

/// One price.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "object_prices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub content_id: i32,
    pub price: i64,
    /// Which of the two currencies.
    pub currency: CurrencyType,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
