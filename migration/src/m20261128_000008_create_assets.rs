//! Seed 001's Assets service and the catalog's object assets: stored files with their
//! metadata, the files a content revision uses, and the jobs that work on stored files
//! (thumbnails, purges) in the background.
//!
//! A rendered thumbnail is an asset `derived_from` its source, held by a content item of its
//! own that is `derived` from the item it shows: such an item is seen by whoever sees its
//! parent, and never listed.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{
    m20261121_000001_create_auth_tables::{Users, fk},
    m20261128_000007_create_catalog::stamps,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Assets {
    Table,
    Id,
    UserId,
    Kind,
    AssetTag,
    SourceUri,
    Source,
    Originalname,
    Mimetype,
    Filesize,
    UploadIp,
    Public,
    DerivedFrom,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ObjectAssets {
    Table,
    Id,
    ContentId,
    RevisionId,
    AssetId,
    Type,
    TypeName,
    Index,
}

#[derive(DeriveIden, Clone, Copy)]
enum AssetJobs {
    Table,
    Id,
    AssetId,
    Kind,
    Status,
    Attempts,
    NextAttemptAt,
    Reason,
    FinishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contents {
    Table,
    Id,
    Derived,
}

#[derive(DeriveIden, Clone, Copy)]
enum ContentRevisions {
    Table,
    Id,
}

const INDEXES: &[&str] = &[
    "CREATE INDEX assets_user ON assets (user_id, created_at)",
    "CREATE INDEX assets_derived ON assets (derived_from)",
    "CREATE INDEX object_assets_revision ON object_assets (revision_id, type, \"index\")",
    "CREATE INDEX object_assets_asset ON object_assets (asset_id)",
    "CREATE INDEX object_assets_content ON object_assets (content_id)",
    "CREATE INDEX asset_jobs_due ON asset_jobs (next_attempt_at, id) WHERE status = 'queued'",
    "CREATE INDEX asset_jobs_asset ON asset_jobs (asset_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut assets = Table::create();
        assets
            .table(Assets::Table)
            .col(uuid(Assets::Id).primary_key())
            .col(uuid_null(Assets::UserId))
            .col(string_len(Assets::Kind, 16))
            .col(text_null(Assets::AssetTag))
            .col(text_null(Assets::SourceUri))
            .col(text_null(Assets::Source))
            .col(text_null(Assets::Originalname))
            .col(string_len(Assets::Mimetype, 255))
            .col(big_integer(Assets::Filesize))
            .col(text_null(Assets::UploadIp))
            .col(boolean(Assets::Public).default(false))
            .col(uuid_null(Assets::DerivedFrom));
        stamps(&mut assets)
            .col(timestamp_with_time_zone_null(Assets::DeletedAt))
            .foreign_key(&mut fk(
                (Assets::Table, Assets::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::SetNull,
            ))
            .foreign_key(&mut fk(
                (Assets::Table, Assets::DerivedFrom),
                (Assets::Table, Assets::Id),
                ForeignKeyAction::Cascade,
            ));
        manager.create_table(assets.take()).await?;

        let mut objects = Table::create();
        objects
            .table(ObjectAssets::Table)
            .col(pk_auto(ObjectAssets::Id))
            .col(integer(ObjectAssets::ContentId))
            .col(integer(ObjectAssets::RevisionId))
            .col(uuid(ObjectAssets::AssetId))
            .col(string_len(ObjectAssets::Type, 16))
            .col(string_len_null(ObjectAssets::TypeName, 255))
            .col(integer(ObjectAssets::Index).default(0))
            .foreign_key(&mut fk(
                (ObjectAssets::Table, ObjectAssets::ContentId),
                (Contents::Table, Contents::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (ObjectAssets::Table, ObjectAssets::RevisionId),
                (ContentRevisions::Table, ContentRevisions::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (ObjectAssets::Table, ObjectAssets::AssetId),
                (Assets::Table, Assets::Id),
                ForeignKeyAction::Cascade,
            ));
        manager.create_table(objects.take()).await?;

        let mut jobs = Table::create();
        jobs.table(AssetJobs::Table)
            .col(pk_auto(AssetJobs::Id))
            .col(uuid(AssetJobs::AssetId))
            .col(string_len(AssetJobs::Kind, 16))
            .col(string_len(AssetJobs::Status, 16).default("queued"))
            .col(integer(AssetJobs::Attempts).default(0))
            .col(timestamp_with_time_zone_default_now(
                AssetJobs::NextAttemptAt,
            ))
            .col(text_null(AssetJobs::Reason));
        stamps(&mut jobs)
            .col(timestamp_with_time_zone_null(AssetJobs::FinishedAt))
            .foreign_key(&mut fk(
                (AssetJobs::Table, AssetJobs::AssetId),
                (Assets::Table, Assets::Id),
                ForeignKeyAction::Cascade,
            ));
        manager.create_table(jobs.take()).await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Contents::Table)
                    .add_column(boolean(Contents::Derived).default(false))
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in INDEXES {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Contents::Table)
                    .drop_column(Contents::Derived)
                    .take(),
            )
            .await?;
        for table in ["asset_jobs", "object_assets", "assets"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
