//! `contents`: everything players make, buy, wear and play. The row holds what readers see;
//! its revisions hold every version.

use sea_orm::entity::prelude::*;

/// What a content item is (seed 001's groups in the comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ContentType {
    /// Generic.
    #[sea_orm(string_value = "content")]
    Content,
    /// Generic: a set of parts.
    #[sea_orm(string_value = "set")]
    Set,
    /// Character item.
    #[sea_orm(string_value = "character")]
    Character,
    /// Character item.
    #[sea_orm(string_value = "hat")]
    Hat,
    /// Character item.
    #[sea_orm(string_value = "accessory")]
    Accessory,
    /// Character item.
    #[sea_orm(string_value = "front")]
    Front,
    /// Character item.
    #[sea_orm(string_value = "back")]
    Back,
    /// Character item.
    #[sea_orm(string_value = "tool")]
    Tool,
    /// Creator item.
    #[sea_orm(string_value = "mesh")]
    Mesh,
    /// Creator item.
    #[sea_orm(string_value = "texture")]
    Texture,
    /// Creator item.
    #[sea_orm(string_value = "gameobject")]
    Gameobject,
    /// Creator item.
    #[sea_orm(string_value = "sound")]
    Sound,
    /// Creator item.
    #[sea_orm(string_value = "animation")]
    Animation,
    /// A comment on another item.
    #[sea_orm(string_value = "comment")]
    Comment,
    /// A player's status post.
    #[sea_orm(string_value = "status")]
    Status,
    /// A game.
    #[sea_orm(string_value = "game")]
    Game,
    /// A game world.
    #[sea_orm(string_value = "world")]
    World,
}

impl ContentType {
    /// Character items: the only types that may be traded, resold or stocked.
    pub fn is_character_item(self) -> bool {
        matches!(
            self,
            Self::Character | Self::Hat | Self::Accessory | Self::Front | Self::Back | Self::Tool
        )
    }

    /// Comments and status posts: published as written, not held for review.
    pub fn is_comment(self) -> bool {
        matches!(self, Self::Comment | Self::Status)
    }
}

/// Who may see a published item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Privacy {
    /// Everyone, and it is listed.
    #[sea_orm(string_value = "public")]
    Public,
    /// The creator's friends.
    #[sea_orm(string_value = "friends")]
    Friends,
    /// Anyone with its id; not listed.
    #[sea_orm(string_value = "unlisted")]
    Unlisted,
    /// The creator alone.
    #[sea_orm(string_value = "private")]
    Private,
}

/// One content item.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub description: String,
    /// The creator.
    pub user_id: Option<Uuid>,
    /// The item this one belongs to: a set for its parts, the subject of a comment.
    pub parent_id: Option<i32>,
    /// A moderator took it down.
    pub restricted: bool,
    pub onsale: bool,
    pub published: bool,
    pub comments_enabled: bool,
    pub privacy: Privacy,
    #[sea_orm(column_name = "type")]
    pub content_type: ContentType,
    pub open_source: bool,
    pub tradeable: bool,
    pub marketable: bool,
    pub stock: Option<i32>,
    pub license: Option<String>,
    /// The approved revision readers see; none until one is approved.
    pub live_revision_id: Option<i32>,
    /// Shown in public listings: published, approved, public, not restricted nor deleted.
    pub listed: bool,
    pub up_votes: i64,
    pub down_votes: i64,
    pub favorite_count: i64,
    pub comment_count: i64,
    /// The Wilson lower bound of its votes.
    pub best: f64,
    /// Its votes decayed by age since publication.
    pub hot: f64,
    pub published_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    /// Made by the platform from its parent's files (a thumbnail): seen by whoever sees the
    /// parent, never listed.
    pub derived: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Seen only by those who may see its parent: a comment, or what the platform made from
    /// its parent's files.
    pub fn follows_parent(&self) -> bool {
        self.content_type.is_comment() || self.derived
    }
}
