//! An item's thumbnails as `visual` relations: for every file of the item's current revision
//! that has rendered thumbnails, a `derived` texture item holding them, related to the item
//! as `visual` / `thumbnail`. A derived item is seen by whoever sees its parent and is never
//! listed. Thumbnails of files the current revision no longer has go with their item, so the
//! relations always show what readers see.

use std::collections::{HashMap, HashSet};

use arena_entity::{
    assets::{asset, object_asset},
    catalog::{
        content::{self, ContentType, Privacy},
        relation::{self, RelationKind},
        revision::{self, RevisionStatus},
    },
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use super::{MAX_NAME, Substance, blank, changed, insert};
use crate::{bus::Changes, error::ApiResult};

/// The relation name of a rendered thumbnail.
pub const THUMBNAIL: &str = "thumbnail";

/// The revision readers of `row` see: the live one, else (never approved) the newest.
pub async fn current_revision(
    db: &impl ConnectionTrait,
    row: &content::Model,
) -> ApiResult<Option<i32>> {
    if let Some(live) = row.live_revision_id {
        return Ok(Some(live));
    }
    Ok(revision::Entity::find()
        .filter(revision::Column::ContentId.eq(row.id))
        .filter(revision::Column::Status.ne(RevisionStatus::Superseded))
        .order_by_desc(revision::Column::Id)
        .one(db)
        .await?
        .map(|r| r.id))
}

/// Brings the locked `row`'s thumbnail items in line with its current revision's files.
pub async fn link_in(
    db: &impl ConnectionTrait,
    row: &content::Model,
    changes: &mut Changes,
) -> ApiResult<()> {
    if row.derived {
        return Ok(());
    }
    let files: HashSet<Uuid> = match current_revision(db, row).await? {
        Some(revision) => object_asset::Entity::find()
            .filter(object_asset::Column::RevisionId.eq(revision))
            .all(db)
            .await?
            .into_iter()
            .map(|f| f.asset_id)
            .collect(),
        None => HashSet::new(),
    };
    let sources: Vec<Uuid> = files.iter().copied().collect();
    let thumbs = crate::assets::thumbnails_of(db, &sources).await?;
    // What each existing thumbnail item shows.
    let children = content::Entity::find()
        .filter(content::Column::ParentId.eq(row.id))
        .filter(content::Column::Derived.eq(true))
        .all(db)
        .await?;
    let held = object_asset::Entity::find()
        .filter(object_asset::Column::ContentId.is_in(children.iter().map(|c| c.id)))
        .all(db)
        .await?;
    let held_assets =
        crate::assets::assets_by_id(db, &held.iter().map(|h| h.asset_id).collect::<Vec<_>>())
            .await?;
    let mut shown: HashMap<i32, Option<Uuid>> = children.iter().map(|c| (c.id, None)).collect();
    for h in &held {
        if let Some(a) = held_assets
            .get(&h.asset_id)
            .filter(|a| a.deleted_at.is_none())
        {
            shown.insert(h.content_id, a.derived_from);
        }
    }
    let mut covered = HashSet::new();
    let mut changed_any = false;
    for (child, source) in shown {
        match source {
            Some(source) if thumbs.contains_key(&source) && covered.insert(source) => {}
            _ => {
                content::Entity::delete_by_id(child).exec(db).await?;
                changed_any = true;
            }
        }
    }
    let Some(creator) = row.user_id else {
        return Ok(());
    };
    for (source, made) in thumbs {
        if covered.contains(&source) {
            continue;
        }
        add(db, row, creator, &made).await?;
        changed_any = true;
    }
    if changed_any {
        changed(changes, row.id);
    }
    Ok(())
}

/// A derived item holding `made` (the PNG and WebP of one file), related to `row`.
async fn add(
    db: &impl ConnectionTrait,
    row: &content::Model,
    creator: Uuid,
    made: &[asset::Model],
) -> ApiResult<()> {
    let now = Utc::now();
    let mut item = blank(creator, ContentType::Texture, Some(row.id), now);
    item.published = true;
    item.published_at = Some(now);
    item.privacy = Privacy::Unlisted;
    item.comments_enabled = false;
    item.derived = true;
    item.created_by = None;
    item.updated_by = None;
    let name: String = format!("Thumbnail of {}", row.name)
        .chars()
        .take(MAX_NAME)
        .collect();
    let substance = Substance {
        name,
        description: String::new(),
        license: None,
    };
    let item = insert(db, item, &substance, RevisionStatus::Approved).await?;
    let revision = item.live_revision_id.unwrap_or_default();
    for (index, thumb) in (0..).zip(made) {
        object_asset::ActiveModel {
            content_id: Set(item.id),
            revision_id: Set(revision),
            asset_id: Set(thumb.id),
            asset_type: Set(thumb.kind),
            type_name: Set(Some(THUMBNAIL.into())),
            index: Set(index),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    relation::ActiveModel {
        first_content_id: Set(row.id),
        second_content_id: Set(item.id),
        relation: Set(RelationKind::Visual),
        relation_name: Set(Some(THUMBNAIL.into())),
        created_by: Set(None),
        updated_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
