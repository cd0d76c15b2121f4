//! `content_categories`: a tree of categories to browse content by.

use sea_orm::entity::prelude::*;

/// One category.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_categories")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Its name, unique.
    pub category: String,
    /// The category above it; none at the root.
    pub parent_id: Option<i32>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
