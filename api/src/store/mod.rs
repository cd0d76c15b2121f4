//! The `store` domain: prices and purchases, and the ownerships they make.
//!
//! A purchase is one transaction: the price leaves the buyer's account (to the creator, less
//! the platform fee, which leaves circulation), the ownership is written with its price and
//! currency, and a `purchase` event is recorded. A limited item's purchases queue on its
//! content row, so its serials run 1..stock in purchase order with none repeated or skipped;
//! a partial unique index backs each serial and each player's one live copy.

pub mod graphql;

use arena_entity::{
    bank::{
        currency::{self, CurrencyType},
        transaction::TransactionKind,
    },
    catalog::content,
    events::platform_event,
    store::{
        object_price,
        ownership::{self, OwnershipSource},
    },
};
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::viewer::Viewer,
    bank::{self, Movement},
    bus::Changes,
    catalog,
    context::AppContext,
    db::lock_rows,
    error::{ApiError, ApiResult, OnViolation},
};

/// Longest time-limited purchase, in days.
pub const MAX_DAYS: u32 = 3650;

/// The prices of an item.
pub async fn prices_of(
    db: &impl ConnectionTrait,
    content_id: i32,
) -> ApiResult<Vec<object_price::Model>> {
    Ok(object_price::Entity::find()
        .filter(object_price::Column::ContentId.eq(content_id))
        .order_by_asc(object_price::Column::Currency)
        .all(db)
        .await?)
}

