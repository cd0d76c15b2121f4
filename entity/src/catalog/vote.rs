//! `content_votes`: one vote per player per item, changeable.

use sea_orm::entity::prelude::*;

/// Up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum VoteKind {
    /// Up.
    #[sea_orm(string_value = "up")]
    Up,
    /// Down.
    #[sea_orm(string_value = "down")]
    Down,
}

/// One vote.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_votes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub content_id: i32,
    pub user_id: Uuid,
    pub vote: VoteKind,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
