//! `characters`: one of a player's characters, of a character content type.

use sea_orm::entity::prelude::*;

/// One row of `characters`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "characters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Its player.
    pub user_id: Uuid,
    /// The character content it is made from.
    pub content_id: i32,
    pub name: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