/// The prices of many items, by item, in one statement.
pub async fn prices_of_many(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<std::collections::HashMap<i32, Vec<object_price::Model>>> {
    let mut out: std::collections::HashMap<i32, Vec<object_price::Model>> =
        std::collections::HashMap::new();
    for price in object_price::Entity::find()
        .filter(object_price::Column::ContentId.is_in(ids.iter().copied()))
        .order_by_asc(object_price::Column::Currency)
        .all(db)
        .await?
    {
        out.entry(price.content_id).or_default().push(price);
    }
    Ok(out)
}

/// Sets (or with `None` removes) the price of an item of the caller's in one currency.
pub async fn set_price(
    ctx: &AppContext,
    viewer: &Viewer,
    content_id: i32,
    currency: CurrencyType,
    price: Option<i64>,
) -> ApiResult<Vec<object_price::Model>> {
    if let Some(price) = price
        && !(0..=bank::MAX_AMOUNT).contains(&price)
    {
        return Err(ApiError::bad_input(
            "price",
            format!("a price is 0 to {}", bank::MAX_AMOUNT),
        ));
    }
    ctx.write(async |db, changes| {
        let row = catalog::lock_own(db, viewer, content_id).await?;
        if row.content_type.is_comment() {
            return Err(ApiError::bad_input("contentId", "comments are not sold"));
        }
        let me = viewer.require_user()?.id;
        object_price::Entity::delete_many()
            .filter(object_price::Column::ContentId.eq(content_id))
            .filter(object_price::Column::Currency.eq(currency))
            .exec(db)
            .await?;
        if let Some(price) = price {
            let now = Utc::now();
            object_price::ActiveModel {
                content_id: Set(content_id),
                price: Set(price),
                currency: Set(currency),
                created_by: Set(Some(me)),
                updated_by: Set(Some(me)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
        changes.push(crate::bus::Change::Content { content_id });
        prices_of(db, content_id).await
    })
    .await
}

/// A purchase to make.
#[derive(Debug, Clone)]
pub struct PurchaseRequest {
    pub content_id: i32,
    pub currency: CurrencyType,
    /// Unique per buyer: the same request again returns the first ownership.
    pub key: String,
    /// A time-limited purchase lasts this many days.
    pub days: Option<u32>,
}

/// An ownership a purchase made, and whether an earlier request with the same key had.
#[derive(Debug, Clone)]
pub struct Purchased {
    pub ownership: ownership::Model,
    pub already_applied: bool,
}

/// Buys an item for the caller; see [`purchase_in`].
pub async fn purchase(
    ctx: &AppContext,
    viewer: &Viewer,
    request: PurchaseRequest,
) -> ApiResult<Purchased> {
    let fee_percent = ctx.settings.store_fee_percent;
    ctx.write(async |db, changes| purchase_in(db, viewer, request, fee_percent, changes).await)
        .await
}

/// The currency of a type (the oldest of it).
async fn currency_of(db: &impl ConnectionTrait, kind: CurrencyType) -> ApiResult<currency::Model> {
    currency::Entity::find()
        .filter(currency::Column::CurrencyType.eq(kind))
        .order_by_asc(currency::Column::Id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("currency"))
}

/// Buys a published item on sale that the buyer may see and does not hold, at its price in
/// the chosen currency (free when it has no prices at all).
pub async fn purchase_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    request: PurchaseRequest,
    fee_percent: u32,
    changes: &mut Changes,
) -> ApiResult<Purchased> {
    let buyer = viewer.require_user()?.id;
    bank::check_key(&request.key)?;
    if request.days.is_some_and(|d| !(1..=MAX_DAYS).contains(&d)) {
        return Err(ApiError::bad_input("days", format!("1 to {MAX_DAYS} days")));
    }
    let key = format!("purchase:{}", request.key);
    if let Some(first) = ownership::Entity::find()
        .filter(ownership::Column::UserId.eq(buyer))
        .filter(ownership::Column::IdempotencyKey.eq(&key))
        .one(db)
        .await?
    {
        if first.content_id != request.content_id {
            return Err(ApiError::Conflict(
                "this idempotency key was used for another purchase: contentId differs".into(),
            ));
        }
        return Ok(Purchased {
            ownership: first,
            already_applied: true,
        });
    }
    let mut item = catalog::find_visible(db, viewer, request.content_id).await?;
    if item.stock.is_some() {
        // Limited: purchases of this item take turns, so serials follow their order.
        item = lock_rows::<content::Entity, _>(db, content::Column::Id, [item.id])
            .await?
            .pop()
            .ok_or(ApiError::NotFound("content"))?;
    }
    if !item.published
        || !item.onsale
        || item.deleted_at.is_some()
        || item.content_type.is_comment()
    {
        return Err(ApiError::bad_input(
            "contentId",
            "this item is not for sale",
        ));
    }
    if item.user_id == Some(buyer) {
        return Err(ApiError::bad_input(
            "contentId",
            "creators own their items already",
        ));
    }
    let prices = prices_of(db, item.id).await?;
    let price = match prices.iter().find(|p| p.currency == request.currency) {
        Some(found) => found.price,
        None if prices.is_empty() => 0,
        None => {
            return Err(ApiError::bad_input(
                "currency",
                "this item has no price in that currency",
            ));
        }
    };
    let now = Utc::now();
    let serial = match item.stock {
        Some(stock) => {
            let sold: Option<i32> = ownership::Entity::find()
                .select_only()
                .column_as(ownership::Column::Serial.max(), "sold")
                .filter(ownership::Column::ContentId.eq(item.id))
                .into_tuple()
                .one(db)
                .await?
                .flatten();
            let next = sold.unwrap_or(0) + 1;
            if next > stock {
                return Err(ApiError::Conflict(format!(
                    "sold out: all {stock} are sold"
                )));
            }
            Some(next)
        }
        None => None,
    };
    // A time-limited copy that has run out is ended, so it can be bought again.
    ownership::Entity::update_many()
        .col_expr(
            ownership::Column::EndedAt,
            Expr::col(ownership::Column::ExpiresAt),
        )
        .filter(ownership::Column::ContentId.eq(item.id))
        .filter(ownership::Column::UserId.eq(buyer))
        .filter(ownership::Column::EndedAt.is_null())
        .filter(ownership::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    let owned_already = ownership::Entity::find()
        .filter(ownership::Column::ContentId.eq(item.id))
        .filter(ownership::Column::UserId.eq(buyer))
        .filter(ownership::Column::EndedAt.is_null())
        .one(db)
        .await?;
    if owned_already.is_some() {
        return Err(ApiError::Conflict("you own this item already".into()));
    }
    let currency = currency_of(db, request.currency).await?;
    let mut payment = None;
    if price > 0 {
        let fee = price * i64::from(fee_percent.min(100)) / 100;
        let legs = [
            (item.user_id, price - fee, key.clone()),
            (None, fee, format!("{key}:fee")),
        ];
        for (to, amount, leg_key) in legs {
            if amount == 0 {
                continue;
            }
            // What goes to no player (the fee, or a deleted creator's share) leaves
            // circulation.
            let kind = if to.is_some() {
                TransactionKind::Purchase
            } else {
                TransactionKind::Burn
            };
            let paid = bank::move_in(
                db,
                Movement {
                    from: Some(buyer),
                    to,
                    currency_id: currency.id,
                    amount,
                    kind,
                    key: leg_key,
                    description: Some(format!("purchase of item {}", item.id)),
                    automated: false,
                    previous: None,
                    conversion: None,
                },
                changes,
            )
            .await?;
            if paid.already_applied {
                return Err(ApiError::Conflict(
                    "this idempotency key was used for another payment".into(),
                ));
            }
            payment.get_or_insert(paid.row.id);
        }
    }
    let owned = ownership::ActiveModel {
        content_id: Set(item.id),
        source: Set(OwnershipSource::Purchase),
        user_id: Set(buyer),
        previous_ownership_id: Set(None),
        purchase_price: Set(Some(price)),
        purchase_currency: Set(Some(request.currency)),
        serial: Set(serial),
        transaction_id: Set(payment),
        idempotency_key: Set(Some(key)),
        created_by: Set(Some(buyer)),
        updated_by: Set(Some(buyer)),
        created_at: Set(now),
        updated_at: Set(now),
        ended_at: Set(None),
        expires_at: Set(request.days.map(|d| now + Duration::days(i64::from(d)))),
        ..Default::default()
    }
    .insert(db)
    .await
    .on_unique("you own this item already")?;
    platform_event::ActiveModel {
        kind: Set("purchase".into()),
        payload: Set(json!({
            "ownershipId": owned.id,
            "contentId": item.id,
            "buyer": buyer,
            "price": price,
            "currencyId": currency.id,
            "serial": serial,
        })),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Purchased {
        ownership: owned,
        already_applied: false,
    })
}

/// The caller's live copies (not ended, not expired), newest first.
pub async fn inventory(db: &impl ConnectionTrait, owner: Uuid) -> ApiResult<Vec<ownership::Model>> {
    let now = Utc::now();
    Ok(ownership::Entity::find()
        .filter(ownership::Column::UserId.eq(owner))
        .filter(ownership::Column::EndedAt.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(ownership::Column::ExpiresAt.is_null())
                .add(ownership::Column::ExpiresAt.gt(now)),
        )
        .order_by_desc(ownership::Column::Id)
        .limit(500)
        .all(db)
        .await?)
}

/// Every hand copy `serial` of an item passed through, first sale first.
pub async fn chain(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    content_id: i32,
    serial: i32,
) -> ApiResult<Vec<ownership::Model>> {
    catalog::find_visible(db, viewer, content_id).await?;
    Ok(ownership::Entity::find()
        .filter(ownership::Column::ContentId.eq(content_id))
        .filter(ownership::Column::Serial.eq(serial))
        .order_by_asc(ownership::Column::Id)
        .all(db)
        .await?)
}
