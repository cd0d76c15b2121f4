//! The `store` domain: prices and purchases, and the ownerships they make.
//!
//! A purchase is one transaction: the price leaves the buyer's account (to the creator, less
//! the platform fee, which leaves circulation), the ownership is written with its price and
//! currency, and a `purchase` event is recorded. A limited item's purchases queue on its
//! content row, so its serials run 1..stock in purchase order with none repeated or skipped;
//! a partial unique index backs each serial and each player's one live copy.

pub mod graphql;
pub mod trades;
pub mod trades_graphql;

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
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
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
    let prices = object_price::Entity::find()
        .filter(object_price::Column::ContentId.is_in(ids.iter().copied()))
        .order_by_asc(object_price::Column::Currency)
        .all(db)
        .await?;
    Ok(crate::db::group_by(prices, |price| price.content_id))
}

/// How many copies of each item the store sold new, by item, in one statement.
pub async fn sold_of_many(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<std::collections::HashMap<i32, i64>> {
    let counted: Vec<(i32, i64)> = ownership::Entity::find()
        .select_only()
        .column(ownership::Column::ContentId)
        .column_as(ownership::Column::Id.count(), "sold")
        .filter(ownership::Column::ContentId.is_in(ids.iter().copied()))
        .filter(ownership::Column::Source.is_in([OwnershipSource::Purchase, OwnershipSource::Gift]))
        .filter(ownership::Column::PreviousOwnershipId.is_null())
        .group_by(ownership::Column::ContentId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counted.into_iter().collect())
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
    /// Buys this copy listed for resale instead of a new one.
    pub listing: Option<i32>,
    /// The copy goes to this player, as a gift.
    pub gift_to: Option<Uuid>,
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

/// Buys a published item on sale that the buyer may see, for the buyer or as a gift to
/// another player, who must not hold it: a new copy at its price in the chosen currency
/// (free when it has no prices at all), or with `listing` a copy another player listed for
/// resale, whose ownership moves to the buyer.
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
    if request.days.is_some() && request.listing.is_some() {
        return Err(ApiError::bad_input(
            "days",
            "a resold copy keeps the expiry it has",
        ));
    }
    let receiver = request.gift_to.unwrap_or(buyer);
    // A gift's key names its buyer: unique per receiver, as the index keeps it.
    let key = match request.gift_to {
        Some(_) => format!("gift:{buyer}:{}", request.key),
        None => format!("purchase:{}", request.key),
    };
    // The receiver's copy with this key (a request seen before), and their live copy of
    // the item, in one read.
    let mut theirs = ownership::Entity::find()
        .filter(ownership::Column::UserId.eq(receiver))
        .filter(
            Condition::any()
                .add(ownership::Column::IdempotencyKey.eq(&key))
                .add(
                    Condition::all()
                        .add(ownership::Column::ContentId.eq(request.content_id))
                        .add(ownership::Column::EndedAt.is_null()),
                ),
        )
        .all(db)
        .await?;
    if let Some(first) = theirs
        .iter()
        .position(|o| o.idempotency_key.as_deref() == Some(key.as_str()))
        .map(|at| theirs.swap_remove(at))
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
    if let Some(to) = request.gift_to {
        if to == buyer {
            return Err(ApiError::bad_input(
                "giftTo",
                "a gift goes to another player",
            ));
        }
        crate::players::check_reachable(db, buyer, to).await?;
    }
    let mut item = catalog::find_visible(db, viewer, request.content_id).await?;
    let listed = match request.listing {
        Some(listing) => Some(lock_listing(db, listing, item.id, buyer, request.currency).await?),
        None => None,
    };
    if item.stock.is_some() && listed.is_none() {
        // Limited: purchases of this item take turns, so serials follow their order.
        item = lock_rows::<content::Entity, _>(db, content::Column::Id, [item.id])
            .await?
            .pop()
            .ok_or(ApiError::NotFound("content"))?;
    }
    if !item.published || item.deleted_at.is_some() || item.content_type.is_comment() {
        return Err(ApiError::bad_input(
            "contentId",
            "this item is not for sale",
        ));
    }
    if listed.is_some() && !item.marketable {
        return Err(ApiError::bad_input(
            "listingId",
            "this item is no longer resold",
        ));
    }
    if listed.is_none() && !item.onsale {
        return Err(ApiError::bad_input(
            "contentId",
            "this item is not for sale",
        ));
    }
    if item.user_id == Some(receiver) {
        return Err(ApiError::bad_input(
            "contentId",
            "creators own their items already",
        ));
    }
    let price = match &listed {
        Some(copy) => copy.list_price.unwrap_or(0),
        None => {
            let prices = prices_of(db, item.id).await?;
            match prices.iter().find(|p| p.currency == request.currency) {
                Some(found) => found.price,
                None if prices.is_empty() => 0,
                None => {
                    return Err(ApiError::bad_input(
                        "currency",
                        "this item has no price in that currency",
                    ));
                }
            }
        }
    };
    let now = Utc::now();
    let serial = match (item.stock, &listed) {
        (_, Some(copy)) => copy.serial,
        (Some(stock), None) => {
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
        (None, None) => None,
    };
    // A time-limited copy that has run out is ended, so it can be bought again.
    let live = theirs
        .into_iter()
        .find(|o| o.content_id == item.id && o.ended_at.is_none());
    if let Some(copy) = live {
        match copy.expires_at {
            Some(expired) if expired <= now => {
                ownership::Entity::update_many()
                    .col_expr(ownership::Column::EndedAt, Expr::value(expired))
                    .filter(ownership::Column::Id.eq(copy.id))
                    .exec(db)
                    .await?;
            }
            _ => {
                return Err(ApiError::Conflict(if request.gift_to.is_some() {
                    "they own this item already".into()
                } else {
                    "you own this item already".into()
                }));
            }
        }
    }
    let currency = currency_of(db, request.currency).await?;
    let seller = match &listed {
        Some(copy) => Some(copy.user_id),
        None => item.user_id,
    };
    let payment = book_payment(
        db,
        Payment {
            buyer,
            seller,
            currency_id: currency.id,
            price,
            fee_percent,
            key: &key,
            item: item.id,
        },
    )
    .await?;
    let source = if request.gift_to.is_some() {
        OwnershipSource::Gift
    } else {
        OwnershipSource::Purchase
    };
    let made = match &listed {
        Some(copy) => {
            let next = trades::hand_over(db, std::slice::from_ref(copy), receiver, source, now)
                .await?
                .pop()
                .ok_or(ApiError::NotFound("ownership"))?;
            let mut next = next.into_active_model();
            next.created_by = Set(Some(buyer));
            next.updated_by = Set(Some(buyer));
            next
        }
        None => ownership::ActiveModel {
            content_id: Set(item.id),
            source: Set(source),
            user_id: Set(receiver),
            previous_ownership_id: Set(None),
            serial: Set(serial),
            created_by: Set(Some(buyer)),
            updated_by: Set(Some(buyer)),
            created_at: Set(now),
            updated_at: Set(now),
            ended_at: Set(None),
            expires_at: Set(request.days.map(|d| now + Duration::days(i64::from(d)))),
            trade_id: Set(None),
            list_price: Set(None),
            list_currency: Set(None),
            listed_at: Set(None),
            ..Default::default()
        },
    };
    let mut made = made;
    made.purchase_price = Set(Some(price));
    made.purchase_currency = Set(Some(request.currency));
    made.transaction_id = Set(payment
        .as_ref()
        .and_then(|p| p.rows().next())
        .map(|row| row.id));
    made.idempotency_key = Set(Some(key));
    let owned = made.save(db).await.on_unique("you own this item already")?;
    let owned = ownership::Model::try_from(owned)?;
    let event = platform_event::ActiveModel {
        kind: Set("purchase".into()),
        payload: Set(json!({
            "ownershipId": owned.id,
            "contentId": item.id,
            "buyer": buyer,
            "owner": receiver,
            "seller": seller,
            "resale": listed.is_some(),
            "price": price,
            "currencyId": currency.id,
            "serial": serial,
        })),
        created_at: Set(now),
        ..Default::default()
    };
    if listed.is_none() {
        changes.push(crate::bus::Change::Content {
            content_id: item.id,
        });
    }
    match payment {
        // Last, with the payment's events: the seller's and the platform's accounts are
        // shared by every buyer.
        Some(mut payment) => {
            payment.record(event);
            payment.settle(db, changes).await?;
        }
        None => {
            event.insert(db).await?;
        }
    }
    Ok(Purchased {
        ownership: owned,
        already_applied: false,
    })
}

/// The money of one purchase.
struct Payment<'a> {
    buyer: Uuid,
    /// Who gets the price less the fee; None: a deleted creator, whose share leaves
    /// circulation.
    seller: Option<Uuid>,
    currency_id: i32,
    price: i64,
    fee_percent: u32,
    key: &'a str,
    item: i32,
}

/// Books the payment of `price` to the seller less the fee, which leaves circulation, as
/// linked legs: both apply or neither, once the caller settles them. None when free.
async fn book_payment(
    db: &impl ConnectionTrait,
    payment: Payment<'_>,
) -> ApiResult<Option<bank::linked::Booked>> {
    if payment.price == 0 {
        return Ok(None);
    }
    let fee = payment.price * i64::from(payment.fee_percent.min(100)) / 100;
    let legs = [
        (payment.seller, payment.price - fee, payment.key.to_owned()),
        (None, fee, format!("{}:fee", payment.key)),
    ]
    .into_iter()
    .filter(|(_, amount, _)| *amount > 0)
    .map(|(to, amount, key)| Movement {
        from: Some(payment.buyer),
        to,
        currency_id: payment.currency_id,
        amount,
        kind: if to.is_some() {
            TransactionKind::Purchase
        } else {
            TransactionKind::Burn
        },
        key,
        description: Some(format!("purchase of item {}", payment.item)),
        automated: false,
        previous: None,
        conversion: None,
    })
    .collect();
    let booked = bank::linked::book(db, legs).await?;
    if booked.already_applied() {
        return Err(ApiError::Conflict(
            "this idempotency key was used for another payment".into(),
        ));
    }
    Ok(Some(booked))
}

/// Locks copy `id` listed for resale of `item` for `buyer`, who is not its owner, in the
/// listing's currency.
async fn lock_listing(
    db: &impl ConnectionTrait,
    id: i32,
    item: i32,
    buyer: Uuid,
    currency: CurrencyType,
) -> ApiResult<ownership::Model> {
    let copy = lock_rows::<ownership::Entity, _>(db, ownership::Column::Id, [id])
        .await?
        .pop()
        .filter(|c| c.content_id == item && c.list_price.is_some())
        .ok_or(ApiError::NotFound("listing"))?;
    if copy.ended_at.is_some() || copy.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::Conflict("this copy was sold already".into()));
    }
    if copy.user_id == buyer {
        return Err(ApiError::bad_input(
            "listingId",
            "this copy is yours already",
        ));
    }
    if copy.list_currency != Some(currency) {
        return Err(ApiError::bad_input(
            "currency",
            "this copy is listed in the other currency",
        ));
    }
    Ok(copy)
}

