//! Seed 001's two join tables of a trade: the sender's copies offered
//! (`trade_user_ownerships`) and the recipient's copies asked for
//! (`trade_recipient_ownerships`).

/// The sender's copies offered.
pub mod offered {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "trade_user_ownerships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub trade_id: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub ownership_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The recipient's copies asked for.
pub mod requested {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "trade_recipient_ownerships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub trade_id: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub ownership_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
