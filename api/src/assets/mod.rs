//! The `assets` domain: files players upload (GraphQL multipart, or a signed upload address),
//! kept in the object store with their metadata in `assets`; the files each content revision
//! uses; signed addresses for private files; and the background jobs that make thumbnails and
//! purge deleted files.
//!
//! An upload is checked whole before anything is stored (type sniffed from the bytes, size,
//! image dimensions, mesh structure), stored under a fresh key, then recorded; when the record
//! fails the stored bytes are removed, so a refused upload leaves nothing. No network call
//! and no decoding happens inside a write transaction.

pub mod check;
pub mod graphql;
pub mod jobs;
pub mod render;
pub mod sign;
pub mod store;

use std::{collections::HashMap, net::IpAddr, time::Duration};

use arena_entity::assets::{
    asset::{self, AssetKind},
    job::{self, JobKind, JobStatus},
    object_asset,
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    auth::{privileges, viewer::Viewer},
    bus::{Change, Changes, Hook},
    context::AppContext,
    error::{ApiError, ApiResult},
    settings::Settings,
};

/// The asset domain's shared parts.
pub struct Assets {
    /// Where the bytes are.
    pub store: store::Store,
    /// Signs and checks addresses.
    pub signer: sign::Signer,
    /// Woken when a job is queued on any instance.
    pub wake: Notify,
}

/// Wakes an idle worker of this instance when a job is queued anywhere.
pub fn wake_on_jobs(assets: std::sync::Arc<Assets>) -> Hook {
    std::sync::Arc::new(move |change| {
        if matches!(change, Change::AssetJobs | Change::Resync) {
            assets.wake.notify_one();
        }
    })
}

impl Assets {
    /// From the settings and the token secret.
    pub fn new(settings: &Settings, keys: &crate::auth::tokens::TokenKeys) -> Result<Self, String> {
        Ok(Self {
            store: store::Store::open(settings)?,
            signer: sign::Signer::new(keys, Duration::from_secs(settings.asset_url_seconds)),
            wake: Notify::new(),
        })
    }
}

/// A file to store.
pub struct Upload {
    pub kind: AssetKind,
    pub tag: Option<String>,
    pub public: bool,
    /// The client's file name.
    pub name: String,
    /// The client's content type, a claim checked against the bytes.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    /// `upload` or `upload-url`.
    pub source: &'static str,
    /// The id an upload ticket promised; a new one otherwise.
    pub id: Option<Uuid>,
}

/// Stores a file of `uploader`'s; see the module's comment for the order of the steps.
pub async fn upload(
    ctx: &AppContext,
    uploader: Uuid,
    ip: IpAddr,
    upload: Upload,
) -> ApiResult<asset::Model> {
    let name = check::file_name(&upload.name)?;
    let tag = match upload.tag.as_deref().map(str::trim) {
        Some(tag) if tag.chars().count() > check::MAX_TAG => {
            return Err(ApiError::bad_input(
                "tag",
                format!("a tag is at most {} characters", check::MAX_TAG),
            ));
        }
        Some("") | None => None,
        Some(tag) => Some(tag.to_owned()),
    };
    let id = upload.id.unwrap_or_else(Uuid::now_v7);
    if upload.id.is_some() && asset::Entity::find_by_id(id).one(&ctx.db).await?.is_some() {
        return Err(ApiError::Conflict(
            "this upload address was used already".into(),
        ));
    }
    let (kind, content_type) = (upload.kind, upload.content_type.clone());
    let (bytes, mime, checked_name) = tokio::task::spawn_blocking(move || {
        let mime = check::check(kind, &upload.bytes, content_type.as_deref(), &name);
        (upload.bytes, mime, name)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("checking an upload: {e}")))?;
    let mime = mime?;
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    let key = store::Store::new_key();
    ctx.assets
        .store
        .put(&key, bytes)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("storing an upload: {e}")))?;
    let now = Utc::now();
    let row = asset::Model {
        id,
        user_id: Some(uploader),
        kind,
        asset_tag: tag,
        source_uri: Some(key.clone()),
        source: Some(upload.source.into()),
        originalname: Some(checked_name),
        mimetype: mime.into(),
        filesize: size,
        upload_ip: Some(ip.to_string()),
        public: upload.public,
        derived_from: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let renders = render::renders(mime);
    let stored = ctx
        .write(async |db, changes| {
            let row = insert_in(db, row).await?;
            if renders {
                queue_in(db, row.id, JobKind::Render, changes).await?;
            }
            Ok(row)
        })
        .await;
    match stored {
        Ok(row) => Ok(row),
        Err(err) => {
            if let Err(gone) = ctx.assets.store.delete(&key).await {
                tracing::warn!(key, error = %gone, "could not remove the bytes of a refused upload");
            }
            Err(err)
        }
    }
}

