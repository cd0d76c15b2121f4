//! `trades`: one player's offer to another of items and money for items and money.

use sea_orm::entity::prelude::*;

/// Seed 001's trade statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum TradeStatus {
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "opened")]
    Opened,
    #[sea_orm(string_value = "rejected")]
    Rejected,
    /// Closed without a swap because something offered stopped being valid, or it expired.
    #[sea_orm(string_value = "return_to_sender")]
    ReturnToSender,
    #[sea_orm(string_value = "confirmed")]
    Confirmed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl TradeStatus {
    /// Still waiting for the recipient.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Sent | Self::Opened)
    }
}

/// One trade.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trades")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The sender.
    pub user_id: Uuid,
    pub recipient_id: Uuid,
    pub status: TradeStatus,
    pub description: Option<String>,
    pub offered_currency_id: Option<i32>,
    pub offered_amount: Option<i64>,
    pub requested_currency_id: Option<i32>,
    pub requested_amount: Option<i64>,
    /// The pending transfer holding the offered money.
    pub hold_transaction_id: Option<i32>,
    /// Unique per sender.
    pub idempotency_key: String,
    /// Why it closed without a swap.
    pub reason: Option<String>,
    pub expires_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
