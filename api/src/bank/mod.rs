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

pub mod graphql;

use std::collections::HashMap;

use arena_entity::{
    bank::{
        account_balance, conversion, currency,
        transaction::{self, TransactionKind},
    },
    events::platform_event,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait as _},
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit::{self, Entry},
    auth::{privileges, viewer::Viewer},
    bus::{Change, Changes},
    context::AppContext,
    error::{ApiError, ApiResult},
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

/// `ON CONFLICT DO NOTHING` for any unique index (SeaORM's own helper names the primary
/// key only).
fn any_conflict() -> sea_orm::sea_query::OnConflict {
    sea_orm::sea_query::OnConflict::new()
        .do_nothing()
        .to_owned()
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
    Ok(currency::Entity::find()
        .filter(currency::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect())
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
    check_amount(movement.amount)?;
    // Callers check the client's key; this bounds the prefixed one the column holds.
    if movement.key.chars().count() > STORED_KEY {
        return Err(ApiError::bad_input(
            "idempotencyKey",
            "the idempotency key is too long",
        ));
    }
    if let Some(first) = find_by_key(db, movement.from, &movement.key).await? {
        return replayed(first, &movement);
    }
    let now = Utc::now();
    // The key first: a concurrent copy of this request waits here for this one to end, then
    // finds its row (or, if this one was refused, goes on as the first).
    let inserted = transaction::Entity::insert(transaction::ActiveModel {
        currency_id: Set(movement.currency_id),
        user_id: Set(movement.from),
        recipient_id: Set(movement.to),
        previous_transaction_id: Set(movement.previous),
        conversion_id: Set(movement.conversion),
        description: Set(movement.description.clone()),
        amount: Set(movement.amount),
        confirmed: Set(true),
        automated: Set(movement.automated),
        kind: Set(movement.kind),
        idempotency_key: Set(Some(movement.key.clone())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(any_conflict())
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
    let accounts = lock_accounts(db, movement.currency_id, [movement.from, movement.to]).await?;
    let account_of = |owner: Option<Uuid>| {
        accounts
            .iter()
            .find(|a| a.user_id == owner)
            .map(|a| (a.id, a.amount))
            .ok_or(ApiError::NotFound("account"))
    };
    let (payer, held) = account_of(movement.from)?;
    let (payee, _) = account_of(movement.to)?;
    if movement.from.is_some() && held < movement.amount {
        return Err(ApiError::InsufficientFunds);
    }
    for (account, delta) in [(payer, -movement.amount), (payee, movement.amount)] {
        account_balance::Entity::update_many()
            .col_expr(
                account_balance::Column::Amount,
                Expr::col(account_balance::Column::Amount).add(delta),
            )
            .col_expr(account_balance::Column::UpdatedAt, Expr::value(now))
            .filter(account_balance::Column::Id.eq(account))
            .exec(db)
            .await?;
    }
    let row = transaction::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("transaction"))?;
    platform_event::ActiveModel {
        kind: Set(sea_orm::ActiveEnum::to_value(&movement.kind)),
        payload: Set(json!({
            "transactionId": row.id,
            "currencyId": row.currency_id,
            "from": row.user_id,
            "to": row.recipient_id,
            "amount": row.amount,
        })),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    for owner in [movement.from, movement.to].into_iter().flatten() {
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
    owners: [Option<Uuid>; 2],
) -> ApiResult<Vec<account_balance::Model>> {
    let now = Utc::now();
    for owner in owners.into_iter().flatten() {
        account_balance::Entity::insert(account_balance::ActiveModel {
            currency_id: Set(currency_id),
            user_id: Set(Some(owner)),
            amount: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .on_conflict(any_conflict())
        .try_insert()
        .exec(db)
        .await?;
    }
    let mut which = Condition::any();
    for owner in owners {
        which = which.add(match owner {
            Some(owner) => account_balance::Column::UserId.eq(owner),
            None => account_balance::Column::UserId.is_null(),
        });
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

/// Sends money from the caller to another player; see [`transfer_in`].
pub async fn transfer(ctx: &AppContext, viewer: &Viewer, new: NewTransfer) -> ApiResult<Applied> {
    let me = viewer.require_user()?.id;
    ctx.write(async |db, changes| transfer_in(db, me, new, changes).await)
        .await
}

/// Sends money from `payer` to another live player who has not blocked them (nor been
/// blocked by them).
pub async fn transfer_in(
    db: &impl ConnectionTrait,
    payer: Uuid,
    new: NewTransfer,
    changes: &mut Changes,
) -> ApiResult<Applied> {
    if new.to == payer {
        return Err(ApiError::bad_input(
            "recipientId",
            "a transfer goes to another player",
        ));
    }
    let description = check_description(new.description.as_deref())?;
    check_key(&new.key)?;
    find_currency(db, new.currency_id).await?;
    if crate::auth::find_user(db, new.to).await?.is_none() {
        return Err(ApiError::NotFound("player"));
    }
    if crate::players::blocked_between(db, payer, new.to).await? {
        return Err(ApiError::Forbidden);
    }
    move_in(
        db,
        Movement {
            from: Some(payer),
            to: Some(new.to),
            currency_id: new.currency_id,
            amount: new.amount,
            kind: TransactionKind::Transfer,
            // Each kind of request has its own key space: a transfer's key never meets a
            // purchase's or a conversion's.
            key: format!("transfer:{}", new.key),
            description,
            automated: false,
            previous: None,
            conversion: None,
        },
        changes,
    )
    .await
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
    pub amount: i64,
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
    let held: HashMap<i32, i64> = account_balance::Entity::find()
        .filter(account_balance::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.currency_id, a.amount))
        .collect();
    Ok(currencies(db)
        .await?
        .into_iter()
        .map(|currency| Balance {
            amount: held.get(&currency.id).copied().unwrap_or(0),
            currency,
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
    /// The sum of players' balances.
    pub circulating: i64,
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
