//! `friends`: a friend request (`pending`) or, once accepted, a friendship. One row per pair,
//! whichever player asked.

use sea_orm::entity::prelude::*;

/// One row of `friends`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "friends")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Who asked.
    pub user_id: Uuid,
    /// Who was asked.
    pub target_id: Uuid,
    /// Not answered yet.
    pub pending: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
