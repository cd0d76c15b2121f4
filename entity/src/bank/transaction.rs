//! `transactions`: the ledger. Each row moves `amount` from the payer's account to the
//! recipient's; a missing side is the system account.

use sea_orm::entity::prelude::*;

/// Why money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum TransactionKind {
    /// From one player to another.
    #[sea_orm(string_value = "transfer")]
    Transfer,
    /// Created by the platform for a player.
    #[sea_orm(string_value = "mint")]
    Mint,
    /// Taken out of circulation by the platform.
    #[sea_orm(string_value = "burn")]
    Burn,
    /// A buyer pays a creator for an item.
    #[sea_orm(string_value = "purchase")]
    Purchase,
    /// Undoes an earlier transaction (`previous_transaction_id`).
    #[sea_orm(string_value = "refund")]
    Refund,
    /// Money one side of a trade gives the other.
    #[sea_orm(string_value = "trade")]
    Trade,
}

/// Where a transfer stands. A confirmed row is `posted`. A pending row (not confirmed) holds
/// its amount until it is posted (a confirmed row then points to it), voided, or expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum TransferState {
    #[sea_orm(string_value = "posted")]
    Posted,
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "voided")]
    Voided,
    /// Voided by its timeout.
    #[sea_orm(string_value = "expired")]
    Expired,
}

/// One ledger row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transactions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub currency_id: i32,
    /// The payer; None is the system account.
    pub user_id: Option<Uuid>,
    /// The recipient; None is the system account.
    pub recipient_id: Option<Uuid>,
    pub previous_transaction_id: Option<i32>,
    pub description: Option<String>,
    pub amount: i64,
    pub confirmed: bool,
    /// Initiated by the platform, not a player.
    pub automated: bool,
    pub kind: TransactionKind,
    pub idempotency_key: Option<String>,
    /// The conversion rule a conversion's two legs used.
    pub conversion_id: Option<i32>,
    pub state: TransferState,
    /// The pending transfer this row posts.
    pub pending_id: Option<i32>,
    /// When a pending transfer voids itself.
    pub timeout_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
