//! `content_revisions`: every version of a content item's substance.

use sea_orm::entity::prelude::*;

/// Where a revision stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum RevisionStatus {
    /// Made while the item was not public; nobody reviewed it.
    #[sea_orm(string_value = "draft")]
    Draft,
    /// Waiting in the moderation queue.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Approved, by a moderator or because its creator is trusted.
    #[sea_orm(string_value = "approved")]
    Approved,
    /// A moderator rejected it.
    #[sea_orm(string_value = "rejected")]
    Rejected,
    /// A newer revision replaced it before review.
    #[sea_orm(string_value = "superseded")]
    Superseded,
}

/// One revision.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_revisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub content_id: i32,
    pub name: String,
    pub description: String,
    pub license: Option<String>,
    pub status: RevisionStatus,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
