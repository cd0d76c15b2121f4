//! `ban_privileges`: A privilege a privilege ban takes away.

use sea_orm::entity::prelude::*;

/// One row of `ban_privileges`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ban_privileges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ban_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub privilege_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
