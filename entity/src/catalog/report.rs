//! `content_reports`: a player's report on a content item, gathered into a queue item.

use sea_orm::entity::prelude::*;

/// Why a player reports an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum ReportReason {
    /// Spam or advertising.
    #[sea_orm(string_value = "spam")]
    Spam,
    /// Harassment or bullying.
    #[sea_orm(string_value = "harassment")]
    Harassment,
    /// Hate speech.
    #[sea_orm(string_value = "hate")]
    Hate,
    /// Sexual content.
    #[sea_orm(string_value = "sexual")]
    Sexual,
    /// Violence or threats.
    #[sea_orm(string_value = "violence")]
    Violence,
    /// Illegal content.
    #[sea_orm(string_value = "illegal")]
    Illegal,
    /// Someone else's work.
    #[sea_orm(string_value = "copyright")]
    Copyright,
    /// Cheats or exploits.
    #[sea_orm(string_value = "cheating")]
    Cheating,
    /// Anything else, in the description.
    #[sea_orm(string_value = "other")]
    Other,
}

/// A moderator's resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ReportStatus {
    /// Waiting for a decision.
    #[sea_orm(string_value = "open")]
    Open,
    /// Closed without a decision on it.
    #[sea_orm(string_value = "closed")]
    Closed,
    /// The item was approved: nothing wrong.
    #[sea_orm(string_value = "invalid")]
    Invalid,
    /// The item was rejected.
    #[sea_orm(string_value = "resolved")]
    Resolved,
}

/// One report.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "content_reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub content_id: i32,
    /// The reporter.
    pub user_id: Uuid,
    /// Who decided it.
    pub moderator_id: Option<Uuid>,
    pub reason: ReportReason,
    pub description: String,
    pub status: ReportStatus,
    pub revision_id: Option<i32>,
    /// The queue item it is gathered into.
    pub action_id: Option<i32>,
    pub notes: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
