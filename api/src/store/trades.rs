//! Trades: one player offers copies and money to another for copies and money back.
//!
//! From the moment a trade is sent, what it offers is in escrow: the sender's money is a
//! pending transfer to the recipient and the sender's copies carry the trade's id, so neither
//! can be spent, sold, listed or offered elsewhere. Confirming swaps everything in one
//! transaction and extends both chains of ownership; rejecting, cancelling or expiring gives
//! it all back, as does a confirmation that finds an offered copy no longer valid
//! (`return_to_sender`). Every step is a `trade_events` row.

use std::collections::{BTreeSet, HashMap};

use arena_entity::{
    bank::transaction::{TransactionKind, TransferState},
    catalog::content,
    events::platform_event,
    store::{
        ownership::{self, OwnershipSource},
        trade::{self, TradeStatus},
        trade_event,
        trade_ownership::{offered, requested},
    },
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::{privileges, viewer::Viewer},
    bank::{self, Movement},
    bus::{Change, Changes},
    context::AppContext,
    db::{lock_in_order, lock_rows},
    error::{ApiError, ApiResult},
    graphql::pagination::{TotalCount, Window},
};

/// Most copies on one side of a trade.
pub const MAX_ITEMS: usize = 50;

/// Money one side gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub currency_id: i32,
    pub amount: i64,
}

/// A trade to offer.
#[derive(Debug, Clone)]
pub struct NewTrade {
    pub recipient_id: Uuid,
    /// Items the sender gives: their live copy of each.
    pub offered_items: Vec<i32>,
    /// Items the sender asks for: the recipient's live copy of each.
    pub requested_items: Vec<i32>,
    pub offered_money: Option<Money>,
    pub requested_money: Option<Money>,
    pub description: Option<String>,
    /// Unique per sender.
    pub key: String,
}

/// A trade, and whether an earlier request with the same key had made it.
#[derive(Debug, Clone)]
pub struct Traded {
    pub trade: trade::Model,
    pub already_applied: bool,
}

fn distinct(ids: &[i32], field: &'static str) -> ApiResult<Vec<i32>> {
    let set: BTreeSet<i32> = ids.iter().copied().collect();
    if set.len() > MAX_ITEMS {
        return Err(ApiError::bad_input(
            field,
            format!("a trade gives at most {MAX_ITEMS} items a side"),
        ));
    }
    Ok(set.into_iter().collect())
}

fn check_money(money: Option<Money>, field: &'static str) -> ApiResult<()> {
    if let Some(money) = money
        && !(1..=bank::MAX_AMOUNT).contains(&money.amount)
    {
        return Err(ApiError::bad_input(
            field,
            format!("an amount is 1 to {}", bank::MAX_AMOUNT),
        ));
    }
    Ok(())
}

/// `owner`'s live copies (not ended, not expired, not an author's) of `items`, which the
/// caller has locked; every item must have one.
async fn live_copies(
    db: &impl ConnectionTrait,
    owner: Uuid,
    items: &[i32],
    field: &'static str,
    whose: &str,
) -> ApiResult<Vec<ownership::Model>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let copies = super::live_copies(owner)
        .filter(ownership::Column::ContentId.is_in(items.iter().copied()))
        .filter(ownership::Column::Source.ne(OwnershipSource::Author))
        .order_by_asc(ownership::Column::Id)
        .all(db)
        .await?;
    if let Some(missing) = items
        .iter()
        .find(|item| !copies.iter().any(|c| c.content_id == **item))
    {
        return Err(ApiError::bad_input(
            field,
            format!("{whose} no copy of item {missing} to trade"),
        ));
    }
    Ok(copies)
}

