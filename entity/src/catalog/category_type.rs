//! `content_category_types`: the content types a category holds.

use sea_orm::entity::prelude::*;

use super::content::ContentType;

/// One type of one category.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_category_types")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub content_type: ContentType,
    pub category_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
