//! `export_backlog`: documents the search cluster did not take, sent again by the next export.

use sea_orm::entity::prelude::*;

/// One waiting document.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "export_backlog")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub index_name: String,
    pub doc_id: String,
    /// The JSON document.
    pub body: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
