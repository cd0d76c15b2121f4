//! Linked legs: movements from one payer in one currency that apply together or not at all
//! (a purchase's payment to its seller and its fee, a player's split payment), each leg a
//! ledger row of its own with its own key. They are written in two steps so a caller can put
//! its own rows between them: [`book`] writes the ledger rows, and [`Booked::settle`] writes
//! their events (with any the caller [`Booked::record`]s) and moves the balances. Settling
//! locks every account involved, and some are shared by many payers (a creator's, the
//! platform's), so a caller settles last: each payer then holds those accounts only until
//! its commit.

use std::collections::{HashMap, HashSet};

use arena_entity::{
    bank::transaction::{self, TransferState},
    events::platform_event,
};
use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Value};
use uuid::Uuid;

use super::{Applied, Movement};
use crate::{
    bus::{Change, Changes},
    error::{ApiError, ApiResult},
};

/// Most legs one linked movement has.
pub const MAX_LEGS: usize = 16;

/// Linked legs whose ledger rows are written and whose balances are still to move.
#[must_use = "the balances move only when the legs are settled"]
pub struct Booked {
    applied: Vec<Applied>,
    /// The legs to settle; empty when an earlier request with these keys applied them.
    legs: Vec<Movement>,
    /// Platform events written when they settle.
    events: Vec<platform_event::ActiveModel>,
}

impl Booked {
    /// Whether an earlier request with the same keys and content had applied these legs.
    pub fn already_applied(&self) -> bool {
        self.legs.is_empty()
    }

    /// The ledger rows, in the order of the legs.
    pub fn rows(&self) -> impl Iterator<Item = &transaction::Model> {
        self.applied.iter().map(|a| &a.row)
    }

    /// Adds the caller's own platform event to those written when the legs settle, in the
    /// same statement. A replay writes none.
    pub fn record(&mut self, event: platform_event::ActiveModel) {
        if !self.already_applied() {
            self.events.push(event);
        }
    }

    /// Writes the events and moves the balances: `INSUFFICIENT_FUNDS`, leaving the caller to
    /// roll back, when the payer holds less than the legs together.
    pub async fn settle(
        self,
        db: &impl ConnectionTrait,
        changes: &mut Changes,
    ) -> ApiResult<Vec<Applied>> {
        let Some(first) = self.legs.first() else {
            return Ok(self.applied);
        };
        platform_event::Entity::insert_many(self.events)
            .exec_without_returning(db)
            .await?;
        let currency_id = first.currency_id;
        let mut deltas: HashMap<Option<Uuid>, i64> = HashMap::new();
        for leg in &self.legs {
            *deltas.entry(leg.from).or_default() -= leg.amount;
            *deltas.entry(leg.to).or_default() += leg.amount;
        }
        let deltas: Vec<(Option<Uuid>, i64)> = deltas.into_iter().collect();
        let now = Utc::now();
        if db.get_database_backend() == DbBackend::Postgres {
            // One statement, so a shared account is held for one round trip and the commit.
            if !move_at_once(db, currency_id, &deltas, now).await? {
                let owners: Vec<Option<Uuid>> = deltas.iter().map(|d| d.0).collect();
                let existing = super::lock_accounts(db, currency_id, &owners).await?;
                if existing.len() != owners.len() {
                    return Err(ApiError::NotFound("account"));
                }
                // Every account is there now: what stopped it was the payer's balance.
                if !move_at_once(db, currency_id, &deltas, now).await? {
                    return Err(ApiError::InsufficientFunds);
                }
            }
        } else {
            let owners: Vec<Option<Uuid>> = deltas.iter().map(|d| d.0).collect();
            let accounts = super::lock_accounts(db, currency_id, &owners).await?;
            let mut amounts = Vec::with_capacity(accounts.len());
            for account in &accounts {
                let delta = deltas
                    .iter()
                    .find(|d| d.0 == account.user_id)
                    .map_or(0, |d| d.1);
                // The system account stands on the other side of what circulates: below zero.
                if account.user_id.is_some() && account.amount + delta < 0 {
                    return Err(ApiError::InsufficientFunds);
                }
                amounts.push((account.id, account.amount + delta));
            }
            if amounts.len() != owners.len() {
                return Err(ApiError::NotFound("account"));
            }
            set_amounts(db, &amounts, now).await?;
        }
        for (owner, _) in deltas {
            if let Some(owner) = owner {
                changes.push(Change::Balances { user_id: owner });
            }
        }
        Ok(self.applied)
    }
}

