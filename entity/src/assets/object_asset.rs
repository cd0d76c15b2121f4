//! `object_assets`: a file a content revision uses, by type, sub-type and index.

use sea_orm::entity::prelude::*;

pub use super::asset::AssetKind;

/// One file of one revision.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "object_assets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub content_id: i32,
    pub revision_id: i32,
    pub asset_id: Uuid,
    #[sea_orm(column_name = "type")]
    pub asset_type: AssetKind,
    /// A finer name: preview, icon, thumbnail.
    pub type_name: Option<String>,
    pub index: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
