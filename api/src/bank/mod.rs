//! The `bank` domain: currencies, accounts and a double-entry ledger.
//!
//! Every movement is one `transactions` row that debits the payer's account and credits the
//! recipient's in the same database transaction; the platform's system account of a currency
//! stands on the other side of mints and burns and holds minus what circulates, so the
//! balances of a currency always sum to zero. A transfer carries an idempotency key, unique
//! per payer: it is written before any balance moves, so concurrent copies of one request
//! queue on the key and the later ones find the first and return it (or `CONFLICT` when their
//! content differs). Accounts are locked in id order, so two transfers never wait on each
//! other crosswise.

pub mod batch;
pub mod graphql;
pub mod linked;

use std::collections::HashMap;

use arena_entity::{
    bank::{
        account_balance, conversion, currency,
        transaction::{self, TransactionKind, TransferState},
    },
    events::platform_event,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait as _},
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit::{self, Entry},
    auth::{privileges, viewer::Viewer},
    bus::{Change, Changes},
    context::AppContext,
    error::{ApiError, ApiResult, OnViolation},
    graphql::pagination::{TotalCount, Window},
};

/// Largest amount one transaction moves.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// Longest idempotency key a client sends, in characters.
pub const MAX_KEY: usize = 128;
/// Longest key stored: the client's with the prefix of its kind of request.
const STORED_KEY: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 500;

/// Money to move.
#[derive(Debug, Clone)]
pub struct Movement {
    /// Who pays; None is the system account.
    pub from: Option<Uuid>,
    /// Who receives; None is the system account.
    pub to: Option<Uuid>,
    pub currency_id: i32,
    pub amount: i64,
    pub kind: TransactionKind,
    /// Unique per payer (per the platform for system payments).
    pub key: String,
    pub description: Option<String>,
    /// Initiated by the platform.
    pub automated: bool,
    /// The transaction this one undoes.
    pub previous: Option<i32>,
    /// The conversion rule applied.
    pub conversion: Option<i32>,
}

impl Movement {
    /// Checks what callers cannot: the amount, and the length of the prefixed key the
    /// column holds (callers check the client's own key).
    fn check(&self) -> ApiResult<()> {
        check_amount(self.amount)?;
        if self.key.chars().count() > STORED_KEY {
            return Err(ApiError::bad_input(
                "idempotencyKey",
                "the idempotency key is too long",
            ));
        }
        Ok(())
    }

