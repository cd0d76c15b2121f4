//! Seed 001's Catalog and Game services: categories and their content types, content with its
//! revisions and relations, votes, favorites, reports, the moderation queue with the bans its
//! penalties placed, games and their support flags. Prices and ownership belong to the economy.
//!
//! A content row holds what readers see: the fields of its live (approved) revision, or of
//! its newest draft while it has none. Its vote, favorite and comment counts and its `best`
//! and `hot` ranks are kept in the row by the writes that change them, so listings sort on
//! an index. `listed` says whether anyone may find it in a public listing.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_create_auth_tables::{Bans, Users, fk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ContentCategories {
    Table,
    Id,
    Category,
    ParentId,
    CreatedBy,
    UpdatedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum ContentCategoryTypes {
    Table,
    Id,
    ContentType,
    CategoryId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contents {
    Table,
    Id,
    Name,
    Description,
    UserId,
    ParentId,
    Restricted,
    Onsale,
    Published,
    CommentsEnabled,
    Privacy,
    Type,
    OpenSource,
    Tradeable,
    Marketable,
    Stock,
    License,
    LiveRevisionId,
    Listed,
    UpVotes,
    DownVotes,
    FavoriteCount,
    CommentCount,
    Best,
    Hot,
    PublishedAt,
    CreatedBy,
    UpdatedBy,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ContentRevisions {
    Table,
    Id,
    ContentId,
    Name,
    Description,
    License,
    Status,
    CreatedBy,
    UpdatedBy,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ContentRelations {
    Table,
    Id,
    FirstContentId,
    SecondContentId,
    Relation,
    RelationName,
    CreatedBy,
    UpdatedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum ModeratorActions {
    Table,
    Id,
    ContentId,
    RevisionId,
    Action,
    UserId,
    Penalty,
    AssetDelete,
    RejectionReason,
    Description,
    Forwarded,
    ReportCount,
    ClaimedUntil,
    DueAt,
    DecidedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ModeratorActionBans {
    Table,
    ActionId,
    BanId,
}

#[derive(DeriveIden, Clone, Copy)]
enum ContentReports {
    Table,
    Id,
    ContentId,
    UserId,
    ModeratorId,
    Reason,
    Description,
    Status,
    RevisionId,
    ActionId,
    Notes,
    ResolvedAt,
}

/// `favorites` and `content_votes` share their shape.
#[derive(DeriveIden, Clone, Copy)]
enum Mark {
    Id,
    ContentId,
    UserId,
    Vote,
}

#[derive(DeriveIden, Clone, Copy)]
enum Games {
    Table,
    Id,
    Hosted,
    MaxPlayers,
}

#[derive(DeriveIden, Clone, Copy)]
enum GameSupports {
    Table,
    Id,
    GameId,
    Flag,
    Enabled,
    ContentId,
}

/// `created_at` and `updated_at`, both defaulting to now.
pub(crate) fn stamps(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(timestamp_with_time_zone_default_now(Alias::new(
            "created_at",
        )))
        .col(timestamp_with_time_zone_default_now(Alias::new(
            "updated_at",
        )))
}

fn content_fk(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    fk(
        (table, column),
        (Contents::Table, Contents::Id),
        ForeignKeyAction::Cascade,
    )
}

fn user_fk(
    table: impl IntoIden,
    column: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    fk((table, column), (Users::Table, Users::Id), on_delete)
}

fn marks(name: &'static str, vote: bool) -> TableCreateStatement {
    let table = Alias::new(name);
    let mut create = Table::create();
    create
        .table(table.clone())
        .col(pk_auto(Mark::Id))
        .col(integer(Mark::ContentId))
        .col(uuid(Mark::UserId));
    if vote {
        create.col(string_len(Mark::Vote, 8));
    }
    stamps(&mut create)
        .foreign_key(&mut content_fk(table.clone(), Mark::ContentId))
        .foreign_key(&mut user_fk(table, Mark::UserId, ForeignKeyAction::Cascade))
        .take()
}

/// Statements both backends read the same way.
const INDEXES: &[&str] = &[
    "CREATE UNIQUE INDEX content_categories_name ON content_categories (category)",
    "CREATE INDEX content_categories_parent ON content_categories (parent_id)",
    "CREATE UNIQUE INDEX content_category_types_pair ON content_category_types (category_id, content_type)",
    "CREATE INDEX content_category_types_type ON content_category_types (content_type)",
    "CREATE INDEX contents_user ON contents (user_id, id)",
    "CREATE INDEX contents_parent ON contents (parent_id)",
    // Listings: one index per order, on the rows a listing may show (the listed ones, and
    // friends' items for signed-in readers); every listing repeats this predicate.
    "CREATE INDEX contents_listed_type ON contents (type, id) WHERE listed OR privacy = 'friends'",
    "CREATE INDEX contents_listed_best ON contents (best, id) WHERE listed OR privacy = 'friends'",
    "CREATE INDEX contents_listed_hot ON contents (hot, id) WHERE listed OR privacy = 'friends'",
    "CREATE INDEX contents_listed_favorites ON contents (favorite_count, id) WHERE listed OR privacy = 'friends'",
    "CREATE INDEX content_revisions_content ON content_revisions (content_id, id)",
    "CREATE INDEX content_revisions_creator ON content_revisions (created_by, status)",
    "CREATE UNIQUE INDEX content_relations_triple ON content_relations (first_content_id, second_content_id, relation)",
    "CREATE INDEX content_relations_second ON content_relations (second_content_id, relation)",
    "CREATE INDEX content_relations_first ON content_relations (first_content_id, relation, id)",
    // One open queue item per revision: reports on it gather there.
    "CREATE UNIQUE INDEX moderator_actions_open ON moderator_actions (revision_id) WHERE action = 'pending'",
    "CREATE INDEX moderator_actions_queue ON moderator_actions (action, due_at)",
    "CREATE INDEX moderator_actions_content ON moderator_actions (content_id, id)",
    "CREATE INDEX moderator_action_bans_ban ON moderator_action_bans (ban_id)",
    // A player has one open report on an item at a time.
    "CREATE UNIQUE INDEX content_reports_open ON content_reports (content_id, user_id) WHERE status = 'open'",
    "CREATE INDEX content_reports_action ON content_reports (action_id)",
    "CREATE INDEX content_reports_status ON content_reports (status, id)",
    "CREATE UNIQUE INDEX favorites_pair ON favorites (content_id, user_id)",
    "CREATE INDEX favorites_user ON favorites (user_id, id)",
    "CREATE UNIQUE INDEX content_votes_pair ON content_votes (content_id, user_id)",
    "CREATE INDEX content_votes_user ON content_votes (user_id)",
    "CREATE INDEX game_supports_game ON game_supports (game_id)",
];

/// Text search over name and description: a generated `tsvector` with a GIN index on
/// PostgreSQL, an external-content FTS5 table kept by triggers on SQLite.
const POSTGRES_SEARCH: &[&str] = &[
    "ALTER TABLE contents ADD COLUMN search tsvector GENERATED ALWAYS AS \
     (to_tsvector('simple', name || ' ' || description)) STORED",
    "CREATE INDEX contents_search ON contents USING GIN (search)",
];

const SQLITE_SEARCH: &[&str] = &[
    "CREATE VIRTUAL TABLE contents_fts USING fts5(name, description, content='contents', content_rowid='id')",
    "CREATE TRIGGER contents_fts_insert AFTER INSERT ON contents BEGIN \
     INSERT INTO contents_fts(rowid, name, description) VALUES (new.id, new.name, new.description); END",
    "CREATE TRIGGER contents_fts_delete AFTER DELETE ON contents BEGIN \
     INSERT INTO contents_fts(contents_fts, rowid, name, description) VALUES ('delete', old.id, old.name, old.description); END",
    "CREATE TRIGGER contents_fts_update AFTER UPDATE OF name, description ON contents BEGIN \
     INSERT INTO contents_fts(contents_fts, rowid, name, description) VALUES ('delete', old.id, old.name, old.description); \
     INSERT INTO contents_fts(rowid, name, description) VALUES (new.id, new.name, new.description); END",
];

const NEW_PRIVILEGES: &[(&str, &str)] = &[
    ("catalog.manage", "admin"),
    ("content.review_forwarded", "admin"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut categories = Table::create();
        categories
            .table(ContentCategories::Table)
            .col(pk_auto(ContentCategories::Id))
            .col(string_len(ContentCategories::Category, 64))
            .col(integer_null(ContentCategories::ParentId))
            .col(uuid_null(ContentCategories::CreatedBy))
            .col(uuid_null(ContentCategories::UpdatedBy));
        stamps(&mut categories).foreign_key(&mut fk(
            (ContentCategories::Table, ContentCategories::ParentId),
            (ContentCategories::Table, ContentCategories::Id),
            ForeignKeyAction::Restrict,
        ));
        manager.create_table(categories.take()).await?;
        manager
            .create_table(
                Table::create()
                    .table(ContentCategoryTypes::Table)
                    .col(pk_auto(ContentCategoryTypes::Id))
                    .col(string_len(ContentCategoryTypes::ContentType, 16))
                    .col(integer(ContentCategoryTypes::CategoryId))
                    .foreign_key(&mut fk(
                        (
                            ContentCategoryTypes::Table,
                            ContentCategoryTypes::CategoryId,
                        ),
                        (ContentCategories::Table, ContentCategories::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;

        let mut contents = Table::create();
        contents
            .table(Contents::Table)
            .col(pk_auto(Contents::Id))
            .col(string_len(Contents::Name, 255))
            .col(text(Contents::Description))
            .col(uuid_null(Contents::UserId))
            .col(integer_null(Contents::ParentId))
            .col(boolean(Contents::Restricted).default(false))
            .col(boolean(Contents::Onsale).default(false))
            .col(boolean(Contents::Published).default(false))
            .col(boolean(Contents::CommentsEnabled).default(true))
            .col(string_len(Contents::Privacy, 16).default("public"))
            .col(string_len(Contents::Type, 16).default("content"))
            .col(boolean(Contents::OpenSource).default(false))
            .col(boolean(Contents::Tradeable).default(false))
            .col(boolean(Contents::Marketable).default(false))
            .col(integer_null(Contents::Stock))
            .col(text_null(Contents::License))
            .col(integer_null(Contents::LiveRevisionId))
            .col(boolean(Contents::Listed).default(false))
            .col(big_integer(Contents::UpVotes).default(0))
            .col(big_integer(Contents::DownVotes).default(0))
            .col(big_integer(Contents::FavoriteCount).default(0))
            .col(big_integer(Contents::CommentCount).default(0))
            .col(double(Contents::Best).default(0.0))
            .col(double(Contents::Hot).default(0.0))
            .col(timestamp_with_time_zone_null(Contents::PublishedAt))
            .col(uuid_null(Contents::CreatedBy))
            .col(uuid_null(Contents::UpdatedBy));
        stamps(&mut contents)
            .col(timestamp_with_time_zone_null(Contents::DeletedAt))
            .foreign_key(&mut user_fk(
                Contents::Table,
                Contents::UserId,
                ForeignKeyAction::SetNull,
            ))
            .foreign_key(&mut fk(
                (Contents::Table, Contents::ParentId),
                (Contents::Table, Contents::Id),
                ForeignKeyAction::SetNull,
            ));
        manager.create_table(contents.take()).await?;

        let mut revisions = Table::create();
        revisions
            .table(ContentRevisions::Table)
            .col(pk_auto(ContentRevisions::Id))
            .col(integer(ContentRevisions::ContentId))
            .col(string_len(ContentRevisions::Name, 255))
            .col(text(ContentRevisions::Description))
            .col(text_null(ContentRevisions::License))
            .col(string_len(ContentRevisions::Status, 16))
            .col(uuid_null(ContentRevisions::CreatedBy))
            .col(uuid_null(ContentRevisions::UpdatedBy));
        stamps(&mut revisions)
            .col(timestamp_with_time_zone_null(ContentRevisions::DeletedAt))
            .foreign_key(&mut content_fk(
                ContentRevisions::Table,
                ContentRevisions::ContentId,
            ))
            .foreign_key(&mut user_fk(
                ContentRevisions::Table,
                ContentRevisions::CreatedBy,
                ForeignKeyAction::SetNull,
            ));
        manager.create_table(revisions.take()).await?;

        let mut relations = Table::create();
        relations
            .table(ContentRelations::Table)
            .col(pk_auto(ContentRelations::Id))
            .col(integer(ContentRelations::FirstContentId))
            .col(integer(ContentRelations::SecondContentId))
            .col(string_len(ContentRelations::Relation, 16))
            .col(string_len_null(ContentRelations::RelationName, 64))
            .col(uuid_null(ContentRelations::CreatedBy))
            .col(uuid_null(ContentRelations::UpdatedBy));
        stamps(&mut relations)
            .check(
                Expr::col(ContentRelations::FirstContentId)
                    .ne(Expr::col(ContentRelations::SecondContentId)),
            )
            .foreign_key(&mut content_fk(
                ContentRelations::Table,
                ContentRelations::FirstContentId,
            ))
            .foreign_key(&mut content_fk(
                ContentRelations::Table,
                ContentRelations::SecondContentId,
            ));
        manager.create_table(relations.take()).await?;

        let mut actions = Table::create();
        actions
            .table(ModeratorActions::Table)
            .col(pk_auto(ModeratorActions::Id))
            .col(integer(ModeratorActions::ContentId))
            .col(integer(ModeratorActions::RevisionId))
            .col(string_len(ModeratorActions::Action, 16).default("pending"))
            .col(uuid_null(ModeratorActions::UserId))
            .col(boolean(ModeratorActions::Penalty).default(false))
            .col(boolean(ModeratorActions::AssetDelete).default(false))
            .col(string_len_null(ModeratorActions::RejectionReason, 16))
            .col(text_null(ModeratorActions::Description))
            .col(boolean(ModeratorActions::Forwarded).default(false))
            .col(integer(ModeratorActions::ReportCount).default(0))
            .col(timestamp_with_time_zone_null(
                ModeratorActions::ClaimedUntil,
            ))
            .col(timestamp_with_time_zone(ModeratorActions::DueAt));
        stamps(&mut actions)
            .col(timestamp_with_time_zone_null(ModeratorActions::DecidedAt))
            .foreign_key(&mut content_fk(
                ModeratorActions::Table,
                ModeratorActions::ContentId,
            ))
            .foreign_key(&mut fk(
                (ModeratorActions::Table, ModeratorActions::RevisionId),
                (ContentRevisions::Table, ContentRevisions::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut user_fk(
                ModeratorActions::Table,
                ModeratorActions::UserId,
                ForeignKeyAction::SetNull,
            ));
        manager.create_table(actions.take()).await?;
        manager
            .create_table(
                Table::create()
                    .table(ModeratorActionBans::Table)
                    .col(integer(ModeratorActionBans::ActionId))
                    .col(integer(ModeratorActionBans::BanId))
                    .primary_key(
                        Index::create()
                            .col(ModeratorActionBans::ActionId)
                            .col(ModeratorActionBans::BanId),
                    )
                    .foreign_key(&mut fk(
                        (ModeratorActionBans::Table, ModeratorActionBans::ActionId),
                        (ModeratorActions::Table, ModeratorActions::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (ModeratorActionBans::Table, ModeratorActionBans::BanId),
                        (Bans::Table, Bans::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;

        let mut reports = Table::create();
        reports
            .table(ContentReports::Table)
            .col(pk_auto(ContentReports::Id))
            .col(integer(ContentReports::ContentId))
            .col(uuid(ContentReports::UserId))
            .col(uuid_null(ContentReports::ModeratorId))
            .col(string_len(ContentReports::Reason, 32))
            .col(text(ContentReports::Description))
            .col(string_len(ContentReports::Status, 16).default("open"))
            .col(integer_null(ContentReports::RevisionId))
            .col(integer_null(ContentReports::ActionId))
            .col(text_null(ContentReports::Notes));
        stamps(&mut reports)
            .col(timestamp_with_time_zone_null(ContentReports::ResolvedAt))
            .foreign_key(&mut content_fk(
                ContentReports::Table,
                ContentReports::ContentId,
            ))
            .foreign_key(&mut user_fk(
                ContentReports::Table,
                ContentReports::UserId,
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                (ContentReports::Table, ContentReports::RevisionId),
                (ContentRevisions::Table, ContentRevisions::Id),
                ForeignKeyAction::SetNull,
            ))
            .foreign_key(&mut fk(
                (ContentReports::Table, ContentReports::ActionId),
                (ModeratorActions::Table, ModeratorActions::Id),
                ForeignKeyAction::SetNull,
            ));
        manager.create_table(reports.take()).await?;

        manager.create_table(marks("favorites", false)).await?;
        manager.create_table(marks("content_votes", true)).await?;

        manager
            .create_table(
                Table::create()
                    .table(Games::Table)
                    .col(integer(Games::Id).primary_key())
                    .col(boolean(Games::Hosted).default(false))
                    .col(integer(Games::MaxPlayers).default(16))
                    .foreign_key(&mut content_fk(Games::Table, Games::Id))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GameSupports::Table)
                    .col(pk_auto(GameSupports::Id))
                    .col(integer(GameSupports::GameId))
                    .col(string_len(GameSupports::Flag, 32))
                    .col(boolean(GameSupports::Enabled).default(true))
                    .col(integer_null(GameSupports::ContentId))
                    .foreign_key(&mut fk(
                        (GameSupports::Table, GameSupports::GameId),
                        (Games::Table, Games::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (GameSupports::Table, GameSupports::ContentId),
                        (Contents::Table, Contents::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;

        let db = manager.get_connection();
        for sql in INDEXES {
            db.execute_unprepared(sql).await?;
        }
        let search = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => SQLITE_SEARCH,
            _ => POSTGRES_SEARCH,
        };
        for sql in search {
            db.execute_unprepared(sql).await?;
        }
        for (privilege, role) in NEW_PRIVILEGES {
            crate::grant_new_privilege(manager, privilege, role).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (privilege, _) in NEW_PRIVILEGES {
            crate::drop_privilege(manager, privilege).await?;
        }
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
            manager
                .get_connection()
                .execute_unprepared("DROP TABLE IF EXISTS contents_fts")
                .await?;
        }
        for table in [
            "game_supports",
            "games",
            "content_votes",
            "favorites",
            "content_reports",
            "moderator_action_bans",
            "moderator_actions",
            "content_relations",
            "content_revisions",
            "contents",
            "content_category_types",
            "content_categories",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
