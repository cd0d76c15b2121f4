//! The `catalog` domain: content with its revisions and relations, categories, votes,
//! favorites, comments, reports and the moderation queue.
//!
//! A content row holds what readers see. Before any revision of it is approved, that is its
//! newest draft, which only its creator and moderators can see. After, it is the live
//! (approved) revision: an untrusted creator's later revisions wait in the moderation queue
//! and reach the row only when a moderator approves them. Every write locks the content row
//! first, so writes to one item (votes, reports, edits, decisions) run one after the other
//! and the counts in the row stay equal to a recount.

pub mod categories;
pub mod community;
pub mod graphql;
pub mod listing;
pub mod moderation;
pub mod thumbnails;

use std::collections::HashMap;

use arena_entity::catalog::{
    content::{self, ContentType, Privacy},
    relation::{self, RelationKind},
    revision::{self, RevisionStatus},
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::{
    assets::AssetEdit,
    audit::{self, Entry},
    auth::{privileges, viewer::Viewer},
    bus::{Change, Changes},
    context::AppContext,
    db::lock_rows,
    error::{ApiError, ApiResult, OnViolation},
    settings::Settings,
};

/// Longest name, in characters.
pub const MAX_NAME: usize = 255;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 20_000;
/// Longest license text, in characters.
pub const MAX_LICENSE: usize = 10_000;
/// Most revisions or relations a nested list shows per item.
pub const NESTED_LIMIT: u64 = 100;
/// Deepest chain of parents (a reply to a reply …) followed.
pub const MAX_DEPTH: usize = 16;

/// The catalog's settings a write needs.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Approved revisions before a creator's go live unreviewed.
    pub trusted_after: u32,
    /// Hours from entering the queue until an item is due.
    pub due_hours: u32,
    /// Seconds a moderator holds a claimed item.
    pub claim_seconds: u32,
}

impl Rules {
    /// From the process's settings.
    pub fn of(settings: &Settings) -> Self {
        Self {
            trusted_after: settings.trusted_creator_approvals,
            due_hours: settings.moderation_due_hours,
            claim_seconds: settings.moderation_claim_seconds,
        }
    }
}

/// Whether a reader may see an item, before friendships and parents are looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// Yes.
    Yes,
    /// No.
    No,
    /// Only when the reader and this creator are friends.
    IfFriends(Uuid),
}

/// Who may see `row`: its creator and moderators always (a deleted item: moderators only);
/// anyone else only an approved, published, unrestricted item, by its privacy.
pub fn sight(viewer: &Viewer, row: &content::Model) -> Sight {
    if viewer.has_privilege(privileges::CONTENT_MODERATE) {
        return Sight::Yes;
    }
    if row.deleted_at.is_some() {
        return Sight::No;
    }
    let me = viewer.user().map(|u| u.id);
    if me.is_some() && me == row.user_id {
        return Sight::Yes;
    }
    if !row.published || row.restricted || row.live_revision_id.is_none() {
        return Sight::No;
    }
    match (row.privacy, row.user_id) {
        (Privacy::Public | Privacy::Unlisted, _) => Sight::Yes,
        (Privacy::Friends, Some(creator)) if me.is_some() => Sight::IfFriends(creator),
        _ => Sight::No,
    }
}

/// Whether `viewer` may see `row`, with its parents for a comment: a comment is seen only by
/// those who may see what it is on. GraphQL's `seen` walks the same way through the
/// DataLoaders.
pub async fn may_see(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    row: &content::Model,
) -> ApiResult<bool> {
    let mut row = row.clone();
    for _ in 0..MAX_DEPTH {
        let seen = match sight(viewer, &row) {
            Sight::Yes => true,
            Sight::No => false,
            Sight::IfFriends(creator) => match viewer.user() {
                Some(me) => crate::players::are_friends(db, me.id, creator).await?,
                None => false,
            },
        };
        if !seen {
            return Ok(false);
        }
        match (row.follows_parent(), row.parent_id) {
            (true, Some(parent)) => match find(db, parent).await? {
                Some(parent) => row = parent,
                None => return Ok(false),
            },
            _ => return Ok(true),
        }
    }
    Ok(false)
}

/// A content row by id, deleted or not.
pub async fn find(db: &impl ConnectionTrait, id: i32) -> ApiResult<Option<content::Model>> {
    Ok(content::Entity::find_by_id(id).one(db).await?)
}

