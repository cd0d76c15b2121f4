//! `privileges`: the named permissions services check.

use sea_orm::entity::prelude::*;

/// One privilege, such as `user.ban`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "privileges")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub privilege: String,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