async fn insert_in(db: &impl ConnectionTrait, row: asset::Model) -> ApiResult<asset::Model> {
    use crate::error::OnViolation;
    let active: asset::ActiveModel = row.into();
    active
        .insert(db)
        .await
        .on_unique("this upload address was used already")
}

/// Queues a job on an asset; workers on every instance hear of it after the commit.
pub async fn queue_in(
    db: &impl ConnectionTrait,
    asset_id: Uuid,
    kind: JobKind,
    changes: &mut Changes,
) -> ApiResult<()> {
    changes.push(Change::AssetJobs);
    let now = Utc::now();
    job::ActiveModel {
        asset_id: Set(asset_id),
        kind: Set(kind),
        status: Set(JobStatus::Queued),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// An asset the caller uploaded (or any, for moderators), not deleted.
pub async fn find_own(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> ApiResult<asset::Model> {
    let me = viewer.require_user()?.id;
    let row = asset::Entity::find_by_id(id).one(db).await?;
    match row {
        Some(row)
            if row.deleted_at.is_none()
                && (row.user_id == Some(me)
                    || viewer.has_privilege(privileges::CONTENT_MODERATE)) =>
        {
            Ok(row)
        }
        _ => Err(ApiError::NotFound("asset")),
    }
}

/// Soft-deletes an asset of the caller's and its thumbnails: no longer served nor attached
/// to new revisions; the bytes stay until a moderator orders them purged.
pub async fn delete(ctx: &AppContext, viewer: &Viewer, id: Uuid) -> ApiResult<()> {
    ctx.write(async |db, _changes| {
        let row = find_own(db, viewer, id).await?;
        mark_deleted_in(db, &[row.id]).await
    })
    .await
}

/// Marks `ids` and what was rendered from them deleted.
pub async fn mark_deleted_in(db: &impl ConnectionTrait, ids: &[Uuid]) -> ApiResult<()> {
    use sea_orm::sea_query::Expr;
    if ids.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    asset::Entity::update_many()
        .col_expr(asset::Column::DeletedAt, Expr::value(now))
        .col_expr(asset::Column::UpdatedAt, Expr::value(now))
        .filter(asset::Column::DeletedAt.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(asset::Column::Id.is_in(ids.iter().copied()))
                .add(asset::Column::DerivedFrom.is_in(ids.iter().copied())),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// What a moderator's `deleteAssets` does: the revision's files are deleted and their bytes
/// purged from the store by a job queued in the same transaction.
pub async fn purge_revision_in(
    db: &impl ConnectionTrait,
    revision_id: i32,
    changes: &mut Changes,
) -> ApiResult<usize> {
    let ids: Vec<Uuid> = object_asset::Entity::find()
        .filter(object_asset::Column::RevisionId.eq(revision_id))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.asset_id)
        .collect();
    mark_deleted_in(db, &ids).await?;
    for id in &ids {
        queue_in(db, *id, JobKind::Purge, changes).await?;
    }
    Ok(ids.len())
}

/// A change to the files of an item's next revision.
#[derive(Debug, Clone)]
pub enum AssetEdit {
    /// The same files as the revision it follows.
    Keep,
    /// This file in the slot (type, sub-type, index), replacing what was there.
    Put(object_asset::Model),
    /// Without this file.
    Remove(Uuid),
}

/// Gives revision `to` of item `content_id` the files of revision `from`, changed by `edit`.
pub async fn carry_in(
    db: &impl ConnectionTrait,
    content_id: i32,
    from: Option<i32>,
    to: i32,
    edit: &AssetEdit,
) -> ApiResult<()> {
    let mut files = match from {
        Some(from) => {
            object_asset::Entity::find()
                .filter(object_asset::Column::RevisionId.eq(from))
                .order_by_asc(object_asset::Column::Id)
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    match edit {
        AssetEdit::Keep => {}
        AssetEdit::Put(slot) => {
            files.retain(|f| {
                (f.asset_type, &f.type_name, f.index)
                    != (slot.asset_type, &slot.type_name, slot.index)
            });
            files.push(slot.clone());
        }
        AssetEdit::Remove(asset_id) => {
            let before = files.len();
            files.retain(|f| f.asset_id != *asset_id);
            if files.len() == before {
                return Err(ApiError::NotFound("asset"));
            }
        }
    }
    if files.is_empty() {
        return Ok(());
    }
    object_asset::Entity::insert_many(files.into_iter().map(|f| object_asset::ActiveModel {
        content_id: Set(content_id),
        revision_id: Set(to),
        asset_id: Set(f.asset_id),
        asset_type: Set(f.asset_type),
        type_name: Set(f.type_name),
        index: Set(f.index),
        ..Default::default()
    }))
    .exec(db)
    .await?;
    Ok(())
}

/// The files of many revisions, by revision.
pub async fn files_of(
    db: &impl ConnectionTrait,
    revisions: &[i32],
) -> Result<HashMap<i32, Vec<object_asset::Model>>, sea_orm::DbErr> {
    let mut out: HashMap<i32, Vec<object_asset::Model>> = HashMap::new();
    if revisions.is_empty() {
        return Ok(out);
    }
    for file in object_asset::Entity::find()
        .filter(object_asset::Column::RevisionId.is_in(revisions.iter().copied()))
        .order_by_asc(object_asset::Column::AssetType)
        .order_by_asc(object_asset::Column::Index)
        .order_by_asc(object_asset::Column::Id)
        .all(db)
        .await?
    {
        out.entry(file.revision_id).or_default().push(file);
    }
    Ok(out)
}

/// Many assets by id.
pub async fn assets_by_id(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, asset::Model>, sea_orm::DbErr> {
    crate::db::rows_by::<asset::Entity, _>(db, asset::Column::Id, ids, |a| a.id).await
}

/// The thumbnails rendered from many assets, by source.
pub async fn thumbnails_of(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<asset::Model>>, sea_orm::DbErr> {
    let mut out: HashMap<Uuid, Vec<asset::Model>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for thumb in asset::Entity::find()
        .filter(asset::Column::DerivedFrom.is_in(ids.iter().copied()))
        .filter(asset::Column::DeletedAt.is_null())
        .order_by_asc(asset::Column::Mimetype)
        .all(db)
        .await?
    {
        if let Some(source) = thumb.derived_from {
            out.entry(source).or_default().push(thumb);
        }
    }
    Ok(out)
}

/// The live thumbnail files of many items, by item, in one statement: each item's `visual`
/// relation named thumbnail, its derived item, that item's live files.
pub async fn item_thumbnails(
    db: &impl ConnectionTrait,
    items: &[i32],
) -> Result<HashMap<i32, Vec<asset::Model>>, sea_orm::DbErr> {
    use sea_orm::FromQueryResult;
    let mut out: HashMap<i32, Vec<asset::Model>> = HashMap::new();
    if items.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT r.first_content_id AS owner, a.* FROM content_relations r \
         JOIN contents c ON c.id = r.second_content_id AND c.derived AND c.deleted_at IS NULL \
         JOIN object_assets o ON o.revision_id = c.live_revision_id \
         JOIN assets a ON a.id = o.asset_id AND a.deleted_at IS NULL \
         WHERE r.first_content_id IN ({}) AND r.relation = 'visual' AND r.relation_name = '{}' \
         ORDER BY r.id DESC, o.\"index\", o.id",
        crate::db::placeholders(1, items.len()),
        crate::catalog::thumbnails::THUMBNAIL,
    );
    let values = items.iter().map(|&id| id.into()).collect();
    for row in db.query_all_raw(crate::db::raw(db, &sql, values)).await? {
        let owner: i32 = row.try_get("", "owner")?;
        out.entry(owner)
            .or_default()
            .push(asset::Model::from_query_result(&row, "")?);
    }
    Ok(out)
}

/// The newest job on many assets, by asset.
pub async fn jobs_of(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, job::Model>, sea_orm::DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut out = HashMap::new();
    for job in job::Entity::find()
        .filter(job::Column::AssetId.is_in(ids.iter().copied()))
        .filter(job::Column::Kind.eq(JobKind::Render))
        .order_by_asc(job::Column::Id)
        .all(db)
        .await?
    {
        out.insert(job.asset_id, job);
    }
    Ok(out)
}