/// Content rows by id, in one statement.
pub async fn find_many(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, content::Model>> {
    Ok(crate::db::rows_by::<content::Entity, _>(db, content::Column::Id, ids, |r| r.id).await?)
}

/// The item `id` when `viewer` may see it; `NOT_FOUND` otherwise, so nobody learns that an
/// item they may not see exists.
pub async fn find_visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
) -> ApiResult<content::Model> {
    let row = find(db, id).await?.ok_or(ApiError::NotFound("content"))?;
    if may_see(db, viewer, &row).await? {
        Ok(row)
    } else {
        Err(ApiError::NotFound("content"))
    }
}

/// Locks the item `id` for a write by `viewer`: `NOT_FOUND` when they may not see it (or it
/// is deleted), `FORBIDDEN` when they see it but did not make it.
pub(crate) async fn lock_own(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
) -> ApiResult<content::Model> {
    let me = viewer.require_user()?.id;
    let row = lock_visible(db, viewer, id).await?;
    if row.deleted_at.is_some() {
        return Err(ApiError::NotFound("content"));
    }
    if row.user_id != Some(me) {
        return Err(ApiError::Forbidden);
    }
    Ok(row)
}

/// Locks the item `id`, which `viewer` must be able to see and which is not deleted.
pub async fn lock_visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
) -> ApiResult<content::Model> {
    let row = lock_rows::<content::Entity, _>(db, content::Column::Id, [id])
        .await?
        .pop()
        .filter(|row| row.deleted_at.is_none())
        .ok_or(ApiError::NotFound("content"))?;
    if may_see(db, viewer, &row).await? {
        Ok(row)
    } else {
        Err(ApiError::NotFound("content"))
    }
}