    /// Its ledger row: posted, or pending until `timeout_at`.
    fn ledger_row(
        &self,
        state: TransferState,
        timeout_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> transaction::ActiveModel {
        transaction::ActiveModel {
            currency_id: Set(self.currency_id),
            user_id: Set(self.from),
            recipient_id: Set(self.to),
            previous_transaction_id: Set(self.previous),
            conversion_id: Set(self.conversion),
            description: Set(self.description.clone()),
            amount: Set(self.amount),
            confirmed: Set(state == TransferState::Posted),
            automated: Set(self.automated),
            kind: Set(self.kind),
            idempotency_key: Set(Some(self.key.clone())),
            state: Set(state),
            timeout_at: Set(timeout_at),
            pending_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    }
}

/// A transaction, and whether an earlier request with the same key had made it.
#[derive(Debug, Clone)]
pub struct Applied {
    pub row: transaction::Model,
    pub already_applied: bool,
}

fn check_amount(amount: i64) -> ApiResult<()> {
    if !(1..=MAX_AMOUNT).contains(&amount) {
        return Err(ApiError::bad_input(
            "amount",
            format!("an amount is a whole number from 1 to {MAX_AMOUNT}"),
        ));
    }
    Ok(())
}

/// Checks a client's idempotency key.
pub fn check_key(key: &str) -> ApiResult<()> {
    let length = key.chars().count();
    if length == 0 || length > MAX_KEY || key.chars().any(char::is_control) {
        return Err(ApiError::bad_input(
            "idempotencyKey",
            format!("an idempotency key is 1 to {MAX_KEY} characters, without control characters"),
        ));
    }
    Ok(())
}

fn check_description(description: Option<&str>) -> ApiResult<Option<String>> {
    match description.map(str::trim) {
        Some(text) if text.chars().count() > MAX_DESCRIPTION => Err(ApiError::bad_input(
            "description",
            format!("a description is at most {MAX_DESCRIPTION} characters"),
        )),
        Some("") | None => Ok(None),
        Some(text) => Ok(Some(text.to_owned())),
    }
}

/// A currency by id.
pub async fn find_currency(db: &impl ConnectionTrait, id: i32) -> ApiResult<currency::Model> {
    currency::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("currency"))
}

/// Every currency, oldest first.
pub async fn currencies(db: &impl ConnectionTrait) -> ApiResult<Vec<currency::Model>> {
    Ok(currency::Entity::find()
        .order_by_asc(currency::Column::Id)
        .all(db)
        .await?)
}

/// Many currencies by id.
pub async fn currencies_by_id(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, currency::Model>> {
    Ok(crate::db::rows_by::<currency::Entity, _>(db, currency::Column::Id, ids, |r| r.id).await?)
}

/// The earlier transaction with `movement`'s key, compared with it: the same content is
/// that transaction again; a different one is `CONFLICT` naming the first field that differs.
fn replayed(first: transaction::Model, movement: &Movement) -> ApiResult<Applied> {
    let differs = if first.kind != movement.kind {
        Some("kind")
    } else if first.recipient_id != movement.to {
        Some("recipientId")
    } else if first.currency_id != movement.currency_id {
        Some("currencyId")
    } else if first.amount != movement.amount {
        Some("amount")
    } else if first.description != movement.description {
        Some("description")
    } else {
        None
    };
    match differs {
        Some(field) => Err(ApiError::Conflict(format!(
            "this idempotency key was used for another transaction: {field} differs"
        ))),
        None => Ok(Applied {
            row: first,
            already_applied: true,
        }),
    }
}

async fn find_by_key(
    db: &impl ConnectionTrait,
    payer: Option<Uuid>,
    key: &str,
) -> ApiResult<Option<transaction::Model>> {
    let owner = match payer {
        Some(payer) => transaction::Column::UserId.eq(payer),
        None => transaction::Column::UserId.is_null(),
    };
    Ok(transaction::Entity::find()
        .filter(owner)
        .filter(transaction::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

/// Moves money as `movement` says, in the caller's transaction: the ledger row (once per
/// key), both balances, and the platform event. Refuses with `INSUFFICIENT_FUNDS` when the
/// payer holds less than the amount, leaving nothing.
pub async fn move_in(
    db: &impl ConnectionTrait,
    movement: Movement,
    changes: &mut Changes,
) -> ApiResult<Applied> {
    linked::book(db, vec![movement])
        .await?
        .settle(db, changes)
        .await?
        .pop()
        .ok_or(ApiError::NotFound("transaction"))
}

/// Mints `grants` (from the platform, in one currency) at once: each ledger row once per key
/// (a key seen before is that row again, and moves nothing), the recipients' and the system
/// account's balances locked in id order and written in one statement, one platform event
/// per new row. The transaction of each grant, in order. Quest rewards take this path: a
/// batch of events pays hundreds of completions in a handful of statements.
pub async fn mint_many_in(
    db: &impl ConnectionTrait,
    currency_id: i32,
    grants: &[Movement],
    changes: &mut Changes,
) -> ApiResult<Vec<i32>> {
    use sea_orm::{FromQueryResult, QueryTrait};
    if grants.is_empty() {
        return Ok(Vec::new());
    }
    for grant in grants {
        grant.check()?;
        if grant.from.is_some() || grant.currency_id != currency_id || grant.to.is_none() {
            return Err(ApiError::bad_input(
                "grants",
                "a mint goes from the platform to a player, in one currency",
            ));
        }
    }
    let now = Utc::now();
    let insert = QueryTrait::into_query(
        transaction::Entity::insert_many(
            grants
                .iter()
                .map(|g| g.ledger_row(TransferState::Posted, None, now)),
        )
        .on_conflict(crate::db::any_conflict()),
    )
    .returning_all()
    .to_owned();
    let made: Vec<transaction::Model> = db
        .query_all_raw(db.get_database_backend().build(&insert))
        .await?
        .iter()
        .map(|row| transaction::Model::from_query_result(row, ""))
        .collect::<Result<_, _>>()?;
    let mut ids: HashMap<String, i32> = made
        .iter()
        .filter_map(|row| Some((row.idempotency_key.clone()?, row.id)))
        .collect();
    let seen: Vec<String> = grants
        .iter()
        .filter(|g| !ids.contains_key(&g.key))
        .map(|g| g.key.clone())
        .collect();
    if !seen.is_empty() {
        let earlier = transaction::Entity::find()
            .filter(transaction::Column::UserId.is_null())
            .filter(transaction::Column::IdempotencyKey.is_in(seen))
            .all(db)
            .await?;
        ids.extend(
            earlier
                .into_iter()
                .filter_map(|row| Some((row.idempotency_key?, row.id))),
        );
    }
    let mut deltas: std::collections::BTreeMap<Option<Uuid>, i64> = Default::default();
    for row in &made {
        *deltas.entry(row.recipient_id).or_default() += row.amount;
        *deltas.entry(None).or_default() -= row.amount;
    }
    if !deltas.is_empty() {
        let owners: Vec<Option<Uuid>> = deltas.keys().copied().collect();
        let accounts = lock_accounts(db, currency_id, &owners).await?;
        let mut values: Vec<sea_orm::Value> = vec![now.into()];
        let mut rows = Vec::with_capacity(accounts.len());
        for account in &accounts {
            let delta = deltas.get(&account.user_id).copied().unwrap_or(0);
            let n = values.len();
            rows.push(format!(
                "(CAST(${} AS INTEGER), CAST(${} AS BIGINT))",
                n + 1,
                n + 2
            ));
            values.push(account.id.into());
            values.push((account.amount + delta).into());
        }
        // A join, not a subquery per row: that scanned the whole list for each balance,
        // quadratic in a batch of a thousand owners.
        let sql = format!(
            "WITH v (id, amount) AS (VALUES {}) \
             UPDATE account_balances SET amount = v.amount, updated_at = $1 \
             FROM v WHERE account_balances.id = v.id",
            rows.join(", ")
        );
        db.execute_raw(crate::db::raw(db, &sql, values)).await?;
    }
    if !made.is_empty() {
        platform_event::Entity::insert_many(made.iter().map(|row| event_of("mint", row)))
            .exec_without_returning(db)
            .await?;
    }
    for user in deltas.keys().flatten() {
        changes.push(Change::Balances { user_id: *user });
    }
    grants
        .iter()
        .map(|g| {
            ids.get(&g.key)
                .copied()
                .ok_or(ApiError::NotFound("transaction"))
        })
        .collect()
}

/// Holds money as `movement` says (a pending transfer): it leaves the payer's spendable
/// balance for their `held` until [`post_in`] moves it (or part of it) to the recipient or
/// [`void_in`] returns it. With `timeout_at`, the sweeper voids it then.
pub async fn hold_in(
    db: &impl ConnectionTrait,
    movement: Movement,
    timeout_at: Option<DateTime<Utc>>,
    changes: &mut Changes,
) -> ApiResult<Applied> {
    if movement.from.is_none() {
        return Err(ApiError::bad_input(
            "payer",
            "only a player's money is held",
        ));
    }
    movement.check()?;
    if let Some(first) = find_by_key(db, movement.from, &movement.key).await? {
        return replayed(first, &movement);
    }
    let now = Utc::now();
    // The key first: a concurrent copy of this request waits here for this one to end, then
    // finds its row (or, if this one was refused, goes on as the first).
    let inserted =
        transaction::Entity::insert(movement.ledger_row(TransferState::Pending, timeout_at, now))
            .on_conflict(crate::db::any_conflict())
            .try_insert()
            .exec(db)
            .await?;
    let id = match inserted {
        sea_orm::TryInsertResult::Inserted(done) => done.last_insert_id,
        _ => {
            let first = find_by_key(db, movement.from, &movement.key)
                .await?
                .ok_or_else(|| {
                    ApiError::Conflict("this transaction is being applied; retry".into())
                })?;
            return replayed(first, &movement);
        }
    };
    let accounts = lock_accounts(db, movement.currency_id, &[movement.from, movement.to]).await?;
    let (payer, spendable) = account_of(&accounts, movement.from)?;
    account_of(&accounts, movement.to)?;
    if spendable < movement.amount {
        return Err(ApiError::InsufficientFunds);
    }
    adjust(db, payer, -movement.amount, movement.amount, now).await?;
    let row = transaction::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("transaction"))?;
    record_event(db, "transfer.pending", &row).await?;
    if let Some(owner) = movement.from {
        changes.push(Change::Balances { user_id: owner });
    }
    Ok(Applied {
        row,
        already_applied: false,
    })
}

/// Adds to an account's spendable and held amounts.
async fn adjust(
    db: &impl ConnectionTrait,
    account: i32,
    amount: i64,
    held: i64,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let mut update = account_balance::Entity::update_many()
        .col_expr(account_balance::Column::UpdatedAt, Expr::value(now))
        .filter(account_balance::Column::Id.eq(account));
    if amount != 0 {
        update = update.col_expr(
            account_balance::Column::Amount,
            Expr::col(account_balance::Column::Amount).add(amount),
        );
    }
    if held != 0 {
        update = update.col_expr(
            account_balance::Column::Held,
            Expr::col(account_balance::Column::Held).add(held),
        );
    }
    update.exec(db).await?;
    Ok(())
}

/// The platform event of a ledger row.
fn event_of(kind: &str, row: &transaction::Model) -> platform_event::ActiveModel {
    platform_event::ActiveModel {
        kind: Set(kind.to_owned()),
        payload: Set(json!({
            "transactionId": row.id,
            "currencyId": row.currency_id,
            "from": row.user_id,
            "to": row.recipient_id,
            "amount": row.amount,
            "pendingId": row.pending_id,
        })),
        created_at: Set(row.updated_at),
        ..Default::default()
    }
}

/// Writes the platform event of a ledger row.
async fn record_event(
    db: &impl ConnectionTrait,
    kind: &str,
    row: &transaction::Model,
) -> ApiResult<()> {
    event_of(kind, row).insert(db).await?;
    Ok(())
}

/// The id and spendable amount of `owner`'s account among `accounts`.
fn account_of(accounts: &[account_balance::Model], owner: Option<Uuid>) -> ApiResult<(i32, i64)> {
    accounts
        .iter()
        .find(|a| a.user_id == owner)
        .map(|a| (a.id, a.amount))
        .ok_or(ApiError::NotFound("account"))
}

/// Locks pending transfer `id`.
async fn lock_pending(db: &impl ConnectionTrait, id: i32) -> ApiResult<transaction::Model> {
    crate::db::lock_rows::<transaction::Entity, _>(db, transaction::Column::Id, [id])
        .await?
        .pop()
        .ok_or(ApiError::NotFound("transaction"))
}

/// Posts pending transfer `id`: `amount` of it (all when None) goes to its recipient as a new
/// confirmed row pointing to it, the rest back to the payer. Posting again with the same
/// amount returns the first posting; a voided or expired one is `CONFLICT`.
pub async fn post_in(
    db: &impl ConnectionTrait,
    id: i32,
    amount: Option<i64>,
    changes: &mut Changes,
) -> ApiResult<Applied> {
    let pending = lock_pending(db, id).await?;
    if pending.confirmed {
        return Err(ApiError::bad_input(
            "transactionId",
            "only a pending transfer is posted",
        ));
    }
    let amount = amount.unwrap_or(pending.amount);
    if !(1..=pending.amount).contains(&amount) {
        return Err(ApiError::bad_input(
            "amount",
            format!("a posting is 1 to the {} held", pending.amount),
        ));
    }
    let now = Utc::now();
    match pending.state {
        TransferState::Pending if pending.timeout_at.is_some_and(|t| t <= now) => {
            return Err(ApiError::Conflict("this pending transfer timed out".into()));
        }
        TransferState::Pending => {}
        TransferState::Posted => {
            let first = transaction::Entity::find()
                .filter(transaction::Column::PendingId.eq(id))
                .one(db)
                .await?
                .ok_or(ApiError::NotFound("transaction"))?;
            if first.amount != amount {
                return Err(ApiError::Conflict(format!(
                    "this pending transfer was posted already, for {}",
                    first.amount
                )));
            }
            return Ok(Applied {
                row: first,
                already_applied: true,
            });
        }
        TransferState::Voided | TransferState::Expired => {
            return Err(ApiError::Conflict(
                "this pending transfer was voided".into(),
            ));
        }
    }
    let accounts = lock_accounts(
        db,
        pending.currency_id,
        &[pending.user_id, pending.recipient_id],
    )
    .await?;
    let (payer, _) = account_of(&accounts, pending.user_id)?;
    let (payee, _) = account_of(&accounts, pending.recipient_id)?;
    adjust(db, payer, pending.amount - amount, -pending.amount, now).await?;
    adjust(db, payee, amount, 0, now).await?;
    let posted = transaction::ActiveModel {
        currency_id: Set(pending.currency_id),
        user_id: Set(pending.user_id),
        recipient_id: Set(pending.recipient_id),
        previous_transaction_id: Set(None),
        conversion_id: Set(None),
        description: Set(pending.description.clone()),
        amount: Set(amount),
        confirmed: Set(true),
        automated: Set(pending.automated),
        kind: Set(pending.kind),
        idempotency_key: Set(None),
        state: Set(TransferState::Posted),
        pending_id: Set(Some(id)),
        timeout_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    set_state(db, id, TransferState::Posted, now).await?;
    record_event(db, "transfer.posted", &posted).await?;
    for owner in [pending.user_id, pending.recipient_id]
        .into_iter()
        .flatten()
    {
        changes.push(Change::Balances { user_id: owner });
    }
    Ok(Applied {
        row: posted,
        already_applied: false,
    })
}

async fn set_state(
    db: &impl ConnectionTrait,
    id: i32,
    state: TransferState,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    transaction::Entity::update_many()
        .col_expr(transaction::Column::State, Expr::value(state))
        .col_expr(transaction::Column::UpdatedAt, Expr::value(now))
        .filter(transaction::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Voids pending transfer `id` (as `Expired` when its timeout ended it): all of it returns
/// to the payer. Voiding again returns it as it is; a posted one is `CONFLICT`.
pub async fn void_in(
    db: &impl ConnectionTrait,
    id: i32,
    state: TransferState,
    changes: &mut Changes,
) -> ApiResult<Applied> {
    let pending = lock_pending(db, id).await?;
    if pending.confirmed {
        return Err(ApiError::bad_input(
            "transactionId",
            "only a pending transfer is voided",
        ));
    }
    match pending.state {
        TransferState::Pending => {}
        TransferState::Voided | TransferState::Expired => {
            return Ok(Applied {
                row: pending,
                already_applied: true,
            });
        }
        TransferState::Posted => {
            return Err(ApiError::Conflict(
                "this pending transfer was posted already".into(),
            ));
        }
    }
    let now = Utc::now();
    let accounts = lock_accounts(db, pending.currency_id, &[pending.user_id]).await?;
    let (payer, _) = account_of(&accounts, pending.user_id)?;
    adjust(db, payer, pending.amount, -pending.amount, now).await?;
    set_state(db, id, state, now).await?;
    let row = lock_pending(db, id).await?;
    record_event(db, "transfer.voided", &row).await?;
    if let Some(owner) = row.user_id {
        changes.push(Change::Balances { user_id: owner });
    }
    Ok(Applied {
        row,
        already_applied: false,
    })
}

/// The accounts of `owners` in a currency, made when missing, locked in id order.
async fn lock_accounts(
    db: &impl ConnectionTrait,
    currency_id: i32,
    owners: &[Option<Uuid>],
) -> ApiResult<Vec<account_balance::Model>> {
    let now = Utc::now();
    // In one order, so two writers making the same new accounts never wait crosswise.
    let mut new: Vec<Uuid> = owners.iter().flatten().copied().collect();
    new.sort_unstable();
    account_balance::Entity::insert_many(new.iter().map(|owner| account_balance::ActiveModel {
        currency_id: Set(currency_id),
        user_id: Set(Some(*owner)),
        amount: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }))
    .on_conflict(crate::db::any_conflict())
    .exec_without_returning(db)
    .await?;
    // One list, not a chain of ORs: a mint batch names hundreds of owners.
    let mut which = Condition::any().add(account_balance::Column::UserId.is_in(new));
    if owners.contains(&None) {
        which = which.add(account_balance::Column::UserId.is_null());
    }
    Ok(crate::db::lock_in_order(
        db,
        account_balance::Entity::find()
            .filter(account_balance::Column::CurrencyId.eq(currency_id))
            .filter(which),
        account_balance::Column::Id,
    )
    .await?)
}

/// A transfer a player asks for.
#[derive(Debug, Clone)]
pub struct NewTransfer {
    pub to: Uuid,
    pub currency_id: i32,
    pub amount: i64,
    pub key: String,
    pub description: Option<String>,
}

/// Sends money from the caller to another player, committed with the other transfers
/// waiting at that moment ([`batch`]); answers as [`transfer_in`] does.
pub async fn transfer(ctx: &AppContext, viewer: &Viewer, new: NewTransfer) -> ApiResult<Applied> {
    let me = viewer.require_user()?.id;
    ctx.transfers.transfer(me, new).await
}

/// Sends money from `payer` to another live player who has not blocked them (nor been
/// blocked by them).
pub async fn transfer_in(
    db: &impl ConnectionTrait,
    payer: Uuid,
    new: NewTransfer,
    changes: &mut Changes,
) -> ApiResult<Applied> {
    let movement = checked_transfer(db, payer, new, "transfer").await?;
    move_in(db, movement, changes).await
}

/// The movement of a player's transfer (or hold, by `prefix`) once its input and its
/// recipient are checked.
async fn checked_transfer(
    db: &impl ConnectionTrait,
    payer: Uuid,
    new: NewTransfer,
    prefix: &str,
) -> ApiResult<Movement> {
    if new.to == payer {
        return Err(ApiError::bad_input(
            "recipientId",
            "a transfer goes to another player",
        ));
    }
    let description = check_description(new.description.as_deref())?;
    check_key(&new.key)?;
    find_currency(db, new.currency_id).await?;
    crate::players::check_reachable(db, payer, new.to).await?;
    Ok(Movement {
        from: Some(payer),
        to: Some(new.to),
        currency_id: new.currency_id,
        amount: new.amount,
        kind: TransactionKind::Transfer,
        // Each kind of request has its own key space: a transfer's key never meets a
        // purchase's or a conversion's.
        key: format!("{prefix}:{}", new.key),
        description,
        automated: false,
        previous: None,
        conversion: None,
    })
}

/// Payments a player makes to several players at once that apply together or not at all.
#[derive(Debug, Clone)]
pub struct NewLinked {
    pub currency_id: i32,
    /// The client's key; leg `i` is stored under it with `:i`.
    pub key: String,
    pub description: Option<String>,
    /// Recipient and amount of each leg.
    pub legs: Vec<(Uuid, i64)>,
}

/// Sends the legs of `new` from the caller in one transaction; see [`transfer_linked_in`].
pub async fn transfer_linked(
    ctx: &AppContext,
    viewer: &Viewer,
    new: NewLinked,
) -> ApiResult<Vec<Applied>> {
    let me = viewer.require_user()?.id;
    ctx.write(async |db, changes| transfer_linked_in(db, me, new.clone(), changes).await)
        .await
}

/// Sends every leg of `new` from `payer`, each checked as a transfer is, or none: one leg
/// refused (a recipient gone or blocked, too little money for them all) refuses them all.
pub async fn transfer_linked_in(
    db: &impl ConnectionTrait,
    payer: Uuid,
    new: NewLinked,
    changes: &mut Changes,
) -> ApiResult<Vec<Applied>> {
    if !(1..=linked::MAX_LEGS).contains(&new.legs.len()) {
        return Err(ApiError::bad_input(
            "legs",
            format!("a linked transfer has 1 to {} legs", linked::MAX_LEGS),
        ));
    }
    let mut legs = Vec::with_capacity(new.legs.len());
    for (i, &(to, amount)) in new.legs.iter().enumerate() {
        let mut leg = checked_transfer(
            db,
            payer,
            NewTransfer {
                to,
                currency_id: new.currency_id,
                amount,
                key: new.key.clone(),
                description: new.description.clone(),
            },
            "linked",
        )
        .await?;
        leg.key = format!("{}:{i}", leg.key);
        legs.push(leg);
    }
    let key_after = format!("linked:{}:{}", new.key, legs.len());
    let booked = linked::book(db, legs).await?;
    // A retry with fewer legs than the first request finds only some of its rows.
    if booked.already_applied() && find_by_key(db, Some(payer), &key_after).await?.is_some() {
        return Err(linked::legs_differ());
    }
    booked.settle(db, changes).await
}

/// Money the platform creates for a player (`mint`) or takes out of circulation (`burn`).
#[derive(Debug, Clone)]
pub struct Issue {
    pub user_id: Uuid,
    pub currency_id: i32,
    pub amount: i64,
    pub reason: String,
    pub key: String,
}

/// Mints or burns with `bank.mint`, with an audit row naming the reason, in one transaction.
pub async fn issue(
    ctx: &AppContext,
    viewer: &Viewer,
    kind: TransactionKind,
    issue: Issue,
) -> ApiResult<Applied> {
    let admin = viewer.require_privilege(privileges::BANK_MINT)?.id;
    let reason = crate::catalog::text_field(&issue.reason, "reason", 1, MAX_DESCRIPTION)?;
    check_key(&issue.key)?;
    let (from, to, action) = match kind {
        TransactionKind::Mint => (None, Some(issue.user_id), "bank.mint"),
        TransactionKind::Burn => (Some(issue.user_id), None, "bank.burn"),
        _ => {
            return Err(ApiError::bad_input(
                "kind",
                "only mints and burns are issued",
            ));
        }
    };
    ctx.write(async |db, changes| {
        find_currency(db, issue.currency_id).await?;
        if crate::auth::find_user(db, issue.user_id).await?.is_none() {
            return Err(ApiError::NotFound("player"));
        }
        // A burn's key is the platform's, like a mint's: both are its own acts.
        let applied = move_in(
            db,
            Movement {
                from,
                to,
                currency_id: issue.currency_id,
                amount: issue.amount,
                kind,
                key: format!("{action}:{}", issue.key),
                description: Some(reason.clone()),
                automated: true,
                previous: None,
                conversion: None,
            },
            changes,
        )
        .await?;
        if !applied.already_applied {
            audit::record(
                db,
                Some(admin),
                Entry {
                    action,
                    target_type: "user",
                    target_id: Some(issue.user_id.to_string()),
                    reason: Some(reason.clone()),
                    details: Some(json!({
                        "transactionId": applied.row.id,
                        "currencyId": issue.currency_id,
                        "amount": issue.amount,
                    })),
                },
            )
            .await?;
        }
        Ok(applied)
    })
    .await
}

/// Undoes transaction `id` with `bank.mint`: a new transaction of the same amount back from
/// its recipient to its payer, pointing to it, with an audit row naming the reason. A
/// transaction is undone once; a recipient who no longer holds the amount is
/// `INSUFFICIENT_FUNDS`.
pub async fn refund(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    reason: &str,
) -> ApiResult<Applied> {
    let admin = viewer.require_privilege(privileges::BANK_MINT)?.id;
    let reason = crate::catalog::text_field(reason, "reason", 1, MAX_DESCRIPTION)?;
    ctx.write(async |db, changes| {
        let original = transaction::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("transaction"))?;
        if !original.confirmed {
            return Err(ApiError::bad_input(
                "transactionId",
                "a pending transfer is voided, not refunded",
            ));
        }
        if original.kind == TransactionKind::Refund {
            return Err(ApiError::bad_input(
                "transactionId",
                "a refund is not refunded; make a transfer or a mint instead",
            ));
        }
        if let Some(done) = transaction::Entity::find()
            .filter(transaction::Column::PreviousTransactionId.eq(id))
            .one(db)
            .await?
        {
            return Err(ApiError::Conflict(format!(
                "transaction {id} was refunded already, by transaction {}",
                done.id
            )));
        }
        let applied = move_in(
            db,
            Movement {
                from: original.recipient_id,
                to: original.user_id,
                currency_id: original.currency_id,
                amount: original.amount,
                kind: TransactionKind::Refund,
                key: format!("refund:{id}"),
                description: Some(reason.clone()),
                automated: true,
                previous: Some(id),
                conversion: None,
            },
            changes,
        )
        .await?;
        if applied.already_applied {
            return Ok(applied);
        }
        audit::record(
            db,
            Some(admin),
            Entry {
                action: "bank.refund",
                target_type: "transaction",
                target_id: Some(id.to_string()),
                reason: Some(reason.clone()),
                details: Some(json!({ "refundId": applied.row.id, "amount": original.amount })),
            },
        )
        .await?;
        Ok(applied)
    })
    .await
}

/// One balance of a player.
#[derive(Debug, Clone)]
pub struct Balance {
    pub currency: currency::Model,
    /// Spendable.
    pub amount: i64,
    /// Held by pending transfers.
    pub held: i64,
}

/// A player's balance in every currency (0 where they have no account). The player
/// themselves, or `bank.mint`.
pub async fn balances(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    user_id: Uuid,
) -> ApiResult<Vec<Balance>> {
    if !viewer.is_self_or(user_id, privileges::BANK_MINT) {
        viewer.require_privilege(privileges::BANK_MINT)?;
    }
    let accounts: HashMap<i32, (i64, i64)> = account_balance::Entity::find()
        .filter(account_balance::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.currency_id, (a.amount, a.held)))
        .collect();
    Ok(currencies(db)
        .await?
        .into_iter()
        .map(|currency| {
            let (amount, held) = accounts.get(&currency.id).copied().unwrap_or((0, 0));
            Balance {
                amount,
                held,
                currency,
            }
        })
        .collect())
}

/// Which ledger rows to show.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    pub currency_id: Option<i32>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A player's ledger, newest first: what they paid and received. The player themselves, or
/// `bank.mint`.
pub async fn ledger(
    db: &sea_orm::DatabaseConnection,
    viewer: &Viewer,
    user_id: Uuid,
    filter: LedgerFilter,
    window: Window,
) -> ApiResult<(Vec<transaction::Model>, TotalCount)> {
    if !viewer.is_self_or(user_id, privileges::BANK_MINT) {
        viewer.require_privilege(privileges::BANK_MINT)?;
    }
    let mut matching = Condition::all().add(
        Condition::any()
            .add(transaction::Column::UserId.eq(user_id))
            .add(transaction::Column::RecipientId.eq(user_id)),
    );
    if let Some(currency) = filter.currency_id {
        matching = matching.add(transaction::Column::CurrencyId.eq(currency));
    }
    if let Some(since) = filter.since {
        matching = matching.add(transaction::Column::CreatedAt.gte(since));
    }
    if let Some(until) = filter.until {
        matching = matching.add(transaction::Column::CreatedAt.lt(until));
    }
    let query = transaction::Entity::find().filter(matching);
    let total = TotalCount::of(db, query.clone());
    let rows = window
        .select(query, transaction::Column::Id)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// What circulates of each currency, and what the ledger says was minted and burned.
#[derive(Debug, Clone)]
pub struct Totals {
    pub currency: currency::Model,
    /// The sum of players' spendable balances.
    pub circulating: i64,
    /// The sum of what pending transfers hold: players' still, spendable nowhere.
    pub held: i64,
    /// The system account's balance: minus what circulates while the books balance.
    pub system: i64,
    pub minted: i64,
    pub burned: i64,
}

/// Totals per currency; needs `bank.mint`.
pub async fn totals(db: &impl ConnectionTrait, viewer: &Viewer) -> ApiResult<Vec<Totals>> {
    viewer.require_privilege(privileges::BANK_MINT)?;
    let sums = db
        .query_all_raw(crate::db::raw(
            db,
            // Cast: PostgreSQL sums bigints to numeric.
            "SELECT c.id AS currency_id, \
               CAST(COALESCE((SELECT SUM(amount) FROM account_balances WHERE currency_id = c.id AND user_id IS NOT NULL), 0) AS BIGINT) AS circulating, \
               CAST(COALESCE((SELECT SUM(held) FROM account_balances WHERE currency_id = c.id AND user_id IS NOT NULL), 0) AS BIGINT) AS held, \
               CAST(COALESCE((SELECT SUM(amount) FROM account_balances WHERE currency_id = c.id AND user_id IS NULL), 0) AS BIGINT) AS system, \
               CAST(COALESCE((SELECT SUM(amount) FROM transactions WHERE currency_id = c.id AND kind = 'mint'), 0) AS BIGINT) AS minted, \
               CAST(COALESCE((SELECT SUM(amount) FROM transactions WHERE currency_id = c.id AND kind = 'burn'), 0) AS BIGINT) AS burned \
             FROM currencies c ORDER BY c.id",
            Vec::new(),
        ))
        .await?;
    let by_id: HashMap<i32, currency::Model> = currencies(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let number = |row: &sea_orm::QueryResult, column: &str| -> ApiResult<i64> {
        Ok(row.try_get::<i64>("", column)?)
    };
    let mut out = Vec::new();
    for row in &sums {
        let id: i32 = row.try_get("", "currency_id")?;
        if let Some(currency) = by_id.get(&id) {
            out.push(Totals {
                currency: currency.clone(),
                circulating: number(row, "circulating")?,
                held: number(row, "held")?,
                system: number(row, "system")?,
                minted: number(row, "minted")?,
                burned: number(row, "burned")?,
            });
        }
    }
    Ok(out)
}

/// A conversion rule to make.
#[derive(Debug, Clone)]
pub struct NewConversion {
    pub source_id: i32,
    pub destination_id: i32,
    /// Units of the destination per unit of the source.
    pub ratio: i32,
    /// Most source units converted under the rule; unlimited when none.
    pub volume: Option<i64>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// Makes a conversion rule with `bank.mint`, audited.
pub async fn create_conversion(
    ctx: &AppContext,
    viewer: &Viewer,
    new: NewConversion,
) -> ApiResult<conversion::Model> {
    let admin = viewer.require_privilege(privileges::BANK_MINT)?.id;
    if new.source_id == new.destination_id {
        return Err(ApiError::bad_input(
            "destinationId",
            "a conversion goes to another currency",
        ));
    }
    if new.ratio < 1 {
        return Err(ApiError::bad_input("ratio", "a ratio is 1 or more"));
    }
    if new.volume.is_some_and(|v| !(1..=MAX_AMOUNT).contains(&v)) {
        return Err(ApiError::bad_input(
            "volume",
            format!("a volume is 1 to {MAX_AMOUNT}, or none"),
        ));
    }
    if new.valid_to.is_some_and(|to| to <= new.valid_from) {
        return Err(ApiError::bad_input(
            "validTo",
            "a rule ends after it begins",
        ));
    }
    ctx.write(async |db, _changes| {
        find_currency(db, new.source_id).await?;
        find_currency(db, new.destination_id).await?;
        let now = Utc::now();
        let made = conversion::ActiveModel {
            currency_source_id: Set(new.source_id),
            currency_destination_id: Set(new.destination_id),
            ratio: Set(new.ratio),
            volume: Set(new.volume),
            valid_from: Set(new.valid_from),
            valid_to: Set(new.valid_to),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        audit::record(
            db,
            Some(admin),
            Entry {
                action: "bank.conversion",
                target_type: "conversion",
                target_id: Some(made.id.to_string()),
                reason: None,
                details: Some(json!({
                    "sourceId": new.source_id,
                    "destinationId": new.destination_id,
                    "ratio": new.ratio,
                    "volume": new.volume,
                })),
            },
        )
        .await?;
        Ok(made)
    })
    .await
}

/// Renames a currency with `bank.mint`, audited; names are unique.
pub async fn rename_currency(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    name: &str,
) -> ApiResult<currency::Model> {
    let admin = viewer.require_privilege(privileges::BANK_MINT)?.id;
    let name = crate::catalog::text_field(name, "name", 1, 40)?;
    ctx.write(async |db, _changes| {
        let found = find_currency(db, id).await?;
        let mut row: currency::ActiveModel = found.clone().into();
        row.name = Set(name.clone());
        row.updated_at = Set(Utc::now());
        let renamed = row
            .update(db)
            .await
            .on_unique("another currency has this name")?;
        audit::record(
            db,
            Some(admin),
            Entry {
                action: "bank.currency",
                target_type: "currency",
                target_id: Some(id.to_string()),
                reason: None,
                details: Some(json!({ "from": found.name, "to": renamed.name })),
            },
        )
        .await?;
        Ok(renamed)
    })
    .await
}

/// Ends a conversion rule now with `bank.mint`, audited: conversions after this use another
/// rule or fail. A rule that has ended already stays as it is.
pub async fn end_conversion(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
) -> ApiResult<conversion::Model> {
    let admin = viewer.require_privilege(privileges::BANK_MINT)?.id;
    ctx.write(async |db, _changes| {
        let found = crate::db::lock_rows::<conversion::Entity, _>(db, conversion::Column::Id, [id])
            .await?
            .pop()
            .ok_or(ApiError::NotFound("conversion"))?;
        let now = Utc::now();
        if found.valid_to.is_some_and(|to| to <= now) {
            return Ok(found);
        }
        let mut row: conversion::ActiveModel = found.into();
        row.valid_to = Set(Some(now));
        row.updated_at = Set(now);
        let ended = row.update(db).await?;
        audit::record(
            db,
            Some(admin),
            Entry {
                action: "bank.conversion.end",
                target_type: "conversion",
                target_id: Some(id.to_string()),
                reason: None,
                details: None,
            },
        )
        .await?;
        Ok(ended)
    })
    .await
}

/// Every conversion rule, newest first.
pub async fn conversions(db: &impl ConnectionTrait) -> ApiResult<Vec<conversion::Model>> {
    Ok(conversion::Entity::find()
        .order_by_desc(conversion::Column::Id)
        .all(db)
        .await?)
}

/// A conversion a player asks for.
#[derive(Debug, Clone)]
pub struct NewConversionRequest {
    pub source_id: i32,
    pub destination_id: i32,
    /// Source units to convert.
    pub amount: i64,
    pub key: String,
}

/// Converts the caller's money; see [`convert_in`].
pub async fn convert(
    ctx: &AppContext,
    viewer: &Viewer,
    request: NewConversionRequest,
) -> ApiResult<(Applied, Applied)> {
    let me = viewer.require_user()?.id;
    ctx.write(async |db, changes| convert_in(db, me, request, changes).await)
        .await
}

/// Converts by the rule valid now (the latest to begin): the source units leave circulation
/// and `amount × ratio` destination units enter it, as a burn and a mint that apply together
/// or not at all. Outside every rule, or past a rule's volume, it is refused.
pub async fn convert_in(
    db: &impl ConnectionTrait,
    player: Uuid,
    request: NewConversionRequest,
    changes: &mut Changes,
) -> ApiResult<(Applied, Applied)> {
    check_amount(request.amount)?;
    check_key(&request.key)?;
    let now = Utc::now();
    let rule = conversion::Entity::find()
        .filter(conversion::Column::CurrencySourceId.eq(request.source_id))
        .filter(conversion::Column::CurrencyDestinationId.eq(request.destination_id))
        .filter(conversion::Column::ValidFrom.lte(now))
        .filter(
            Condition::any()
                .add(conversion::Column::ValidTo.is_null())
                .add(conversion::Column::ValidTo.gt(now)),
        )
        .order_by_desc(conversion::Column::ValidFrom)
        .order_by_desc(conversion::Column::Id)
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::bad_input(
                "toCurrencyId",
                "no conversion between these currencies is valid now",
            )
        })?;
    let produced = request
        .amount
        .checked_mul(i64::from(rule.ratio))
        .filter(|n| *n <= MAX_AMOUNT)
        .ok_or_else(|| ApiError::bad_input("amount", "the converted amount is too large"))?;
    // The rule's row orders conversions under it, so its volume is never overrun.
    crate::db::lock_rows::<conversion::Entity, _>(db, conversion::Column::Id, [rule.id]).await?;
    let key = format!("convert:{}", request.key);
    let replay = find_by_key(db, Some(player), &key).await?;
    if let (Some(volume), None) = (rule.volume, &replay) {
        let used: i64 = transaction::Entity::find()
            .filter(transaction::Column::ConversionId.eq(rule.id))
            .filter(transaction::Column::Kind.eq(TransactionKind::Burn))
            .all(db)
            .await?
            .iter()
            .map(|t| t.amount)
            .sum();
        if used + request.amount > volume {
            return Err(ApiError::Conflict(format!(
                "this conversion has {} of its {volume} units left",
                Ord::max(volume - used, 0)
            )));
        }
    }
    let leg = |from, to, currency_id, amount, kind, key: String| Movement {
        from,
        to,
        currency_id,
        amount,
        kind,
        key,
        description: Some(format!("conversion by rule {}", rule.id)),
        automated: true,
        previous: None,
        conversion: Some(rule.id),
    };
    let paid = move_in(
        db,
        leg(
            Some(player),
            None,
            request.source_id,
            request.amount,
            TransactionKind::Burn,
            key.clone(),
        ),
        changes,
    )
    .await?;
    let received = move_in(
        db,
        leg(
            None,
            Some(player),
            request.destination_id,
            produced,
            TransactionKind::Mint,
            format!("{player}:{key}"),
        ),
        changes,
    )
    .await?;
    Ok((paid, received))
}

/// Longest a client's hold lasts, in seconds.
pub const MAX_HOLD_SECONDS: u32 = 30 * 24 * 3600;

/// A hold a player asks for: money for another player that they may take (in full or in
/// part) until the timeout.
#[derive(Debug, Clone)]
pub struct NewHold {
    pub transfer: NewTransfer,
    pub timeout_seconds: u32,
}

/// Holds the caller's money for another player, as [`transfer_in`] checks a transfer.
pub async fn hold(ctx: &AppContext, viewer: &Viewer, new: NewHold) -> ApiResult<Applied> {
    let me = viewer.require_user()?.id;
    if !(1..=MAX_HOLD_SECONDS).contains(&new.timeout_seconds) {
        return Err(ApiError::bad_input(
            "timeoutSeconds",
            format!("a hold lasts 1 to {MAX_HOLD_SECONDS} seconds"),
        ));
    }
    let timeout_at = Utc::now() + chrono::Duration::seconds(i64::from(new.timeout_seconds));
    ctx.write(async |db, changes| {
        let movement = checked_transfer(db, me, new.transfer, "hold").await?;
        hold_in(db, movement, Some(timeout_at), changes).await
    })
    .await
}

/// The recipient of pending transfer `id`, or `bank.mint`, may post or void it.
async fn may_settle(db: &impl ConnectionTrait, viewer: &Viewer, id: i32) -> ApiResult<()> {
    let me = viewer.require_user()?.id;
    let row = transaction::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("transaction"))?;
    if row.recipient_id == Some(me) || viewer.has_privilege(privileges::BANK_MINT) {
        return Ok(());
    }
    if row.user_id == Some(me) {
        // The payer waits for the timeout: a hold the payer could take back guarantees
        // nothing.
        return Err(ApiError::Forbidden);
    }
    Err(ApiError::NotFound("transaction"))
}

/// Posts a hold made to the caller (or, with `bank.mint`, any); see [`post_in`].
pub async fn post(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    amount: Option<i64>,
) -> ApiResult<Applied> {
    ctx.write(async |db, changes| {
        may_settle(db, viewer, id).await?;
        post_in(db, id, amount, changes).await
    })
    .await
}

/// Voids a hold made to the caller (or, with `bank.mint`, any); see [`void_in`].
pub async fn void(ctx: &AppContext, viewer: &Viewer, id: i32) -> ApiResult<Applied> {
    ctx.write(async |db, changes| {
        may_settle(db, viewer, id).await?;
        void_in(db, id, TransferState::Voided, changes).await
    })
    .await
}

/// Expires every pending transfer whose timeout has passed, each in its own transaction
/// (one taken by another instance is skipped); returns how many.
pub async fn expire_holds(ctx: &AppContext) -> ApiResult<usize> {
    let due: Vec<i32> = transaction::Entity::find()
        .select_only()
        .column(transaction::Column::Id)
        .filter(transaction::Column::State.eq(TransferState::Pending))
        .filter(transaction::Column::TimeoutAt.lte(Utc::now()))
        .order_by_asc(transaction::Column::TimeoutAt)
        .limit(500)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    ctx.write_each(due, async |db, changes, id| {
        let row = lock_pending(db, id).await?;
        if row.state != TransferState::Pending {
            return Ok(false);
        }
        void_in(db, id, TransferState::Expired, changes).await?;
        Ok(true)
    })
    .await
}

/// Ledger rows by id.
pub async fn transactions_by_id(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> ApiResult<HashMap<i32, transaction::Model>> {
    Ok(
        crate::db::rows_by::<transaction::Entity, _>(db, transaction::Column::Id, ids, |r| r.id)
            .await?,
    )
}
