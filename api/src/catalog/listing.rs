//! Listing and search: content by type, category (with everything below it), creator,
//! parent and text, ordered by newest, best, hot or most favorited, as a keyset page.
//!
//! Anyone sees the `listed` rows, which partial indexes order; a signed-in reader also sees
//! their friends' `friends` items, and their own items when they list their own. Text
//! search runs on PostgreSQL's `tsvector` with its GIN index, and on SQLite's FTS5 table.

use std::collections::BTreeSet;

use arena_entity::catalog::content::{self, ContentType, Privacy};
use sea_orm::{
    ColumnTrait, Condition, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{categories::Tree, text_field};
use crate::{
    auth::{privileges, viewer::Viewer},
    error::{ApiError, ApiResult},
    graphql::pagination::{
        KeyCursor, KeyExpr, KeyOrder, Keyset, SortKey, TotalCount, fetch_keyset,
    },
};

/// Which items a listing shows; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct ContentFilter {
    /// Of these types.
    pub types: Option<Vec<ContentType>>,
    /// In this category or any below it.
    pub category_id: Option<i32>,
    /// Made by this player.
    pub creator_id: Option<Uuid>,
    /// Parts of this item.
    pub parent_id: Option<i32>,
    /// Words in the name or description.
    pub text: Option<String>,
    /// Unpublished, restricted and private items too (moderators only).
    pub include_hidden: bool,
    /// On sale (or not).
    pub onsale: Option<bool>,
}

/// A listing's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentOrder {
    /// Newest first.
    Newest,
    /// Best rated first (the Wilson lower bound of the votes).
    Best,
    /// Hot first: votes decayed by age.
    Hot,
    /// Most favorited first.
    MostFavorited,
}

fn float(key: &SortKey) -> bool {
    matches!(key, SortKey::Float(_))
}

fn int(key: &SortKey) -> bool {
    matches!(key, SortKey::Int(_))
}

impl ContentOrder {
    /// The keyset order.
    pub(crate) fn key_order(self) -> KeyOrder {
        let key: Option<KeyExpr> = match self {
            Self::Newest => None,
            Self::Best => Some((Expr::col(content::Column::Best), float)),
            Self::Hot => Some((Expr::col(content::Column::Hot), float)),
            Self::MostFavorited => Some((Expr::col(content::Column::FavoriteCount), int)),
        };
        KeyOrder {
            key,
            id: Expr::col(content::Column::Id),
            descending: true,
        }
    }

    /// The cursor of `row` in this order.
    pub fn cursor(self, row: &content::Model) -> KeyCursor {
        let key = match self {
            Self::Newest => None,
            Self::Best => Some(SortKey::Float(row.best)),
            Self::Hot => Some(SortKey::Float(row.hot)),
            Self::MostFavorited => Some(SortKey::Int(row.favorite_count)),
        };
        KeyCursor {
            key,
            id: row.id.into(),
        }
    }
}