/// Lists the caller's copy of a `marketable` item for resale at `price` (or with `None`
/// takes it off sale). A copy in an open trade, an author's own, or an expired one is not
/// listed.
pub async fn list_for_resale(
    ctx: &AppContext,
    viewer: &Viewer,
    content_id: i32,
    currency: CurrencyType,
    price: Option<i64>,
) -> ApiResult<ownership::Model> {
    let me = viewer.require_user()?.id;
    if let Some(price) = price
        && !(1..=bank::MAX_AMOUNT).contains(&price)
    {
        return Err(ApiError::bad_input(
            "price",
            format!("a price is 1 to {}", bank::MAX_AMOUNT),
        ));
    }
    ctx.write(async |db, changes| {
        let item = catalog::find_visible(db, viewer, content_id).await?;
        let now = Utc::now();
        let copy = crate::db::lock_in_order(
            db,
            ownership::Entity::find()
                .filter(ownership::Column::ContentId.eq(content_id))
                .filter(ownership::Column::UserId.eq(me))
                .filter(ownership::Column::EndedAt.is_null()),
            ownership::Column::Id,
        )
        .await?
        .pop()
        .filter(|c| c.expires_at.is_none_or(|at| at > now))
        .ok_or_else(|| ApiError::bad_input("contentId", "you hold no copy of this item"))?;
        if price.is_some() {
            if copy.source == OwnershipSource::Author {
                return Err(ApiError::bad_input(
                    "contentId",
                    "a creator sells new copies with a price, not their own",
                ));
            }
            if !item.marketable || item.deleted_at.is_some() {
                return Err(ApiError::bad_input("contentId", "this item is not resold"));
            }
            if copy.trade_id.is_some() {
                return Err(ApiError::Conflict("this copy is in an open trade".into()));
            }
        }
        let mut listed = copy.into_active_model();
        listed.list_price = Set(price);
        listed.list_currency = Set(price.map(|_| currency));
        listed.listed_at = Set(price.map(|_| now));
        listed.updated_at = Set(now);
        let listed = listed.update(db).await?;
        changes.push(crate::bus::Change::Content { content_id });
        Ok(listed)
    })
    .await
}

