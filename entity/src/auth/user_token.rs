//! `user_tokens`: refresh tokens (chained by `previous_id` within a `series`) and the
//! single-use lifecycle tokens. `token` holds a SHA-256 hash, never the token itself.

use sea_orm::entity::prelude::*;

/// What a token is for (the seed's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum TokenType {
    #[sea_orm(string_value = "generic")]
    Generic,
    #[sea_orm(string_value = "activation")]
    Activation,
    #[sea_orm(string_value = "deactivation")]
    Deactivation,
    #[sea_orm(string_value = "password")]
    Password,
    #[sea_orm(string_value = "login")]
    Login,
    #[sea_orm(string_value = "gdpr")]
    Gdpr,
    #[sea_orm(string_value = "totp")]
    Totp,
    #[sea_orm(string_value = "public_key")]
    PublicKey,
    #[sea_orm(string_value = "recovery")]
    Recovery,
    #[sea_orm(string_value = "refresh")]
    Refresh,
}

/// One token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub token: String,
    pub nonce: Option<String>,
    #[sea_orm(column_name = "type")]
    pub token_type: TokenType,
    pub user_id: Uuid,
    pub previous_id: Option<i64>,
    pub series: Option<Uuid>,
    pub expires_at: Option<DateTimeUtc>,
    pub used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// The client address a refresh token was issued to.
    pub ip: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
