//! The Arena schema migrations. Append-only: `mYYYYMMDD_HHMMSS_verb_object.rs`, each with
//! `up` and `down`, each written once for both PostgreSQL and SQLite.

pub use sea_orm_migration::prelude::*;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        Vec::new()
    }
}