/// Copies of an item listed for resale, cheapest first (at most 100).
pub async fn listings(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    content_id: i32,
) -> ApiResult<Vec<ownership::Model>> {
    catalog::find_visible(db, viewer, content_id).await?;
    Ok(ownership::Entity::find()
        .filter(ownership::Column::ContentId.eq(content_id))
        .filter(ownership::Column::ListPrice.is_not_null())
        .filter(ownership::Column::EndedAt.is_null())
        .order_by_asc(ownership::Column::ListPrice)
        .order_by_asc(ownership::Column::Id)
        .limit(100)
        .all(db)
        .await?)
}

/// Every `ARENA_EXPIRY_SWEEP_MS`, voids the holds and returns the trades whose time is up,
/// marks silent game servers unhealthy and ends expired and silent play sessions.
pub fn spawn_sweeper(ctx: &AppContext) {
    let (ctx, shutdown) = (ctx.clone(), ctx.shutdown.clone());
    let every = std::time::Duration::from_millis(ctx.settings.expiry_sweep_ms);
    ctx.clone().tasks.spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
            if let Err(err) = bank::expire_holds(&ctx).await {
                tracing::warn!(error = ?err, "expiring pending transfers failed");
            }
            if let Err(err) = trades::expire(&ctx).await {
                tracing::warn!(error = ?err, "expiring trades failed");
            }
            if let Err(err) = crate::servers::registry::sweep_silent(&ctx).await {
                tracing::warn!(error = ?err, "marking silent game servers failed");
            }
            if let Err(err) = crate::play::sweep(&ctx).await {
                tracing::warn!(error = ?err, "ending silent play sessions failed");
            }
        }
    });
}

/// `owner`'s live copies: not ended, not expired. What counts as owned.
pub fn live_copies(owner: Uuid) -> sea_orm::Select<ownership::Entity> {
    ownership::Entity::find()
        .filter(ownership::Column::UserId.eq(owner))
        .filter(ownership::Column::EndedAt.is_null())
        .filter(
            Condition::any()
                .add(ownership::Column::ExpiresAt.is_null())
                .add(ownership::Column::ExpiresAt.gt(Utc::now())),
        )
}

/// The caller's live copies (not ended, not expired), newest first.
pub async fn inventory(db: &impl ConnectionTrait, owner: Uuid) -> ApiResult<Vec<ownership::Model>> {
    Ok(live_copies(owner)
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
