//! Content categories: a tree (no cycles) whose nodes each hold some content types. Browsing
//! a category shows the content of its types and of every category below it.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use arena_entity::catalog::{category, category_type, content::ContentType};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, TryIntoModel,
};
use uuid::Uuid;

use super::text_field;
use crate::{
    audit::{self, Entry},
    auth::{privileges, viewer::Viewer},
    bus::{Change, Hook},
    context::AppContext,
    db::lock_in_order,
    error::{ApiError, ApiResult, OnViolation},
};

/// A category with its types.
#[derive(Debug, Clone)]
pub struct Category {
    /// The row.
    pub row: category::Model,
    /// The content types it holds itself.
    pub types: BTreeSet<ContentType>,
}

/// The whole tree, by id.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// Every category.
    pub nodes: HashMap<i32, Category>,
}

impl Tree {
    /// Reads the tree: two statements.
    pub async fn load(db: &impl ConnectionTrait) -> ApiResult<Self> {
        let rows = category::Entity::find()
            .order_by_asc(category::Column::Category)
            .all(db)
            .await?;
        let mut nodes: HashMap<i32, Category> = rows
            .into_iter()
            .map(|row| {
                (
                    row.id,
                    Category {
                        row,
                        types: BTreeSet::new(),
                    },
                )
            })
            .collect();
        for typed in category_type::Entity::find().all(db).await? {
            if let Some(node) = nodes.get_mut(&typed.category_id) {
                node.types.insert(typed.content_type);
            }
        }
        Ok(Self { nodes })
    }

    /// Ids of `id` and every category below it.
    pub fn subtree(&self, id: i32) -> Vec<i32> {
        let mut found = vec![id];
        let mut at = 0;
        while at < found.len() {
            let parent = found[at];
            found.extend(
                self.nodes
                    .values()
                    .filter(|n| n.row.parent_id == Some(parent))
                    .map(|n| n.row.id),
            );
            at += 1;
        }
        found
    }

    /// The content types of `id` and every category below it; `NOT_FOUND` for no such one.
    pub fn types_below(&self, id: i32) -> ApiResult<BTreeSet<ContentType>> {
        if !self.nodes.contains_key(&id) {
            return Err(ApiError::NotFound("category"));
        }
        Ok(self
            .subtree(id)
            .into_iter()
            .filter_map(|c| self.nodes.get(&c))
            .flat_map(|n| n.types.iter().copied())
            .collect())
    }

    /// The categories holding `kind` themselves.
    pub fn holding(&self, kind: ContentType) -> Vec<Category> {
        let mut found: Vec<Category> = self
            .nodes
            .values()
            .filter(|n| n.types.contains(&kind))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.row.category.cmp(&b.row.category));
        found
    }
}

/// The tree as last read, shared by every request of this instance until a category write
/// (on any instance) or a bus resync drops it: listings and nested fields read no
/// categories from the database while it holds.
#[derive(Default)]
pub struct TreeCache {
    tree: RwLock<Option<Arc<Tree>>>,
    /// Bumped by every drop, so a read that raced a write is not kept.
    generation: AtomicU64,
}

impl TreeCache {
    /// The tree, read from the database when not held.
    pub async fn get(&self, db: &impl ConnectionTrait) -> ApiResult<Arc<Tree>> {
        if let Some(tree) = self.tree.read().ok().and_then(|held| held.clone()) {
            return Ok(tree);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let tree = Arc::new(Tree::load(db).await?);
        if let Ok(mut held) = self.tree.write()
            && self.generation.load(Ordering::Acquire) == generation
        {
            *held = Some(tree.clone());
        }
        Ok(tree)
    }

    /// Drops the held tree.
    pub fn drop_tree(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut held) = self.tree.write() {
            *held = None;
        }
    }

    /// The bus hook that drops the tree when categories change anywhere.
    pub fn invalidation(cache: Arc<Self>) -> Hook {
        Arc::new(move |change| {
            if matches!(change, Change::Categories | Change::Resync) {
                cache.drop_tree();
            }
        })
    }
}

/// A category to create or the changes to one.
#[derive(Debug, Default)]
pub struct CategoryFields {
    /// Its name, unique.
    pub name: Option<String>,
    /// The category above it; `Some(None)` makes it a root.
    pub parent_id: Option<Option<i32>>,
    /// Its content types, replacing the old ones.
    pub types: Option<Vec<ContentType>>,
}

