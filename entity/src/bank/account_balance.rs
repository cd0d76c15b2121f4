//! `account_balances`: what one player (or, with no player, the platform) holds of one
//! currency.

use sea_orm::entity::prelude::*;

/// One account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_balances")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub currency_id: i32,
    /// None: the platform's system account, which holds minus what circulates.
    pub user_id: Option<Uuid>,
    /// What may be spent.
    pub amount: i64,
    /// What pending transfers hold: still the owner's, spendable nowhere else.
    pub held: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
