//! `character_properties`: a named, typed value of a character.

use sea_orm::entity::prelude::*;

/// How a property's text is read (seed 001's `value_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum ValueType {
    #[sea_orm(string_value = "string")]
    String,
    #[sea_orm(string_value = "int")]
    Int,
    #[sea_orm(string_value = "float")]
    Float,
    #[sea_orm(string_value = "bool")]
    Bool,
    /// A content item's id, also kept in `related_content_id`.
    #[sea_orm(string_value = "content")]
    Content,
}

/// One row of `character_properties`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "character_properties")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub character_id: i32,
    /// Its name, unique per character.
    pub property: String,
    /// The value as text, valid for its type.
    pub value: String,
    pub value_type: ValueType,
    /// The item a content property points to.
    pub related_content_id: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
