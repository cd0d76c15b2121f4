//! `content_ownerships`: one hand an item is in. Ended when it changes hands; the next one
//! points back to it.

use sea_orm::entity::prelude::*;

pub use crate::bank::currency::CurrencyType;

/// How the owner got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum OwnershipSource {
    #[sea_orm(string_value = "author")]
    Author,
    #[sea_orm(string_value = "purchase")]
    Purchase,
    #[sea_orm(string_value = "trade")]
    Trade,
    #[sea_orm(string_value = "gift")]
    Gift,
}

/// One ownership.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_ownerships")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub content_id: i32,
    pub source: OwnershipSource,
    pub user_id: Uuid,
    pub previous_ownership_id: Option<i32>,
    pub purchase_price: Option<i64>,
    pub purchase_currency: Option<CurrencyType>,
    /// 1..stock for a limited item.
    pub serial: Option<i32>,
    /// The payment.
    pub transaction_id: Option<i32>,
    /// The request that made it, unique per owner.
    pub idempotency_key: Option<String>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When it left this owner.
    pub ended_at: Option<DateTimeUtc>,
    /// When a time-limited purchase stops counting.
    pub expires_at: Option<DateTimeUtc>,
    /// The open trade this copy is held in.
    pub trade_id: Option<i32>,
    /// Listed for resale at this price.
    pub list_price: Option<i64>,
    pub list_currency: Option<CurrencyType>,
    pub listed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
