//! `bans`: by user, by IP or CIDR range, optionally only for listed privileges.

use sea_orm::entity::prelude::*;

/// One ban. Lifting keeps the row (`lifted_at`, `lifted_by`, `lift_reason`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub reason: String,
    pub ip: Option<String>,
    /// Prefix length of the banned range; the whole address when it equals the address size.
    pub cidr: Option<i16>,
    pub user_id: Option<Uuid>,
    pub admin_id: Uuid,
    pub privilege_ban: bool,
    pub expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub lifted_at: Option<DateTimeUtc>,
    pub lifted_by: Option<Uuid>,
    pub lift_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