/// Creates a category; needs `catalog.manage`.
pub async fn create_category(
    ctx: &AppContext,
    viewer: &Viewer,
    fields: CategoryFields,
) -> ApiResult<category::Model> {
    let actor = viewer.require_privilege(privileges::CATALOG_MANAGE)?.id;
    if fields.name.is_none() {
        return Err(ApiError::bad_input("name", "a category needs a name"));
    }
    ctx.write(async |db, changes| {
        changes.push(Change::Categories);
        write_category_in(db, actor, None, fields).await
    })
    .await
}

/// Renames, moves or retypes a category; needs `catalog.manage`.
pub async fn update_category(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    fields: CategoryFields,
) -> ApiResult<category::Model> {
    let actor = viewer.require_privilege(privileges::CATALOG_MANAGE)?.id;
    ctx.write(async |db, changes| {
        changes.push(Change::Categories);
        write_category_in(db, actor, Some(id), fields).await
    })
    .await
}

/// Writes a category. Every category row is locked first, so two moves at once cannot make
/// a cycle between them.
async fn write_category_in(
    db: &impl ConnectionTrait,
    actor: Uuid,
    id: Option<i32>,
    fields: CategoryFields,
) -> ApiResult<category::Model> {
    lock_in_order(db, category::Entity::find(), category::Column::Id).await?;
    let tree = Tree::load(db).await?;
    let existing = match id {
        Some(id) => Some(
            tree.nodes
                .get(&id)
                .map(|n| n.row.clone())
                .ok_or(ApiError::NotFound("category"))?,
        ),
        None => None,
    };
    let parent = match fields.parent_id {
        Some(parent) => parent,
        None => existing.as_ref().and_then(|row| row.parent_id),
    };
    if let Some(parent) = parent {
        if !tree.nodes.contains_key(&parent) {
            return Err(ApiError::NotFound("parent category"));
        }
        if id.is_some_and(|id| tree.subtree(id).contains(&parent)) {
            return Err(ApiError::bad_input(
                "parentId",
                "a category cannot sit below itself",
            ));
        }
    }
    let now = Utc::now();
    let mut active: category::ActiveModel = match existing {
        Some(row) => row.into(),
        None => category::ActiveModel {
            created_by: Set(Some(actor)),
            created_at: Set(now),
            ..Default::default()
        },
    };
    if let Some(name) = fields.name {
        active.category = Set(text_field(&name, "name", 1, 64)?);
    }
    active.parent_id = Set(parent);
    active.updated_by = Set(Some(actor));
    active.updated_at = Set(now);
    let saved = active
        .save(db)
        .await
        .on_unique("a category of that name exists")?;
    let saved = saved.try_into_model()?;
    if let Some(types) = fields.types {
        category_type::Entity::delete_many()
            .filter(category_type::Column::CategoryId.eq(saved.id))
            .exec(db)
            .await?;
        let types: BTreeSet<ContentType> = types.into_iter().collect();
        if !types.is_empty() {
            category_type::Entity::insert_many(types.into_iter().map(|kind| {
                category_type::ActiveModel {
                    content_type: Set(kind),
                    category_id: Set(saved.id),
                    ..Default::default()
                }
            }))
            .exec(db)
            .await?;
        }
    }
    audit::record(
        db,
        Some(actor),
        Entry {
            action: if id.is_some() {
                "category.update"
            } else {
                "category.create"
            },
            target_type: "category",
            target_id: Some(saved.id.to_string()),
            reason: None,
            details: None,
        },
    )
    .await?;
    Ok(saved)
}

/// Removes a category without sub-categories; needs `catalog.manage`. Content keeps its
/// types and stays where the remaining categories put it.
pub async fn delete_category(ctx: &AppContext, viewer: &Viewer, id: i32) -> ApiResult<()> {
    let actor = viewer.require_privilege(privileges::CATALOG_MANAGE)?.id;
    ctx.write(async |db, changes| {
        changes.push(Change::Categories);
        lock_in_order(db, category::Entity::find(), category::Column::Id).await?;
        let tree = Tree::load(db).await?;
        if !tree.nodes.contains_key(&id) {
            return Err(ApiError::NotFound("category"));
        }
        if tree.subtree(id).len() > 1 {
            return Err(ApiError::Conflict(
                "move or remove its sub-categories first".into(),
            ));
        }
        category::Entity::delete_by_id(id).exec(db).await?;
        audit::record(
            db,
            Some(actor),
            Entry {
                action: "category.delete",
                target_type: "category",
                target_id: Some(id.to_string()),
                reason: None,
                details: None,
            },
        )
        .await
    })
    .await
}