/// Which of `copies` are of items that cannot be traded now (deleted, or not tradeable).
async fn untradeable(
    db: &impl ConnectionTrait,
    copies: &[ownership::Model],
) -> ApiResult<Option<i32>> {
    if copies.is_empty() {
        return Ok(None);
    }
    let items: HashMap<i32, content::Model> = content::Entity::find()
        .filter(content::Column::Id.is_in(copies.iter().map(|c| c.content_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    Ok(copies.iter().map(|c| c.content_id).find(|id| {
        items
            .get(id)
            .is_none_or(|item| !item.tradeable || item.deleted_at.is_some())
    }))
}

/// A copy that another trade holds or that is listed for resale.
fn engaged(copies: &[ownership::Model], this_trade: Option<i32>) -> Option<&ownership::Model> {
    copies
        .iter()
        .find(|c| (c.trade_id.is_some() && c.trade_id != this_trade) || c.list_price.is_some())
}

fn engaged_error(copy: &ownership::Model) -> ApiError {
    if copy.list_price.is_some() {
        ApiError::Conflict(format!(
            "item {} is listed for resale; take it off sale first",
            copy.content_id
        ))
    } else {
        ApiError::Conflict(format!("item {} is in another open trade", copy.content_id))
    }
}

async fn record_step(
    db: &impl ConnectionTrait,
    trade_id: i32,
    status: TradeStatus,
    actor: Option<Uuid>,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    trade_event::ActiveModel {
        trade_id: Set(trade_id),
        status: Set(status),
        actor_id: Set(actor),
        reason: Set(reason),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

fn replayed(first: trade::Model, new: &NewTrade) -> ApiResult<Traded> {
    let differs = if first.recipient_id != new.recipient_id {
        Some("recipientId")
    } else if first.offered_currency_id != new.offered_money.map(|m| m.currency_id)
        || first.offered_amount != new.offered_money.map(|m| m.amount)
    {
        Some("offeredMoney")
    } else if first.requested_currency_id != new.requested_money.map(|m| m.currency_id)
        || first.requested_amount != new.requested_money.map(|m| m.amount)
    {
        Some("requestedMoney")
    } else {
        None
    };
    match differs {
        Some(field) => Err(ApiError::Conflict(format!(
            "this idempotency key was used for another trade: {field} differs"
        ))),
        None => Ok(Traded {
            trade: first,
            already_applied: true,
        }),
    }
}

/// Sends a trade from the caller; see [`offer_in`].
pub async fn offer(ctx: &AppContext, viewer: &Viewer, new: NewTrade) -> ApiResult<Traded> {
    let me = viewer.require_user()?.id;
    let expiry = Duration::seconds(i64::from(ctx.settings.trade_expiry_seconds));
    ctx.write(async |db, changes| offer_in(db, me, new, expiry, changes).await)
        .await
}

/// Sends a trade from `sender` to a player who has not blocked them (nor been blocked):
/// the offered copies and money go into escrow at once.
pub async fn offer_in(
    db: &impl ConnectionTrait,
    sender: Uuid,
    new: NewTrade,
    expiry: Duration,
    changes: &mut Changes,
) -> ApiResult<Traded> {
    bank::check_key(&new.key)?;
    let description = match new.description.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(crate::catalog::text_field(
            text,
            "description",
            1,
            bank::MAX_DESCRIPTION,
        )?),
    };
    let offered_items = distinct(&new.offered_items, "offeredItems")?;
    let requested_items = distinct(&new.requested_items, "requestedItems")?;
    check_money(new.offered_money, "offeredMoney")?;
    check_money(new.requested_money, "requestedMoney")?;
    if new.recipient_id == sender {
        return Err(ApiError::bad_input(
            "recipientId",
            "a trade goes to another player",
        ));
    }
    if offered_items.is_empty() && new.offered_money.is_none() {
        return Err(ApiError::bad_input(
            "offeredItems",
            "a trade offers at least one item or some money",
        ));
    }
    if requested_items.is_empty() && new.requested_money.is_none() {
        return Err(ApiError::bad_input(
            "requestedItems",
            "a trade asks for at least one item or some money; a present is a gift",
        ));
    }
    for money in [new.offered_money, new.requested_money]
        .into_iter()
        .flatten()
    {
        bank::find_currency(db, money.currency_id).await?;
    }
    crate::players::check_reachable(db, sender, new.recipient_id).await?;
    let key = format!("trade:{}", new.key);
    let find_first = async || -> ApiResult<Option<trade::Model>> {
        Ok(trade::Entity::find()
            .filter(trade::Column::UserId.eq(sender))
            .filter(trade::Column::IdempotencyKey.eq(&key))
            .one(db)
            .await?)
    };
    if let Some(first) = find_first().await? {
        return replayed(first, &new);
    }
    let now = Utc::now();
    // The key first, as a transfer's: a concurrent copy of this request waits on it.
    let inserted = trade::Entity::insert(trade::ActiveModel {
        user_id: Set(sender),
        recipient_id: Set(new.recipient_id),
        status: Set(TradeStatus::Sent),
        description: Set(description.clone()),
        offered_currency_id: Set(new.offered_money.map(|m| m.currency_id)),
        offered_amount: Set(new.offered_money.map(|m| m.amount)),
        requested_currency_id: Set(new.requested_money.map(|m| m.currency_id)),
        requested_amount: Set(new.requested_money.map(|m| m.amount)),
        hold_transaction_id: Set(None),
        idempotency_key: Set(key.clone()),
        reason: Set(None),
        expires_at: Set(now + expiry),
        closed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(crate::db::any_conflict())
    .try_insert()
    .exec(db)
    .await?;
    let trade_id = match inserted {
        sea_orm::TryInsertResult::Inserted(done) => done.last_insert_id,
        _ => {
            let first = find_first()
                .await?
                .ok_or_else(|| ApiError::Conflict("this trade is being sent; retry".into()))?;
            return replayed(first, &new);
        }
    };
    // Both sides' copies in one id order: two players offering each other's copies at once
    // never wait on each other crosswise.
    lock_in_order(
        db,
        ownership::Entity::find().filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(ownership::Column::UserId.eq(sender))
                        .add(ownership::Column::ContentId.is_in(offered_items.iter().copied())),
                )
                .add(
                    Condition::all()
                        .add(ownership::Column::UserId.eq(new.recipient_id))
                        .add(ownership::Column::ContentId.is_in(requested_items.iter().copied())),
                ),
        ),
        ownership::Column::Id,
    )
    .await?;
    let mine = live_copies(db, sender, &offered_items, "offeredItems", "you hold").await?;
    if let Some(copy) = engaged(&mine, None) {
        return Err(engaged_error(copy));
    }
    let theirs = live_copies(
        db,
        new.recipient_id,
        &requested_items,
        "requestedItems",
        "they hold",
    )
    .await?;
    for (copies, field) in [(&mine, "offeredItems"), (&theirs, "requestedItems")] {
        if let Some(item) = untradeable(db, copies).await? {
            return Err(ApiError::bad_input(
                field,
                format!("item {item} cannot be traded"),
            ));
        }
    }
    // Escrow: the copies are this trade's until it closes.
    if !mine.is_empty() {
        ownership::Entity::update_many()
            .col_expr(ownership::Column::TradeId, Expr::value(trade_id))
            .filter(ownership::Column::Id.is_in(mine.iter().map(|c| c.id)))
            .exec(db)
            .await?;
        offered::Entity::insert_many(mine.iter().map(|c| offered::ActiveModel {
            trade_id: Set(trade_id),
            ownership_id: Set(c.id),
        }))
        .exec(db)
        .await?;
    }
    if !theirs.is_empty() {
        requested::Entity::insert_many(theirs.iter().map(|c| requested::ActiveModel {
            trade_id: Set(trade_id),
            ownership_id: Set(c.id),
        }))
        .exec(db)
        .await?;
    }
    if let Some(money) = new.offered_money {
        let held = bank::hold_in(
            db,
            Movement {
                from: Some(sender),
                to: Some(new.recipient_id),
                currency_id: money.currency_id,
                amount: money.amount,
                kind: TransactionKind::Trade,
                key: format!("trade:{trade_id}"),
                description: Some(format!("trade {trade_id}")),
                automated: true,
                previous: None,
                conversion: None,
            },
            // The trade's own expiry voids it, with the rest of the escrow.
            None,
            changes,
        )
        .await?;
        trade::Entity::update_many()
            .col_expr(trade::Column::HoldTransactionId, Expr::value(held.row.id))
            .filter(trade::Column::Id.eq(trade_id))
            .exec(db)
            .await?;
    }
    record_step(db, trade_id, TradeStatus::Sent, Some(sender), None, now).await?;
    changes.push(Change::Trade {
        trade_id,
        users: [sender, new.recipient_id],
    });
    Ok(Traded {
        trade: find(db, trade_id).await?,
        already_applied: false,
    })
}

async fn find(db: &impl ConnectionTrait, id: i32) -> ApiResult<trade::Model> {
    trade::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("trade"))
}

/// Locks trade `id` for a step by `actor`, who must be its `party`; an open trade past its
/// expiry is `CONFLICT` (the sweeper closes it).
async fn lock_open(
    db: &impl ConnectionTrait,
    id: i32,
    actor: Uuid,
    recipient_acts: bool,
) -> ApiResult<Result<trade::Model, trade::Model>> {
    let row = lock_rows::<trade::Entity, _>(db, trade::Column::Id, [id])
        .await?
        .pop()
        .ok_or(ApiError::NotFound("trade"))?;
    let party = if recipient_acts {
        row.recipient_id
    } else {
        row.user_id
    };
    if party != actor {
        return Err(if row.user_id == actor || row.recipient_id == actor {
            ApiError::Forbidden
        } else {
            ApiError::NotFound("trade")
        });
    }
    if !row.status.is_open() {
        return Ok(Err(row));
    }
    if row.expires_at <= Utc::now() {
        return Err(ApiError::Conflict("this trade has expired".into()));
    }
    Ok(Ok(row))
}

fn closed_error(row: &trade::Model) -> ApiError {
    let status: String = sea_orm::ActiveEnum::to_value(&row.status);
    ApiError::Conflict(format!("this trade is closed: {status}"))
}

/// Opens a trade sent to the caller (marks it seen). Opening again changes nothing.
pub async fn open(ctx: &AppContext, viewer: &Viewer, id: i32) -> ApiResult<trade::Model> {
    let me = viewer.require_user()?.id;
    ctx.write(async |db, changes| {
        let row = lock_open(db, id, me, true)
            .await?
            .map_err(|r| closed_error(&r))?;
        if row.status == TradeStatus::Opened {
            return Ok(row);
        }
        let now = Utc::now();
        set_status(db, &row, TradeStatus::Opened, None, now, false).await?;
        record_step(db, id, TradeStatus::Opened, Some(me), None, now).await?;
        changes.push(Change::Trade {
            trade_id: id,
            users: [row.user_id, row.recipient_id],
        });
        find(db, id).await
    })
    .await
}

async fn set_status(
    db: &impl ConnectionTrait,
    row: &trade::Model,
    status: TradeStatus,
    reason: Option<String>,
    now: DateTime<Utc>,
    closes: bool,
) -> ApiResult<()> {
    let mut update = trade::Entity::update_many()
        .col_expr(trade::Column::Status, Expr::value(status))
        .col_expr(trade::Column::UpdatedAt, Expr::value(now))
        .filter(trade::Column::Id.eq(row.id));
    if closes {
        update = update
            .col_expr(trade::Column::ClosedAt, Expr::value(now))
            .col_expr(trade::Column::Reason, Expr::value(reason));
    }
    update.exec(db).await?;
    Ok(())
}

/// Closes an open trade without a swap: its copies leave escrow and its held money returns
/// to the sender.
async fn release_in(
    db: &impl ConnectionTrait,
    row: &trade::Model,
    status: TradeStatus,
    actor: Option<Uuid>,
    reason: Option<String>,
    changes: &mut Changes,
) -> ApiResult<()> {
    let now = Utc::now();
    ownership::Entity::update_many()
        .col_expr(ownership::Column::TradeId, Expr::value(Option::<i32>::None))
        .filter(ownership::Column::TradeId.eq(row.id))
        .exec(db)
        .await?;
    if let Some(hold) = row.hold_transaction_id {
        let state = if actor.is_none() {
            TransferState::Expired
        } else {
            TransferState::Voided
        };
        bank::void_in(db, hold, state, changes).await?;
    }
    set_status(db, row, status, reason.clone(), now, true).await?;
    record_step(db, row.id, status, actor, reason, now).await?;
    changes.push(Change::Trade {
        trade_id: row.id,
        users: [row.user_id, row.recipient_id],
    });
    Ok(())
}

/// Rejects a trade sent to the caller; see [`release_in`].
pub async fn reject(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    reason: Option<String>,
) -> ApiResult<trade::Model> {
    close_by(ctx, viewer, id, true, TradeStatus::Rejected, reason).await
}

/// Cancels a trade the caller sent; see [`release_in`].
pub async fn cancel(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    reason: Option<String>,
) -> ApiResult<trade::Model> {
    close_by(ctx, viewer, id, false, TradeStatus::Cancelled, reason).await
}

async fn close_by(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    recipient_acts: bool,
    status: TradeStatus,
    reason: Option<String>,
) -> ApiResult<trade::Model> {
    let me = viewer.require_user()?.id;
    let reason = match reason.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(crate::catalog::text_field(
            text,
            "reason",
            1,
            bank::MAX_DESCRIPTION,
        )?),
    };
    ctx.write(async |db, changes| {
        let row = match lock_open(db, id, me, recipient_acts).await? {
            Ok(row) => row,
            // Done already by this same step: the request was repeated.
            Err(row) if row.status == status => return Ok(row),
            Err(row) => return Err(closed_error(&row)),
        };
        release_in(db, &row, status, Some(me), reason, changes).await?;
        find(db, id).await
    })
    .await
}

/// Confirms a trade sent to the caller; see [`confirm_in`].
pub async fn confirm(ctx: &AppContext, viewer: &Viewer, id: i32) -> ApiResult<trade::Model> {
    let me = viewer.require_user()?.id;
    ctx.write(async |db, changes| confirm_in(db, me, id, changes).await)
        .await
}

/// Swaps everything in one transaction: the held money is posted to the recipient, the
/// requested money paid to the sender, and each copy changes hands (its ownership ended, a
/// new one of source `trade` pointing to it). If an offered copy is no longer valid, the
/// trade returns to its sender instead. A requested copy the recipient no longer holds, or
/// too little money, refuses the confirmation and changes nothing.
pub async fn confirm_in(
    db: &impl ConnectionTrait,
    me: Uuid,
    id: i32,
    changes: &mut Changes,
) -> ApiResult<trade::Model> {
    let row = match lock_open(db, id, me, true).await? {
        Ok(row) => row,
        Err(row) if row.status == TradeStatus::Confirmed => return Ok(row),
        Err(row) => return Err(closed_error(&row)),
    };
    if crate::players::blocked_between(db, row.user_id, row.recipient_id).await? {
        return Err(ApiError::Forbidden);
    }
    let now = Utc::now();
    let offered_ids: Vec<i32> = offered::Entity::find()
        .filter(offered::Column::TradeId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.ownership_id)
        .collect();
    let requested_ids: Vec<i32> = requested::Entity::find()
        .filter(requested::Column::TradeId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.ownership_id)
        .collect();
    // Every copy of both sides, locked in one id order.
    let copies = lock_rows::<ownership::Entity, _>(
        db,
        ownership::Column::Id,
        offered_ids.iter().chain(&requested_ids).copied(),
    )
    .await?;
    let valid = |c: &ownership::Model, owner: Uuid| {
        c.user_id == owner && c.ended_at.is_none() && c.expires_at.is_none_or(|at| at > now)
    };
    let mine: Vec<ownership::Model> = copies
        .iter()
        .filter(|c| offered_ids.contains(&c.id))
        .cloned()
        .collect();
    let theirs: Vec<ownership::Model> = copies
        .iter()
        .filter(|c| requested_ids.contains(&c.id))
        .cloned()
        .collect();
    let stale = mine
        .iter()
        .find(|c| !valid(c, row.user_id))
        .map(|c| c.content_id);
    let stale = match stale {
        Some(item) => Some(item),
        None => untradeable(db, &mine).await?,
    };
    if let Some(item) = stale {
        release_in(
            db,
            &row,
            TradeStatus::ReturnToSender,
            None,
            Some(format!("offered item {item} can no longer be traded")),
            changes,
        )
        .await?;
        return find(db, id).await;
    }
    if let Some(copy) = theirs.iter().find(|c| !valid(c, row.recipient_id)) {
        return Err(ApiError::Conflict(format!(
            "you no longer hold item {} to trade",
            copy.content_id
        )));
    }
    if let Some(copy) = engaged(&theirs, None) {
        return Err(engaged_error(copy));
    }
    if let Some(item) = untradeable(db, &theirs).await? {
        return Err(ApiError::Conflict(format!("item {item} cannot be traded")));
    }
    for (copies, receiver) in [(&mine, row.recipient_id), (&theirs, row.user_id)] {
        if copies.is_empty() {
            continue;
        }
        let held = ownership::Entity::find()
            .filter(ownership::Column::UserId.eq(receiver))
            .filter(ownership::Column::ContentId.is_in(copies.iter().map(|c| c.content_id)))
            .filter(ownership::Column::EndedAt.is_null())
            .one(db)
            .await?;
        if let Some(copy) = held {
            let who = if receiver == me { "you" } else { "the sender" };
            return Err(ApiError::Conflict(format!(
                "{who} hold item {} already",
                copy.content_id
            )));
        }
    }
    if let (Some(currency_id), Some(amount)) = (row.requested_currency_id, row.requested_amount) {
        bank::move_in(
            db,
            Movement {
                from: Some(row.recipient_id),
                to: Some(row.user_id),
                currency_id,
                amount,
                kind: TransactionKind::Trade,
                key: format!("trade:{id}"),
                description: Some(format!("trade {id}")),
                automated: true,
                previous: None,
                conversion: None,
            },
            changes,
        )
        .await?;
    }
    if let Some(hold) = row.hold_transaction_id {
        bank::post_in(db, hold, None, changes).await?;
    }
    for (copies, receiver) in [(&mine, row.recipient_id), (&theirs, row.user_id)] {
        hand_over(db, copies, receiver, OwnershipSource::Trade, now).await?;
    }
    set_status(db, &row, TradeStatus::Confirmed, None, now, true).await?;
    record_step(db, id, TradeStatus::Confirmed, Some(me), None, now).await?;
    platform_event::ActiveModel {
        kind: Set("trade.confirmed".into()),
        payload: Set(json!({
            "tradeId": id,
            "sender": row.user_id,
            "recipient": row.recipient_id,
            "offered": offered_ids,
            "requested": requested_ids,
        })),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    changes.push(Change::Trade {
        trade_id: id,
        users: [row.user_id, row.recipient_id],
    });
    find(db, id).await
}

/// Ends each of `copies` and starts the next hand of it with `receiver`, keeping its serial
/// and expiry.
pub(crate) async fn hand_over(
    db: &impl ConnectionTrait,
    copies: &[ownership::Model],
    receiver: Uuid,
    source: OwnershipSource,
    now: DateTime<Utc>,
) -> ApiResult<Vec<ownership::Model>> {
    let mut made = Vec::with_capacity(copies.len());
    if copies.is_empty() {
        return Ok(made);
    }
    ownership::Entity::update_many()
        .col_expr(ownership::Column::EndedAt, Expr::value(now))
        .col_expr(ownership::Column::UpdatedAt, Expr::value(now))
        .col_expr(ownership::Column::TradeId, Expr::value(Option::<i32>::None))
        .col_expr(
            ownership::Column::ListPrice,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            ownership::Column::ListCurrency,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            ownership::Column::ListedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(ownership::Column::Id.is_in(copies.iter().map(|c| c.id)))
        .exec(db)
        .await?;
    for copy in copies {
        made.push(
            ownership::ActiveModel {
                content_id: Set(copy.content_id),
                source: Set(source),
                user_id: Set(receiver),
                previous_ownership_id: Set(Some(copy.id)),
                purchase_price: Set(None),
                purchase_currency: Set(None),
                serial: Set(copy.serial),
                transaction_id: Set(None),
                idempotency_key: Set(None),
                created_by: Set(Some(receiver)),
                updated_by: Set(Some(receiver)),
                created_at: Set(now),
                updated_at: Set(now),
                ended_at: Set(None),
                expires_at: Set(copy.expires_at),
                trade_id: Set(None),
                list_price: Set(None),
                list_currency: Set(None),
                listed_at: Set(None),
                ..Default::default()
            }
            .insert(db)
            .await?,
        );
    }
    Ok(made)
}

/// Returns every open trade past its expiry to its sender, each in its own transaction;
/// returns how many.
pub async fn expire(ctx: &AppContext) -> ApiResult<usize> {
    let due: Vec<i32> = trade::Entity::find()
        .select_only()
        .column(trade::Column::Id)
        .filter(trade::Column::Status.is_in([TradeStatus::Sent, TradeStatus::Opened]))
        .filter(trade::Column::ExpiresAt.lte(Utc::now()))
        .order_by_asc(trade::Column::ExpiresAt)
        .limit(500)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    ctx.write_each(due, async |db, changes, id| {
        let row = lock_rows::<trade::Entity, _>(db, trade::Column::Id, [id])
            .await?
            .pop()
            .ok_or(ApiError::NotFound("trade"))?;
        if !row.status.is_open() {
            return Ok(false);
        }
        let reason = Some("expired".into());
        release_in(db, &row, TradeStatus::ReturnToSender, None, reason, changes).await?;
        Ok(true)
    })
    .await
}

/// Which trades of a player to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeBox {
    /// Sent to them.
    Inbox,
    /// Sent by them.
    Outbox,
}

/// A player's trades, newest first: the player themselves, or `bank.mint`.
pub async fn list(
    db: &sea_orm::DatabaseConnection,
    viewer: &Viewer,
    user_id: Option<Uuid>,
    which: Option<TradeBox>,
    status: Option<TradeStatus>,
    window: Window,
) -> ApiResult<(Vec<trade::Model>, TotalCount)> {
    let mut matching = Condition::all();
    match user_id {
        Some(user_id) => {
            if !viewer.is_self_or(user_id, privileges::BANK_MINT) {
                viewer.require_privilege(privileges::BANK_MINT)?;
            }
            matching = matching.add(match which {
                Some(TradeBox::Inbox) => {
                    Condition::all().add(trade::Column::RecipientId.eq(user_id))
                }
                Some(TradeBox::Outbox) => Condition::all().add(trade::Column::UserId.eq(user_id)),
                None => Condition::any()
                    .add(trade::Column::RecipientId.eq(user_id))
                    .add(trade::Column::UserId.eq(user_id)),
            });
        }
        None => {
            viewer.require_privilege(privileges::BANK_MINT)?;
        }
    }
    if let Some(status) = status {
        matching = matching.add(trade::Column::Status.eq(status));
    }
    let query = trade::Entity::find().filter(matching);
    let total = TotalCount::of(db, query.clone());
    let rows = window.select(query, trade::Column::Id).all(db).await?;
    Ok((rows, total))
}

/// One trade: its parties, or `bank.mint`.
pub async fn get(db: &impl ConnectionTrait, viewer: &Viewer, id: i32) -> ApiResult<trade::Model> {
    let me = viewer.require_user()?.id;
    let row = find(db, id).await?;
    if row.user_id == me || row.recipient_id == me || viewer.has_privilege(privileges::BANK_MINT) {
        Ok(row)
    } else {
        Err(ApiError::NotFound("trade"))
    }
}

/// The copies each of `ids` offers (`offered`) or asks for, by trade.
pub async fn copies_of_many(
    db: &impl ConnectionTrait,
    ids: &[i32],
    offered_side: bool,
) -> ApiResult<HashMap<i32, Vec<ownership::Model>>> {
    let pairs: Vec<(i32, i32)> = if offered_side {
        offered::Entity::find()
            .filter(offered::Column::TradeId.is_in(ids.iter().copied()))
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.trade_id, o.ownership_id))
            .collect()
    } else {
        requested::Entity::find()
            .filter(requested::Column::TradeId.is_in(ids.iter().copied()))
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.trade_id, o.ownership_id))
            .collect()
    };
    let copies: HashMap<i32, ownership::Model> = ownership::Entity::find()
        .filter(ownership::Column::Id.is_in(pairs.iter().map(|p| p.1)))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut out: HashMap<i32, Vec<ownership::Model>> = HashMap::new();
    for (trade_id, copy) in pairs {
        if let Some(copy) = copies.get(&copy) {
            out.entry(trade_id).or_default().push(copy.clone());
        }
    }
    Ok(out)
}

/// The copies each of `ids` offers, by trade.
pub async fn offered_of_many(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<ownership::Model>>> {
    copies_of_many(db, ids, true).await
}

/// The copies each of `ids` asks for, by trade.
pub async fn requested_of_many(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<ownership::Model>>> {
    copies_of_many(db, ids, false).await
}

/// The steps of each of `ids`, oldest first, by trade.
pub async fn history_of_many(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<trade_event::Model>>> {
    let steps = trade_event::Entity::find()
        .filter(trade_event::Column::TradeId.is_in(ids.iter().copied()))
        .order_by_asc(trade_event::Column::Id)
        .all(db)
        .await?;
    Ok(crate::db::group_by(steps, |step| step.trade_id))
}