/// Adds each delta to its owner's account of the currency (None: the system account) in one
/// PostgreSQL statement that locks them in id order: all of them, or none when an account
/// is missing or a player's would go below zero. Whether it moved them.
async fn move_at_once(
    db: &impl ConnectionTrait,
    currency_id: i32,
    deltas: &[(Option<Uuid>, i64)],
    now: chrono::DateTime<Utc>,
) -> ApiResult<bool> {
    let mut values: Vec<Value> = vec![currency_id.into(), now.into(), (deltas.len() as i64).into()];
    let mut wanted = Vec::with_capacity(deltas.len());
    for &(owner, delta) in deltas {
        let n = values.len();
        wanted.push(format!("(${}::uuid, ${}::bigint)", n + 1, n + 2));
        values.push(owner.into());
        values.push(delta.into());
    }
    let sql = format!(
        "WITH wanted (user_id, delta) AS (VALUES {}),
         locked AS (
             SELECT a.id, a.user_id, a.amount, w.delta FROM account_balances a
               JOIN wanted w ON a.user_id IS NOT DISTINCT FROM w.user_id
              WHERE a.currency_id = $1 ORDER BY a.id FOR UPDATE OF a),
         fine AS (
             SELECT count(*) = $3 AS ok FROM locked
              WHERE user_id IS NULL OR amount + delta >= 0)
         UPDATE account_balances b SET amount = b.amount + l.delta, updated_at = $2
           FROM locked l, fine WHERE b.id = l.id AND fine.ok",
        wanted.join(", ")
    );
    let moved = db.execute_raw(crate::db::raw(db, &sql, values)).await?;
    Ok(moved.rows_affected() == deltas.len() as u64)
}

/// Writes the ledger rows of `legs`; [`Booked::settle`] writes their events and moves the money.
/// The same keys with the same content are the first request's rows again; with other
/// content, `CONFLICT` naming the field that differs.
pub async fn book(db: &impl ConnectionTrait, legs: Vec<Movement>) -> ApiResult<Booked> {
    let Some(first) = legs.first() else {
        return Err(ApiError::bad_input(
            "legs",
            "a payment has at least one leg",
        ));
    };
    let (payer, currency_id) = (first.from, first.currency_id);
    if legs.len() > MAX_LEGS {
        return Err(ApiError::bad_input(
            "legs",
            format!("a payment has at most {MAX_LEGS} legs"),
        ));
    }
    let mut keys = HashSet::new();
    for leg in &legs {
        leg.check()?;
        if leg.from != payer || leg.currency_id != currency_id {
            return Err(ApiError::bad_input(
                "legs",
                "the legs of a payment share its payer and currency",
            ));
        }
        if leg.from == leg.to {
            return Err(ApiError::bad_input(
                "recipientId",
                "a leg goes to another account",
            ));
        }
        if !keys.insert(leg.key.as_str()) {
            return Err(ApiError::bad_input(
                "idempotencyKey",
                "each leg has its own key",
            ));
        }
    }
    let now = Utc::now();
    // The keys first: a request seen before writes nothing and finds its rows; a concurrent
    // copy waits on the keys for this one to end, then does the same (or, if this one was
    // refused, goes on as the first).
    let inserted = transaction::Entity::insert_many(
        legs.iter()
            .map(|leg| leg.ledger_row(TransferState::Posted, None, now)),
    )
    .on_conflict(crate::db::any_conflict())
    .exec_with_returning(db)
    .await;
    let mut rows = match inserted {
        Ok(rows) => rows,
        Err(DbErr::RecordNotInserted) => Vec::new(),
        Err(err) => return Err(err.into()),
    };
    if rows.is_empty() {
        return replayed(rows_by_key(db, payer, &legs).await?, legs);
    }
    if rows.len() < legs.len() {
        // Some keys were free, others not: an earlier request had other legs.
        return Err(legs_differ());
    }
    let mut applied = Vec::with_capacity(legs.len());
    for leg in &legs {
        let at = rows
            .iter()
            .position(|row| row.idempotency_key.as_deref() == Some(leg.key.as_str()))
            .ok_or(ApiError::NotFound("transaction"))?;
        applied.push(Applied {
            row: rows.swap_remove(at),
            already_applied: false,
        });
    }
    let events = applied
        .iter()
        .map(|a| super::event_of(&sea_orm::ActiveEnum::to_value(&a.row.kind), &a.row))
        .collect();
    Ok(Booked {
        applied,
        legs,
        events,
    })
}

