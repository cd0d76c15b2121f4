//! The `characters` domain (seed 001, Player service): a player's characters, each made from
//! a published character item, with typed properties, each checked against its type, and
//! worn items, each a character item the player owns. Only the player changes them.

pub mod graphql;

use std::collections::HashMap;

use arena_entity::{
    auth::user,
    catalog::content,
    characters::{
        character,
        property::{self, ValueType},
        worn_item,
    },
    store::ownership,
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::{
    auth::viewer::Viewer,
    catalog,
    context::AppContext,
    db::lock_rows,
    error::{ApiError, ApiResult, OnViolation},
};

/// Most characters one player has.
pub const MAX_CHARACTERS: u64 = 50;
/// Most properties one character has.
pub const MAX_PROPERTIES: u64 = 100;
/// Longest property value, in characters.
pub const MAX_VALUE: usize = 4096;

/// Makes a character for the caller from a published character item they may see.
pub async fn create(
    ctx: &AppContext,
    viewer: &Viewer,
    content_id: i32,
    name: &str,
) -> ApiResult<character::Model> {
    let me = viewer.require_user()?.id;
    let name = catalog::text_field(name, "name", 1, 50)?;
    ctx.write(async |db, _changes| {
        let item = catalog::find_visible(db, viewer, content_id).await?;
        if item.content_type != content::ContentType::Character
            || !item.published
            || item.deleted_at.is_some()
        {
            return Err(ApiError::bad_input(
                "contentId",
                "a character is made from a published character item",
            ));
        }
        // Counted under the player's lock, so racing requests cannot pass the limit.
        lock_rows::<user::Entity, _>(db, user::Column::Id, [me]).await?;
        let held = character::Entity::find()
            .filter(character::Column::UserId.eq(me))
            .count(db)
            .await?;
        if held >= MAX_CHARACTERS {
            return Err(ApiError::Conflict(format!(
                "a player has at most {MAX_CHARACTERS} characters"
            )));
        }
        let now = Utc::now();
        Ok(character::ActiveModel {
            user_id: Set(me),
            content_id: Set(item.id),
            name: Set(name.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?)
    })
    .await
}

/// Locks the caller's character `id`: `NOT_FOUND` for anyone else's.
async fn lock_own(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
) -> ApiResult<character::Model> {
    let me = viewer.require_user()?.id;
    lock_rows::<character::Entity, _>(db, character::Column::Id, [id])
        .await?
        .pop()
        .filter(|c| c.user_id == me)
        .ok_or(ApiError::NotFound("character"))
}

/// A property value checked against its type: the text to store, and the item a content
/// reference points to.
pub fn check_value(value_type: ValueType, value: &str) -> ApiResult<(String, Option<i32>)> {
    let bad = |what: &str| ApiError::bad_input("value", format!("the value is not {what}"));
    if value.chars().count() > MAX_VALUE || value.chars().any(|c| c == '\0') {
        return Err(ApiError::bad_input(
            "value",
            format!("a value is at most {MAX_VALUE} characters, without NUL"),
        ));
    }
    let trimmed = value.trim();
    Ok(match value_type {
        ValueType::String => (value.to_owned(), None),
        ValueType::Int => (
            trimmed
                .parse::<i64>()
                .map_err(|_| bad("a whole number"))?
                .to_string(),
            None,
        ),
        ValueType::Float => {
            let number = trimmed
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| bad("a finite number"))?;
            (number.to_string(), None)
        }
        ValueType::Bool => match trimmed {
            "true" | "false" => (trimmed.to_owned(), None),
            _ => return Err(bad("true or false")),
        },
        ValueType::Content => {
            let id = trimmed
                .parse::<i32>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| bad("a content id"))?;
            (id.to_string(), Some(id))
        }
    })
}

/// Checks a property's name: 1 to 255 letters, digits, `_`, `-` or `.`.
fn check_name(name: &str) -> ApiResult<()> {
    let fine = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if fine {
        Ok(())
    } else {
        Err(ApiError::bad_input(
            "property",
            "a property name is 1 to 255 letters, digits, '_', '-' or '.'",
        ))
    }
}

/// Sets (or with `None` removes) a property of the caller's character; a content reference
/// must name an item the caller may see.
pub async fn set_property(
    ctx: &AppContext,
    viewer: &Viewer,
    character_id: i32,
    name: &str,
    value: Option<(ValueType, String)>,
) -> ApiResult<character::Model> {
    check_name(name)?;
    let checked = match &value {
        Some((kind, text)) => Some((*kind, check_value(*kind, text)?)),
        None => None,
    };
    ctx.write(async |db, _changes| {
        let row = lock_own(db, viewer, character_id).await?;
        property::Entity::delete_many()
            .filter(property::Column::CharacterId.eq(row.id))
            .filter(property::Column::Property.eq(name))
            .exec(db)
            .await?;
        if let Some((kind, (text, related))) = checked {
            if let Some(related) = related {
                catalog::find_visible(db, viewer, related)
                    .await
                    .map_err(|_| ApiError::bad_input("value", "no such content item"))?;
            }
            let held = property::Entity::find()
                .filter(property::Column::CharacterId.eq(row.id))
                .count(db)
                .await?;
            if held >= MAX_PROPERTIES {
                return Err(ApiError::Conflict(format!(
                    "a character has at most {MAX_PROPERTIES} properties"
                )));
            }
            let now = Utc::now();
            property::ActiveModel {
                character_id: Set(row.id),
                property: Set(name.to_owned()),
                value: Set(text),
                value_type: Set(kind),
                related_content_id: Set(related),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .on_unique("the property is being set; retry")?;
        }
        Ok(row)
    })
    .await
}

/// Puts an item on (or with `wear: false` takes it off) the caller's character: a character
/// item other than a character, of which the caller holds a live copy.
pub async fn wear(
    ctx: &AppContext,
    viewer: &Viewer,
    character_id: i32,
    content_id: i32,
    on: bool,
) -> ApiResult<character::Model> {
    let me = viewer.require_user()?.id;
    ctx.write(async |db, _changes| {
        let row = lock_own(db, viewer, character_id).await?;
        if !on {
            worn_item::Entity::delete_many()
                .filter(worn_item::Column::CharacterId.eq(row.id))
                .filter(worn_item::Column::ContentId.eq(content_id))
                .exec(db)
                .await?;
            return Ok(row);
        }
        let item = content::Entity::find_by_id(content_id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("content"))?;
        if !item.content_type.is_character_item()
            || item.content_type == content::ContentType::Character
        {
            return Err(ApiError::bad_input(
                "contentId",
                "a character wears character items (hats, accessories, fronts, backs, tools)",
            ));
        }
        let owned = crate::store::live_copies(me)
            .filter(ownership::Column::ContentId.eq(content_id))
            .one(db)
            .await?;
        if owned.is_none() {
            return Err(ApiError::Forbidden);
        }
        let now = Utc::now();
        worn_item::Entity::insert(worn_item::ActiveModel {
            character_id: Set(row.id),
            content_id: Set(content_id),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .on_conflict(crate::db::any_conflict())
        .try_insert()
        .exec(db)
        .await?;
        Ok(row)
    })
    .await
}

/// A player's characters, oldest first.
pub async fn list(db: &impl ConnectionTrait, owner: Uuid) -> ApiResult<Vec<character::Model>> {
    Ok(character::Entity::find()
        .filter(character::Column::UserId.eq(owner))
        .order_by_asc(character::Column::Id)
        .all(db)
        .await?)
}

/// Characters by id.
pub async fn characters_by_id(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, character::Model>> {
    Ok(
        crate::db::rows_by::<character::Entity, _>(db, character::Column::Id, ids, |r| r.id)
            .await?,
    )
}

/// The properties of many characters, by character, by name.
pub async fn properties_of_many(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<property::Model>>> {
    let rows = property::Entity::find()
        .filter(property::Column::CharacterId.is_in(ids.iter().copied()))
        .order_by_asc(property::Column::Property)
        .all(db)
        .await?;
    Ok(crate::db::group_by(rows, |row| row.character_id))
}

/// The items many characters wear, by character, first put on first.
pub async fn worn_of_many(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<worn_item::Model>>> {
    let rows = worn_item::Entity::find()
        .filter(worn_item::Column::CharacterId.is_in(ids.iter().copied()))
        .order_by_asc(worn_item::Column::Id)
        .all(db)
        .await?;
    Ok(crate::db::group_by(rows, |row| row.character_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_is_read_as_its_type() {
        assert_eq!(check_value(ValueType::Int, " 42 ").unwrap().0, "42");
        assert!(check_value(ValueType::Int, "4.2").is_err());
        assert_eq!(check_value(ValueType::Float, "2.50").unwrap().0, "2.5");
        assert!(check_value(ValueType::Float, "NaN").is_err());
        assert!(check_value(ValueType::Float, "inf").is_err());
        assert_eq!(check_value(ValueType::Bool, "true").unwrap().0, "true");
        assert!(check_value(ValueType::Bool, "yes").is_err());
        assert_eq!(
            check_value(ValueType::Content, "7").unwrap(),
            ("7".into(), Some(7))
        );
        assert!(check_value(ValueType::Content, "-7").is_err());
        assert_eq!(check_value(ValueType::String, " a ").unwrap().0, " a ");
        assert!(check_value(ValueType::String, "a\0").is_err());
        assert!(check_name("eye.color").is_ok());
        assert!(check_name("eye color").is_err());
        assert!(check_name("").is_err());
    }
}
