//! `server_games`: the games a server may run.

use sea_orm::entity::prelude::*;

/// One game of one server.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "server_games")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub server_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub game_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