/// `CONFLICT`: a key reused with other legs.
pub(super) fn legs_differ() -> ApiError {
    ApiError::Conflict("this idempotency key was used for another transaction: legs differ".into())
}

/// The ledger rows of `payer` with the keys of `legs`.
async fn rows_by_key(
    db: &impl ConnectionTrait,
    payer: Option<Uuid>,
    legs: &[Movement],
) -> ApiResult<Vec<transaction::Model>> {
    let owner = match payer {
        Some(payer) => transaction::Column::UserId.eq(payer),
        None => transaction::Column::UserId.is_null(),
    };
    Ok(transaction::Entity::find()
        .filter(owner)
        .filter(transaction::Column::IdempotencyKey.is_in(legs.iter().map(|l| l.key.as_str())))
        .all(db)
        .await?)
}

/// An earlier request's rows for the keys of `legs`, compared leg by leg.
fn replayed(mut earlier: Vec<transaction::Model>, legs: Vec<Movement>) -> ApiResult<Booked> {
    let mut applied = Vec::with_capacity(legs.len());
    for leg in &legs {
        let Some(at) = earlier
            .iter()
            .position(|row| row.idempotency_key.as_deref() == Some(leg.key.as_str()))
        else {
            return Err(legs_differ());
        };
        applied.push(super::replayed(earlier.swap_remove(at), leg)?);
    }
    if !earlier.is_empty() {
        return Err(legs_differ());
    }
    Ok(Booked {
        applied,
        legs: Vec::new(),
        events: Vec::new(),
    })
}

/// Sets the accounts' amounts, `(id, amount)` each, in one statement; the caller holds
/// their locks.
pub(super) async fn set_amounts(
    db: &impl ConnectionTrait,
    amounts: &[(i32, i64)],
    now: chrono::DateTime<Utc>,
) -> ApiResult<()> {
    if amounts.is_empty() {
        return Ok(());
    }
    let mut cases = String::new();
    let mut values: Vec<Value> = Vec::with_capacity(amounts.len() * 3 + 1);
    for &(id, amount) in amounts {
        let n = values.len();
        cases.push_str(&format!(" WHEN ${} THEN ${}", n + 1, n + 2));
        values.push(id.into());
        values.push(amount.into());
    }
    let first_id = values.len() + 2;
    values.push(now.into());
    let list = crate::db::placeholders(first_id, amounts.len());
    values.extend(amounts.iter().map(|&(id, _)| Value::from(id)));
    db.execute_raw(crate::db::raw(
        db,
        &format!(
            "UPDATE account_balances SET amount = CASE id{cases} END, updated_at = ${} WHERE id IN ({list})",
            first_id - 1
        ),
        values,
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_entity::bank::transaction::TransactionKind;

    fn leg(from: Option<Uuid>, to: Option<Uuid>, key: &str) -> Movement {
        Movement {
            from,
            to,
            currency_id: 1,
            amount: 5,
            kind: TransactionKind::Transfer,
            key: key.into(),
            description: None,
            automated: false,
            previous: None,
            conversion: None,
        }
    }

    fn row(of: &Movement) -> transaction::Model {
        let now = Utc::now();
        transaction::Model {
            id: 1,
            currency_id: of.currency_id,
            user_id: of.from,
            recipient_id: of.to,
            previous_transaction_id: None,
            conversion_id: None,
            description: None,
            amount: of.amount,
            confirmed: true,
            automated: false,
            kind: of.kind,
            idempotency_key: Some(of.key.clone()),
            state: TransferState::Posted,
            pending_id: None,
            timeout_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_replay_must_match_every_leg() {
        let (a, b) = (Some(Uuid::new_v4()), Some(Uuid::new_v4()));
        let legs = vec![leg(a, b, "k"), leg(a, None, "k:fee")];
        let both: Vec<_> = legs.iter().map(row).collect();
        assert!(
            replayed(both.clone(), legs.clone())
                .unwrap()
                .already_applied()
        );
        assert!(replayed(both[..1].to_vec(), legs.clone()).is_err());
        let mut other = legs.clone();
        other[1].amount = 6;
        assert!(replayed(both, other).is_err());
    }
}