/// The words of `raw` as an FTS5 query: each one quoted, all required.
fn fts5_query(raw: &str) -> String {
    raw.split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "")))
        .filter(|quoted| quoted.len() > 2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rows whose name or description hold every word of `text`.
fn matching_text(backend: DatabaseBackend, text: &str) -> Condition {
    let condition = match backend {
        DatabaseBackend::Sqlite => content::Column::Id.in_subquery(
            Query::select()
                .expr(Expr::cust("rowid"))
                .from(sea_orm::sea_query::Alias::new("contents_fts"))
                .and_where(Expr::cust_with_values(
                    "contents_fts MATCH ?",
                    [fts5_query(text)],
                ))
                .to_owned(),
        ),
        _ => Expr::cust_with_values(
            "contents.search @@ plainto_tsquery('simple', $1)",
            [text.to_owned()],
        ),
    };
    Condition::all().add(condition)
}

/// What `viewer` may list, apart from the filter: the listed rows, their friends' items for
/// friends, and, when they list their own, all of their own (but comments and thumbnails).
fn visible(viewer: &Viewer, filter: &ContentFilter) -> ApiResult<Condition> {
    let alive = content::Column::DeletedAt.is_null();
    if filter.include_hidden {
        viewer.require_privilege(privileges::CONTENT_MODERATE)?;
        return Ok(Condition::all().add(alive));
    }
    // The predicate of the listing indexes, as literal SQL: a planner proves a partial
    // index usable from literals, not from bound parameters.
    let indexed = Expr::cust("(contents.listed OR contents.privacy = 'friends')");
    let listed = || Expr::cust("contents.listed");
    let Some(me) = viewer.user().map(|u| u.id) else {
        return Ok(Condition::all().add(indexed).add(listed()));
    };
    if filter.creator_id == Some(me) {
        return Ok(Condition::all()
            .add(alive)
            .add(content::Column::UserId.eq(me))
            .add(content::Column::ContentType.ne(ContentType::Comment))
            // Thumbnails are shown with the item they show, not as items of their own.
            .add(content::Column::Derived.eq(false)));
    }
    let friends = |mine, theirs| {
        Query::select()
            .column(theirs)
            .from(arena_entity::players::friend::Entity)
            .and_where(Expr::col(mine).eq(me))
            .and_where(arena_entity::players::friend::Column::Pending.eq(false))
            .to_owned()
    };
    use arena_entity::players::friend::Column as F;
    let by_friends = Condition::any()
        .add(content::Column::UserId.in_subquery(friends(F::UserId, F::TargetId)))
        .add(content::Column::UserId.in_subquery(friends(F::TargetId, F::UserId)));
    let for_friends = Condition::all()
        .add(content::Column::Privacy.eq(Privacy::Friends))
        .add(content::Column::Published.eq(true))
        .add(content::Column::Restricted.eq(false))
        .add(content::Column::LiveRevisionId.is_not_null())
        .add(alive)
        .add(content::Column::ContentType.ne(ContentType::Comment))
        .add(by_friends);
    Ok(Condition::all()
        .add(indexed)
        .add(Condition::any().add(listed()).add(for_friends)))
}

/// One page of items `viewer` may see matching `filter`, in `order`.
pub async fn list(
    db: &DatabaseConnection,
    tree: &Tree,
    viewer: &Viewer,
    filter: ContentFilter,
    order: ContentOrder,
    keyset: &Keyset,
) -> ApiResult<(Vec<content::Model>, TotalCount)> {
    let mut matching = Condition::all().add(visible(viewer, &filter)?);
    let mut types: Option<BTreeSet<ContentType>> = filter.types.map(|t| t.into_iter().collect());
    if let Some(category) = filter.category_id {
        let below = tree.types_below(category)?;
        types = Some(match types {
            Some(given) => given.intersection(&below).copied().collect(),
            None => below,
        });
    }
    if let Some(types) = types {
        matching = matching.add(content::Column::ContentType.is_in(types));
    }
    if let Some(creator) = filter.creator_id {
        matching = matching.add(content::Column::UserId.eq(creator));
    }
    if let Some(parent) = filter.parent_id {
        matching = matching.add(content::Column::ParentId.eq(parent));
    }
    if let Some(onsale) = filter.onsale {
        matching = matching.add(content::Column::Onsale.eq(onsale));
    }
    if let Some(text) = filter.text {
        let text = text_field(&text, "text", 1, 200)?;
        if fts5_query(&text).is_empty() {
            return Err(ApiError::bad_input("text", "search for at least one word"));
        }
        matching = matching.add(matching_text(db.get_database_backend(), &text));
    }
    let query = content::Entity::find().filter(matching);
    let total = TotalCount::of(db, query.clone());
    let rows = fetch_keyset(db, keyset, query, &order.key_order()).await?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::fts5_query;

    #[test]
    fn search_words_are_quoted() {
        assert_eq!(fts5_query("red  hat"), "\"red\" \"hat\"");
        assert_eq!(fts5_query("a\"b OR c*"), "\"ab\" \"OR\" \"c*\"");
        assert_eq!(fts5_query(" \" "), "");
    }
}
