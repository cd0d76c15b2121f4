//! Accounts and access control (seed 001, Auth microservice), the audit log, and the
//! server secrets table that keeps the token signing key when none is configured.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Users {
    Table,
    Id,
    Username,
    Email,
    Phone,
    Country,
    Language,
    Password,
    DisplayName,
    Verified,
    Activated,
    LoginAt,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserTokens {
    Table,
    Id,
    Token,
    Nonce,
    Type,
    UserId,
    PreviousId,
    Series,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Privileges {
    Table,
    Id,
    Privilege,
    CreatedBy,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Roles {
    Table,
    Id,
    Role,
    ParentId,
    CreatedBy,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum RolePrivileges {
    Table,
    RoleId,
    PrivilegeId,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserRoles {
    Table,
    UserId,
    RoleId,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserPrivileges {
    Table,
    UserId,
    PrivilegeId,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Bans {
    Table,
    Id,
    Reason,
    Ip,
    Cidr,
    UserId,
    AdminId,
    PrivilegeBan,
    ExpiresAt,
    CreatedAt,
    LiftedAt,
    LiftedBy,
    LiftReason,
}

#[derive(DeriveIden, Clone, Copy)]
enum BanPrivileges {
    Table,
    BanId,
    PrivilegeId,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    ActorId,
    Action,
    TargetType,
    TargetId,
    Reason,
    Details,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ServerSecrets {
    Table,
    Name,
    Value,
    CreatedAt,
}

pub(crate) fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .take()
}

/// A two-column join table whose rows go with either side.
fn join_table(
    table: impl IntoIden + Copy,
    left: (impl IntoIden + Copy, impl IntoIden, impl IntoIden),
    right: (impl IntoIden + Copy, impl IntoIden, impl IntoIden),
    left_is_uuid: bool,
) -> TableCreateStatement {
    let left_col = if left_is_uuid {
        uuid(left.0)
    } else {
        integer(left.0)
    };
    Table::create()
        .table(table)
        .if_not_exists()
        .col(left_col)
        .col(integer(right.0))
        .primary_key(Index::create().col(left.0).col(right.0))
        .foreign_key(&mut fk(
            (table, left.0),
            (left.1, left.2),
            ForeignKeyAction::Cascade,
        ))
        .foreign_key(&mut fk(
            (table, right.0),
            (right.1, right.2),
            ForeignKeyAction::Cascade,
        ))
        .take()
}

/// The privileges the platform checks, and which seeded role holds each.
pub(crate) const PRIVILEGES: &[(&str, &str)] = &[
    ("dashboard.access", "moderator"),
    ("user.read_private", "moderator"),
    ("user.search", "moderator"),
    ("user.ban", "moderator"),
    ("user.logout", "moderator"),
    ("audit.read", "moderator"),
    ("content.moderate", "moderator"),
    ("role.manage", "admin"),
    ("bank.mint", "admin"),
    ("server.manage", "admin"),
    ("quest.manage", "admin"),
];

/// Roles from the root down: each inherits every privilege of its ancestors.
pub(crate) const ROLES: &[(&str, Option<&str>)] = &[
    ("member", None),
    ("moderator", Some("member")),
    ("admin", Some("moderator")),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(pk_uuid(Users::Id))
                    .col(string_len(Users::Username, 255))
                    .col(string_len(Users::Email, 255))
                    .col(string_len_null(Users::Phone, 255))
                    .col(string_len_null(Users::Country, 2))
                    .col(string_len(Users::Language, 2).default("en"))
                    .col(text(Users::Password))
                    .col(text(Users::DisplayName))
                    .col(boolean(Users::Verified).default(false))
                    .col(boolean(Users::Activated).default(true))
                    .col(timestamp_with_time_zone_null(Users::LoginAt))
                    .col(timestamp_with_time_zone_default_now(Users::CreatedAt))
                    .col(timestamp_with_time_zone_default_now(Users::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Users::DeletedAt))
                    .to_owned(),
            )
            .await?;
        // Names and addresses are unique whatever their case; expression indexes read the
        // same on PostgreSQL and SQLite.
        let db = manager.get_connection();
        db.execute_unprepared("CREATE UNIQUE INDEX users_username_key ON users (lower(username))")
            .await?;
        db.execute_unprepared("CREATE UNIQUE INDEX users_email_key ON users (lower(email))")
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserTokens::Table)
                    .if_not_exists()
                    .col(big_pk_auto(UserTokens::Id))
                    .col(text(UserTokens::Token))
                    .col(text_null(UserTokens::Nonce))
                    .col(string_len(UserTokens::Type, 16))
                    .col(uuid(UserTokens::UserId))
                    .col(big_integer_null(UserTokens::PreviousId))
                    .col(uuid_null(UserTokens::Series))
                    .col(timestamp_with_time_zone_null(UserTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(UserTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(UserTokens::RevokedAt))
                    .col(timestamp_with_time_zone_default_now(UserTokens::CreatedAt))
                    .foreign_key(&mut fk(
                        (UserTokens::Table, UserTokens::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (UserTokens::Table, UserTokens::PreviousId),
                        (UserTokens::Table, UserTokens::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("user_tokens_token", vec![UserTokens::Token]),
            ("user_tokens_series", vec![UserTokens::Series]),
            (
                "user_tokens_user_type",
                vec![UserTokens::UserId, UserTokens::Type],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(UserTokens::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Privileges::Table)
                    .if_not_exists()
                    .col(pk_auto(Privileges::Id))
                    .col(text_uniq(Privileges::Privilege))
                    .col(uuid_null(Privileges::CreatedBy))
                    .col(uuid_null(Privileges::UpdatedBy))
                    .col(timestamp_with_time_zone_default_now(Privileges::CreatedAt))
                    .col(timestamp_with_time_zone_default_now(Privileges::UpdatedAt))
                    .foreign_key(&mut fk(
                        (Privileges::Table, Privileges::CreatedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        (Privileges::Table, Privileges::UpdatedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .if_not_exists()
                    .col(pk_auto(Roles::Id))
                    .col(text_uniq(Roles::Role))
                    .col(integer_null(Roles::ParentId))
                    .col(uuid_null(Roles::CreatedBy))
                    .col(uuid_null(Roles::UpdatedBy))
                    .col(timestamp_with_time_zone_default_now(Roles::CreatedAt))
                    .col(timestamp_with_time_zone_default_now(Roles::UpdatedAt))
                    .foreign_key(&mut fk(
                        (Roles::Table, Roles::ParentId),
                        (Roles::Table, Roles::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        (Roles::Table, Roles::CreatedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        (Roles::Table, Roles::UpdatedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(join_table(
                RolePrivileges::Table,
                (RolePrivileges::RoleId, Roles::Table, Roles::Id),
                (
                    RolePrivileges::PrivilegeId,
                    Privileges::Table,
                    Privileges::Id,
                ),
                false,
            ))
            .await?;
        manager
            .create_table(join_table(
                UserRoles::Table,
                (UserRoles::UserId, Users::Table, Users::Id),
                (UserRoles::RoleId, Roles::Table, Roles::Id),
                true,
            ))
            .await?;
        manager
            .create_table(join_table(
                UserPrivileges::Table,
                (UserPrivileges::UserId, Users::Table, Users::Id),
                (
                    UserPrivileges::PrivilegeId,
                    Privileges::Table,
                    Privileges::Id,
                ),
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Bans::Table)
                    .if_not_exists()
                    .col(pk_auto(Bans::Id))
                    .col(text(Bans::Reason))
                    .col(string_len_null(Bans::Ip, 255))
                    .col(small_integer_null(Bans::Cidr))
                    .col(uuid_null(Bans::UserId))
                    .col(uuid(Bans::AdminId))
                    .col(boolean(Bans::PrivilegeBan).default(false))
                    .col(timestamp_with_time_zone_null(Bans::ExpiresAt))
                    .col(timestamp_with_time_zone_default_now(Bans::CreatedAt))
                    .col(timestamp_with_time_zone_null(Bans::LiftedAt))
                    .col(uuid_null(Bans::LiftedBy))
                    .col(text_null(Bans::LiftReason))
                    .check(
                        Expr::col(Bans::UserId)
                            .is_not_null()
                            .or(Expr::col(Bans::Ip).is_not_null()),
                    )
                    .foreign_key(&mut fk(
                        (Bans::Table, Bans::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (Bans::Table, Bans::AdminId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        (Bans::Table, Bans::LiftedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("bans_user")
                    .table(Bans::Table)
                    .col(Bans::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(join_table(
                BanPrivileges::Table,
                (BanPrivileges::BanId, Bans::Table, Bans::Id),
                (
                    BanPrivileges::PrivilegeId,
                    Privileges::Table,
                    Privileges::Id,
                ),
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AuditLog::Id))
                    .col(uuid_null(AuditLog::ActorId))
                    .col(string_len(AuditLog::Action, 64))
                    .col(string_len(AuditLog::TargetType, 32))
                    .col(string_len_null(AuditLog::TargetId, 64))
                    .col(text_null(AuditLog::Reason))
                    .col(json_null(AuditLog::Details))
                    .col(timestamp_with_time_zone_default_now(AuditLog::CreatedAt))
                    .foreign_key(&mut fk(
                        (AuditLog::Table, AuditLog::ActorId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("audit_log_created_at", AuditLog::CreatedAt),
            ("audit_log_actor", AuditLog::ActorId),
            ("audit_log_action", AuditLog::Action),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditLog::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ServerSecrets::Table)
                    .if_not_exists()
                    .col(string_len(ServerSecrets::Name, 64).primary_key())
                    .col(text(ServerSecrets::Value))
                    .col(timestamp_with_time_zone_default_now(
                        ServerSecrets::CreatedAt,
                    ))
                    .to_owned(),
            )
            .await?;

        seed_roles(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite deletes a dropped table's rows one by one, and a parent role may not go first.
        manager
            .exec_stmt(
                Query::update()
                    .table(Roles::Table)
                    .value(Roles::ParentId, Option::<i32>::None)
                    .to_owned(),
            )
            .await?;
        for table in [
            ServerSecrets::Table.into_iden(),
            AuditLog::Table.into_iden(),
            BanPrivileges::Table.into_iden(),
            Bans::Table.into_iden(),
            UserPrivileges::Table.into_iden(),
            UserRoles::Table.into_iden(),
            RolePrivileges::Table.into_iden(),
            Roles::Table.into_iden(),
            Privileges::Table.into_iden(),
            UserTokens::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn seed_roles(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    // Ids are given so that parents and grants can name them without reading back.
    let role_id = |name: &str| {
        (1_i32..)
            .zip(ROLES)
            .find(|(_, (r, _))| *r == name)
            .map(|(id, _)| id)
    };
    for (id, (role, parent)) in (1_i32..).zip(ROLES) {
        let insert = Query::insert()
            .into_table(Roles::Table)
            .columns([Roles::Id, Roles::Role, Roles::ParentId])
            .values_panic([id.into(), (*role).into(), parent.and_then(role_id).into()])
            .to_owned();
        manager.exec_stmt(insert).await?;
    }
    for (id, (privilege, role)) in (1_i32..).zip(PRIVILEGES) {
        let insert = Query::insert()
            .into_table(Privileges::Table)
            .columns([Privileges::Id, Privileges::Privilege])
            .values_panic([id.into(), (*privilege).into()])
            .to_owned();
        manager.exec_stmt(insert).await?;
        let grant = Query::insert()
            .into_table(RolePrivileges::Table)
            .columns([RolePrivileges::RoleId, RolePrivileges::PrivilegeId])
            .values_panic([role_id(role).into(), id.into()])
            .to_owned();
        manager.exec_stmt(grant).await?;
    }
    if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
        // Explicit ids leave the sequences behind; move them past the seeded rows.
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('roles', 'id'), (SELECT max(id) FROM roles));
             SELECT setval(pg_get_serial_sequence('privileges', 'id'), (SELECT max(id) FROM privileges));",
        )
        .await?;
    }
    Ok(())
}
