//! `content_relations`: the second item is `relation` of the first.

use sea_orm::entity::prelude::*;

/// How the second item relates to the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum RelationKind {
    /// The second supports the first.
    #[sea_orm(string_value = "support")]
    Support,
    /// The second depends on the first.
    #[sea_orm(string_value = "depend")]
    Depend,
    /// The second is a variant of the first.
    #[sea_orm(string_value = "variant")]
    Variant,
    /// The second is an alternative to the first.
    #[sea_orm(string_value = "alternative")]
    Alternative,
    /// The second visualises the first (a thumbnail).
    #[sea_orm(string_value = "visual")]
    Visual,
    /// The second is related to the first.
    #[sea_orm(string_value = "related")]
    Related,
    /// The second is a comment on the first.
    #[sea_orm(string_value = "comment")]
    Comment,
    /// The second is part of the first.
    #[sea_orm(string_value = "part")]
    Part,
}

/// One relation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_relations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub first_content_id: i32,
    pub second_content_id: i32,
    pub relation: RelationKind,
    /// A finer name: thumbnail, icon, texture, character.
    pub relation_name: Option<String>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
