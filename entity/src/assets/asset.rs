//! `assets`: one stored file and what is known of it. The bytes live in the object store
//! under the asset's id.

use sea_orm::entity::prelude::*;

/// What a file is for (seed 001's object asset types); each has its own formats and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum AssetKind {
    #[sea_orm(string_value = "image")]
    Image,
    #[sea_orm(string_value = "texture")]
    Texture,
    #[sea_orm(string_value = "texture3d")]
    Texture3d,
    #[sea_orm(string_value = "mesh")]
    Mesh,
    #[sea_orm(string_value = "animation")]
    Animation,
    #[sea_orm(string_value = "gameobject")]
    Gameobject,
    #[sea_orm(string_value = "world")]
    World,
    #[sea_orm(string_value = "character")]
    Character,
    #[sea_orm(string_value = "sound")]
    Sound,
}

/// One stored file.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Who uploaded it; none for what the platform made.
    pub user_id: Option<Uuid>,
    pub kind: AssetKind,
    pub asset_tag: Option<String>,
    /// Where the bytes are: the object store's path.
    pub source_uri: Option<String>,
    /// How it came: `upload`, `upload-url` or `render`.
    pub source: Option<String>,
    pub originalname: Option<String>,
    /// Sniffed from the bytes, never taken from the client.
    pub mimetype: String,
    pub filesize: i64,
    pub upload_ip: Option<String>,
    /// Served to anyone with its address; otherwise only through a signed, short-lived one.
    pub public: bool,
    /// The asset this one was rendered from (a thumbnail's source).
    pub derived_from: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