/// Text checked for length after trimming; `min` 0 allows empty.
pub fn text_field(raw: &str, field: &'static str, min: usize, max: usize) -> ApiResult<String> {
    let text = raw.trim();
    let length = text.chars().count();
    if length < min || length > max {
        return Err(ApiError::bad_input(
            field,
            format!("{field} is {min} to {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// The fields of a create or an update; `None` leaves a field as it is (or at its default).
#[derive(Debug, Default, Clone)]
pub struct Fields {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// License text; `Some(None)` clears it.
    pub license: Option<Option<String>>,
    /// The item this one belongs to; `Some(None)` detaches it.
    pub parent_id: Option<Option<i32>>,
    /// Privacy.
    pub privacy: Option<Privacy>,
    /// For sale.
    pub onsale: Option<bool>,
    /// Comments allowed.
    pub comments_enabled: Option<bool>,
    /// Open source.
    pub open_source: Option<bool>,
    /// Tradeable (character items only).
    pub tradeable: Option<bool>,
    /// Resellable (character items only).
    pub marketable: Option<bool>,
    /// Most copies sold (character items only); `Some(None)` clears it.
    pub stock: Option<Option<i32>>,
}

/// The substance of a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Substance {
    name: String,
    description: String,
    license: Option<String>,
}

impl Substance {
    fn of(row: &content::Model) -> Self {
        Self {
            name: row.name.clone(),
            description: row.description.clone(),
            license: row.license.clone(),
        }
    }
}

/// Checks `fields` and applies them to `row`; the substance (name, description, license) is
/// returned, not applied.
fn apply_fields(
    row: &mut content::Model,
    fields: Fields,
    description_max: usize,
) -> ApiResult<Substance> {
    let name = match fields.name {
        Some(name) => text_field(&name, "name", 1, MAX_NAME)?,
        None => row.name.clone(),
    };
    let description = match fields.description {
        Some(text) => text_field(&text, "description", 0, description_max)?,
        None => row.description.clone(),
    };
    let license = match fields.license {
        Some(Some(text)) => Some(text_field(&text, "license", 1, MAX_LICENSE)?),
        Some(None) => None,
        None => row.license.clone(),
    };
    if let Some(privacy) = fields.privacy {
        row.privacy = privacy;
    }
    macro_rules! flag {
        ($($name:ident),*) => {$(
            if let Some(value) = fields.$name {
                row.$name = value;
            }
        )*};
    }
    flag!(onsale, comments_enabled, open_source, tradeable, marketable);
    if let Some(stock) = fields.stock {
        if stock.is_some_and(|n| n < 0) {
            return Err(ApiError::bad_input("stock", "stock is not negative"));
        }
        row.stock = stock;
    }
    if !row.content_type.is_character_item() {
        for (set, field) in [
            (row.tradeable, "tradeable"),
            (row.marketable, "marketable"),
            (row.stock.is_some(), "stock"),
        ] {
            if set {
                return Err(ApiError::bad_input(
                    field,
                    format!("{field} is for character items only"),
                ));
            }
        }
    }
    Ok(Substance {
        name,
        description,
        license,
    })
}

/// Checks that `parent` can hold `child` (None: a new item) for `me`: it exists, is theirs,
/// is not a comment, and is not `child` or below it.
async fn check_parent(
    db: &impl ConnectionTrait,
    me: Uuid,
    parent: i32,
    child: Option<i32>,
) -> ApiResult<()> {
    let mut at = Some(parent);
    for _ in 0..MAX_DEPTH {
        let Some(id) = at else { return Ok(()) };
        if Some(id) == child {
            return Err(ApiError::bad_input(
                "parentId",
                "an item cannot sit below itself",
            ));
        }
        let row = find(db, id)
            .await?
            .filter(|row| row.deleted_at.is_none())
            .ok_or(ApiError::NotFound("parent content"))?;
        if id == parent && (row.user_id != Some(me) || row.content_type.is_comment()) {
            return Err(ApiError::bad_input(
                "parentId",
                "a parent is an item of yours that is not a comment",
            ));
        }
        at = row.parent_id;
    }
    Err(ApiError::bad_input("parentId", "items nest too deep"))
}

/// Whether `viewer`'s revisions go live without review.
async fn trusted(db: &impl ConnectionTrait, viewer: &Viewer, rules: Rules) -> ApiResult<bool> {
    if rules.trusted_after == 0 || viewer.has_privilege(privileges::CONTENT_MODERATE) {
        return Ok(true);
    }
    let me = viewer.require_user()?.id;
    let approved = revision::Entity::find()
        .filter(revision::Column::CreatedBy.eq(me))
        .filter(revision::Column::Status.eq(RevisionStatus::Approved))
        .limit(u64::from(rules.trusted_after))
        .count(db)
        .await?;
    Ok(approved >= u64::from(rules.trusted_after))
}

/// Whether anyone may find `row` in a public listing.
fn listed(row: &content::Model) -> bool {
    row.published
        && row.live_revision_id.is_some()
        && !row.restricted
        && row.deleted_at.is_none()
        && row.privacy == Privacy::Public
        && !row.follows_parent()
}

/// The Wilson score interval's lower bound at 95%: how good an item is at least, given its
/// votes; few votes rank below many of the same ratio.
pub fn wilson(up: i64, down: i64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // vote counts stay far below 2^52
    let (up, n) = (up as f64, (up + down) as f64);
    if n <= 0.0 {
        return 0.0;
    }
    let z = 1.959_964_f64;
    let p = up / n;
    let z2 = z * z;
    (p + z2 / (2.0 * n) - z * ((p * (1.0 - p) + z2 / (4.0 * n)) / n).sqrt()) / (1.0 + z2 / n)
}

/// A rank that decays with age: ten times the net votes are worth 12.5 hours of newness.
pub fn hot(up: i64, down: i64, published: DateTime<Utc>) -> f64 {
    let net = up - down;
    #[allow(clippy::cast_precision_loss)] // vote counts stay far below 2^52
    let order = (net.unsigned_abs().max(1) as f64).log10();
    let sign = f64::from(i32::try_from(net.signum()).unwrap_or(0));
    #[allow(clippy::cast_precision_loss)] // seconds since 1970 fit a double exactly
    let seconds = published.timestamp() as f64 - 1_700_000_000.0;
    sign * order + seconds / 45_000.0
}

/// Recomputes the row's derived columns: `listed`, `best`, `hot`.
fn derive(row: &mut content::Model) {
    row.listed = listed(row);
    row.best = wilson(row.up_votes, row.down_votes);
    row.hot = hot(
        row.up_votes,
        row.down_votes,
        row.published_at.unwrap_or(row.created_at),
    );
}

/// Writes every column of `row` back.
async fn save(db: &impl ConnectionTrait, mut row: content::Model) -> ApiResult<content::Model> {
    derive(&mut row);
    let mut active = row.clone().into_active_model();
    for column in [
        content::Column::Name,
        content::Column::Description,
        content::Column::ParentId,
        content::Column::Restricted,
        content::Column::Onsale,
        content::Column::Published,
        content::Column::CommentsEnabled,
        content::Column::Privacy,
        content::Column::OpenSource,
        content::Column::Tradeable,
        content::Column::Marketable,
        content::Column::Stock,
        content::Column::License,
        content::Column::LiveRevisionId,
        content::Column::Listed,
        content::Column::UpVotes,
        content::Column::DownVotes,
        content::Column::FavoriteCount,
        content::Column::CommentCount,
        content::Column::Best,
        content::Column::Hot,
        content::Column::PublishedAt,
        content::Column::UpdatedBy,
        content::Column::UpdatedAt,
        content::Column::DeletedAt,
    ] {
        active.reset(column);
    }
    Ok(active.update(db).await?)
}

fn changed(changes: &mut Changes, id: i32) {
    changes.push(Change::Content { content_id: id });
}

/// A new item to create.
pub struct NewContent {
    /// Its type.
    pub content_type: ContentType,
    /// Its fields; a name is required.
    pub fields: Fields,
    /// For a game: its game row.
    pub game: Option<crate::games::GameFields>,
}

/// Creates an item of the caller's, unpublished; see [`create_content_in`].
pub async fn create_content(
    ctx: &AppContext,
    viewer: &Viewer,
    new: NewContent,
) -> ApiResult<content::Model> {
    ctx.write(async |db, changes| create_content_in(db, viewer, new, changes).await)
        .await
}

/// Creates an unpublished item of the caller's with its first revision, a draft. Comments
/// are made by [`community::comment_in`].
pub async fn create_content_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    new: NewContent,
    changes: &mut Changes,
) -> ApiResult<content::Model> {
    let me = viewer.require_user()?.id;
    if new.content_type == ContentType::Comment {
        return Err(ApiError::bad_input(
            "type",
            "comments are made with the comment mutation",
        ));
    }
    if new.fields.name.is_none() {
        return Err(ApiError::bad_input("name", "a new item needs a name"));
    }
    if new.game.is_some() && new.content_type != ContentType::Game {
        return Err(ApiError::bad_input("game", "only a game has game settings"));
    }
    let now = Utc::now();
    let parent = new.fields.parent_id.flatten();
    if let Some(parent) = parent {
        check_parent(db, me, parent, None).await?;
    }
    let mut row = blank(me, new.content_type, parent, now);
    let substance = apply_fields(&mut row, new.fields, MAX_DESCRIPTION)?;
    let created = insert(db, row, &substance, RevisionStatus::Draft).await?;
    if !new.content_type.is_comment() {
        // Creators own what they make (seed 001's `author` source).
        arena_entity::store::ownership::ActiveModel {
            content_id: Set(created.id),
            source: Set(arena_entity::store::ownership::OwnershipSource::Author),
            user_id: Set(me),
            created_by: Set(Some(me)),
            updated_by: Set(Some(me)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    if new.content_type == ContentType::Game {
        crate::games::create_game_in(db, viewer, created.id, new.game.unwrap_or_default()).await?;
    }
    changed(changes, created.id);
    Ok(created)
}

/// A new row of `kind` by `me` under `parent`, unpublished, before its fields are applied.
pub(crate) fn blank(
    me: Uuid,
    kind: ContentType,
    parent: Option<i32>,
    now: DateTime<Utc>,
) -> content::Model {
    content::Model {
        id: 0,
        name: String::new(),
        description: String::new(),
        user_id: Some(me),
        parent_id: parent,
        restricted: false,
        onsale: false,
        published: false,
        comments_enabled: true,
        privacy: Privacy::Public,
        content_type: kind,
        open_source: false,
        tradeable: false,
        marketable: false,
        stock: None,
        license: None,
        live_revision_id: None,
        listed: false,
        up_votes: 0,
        down_votes: 0,
        favorite_count: 0,
        comment_count: 0,
        best: 0.0,
        hot: 0.0,
        published_at: None,
        created_by: Some(me),
        updated_by: Some(me),
        created_at: now,
        updated_at: now,
        deleted_at: None,
        derived: false,
    }
}

/// Inserts `row` with `substance` and its first revision in `status` (live when approved).
async fn insert(
    db: &impl ConnectionTrait,
    mut row: content::Model,
    substance: &Substance,
    status: RevisionStatus,
) -> ApiResult<content::Model> {
    let (name, description, license) = (
        substance.name.clone(),
        substance.description.clone(),
        substance.license.clone(),
    );
    row.name = name;
    row.description = description;
    row.license = license;
    derive(&mut row);
    let mut active = row.into_active_model();
    active.id = sea_orm::ActiveValue::NotSet;
    let inserted = active.insert(db).await?;
    let first = add_revision(db, &inserted, substance, status).await?;
    if status == RevisionStatus::Approved {
        let mut live = inserted;
        live.live_revision_id = Some(first.id);
        return save(db, live).await;
    }
    Ok(inserted)
}

async fn add_revision(
    db: &impl ConnectionTrait,
    row: &content::Model,
    substance: &Substance,
    status: RevisionStatus,
) -> ApiResult<revision::Model> {
    let now = Utc::now();
    Ok(revision::ActiveModel {
        content_id: Set(row.id),
        name: Set(substance.name.clone()),
        description: Set(substance.description.clone()),
        license: Set(substance.license.clone()),
        status: Set(status),
        created_by: Set(row.updated_by),
        updated_by: Set(row.updated_by),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Marks the item's revisions waiting for review as superseded and takes them from the
/// queue: a newer revision replaces them.
async fn supersede_pending(db: &impl ConnectionTrait, content_id: i32) -> ApiResult<()> {
    use arena_entity::catalog::moderator_action::{self, ModAction};
    let pending: Vec<i32> = revision::Entity::find()
        .select_only()
        .column(revision::Column::Id)
        .filter(revision::Column::ContentId.eq(content_id))
        .filter(revision::Column::Status.eq(RevisionStatus::Pending))
        .into_tuple()
        .all(db)
        .await?;
    if pending.is_empty() {
        return Ok(());
    }
    mark_revisions(db, pending.iter().copied(), RevisionStatus::Superseded).await?;
    moderator_action::Entity::delete_many()
        .filter(moderator_action::Column::RevisionId.is_in(pending))
        .filter(moderator_action::Column::Action.eq(ModAction::Pending))
        .filter(moderator_action::Column::ReportCount.eq(0))
        .exec(db)
        .await?;
    Ok(())
}

/// Submits `substance` as a new revision of the locked `row` by its creator: live at once
/// when nobody else can see the item yet or the creator is trusted, otherwise into the
/// queue. Returns the row as it is now.
async fn submit(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    mut row: content::Model,
    substance: Substance,
    rules: Rules,
    files: &AssetEdit,
) -> ApiResult<content::Model> {
    // The revision this one follows: the one waiting for review, else the newest.
    let base = revision::Entity::find()
        .filter(revision::Column::ContentId.eq(row.id))
        .filter(revision::Column::Status.ne(RevisionStatus::Superseded))
        .order_by_desc(revision::Column::Id)
        .one(db)
        .await?
        .map(|r| r.id);
    supersede_pending(db, row.id).await?;
    // Once anything of it was approved, every change of an untrusted creator's is reviewed,
    // published or not: it would show when published again.
    let reviewed =
        !row.content_type.is_comment() && (row.published || row.live_revision_id.is_some());
    let live = !reviewed || trusted(db, viewer, rules).await?;
    if row.live_revision_id.is_none() || live {
        row.name = substance.name.clone();
        row.description = substance.description.clone();
        row.license = substance.license.clone();
    }
    let status = match (reviewed, live) {
        // A comment's edit is live at once, as the comment was.
        _ if row.content_type.is_comment() => RevisionStatus::Approved,
        (false, _) => RevisionStatus::Draft,
        (true, true) => RevisionStatus::Approved,
        (true, false) => RevisionStatus::Pending,
    };
    let added = add_revision(db, &row, &substance, status).await?;
    crate::assets::carry_in(db, row.id, base, added.id, files).await?;
    match status {
        RevisionStatus::Approved => row.live_revision_id = Some(added.id),
        RevisionStatus::Pending => {
            moderation::enqueue_in(db, row.id, added.id, rules, false).await?;
        }
        _ => {}
    }
    save(db, row).await
}

/// Changes an item of the caller's; see [`update_content_in`].
pub async fn update_content(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    fields: Fields,
) -> ApiResult<content::Model> {
    let rules = Rules::of(&ctx.settings);
    ctx.write(async |db, changes| update_content_in(db, viewer, id, fields, rules, changes).await)
        .await
}

/// Changes an item of the caller's. Settings (privacy, flags, parent) apply at once; a new
/// name, description or license is a new revision (see [`submit`]).
pub async fn update_content_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    fields: Fields,
    rules: Rules,
    changes: &mut Changes,
) -> ApiResult<content::Model> {
    let mut row = lock_own(db, viewer, id).await?;
    let me = viewer.require_user()?.id;
    if let Some(parent) = fields.parent_id {
        if row.content_type.is_comment() {
            return Err(ApiError::bad_input(
                "parentId",
                "a comment stays where it is",
            ));
        }
        if let Some(parent) = parent {
            check_parent(db, me, parent, Some(id)).await?;
        }
        row.parent_id = parent;
    }
    let before = Substance::of(&row);
    let max = if row.content_type.is_comment() {
        community::MAX_COMMENT
    } else {
        MAX_DESCRIPTION
    };
    let substance = apply_fields(&mut row, fields, max)?;
    row.updated_by = Some(me);
    row.updated_at = Utc::now();
    let pending_differs = pending_substance(db, row.id).await?.unwrap_or(before) != substance;
    let saved = if pending_differs {
        submit(db, viewer, row, substance, rules, &AssetEdit::Keep).await?
    } else {
        save(db, row).await?
    };
    changed(changes, id);
    Ok(saved)
}

/// The substance of the item's revision waiting for review, else of its newest revision.
async fn pending_substance(
    db: &impl ConnectionTrait,
    content_id: i32,
) -> ApiResult<Option<Substance>> {
    let newest = revision::Entity::find()
        .filter(revision::Column::ContentId.eq(content_id))
        .filter(revision::Column::Status.ne(RevisionStatus::Superseded))
        .order_by_desc(revision::Column::Id)
        .one(db)
        .await?;
    Ok(newest.map(|r| Substance {
        name: r.name,
        description: r.description,
        license: r.license,
    }))
}

/// Attaches a file to, or detaches one from, an item of the caller's; see
/// [`change_files_in`].
pub async fn change_files(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    edit: AssetEdit,
) -> ApiResult<content::Model> {
    let rules = Rules::of(&ctx.settings);
    ctx.write(async |db, changes| change_files_in(db, viewer, id, edit, rules, changes).await)
        .await
}

/// A new revision of an item of the caller's with the same text and its files changed by
/// `edit`: files are substance, reviewed as text is (see [`submit`]). An attached file must
/// be the caller's own and not deleted.
pub async fn change_files_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    edit: AssetEdit,
    rules: Rules,
    changes: &mut Changes,
) -> ApiResult<content::Model> {
    let mut row = lock_own(db, viewer, id).await?;
    let me = viewer.require_user()?.id;
    if let AssetEdit::Put(slot) = &edit {
        // The file's row lock orders this with its render job's recording of thumbnails.
        lock_rows::<arena_entity::assets::asset::Entity, _>(
            db,
            arena_entity::assets::asset::Column::Id,
            [slot.asset_id],
        )
        .await?;
        let file = crate::assets::find_own(db, viewer, slot.asset_id).await?;
        if file.user_id != Some(me) {
            return Err(ApiError::NotFound("asset"));
        }
    }
    let substance = pending_substance(db, row.id)
        .await?
        .unwrap_or_else(|| Substance::of(&row));
    row.updated_by = Some(me);
    row.updated_at = Utc::now();
    let saved = submit(db, viewer, row, substance, rules, &edit).await?;
    thumbnails::link_in(db, &saved, changes).await?;
    changed(changes, id);
    Ok(saved)
}

/// Publishes or unpublishes an item of the caller's; see [`publish_content_in`].
pub async fn publish_content(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    published: bool,
) -> ApiResult<content::Model> {
    let rules = Rules::of(&ctx.settings);
    ctx.write(async |db, changes| {
        publish_content_in(db, viewer, id, published, rules, changes).await
    })
    .await
}

/// Publishes or unpublishes an item of the caller's. Publishing an item that was never
/// approved sends its newest revision for review, unless the creator is trusted.
pub async fn publish_content_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    published: bool,
    rules: Rules,
    changes: &mut Changes,
) -> ApiResult<content::Model> {
    let mut row = lock_own(db, viewer, id).await?;
    if row.published == published {
        return Ok(row);
    }
    row.published = published;
    row.updated_at = Utc::now();
    if published {
        row.published_at.get_or_insert(row.updated_at);
        let newest = revision::Entity::find()
            .filter(revision::Column::ContentId.eq(id))
            .filter(revision::Column::Status.ne(RevisionStatus::Superseded))
            .order_by_desc(revision::Column::Id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("revision"))?;
        if newest.status == RevisionStatus::Draft {
            if row.content_type.is_comment() || trusted(db, viewer, rules).await? {
                mark_revisions(db, [newest.id], RevisionStatus::Approved).await?;
                row.live_revision_id = Some(newest.id);
            } else {
                mark_revisions(db, [newest.id], RevisionStatus::Pending).await?;
                moderation::enqueue_in(db, id, newest.id, rules, false).await?;
            }
        } else if newest.status == RevisionStatus::Rejected && row.live_revision_id.is_none() {
            return Err(ApiError::Conflict(
                "its newest revision was rejected; change it before publishing".into(),
            ));
        }
    }
    let saved = save(db, row).await?;
    changed(changes, id);
    Ok(saved)
}

/// Sets the status of the revisions `ids`.
pub(crate) async fn mark_revisions(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = i32>,
    status: RevisionStatus,
) -> ApiResult<()> {
    revision::Entity::update_many()
        .col_expr(
            revision::Column::Status,
            sea_orm::sea_query::Expr::value(status),
        )
        .col_expr(
            revision::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(revision::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes an item (soft); see [`delete_content_in`].
pub async fn delete_content(ctx: &AppContext, viewer: &Viewer, id: i32) -> ApiResult<()> {
    ctx.write(async |db, changes| delete_content_in(db, viewer, id, changes).await)
        .await
}

/// Deletes an item (soft): its creator, or a moderator, who leaves an audit row.
pub async fn delete_content_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    changes: &mut Changes,
) -> ApiResult<()> {
    let me = viewer.require_user()?.id;
    let mut row = lock_visible(db, viewer, id).await?;
    if row.user_id != Some(me) {
        let moderator = viewer.require_privilege(privileges::CONTENT_MODERATE)?;
        audit::record(
            db,
            Some(moderator.id),
            Entry {
                action: "content.delete",
                target_type: "content",
                target_id: Some(id.to_string()),
                reason: None,
                details: None,
            },
        )
        .await?;
    }
    row.deleted_at = Some(Utc::now());
    row.updated_by = Some(me);
    if let (true, Some(subject)) = (row.content_type.is_comment(), row.parent_id) {
        community::count_comment(db, subject, -1).await?;
    }
    save(db, row).await?;
    changed(changes, id);
    Ok(())
}

/// An item's revisions as `viewer` may see them, newest first, at most [`NESTED_LIMIT`]
/// each: all of them for its creator and moderators, the approved ones for anyone else.
pub async fn revisions_of(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<revision::Model>>> {
    let rows = newest_per::<revision::Model>(
        db,
        ids,
        "content_revisions",
        "content_id",
        "content_id IS NOT NULL",
    )
    .await?;
    let mut found: HashMap<i32, Vec<revision::Model>> = HashMap::new();
    for row in rows {
        found.entry(row.content_id).or_default().push(row);
    }
    Ok(found)
}

/// The newest [`NESTED_LIMIT`] rows of `table` for each of `ids` in its column `owner`
/// (where `also` holds), newest first, in one statement.
async fn newest_per<M: sea_orm::FromQueryResult>(
    db: &impl ConnectionTrait,
    ids: &[i32],
    table: &str,
    owner: &str,
    also: &str,
) -> ApiResult<Vec<M>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT * FROM (SELECT t.*, row_number() OVER (PARTITION BY {owner} ORDER BY id DESC) \
         AS nth FROM {table} t WHERE {owner} IN ({list}) AND {also}) AS ranked \
         WHERE nth <= {NESTED_LIMIT} ORDER BY id DESC",
        list = crate::db::placeholders(1, ids.len()),
    );
    let values = ids.iter().map(|&id| id.into()).collect();
    Ok(M::find_by_statement(crate::db::raw(db, &sql, values))
        .all(db)
        .await?)
}

/// Which way a relation is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The item is the first: what relates to it.
    Outgoing,
    /// The item is the second: what it relates to.
    Incoming,
}

/// Relations of each item in `direction`, newest first, at most [`NESTED_LIMIT`] each;
/// comments are not among them (they are listed as comments).
pub async fn relations_of(
    db: &impl ConnectionTrait,
    ids: &[i32],
    direction: Direction,
) -> ApiResult<HashMap<i32, Vec<relation::Model>>> {
    let side = match direction {
        Direction::Outgoing => "first_content_id",
        Direction::Incoming => "second_content_id",
    };
    let rows =
        newest_per::<relation::Model>(db, ids, "content_relations", side, "relation <> 'comment'")
            .await?;
    let mut found: HashMap<i32, Vec<relation::Model>> = HashMap::new();
    for row in rows {
        let owner = match direction {
            Direction::Outgoing => row.first_content_id,
            Direction::Incoming => row.second_content_id,
        };
        found.entry(owner).or_default().push(row);
    }
    Ok(found)
}

/// A relation to make.
pub struct NewRelation {
    /// The first item, the caller's.
    pub first: i32,
    /// The second item, which the caller may see.
    pub second: i32,
    /// How the second relates to the first.
    pub kind: RelationKind,
    /// A finer name.
    pub name: Option<String>,
}

/// Relates two items; see [`relate_in`].
pub async fn relate(
    ctx: &AppContext,
    viewer: &Viewer,
    new: NewRelation,
) -> ApiResult<relation::Model> {
    ctx.write(async |db, changes| relate_in(db, viewer, new, changes).await)
        .await
}

/// Relates the caller's item to another they may see. Comments relate through
/// [`community::comment_in`].
pub async fn relate_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    new: NewRelation,
    changes: &mut Changes,
) -> ApiResult<relation::Model> {
    if new.kind == RelationKind::Comment {
        return Err(ApiError::bad_input(
            "relation",
            "comments are made with the comment mutation",
        ));
    }
    if new.first == new.second {
        return Err(ApiError::bad_input(
            "secondId",
            "an item does not relate to itself",
        ));
    }
    let name = new
        .name
        .map(|n| text_field(&n, "relationName", 1, 64))
        .transpose()?;
    let first = lock_own(db, viewer, new.first).await?;
    find_visible(db, viewer, new.second)
        .await
        .map_err(|_| ApiError::NotFound("second content"))?;
    let me = viewer.require_user()?.id;
    let now = Utc::now();
    let made = relation::ActiveModel {
        first_content_id: Set(first.id),
        second_content_id: Set(new.second),
        relation: Set(new.kind),
        relation_name: Set(name),
        created_by: Set(Some(me)),
        updated_by: Set(Some(me)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .on_unique("these items are related so already")?;
    changed(changes, first.id);
    Ok(made)
}

/// Removes a relation from the caller's item; see [`unrelate_in`].
pub async fn unrelate(ctx: &AppContext, viewer: &Viewer, id: i32) -> ApiResult<()> {
    ctx.write(async |db, changes| unrelate_in(db, viewer, id, changes).await)
        .await
}

/// Removes a relation whose first item is the caller's.
pub async fn unrelate_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    changes: &mut Changes,
) -> ApiResult<()> {
    let found = relation::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|r| r.relation != RelationKind::Comment)
        .ok_or(ApiError::NotFound("relation"))?;
    lock_own(db, viewer, found.first_content_id).await?;
    relation::Entity::delete_by_id(id).exec(db).await?;
    changed(changes, found.first_content_id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_ranks_certainty() {
        assert!(wilson(0, 0).abs() < f64::EPSILON);
        // The same ratio with more votes ranks higher.
        assert!(wilson(90, 10) > wilson(9, 1));
        // Bounded by the observed ratio.
        assert!(wilson(90, 10) < 0.9);
        assert!(wilson(1, 0) > 0.0);
        assert!(wilson(0, 5) < wilson(1, 5));
    }

    #[test]
    fn hot_decays_with_age() {
        let now = Utc::now();
        let day_ago = now - chrono::Duration::hours(24);
        assert!(hot(10, 0, now) > hot(10, 0, day_ago));
        assert!(hot(10, 0, day_ago) < hot(1, 0, now));
        assert!(hot(0, 10, now) < hot(0, 0, now));
    }
}
