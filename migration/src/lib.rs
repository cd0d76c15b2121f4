//! The Arena schema migrations. Append-only: `mYYYYMMDD_HHMMSS_verb_object.rs`, each with
//! `up` and `down`, each written once for both PostgreSQL and SQLite.

// MigrationTrait's methods take `&SchemaManager` with the lifetime elided; naming it breaks
// the async_trait expansion.
#![allow(elided_lifetimes_in_paths)]

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_auth_tables;
mod m20261121_000002_create_mail_outbox;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_auth_tables::Migration),
            Box::new(m20261121_000002_create_mail_outbox::Migration),
        ]
    }
}
