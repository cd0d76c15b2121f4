//! Assets over GraphQL: uploads (multipart, or a signed upload address), a revision's files,
//! thumbnails and their render jobs, and signed addresses for private files.

use arena_entity::{
    assets::{
        asset::{self, AssetKind},
        job::{self, JobStatus},
        object_asset,
    },
    catalog::revision::RevisionStatus,
};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Upload};
use chrono::{DateTime, Utc};

use super::{AssetEdit, check, sign::Ticket};
use crate::{
    auth::graphql::{parse_int_id, parse_uuid},
    catalog::graphql::Content,
    error::ApiError,
    graphql::{
        app,
        guards::SignedIn,
        load,
        loaders::{AssetById, FilesOf, RenderOf, RevisionsOf, ThumbnailOf, ThumbnailsOf},
        viewer,
    },
};

/// What a file is for; each kind takes its own formats and size.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AssetKind", remote = "AssetKind")]
pub enum Kind {
    /// PNG, JPEG or WebP, up to 16 MiB, 8192 pixels a side.
    Image,
    /// As an image.
    Texture,
    /// KTX2, up to 64 MiB.
    Texture3d,
    /// glTF, GLB or OBJ, up to 32 MiB.
    Mesh,
    /// As a mesh.
    Animation,
    /// JSON, up to 4 MiB.
    Gameobject,
    /// As a game object.
    World,
    /// As a mesh.
    Character,
    /// Ogg, MP3, WAV or FLAC, up to 32 MiB.
    Sound,
}

/// Where a render job is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "JobStatus")]
pub enum RenderState {
    /// Waiting or being drawn.
    Queued,
    /// Its thumbnails are made.
    Done,
    /// Given up; `reason` says why.
    Failed,
}

/// A stored file.
pub struct Asset(pub asset::Model);

