//! `host_bans`: an address or network banned from hosting game servers.

use sea_orm::entity::prelude::*;

/// One row of `host_bans`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "host_bans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The network's address, host bits cleared.
    pub ip: String,
    /// Its prefix length.
    pub cidr: i16,
    /// Who placed it.
    pub admin_id: Uuid,
    /// The user behind the hosting, when known.
    pub user_id: Option<Uuid>,
    pub reason: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When it ends by itself; `None` never.
    pub expires_at: Option<DateTimeUtc>,
    pub lifted_at: Option<DateTimeUtc>,
    pub lifted_by: Option<Uuid>,
    pub lift_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
