//! `moderator_actions`: an item of the moderation queue while `pending`, and the decision on
//! it after.

use sea_orm::entity::prelude::*;

/// Where a queue item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ModAction {
    /// In the queue.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Approved.
    #[sea_orm(string_value = "approve")]
    Approve,
    /// Rejected.
    #[sea_orm(string_value = "reject")]
    Reject,
    /// Forwarded to the admins: a new item took its place.
    #[sea_orm(string_value = "forward")]
    Forward,
}

/// Why a revision was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum RejectionReason {
    /// Against the terms of service.
    #[sea_orm(string_value = "tos")]
    Tos,
    /// Illegal.
    #[sea_orm(string_value = "illegal")]
    Illegal,
    /// A copyright claim.
    #[sea_orm(string_value = "dmca")]
    Dmca,
    /// Anything else, in the description.
    #[sea_orm(string_value = "other")]
    Other,
}

/// One queue item or decision.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "moderator_actions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub content_id: i32,
    pub revision_id: i32,
    pub action: ModAction,
    /// The moderator holding it while pending; the one who decided after.
    pub user_id: Option<Uuid>,
    pub penalty: bool,
    pub asset_delete: bool,
    pub rejection_reason: Option<RejectionReason>,
    pub description: Option<String>,
    /// For holders of `content.review_forwarded` only.
    pub forwarded: bool,
    pub report_count: i32,
    /// Until when the claim holds; after it the item is anyone's again.
    pub claimed_until: Option<DateTimeUtc>,
    pub due_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