#[Object]
impl Asset {
    /// The file's id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// What it is for.
    async fn kind(&self) -> Kind {
        self.0.kind.into()
    }
    /// The uploader's tag.
    async fn tag(&self) -> Option<&str> {
        self.0.asset_tag.as_deref()
    }
    /// The file name it was uploaded with.
    async fn original_name(&self) -> Option<&str> {
        self.0.originalname.as_deref()
    }
    /// Its type, read from its bytes.
    async fn mime_type(&self) -> &str {
        &self.0.mimetype
    }
    /// Its size in bytes.
    async fn size(&self) -> i64 {
        self.0.filesize
    }
    /// Served to anyone with its address; otherwise `url` is signed and short-lived.
    async fn public(&self) -> bool {
        self.0.public
    }
    /// Deleted: no longer served.
    async fn deleted(&self) -> bool {
        self.0.deleted_at.is_some()
    }
    /// When it was stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Where to fetch it, relative to the api's origin; none once deleted. A private file's
    /// address is signed and valid for `ARENA_ASSET_URL_SECONDS`.
    async fn url(&self, ctx: &Context<'_>) -> Option<String> {
        if self.0.deleted_at.is_some() {
            return None;
        }
        if self.0.public {
            return Some(format!("/assets/{}", self.0.id));
        }
        Some(app(ctx).assets.signer.download_url(self.0.id).0)
    }
    /// Its thumbnails (PNG, then WebP), once rendered.
    async fn thumbnails(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Asset>> {
        Ok(load(ctx)
            .load_one(ThumbnailsOf(self.0.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Asset)
            .collect())
    }
    /// Its newest render job, for files Arena draws thumbnails of.
    async fn render(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RenderJob>> {
        Ok(load(ctx)
            .load_one(RenderOf(self.0.id))
            .await?
            .map(RenderJob))
    }
}

/// Thumbnails being made of a file.
pub struct RenderJob(job::Model);

#[Object]
impl RenderJob {
    /// Where it is.
    async fn status(&self) -> RenderState {
        self.0.status.into()
    }
    /// Why it failed.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// Times it was taken by a worker.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When it finished.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}

/// A file of a content revision.
pub struct ObjectAsset(pub object_asset::Model);

#[Object]
impl ObjectAsset {
    /// The attachment's id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// What the file is for.
    #[graphql(name = "type")]
    async fn kind(&self) -> Kind {
        self.0.asset_type.into()
    }
    /// A finer name: preview, icon, thumbnail.
    async fn type_name(&self) -> Option<&str> {
        self.0.type_name.as_deref()
    }
    /// Its place among files of the same type.
    async fn index(&self) -> i32 {
        self.0.index
    }
    /// The file.
    async fn asset(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Asset>> {
        Ok(load(ctx)
            .load_one(AssetById(self.0.asset_id))
            .await?
            .map(Asset))
    }
}

/// The files of a revision, through the loader.
pub async fn files(
    ctx: &Context<'_>,
    revision: Option<i32>,
) -> async_graphql::Result<Vec<ObjectAsset>> {
    let Some(revision) = revision else {
        return Ok(Vec::new());
    };
    Ok(load(ctx)
        .load_one(FilesOf(revision))
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(ObjectAsset)
        .collect())
}

/// The revision readers of an item see, through the loaders.
pub async fn current_revision(
    ctx: &Context<'_>,
    row: &arena_entity::catalog::content::Model,
) -> async_graphql::Result<Option<i32>> {
    if row.live_revision_id.is_some() {
        return Ok(row.live_revision_id);
    }
    Ok(load(ctx)
        .load_one(RevisionsOf(row.id))
        .await?
        .unwrap_or_default()
        .into_iter()
        .find(|r| r.status != RevisionStatus::Superseded)
        .map(|r| r.id))
}

/// An item's thumbnail in `mime`, through one loader.
pub async fn thumbnail(
    ctx: &Context<'_>,
    content_id: i32,
    mime: &str,
) -> async_graphql::Result<Option<Asset>> {
    Ok(load(ctx)
        .load_one(ThumbnailOf(content_id))
        .await?
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.mimetype == mime)
        .map(Asset))
}

/// A thumbnail's format.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThumbnailFormat {
    /// PNG.
    #[default]
    Png,
    /// WebP (lossless).
    Webp,
}

impl ThumbnailFormat {
    /// Its MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => check::PNG,
            Self::Webp => check::WEBP,
        }
    }
}

/// Asset queries.
#[derive(Default)]
pub struct AssetsQuery;

#[Object]
impl AssetsQuery {
    /// A file the caller uploaded (any file, for moderators); deleted ones are not found.
    #[graphql(guard = "SignedIn")]
    async fn asset(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Asset>> {
        let id = parse_uuid(&id, "id")?;
        match super::find_own(&app(ctx).db, viewer(ctx), id).await {
            Ok(row) => Ok(Some(Asset(row))),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}

/// What an uploaded file is.
#[derive(InputObject)]
pub struct AssetInput {
    /// What it is for.
    kind: Kind,
    /// A tag of the uploader's, up to 255 characters.
    tag: Option<String>,
    /// Served to anyone with its address.
    #[graphql(default)]
    public: bool,
}

/// An upload address to ask for.
#[derive(InputObject)]
pub struct AssetUploadInput {
    /// What the file is for.
    kind: Kind,
    /// Its file name.
    file_name: String,
    /// A tag of the uploader's, up to 255 characters.
    tag: Option<String>,
    /// Served to anyone with its address.
    #[graphql(default)]
    public: bool,
}

/// Where to `PUT` one file: the bytes as the body, within the time given.
#[derive(SimpleObject)]
pub struct AssetUpload {
    /// The address, relative to the api's origin.
    url: String,
    /// The id the file will have.
    asset_id: ID,
    /// When the address stops working.
    expires_at: DateTime<Utc>,
}

/// A file for an item's next revision.
#[derive(InputObject)]
pub struct AttachAssetInput {
    /// The item, the caller's.
    content_id: ID,
    /// A file the caller uploaded.
    asset_id: ID,
    /// A finer name: preview, icon; up to 255 characters.
    type_name: Option<String>,
    /// Its place among files of the same type and name; a file already there is replaced.
    #[graphql(default)]
    index: i32,
}

/// Asset mutations.
#[derive(Default)]
pub struct AssetsMutation;

#[Object]
impl AssetsMutation {
    /// Stores a file sent as a GraphQL multipart request. Its type is read from its bytes
    /// and must be one its kind takes, and agree with the type and file name sent. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn upload_asset(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        input: AssetInput,
    ) -> async_graphql::Result<Asset> {
        let me = viewer(ctx).require_user()?.id;
        let value = file
            .value(ctx)
            .map_err(|_| ApiError::bad_input("file", "the request has no such file"))?;
        let row = super::upload(
            app(ctx),
            me,
            viewer(ctx).ip,
            super::Upload {
                kind: input.kind.into(),
                tag: input.tag,
                public: input.public,
                name: value.filename.clone(),
                content_type: value.content_type.clone(),
                bytes: value.content.to_vec(),
                source: "upload",
                id: None,
            },
        )
        .await?;
        Ok(Asset(row))
    }

    /// An address to `PUT` one file to without GraphQL, for the caller, valid for
    /// `ARENA_ASSET_URL_SECONDS`. The same checks apply when the bytes arrive. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn create_asset_upload(
        &self,
        ctx: &Context<'_>,
        input: AssetUploadInput,
    ) -> async_graphql::Result<AssetUpload> {
        let me = viewer(ctx).require_user()?.id;
        let name = check::file_name(&input.file_name)?;
        if input
            .tag
            .as_ref()
            .is_some_and(|t| t.chars().count() > check::MAX_TAG)
        {
            return Err(ApiError::bad_input("tag", "a tag is at most 255 characters").into());
        }
        let asset = uuid::Uuid::now_v7();
        let kind: AssetKind = input.kind.into();
        let (url, expires_at) = app(ctx).assets.signer.upload_url(Ticket {
            asset,
            user: me,
            kind: sea_orm::ActiveEnum::to_value(&kind),
            public: input.public,
            tag: input.tag,
            name,
            expires: 0,
        });
        Ok(AssetUpload {
            url,
            asset_id: asset.into(),
            expires_at,
        })
    }

    /// Puts a file of the caller's into an item's next revision, reviewed as an edit of its
    /// text is. Its thumbnails become the item's `visual` relations once that revision is
    /// what readers see. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn attach_asset(
        &self,
        ctx: &Context<'_>,
        input: AttachAssetInput,
    ) -> async_graphql::Result<Content> {
        let content_id = parse_int_id(&input.content_id, "contentId")?;
        let asset_id = parse_uuid(&input.asset_id, "assetId")?;
        let type_name = match input.type_name.as_deref().map(str::trim) {
            Some(name) if name.chars().count() > 255 => {
                return Err(ApiError::bad_input("typeName", "at most 255 characters").into());
            }
            Some("") | None => None,
            Some(name) => Some(name.to_owned()),
        };
        if !(0..=999).contains(&input.index) {
            return Err(ApiError::bad_input("index", "an index is 0 to 999").into());
        }
        let file = super::find_own(&app(ctx).db, viewer(ctx), asset_id).await?;
        let slot = object_asset::Model {
            id: 0,
            content_id,
            revision_id: 0,
            asset_id,
            asset_type: file.kind,
            type_name,
            index: input.index,
        };
        let row =
            crate::catalog::change_files(app(ctx), viewer(ctx), content_id, AssetEdit::Put(slot))
                .await?;
        Ok(Content(row))
    }

    /// Takes a file out of an item's next revision. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn detach_asset(
        &self,
        ctx: &Context<'_>,
        content_id: ID,
        asset_id: ID,
    ) -> async_graphql::Result<Content> {
        let content_id = parse_int_id(&content_id, "contentId")?;
        let asset_id = parse_uuid(&asset_id, "assetId")?;
        let row = crate::catalog::change_files(
            app(ctx),
            viewer(ctx),
            content_id,
            AssetEdit::Remove(asset_id),
        )
        .await?;
        Ok(Content(row))
    }

    /// Deletes a file of the caller's and its thumbnails: no longer served nor attachable.
    /// Signed in.
    #[graphql(guard = "SignedIn")]
    async fn delete_asset(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let id = parse_uuid(&id, "id")?;
        super::delete(app(ctx), viewer(ctx), id).await?;
        Ok(true)
    }
}
