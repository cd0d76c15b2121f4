//! `provisioning_hosts`: a machine that starts game servers when Arena asks it to.

use sea_orm::entity::prelude::*;

/// One row of `provisioning_hosts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provisioning_hosts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    /// SHA-256 of its token; the token is shown once.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Where Arena asks it for servers.
    pub api_url: String,
    /// Its servers serve the whole site.
    pub official: bool,
    /// When false it is never asked.
    pub active: bool,
    /// The address of its last ping.
    pub address: Option<String>,
    pub pinged_at: Option<DateTimeUtc>,
    /// Most servers it runs.
    pub capacity: i32,
    /// Servers it can still start, from its last ping.
    pub slots: i32,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
