//! Transfers committed together. Every player's transfer on this instance goes through the
//! queue of its payer's worker ([`WORKERS`] of them, so one reads while another commits);
//! a worker takes whatever is waiting (up to [`MAX_BATCH`]) and applies it in one database
//! transaction with a fixed number of statements, as a ledger engine batches:
//! the keys already used, the recipients and blocks, the accounts locked in id order, the
//! balances worked out in arrival order (a transfer that would overdraw is refused alone),
//! then every ledger row, every balance and every event written at once. A caller hears back
//! only after the commit, so an answered transfer is durable; a batch that fails as a whole
//! is applied again one transfer at a time, so one bad request never sinks the others.

use std::collections::{BTreeSet, HashMap, HashSet};

use arena_entity::{
    auth::user,
    bank::{
        account_balance,
        transaction::{self, TransactionKind, TransferState},
    },
    events::platform_event,
    players::block,
};
use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect,
};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Applied, Movement, NewTransfer};
use crate::{
    bus::{Change, Changes},
    context::AppContext,
    error::{ApiError, ApiResult},
};

/// Most transfers one transaction applies.
pub const MAX_BATCH: usize = 1000;

/// Workers per instance. Each locks its accounts in id order, so they never deadlock; a
/// payer always goes to the same one, so copies of one request meet in one queue.
pub const WORKERS: usize = 2;

/// One transfer waiting for its batch.
struct Job {
    payer: Uuid,
    new: NewTransfer,
    reply: oneshot::Sender<ApiResult<Applied>>,
}

/// The queues into this instance's transfer workers.
#[derive(Clone)]
pub struct Batcher(Vec<mpsc::Sender<Job>>);

/// The workers' ends of the queues, until [`spawn`] starts them.
pub struct Queue(Vec<mpsc::Receiver<Job>>);

impl Batcher {
    /// Queues whose workers [`spawn`] starts.
    pub fn new() -> (Self, Queue) {
        let (senders, receivers) = (0..WORKERS).map(|_| mpsc::channel(MAX_BATCH * 8)).unzip();
        (Self(senders), Queue(receivers))
    }

    /// Queues a transfer from `payer` and waits for its commit.
    pub async fn transfer(&self, payer: Uuid, new: NewTransfer) -> ApiResult<Applied> {
        let (reply, answer) = oneshot::channel();
        let worker = (payer.as_u128() % self.0.len() as u128) as usize;
        self.0[worker]
            .send(Job { payer, new, reply })
            .await
            .map_err(|_| closing())?;
        answer.await.map_err(|_| closing())?
    }
}

/// Starts the workers; each ends with the context's shutdown, after the transfers queued.
pub fn spawn(ctx: &AppContext, queue: Queue) {
    for receiver in queue.0 {
        ctx.tasks.spawn(work(ctx.clone(), receiver));
    }
}

fn closing() -> ApiError {
    ApiError::Internal(anyhow::anyhow!("the bank is shutting down"))
}

async fn work(ctx: AppContext, mut queue: mpsc::Receiver<Job>) {
    let mut carried: Vec<Job> = Vec::new();
    loop {
        let mut jobs = std::mem::take(&mut carried);
        if jobs.is_empty() {
            tokio::select! {
                () = ctx.shutdown.cancelled() => {
                    queue.close();
                }
                job = queue.recv() => match job {
                    Some(job) => jobs.push(job),
                    None => return,
                },
            }
        }
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if jobs.is_empty() {
            if queue.is_closed() && queue.is_empty() {
                return;
            }
            continue;
        }
        // A key twice in one batch: the later copy waits for the next, where it finds the
        // first one's row.
        let mut seen = HashSet::new();
        let (now_jobs, later): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|job| seen.insert((job.payer, job.new.key.clone())));
        carried = later;
        run(&ctx, now_jobs).await;
    }
}

/// Applies `jobs` in one transaction, or when that fails, one by one. The callers hear back
/// once the changes are published, while the worker goes on to the next batch.
async fn run(ctx: &AppContext, jobs: Vec<Job>) {
    let requests: Vec<(Uuid, NewTransfer)> =
        jobs.iter().map(|j| (j.payer, j.new.clone())).collect();
    let together = async {
        let txn = crate::db::begin_write(&ctx.db).await?;
        let mut changes = Changes::default();
        let answers = apply(&txn, &requests, &mut changes).await?;
        txn.commit().await?;
        ApiResult::Ok((answers, changes))
    };
    match together.await {
        Ok((answers, changes)) => {
            let bus = ctx.bus.clone();
            ctx.tasks.spawn(async move {
                bus.committed(changes).await;
                for (job, answer) in jobs.into_iter().zip(answers) {
                    let _ = job.reply.send(answer);
                }
            });
        }
        Err(err) => {
            if jobs.len() > 1 {
                tracing::warn!(error = ?err, transfers = jobs.len(), "a transfer batch failed; applying its transfers one by one");
            }
            for job in jobs {
                let answer = ctx
                    .write(async |db, changes| {
                        super::transfer_in(db, job.payer, job.new.clone(), changes).await
                    })
                    .await;
                let _ = job.reply.send(answer);
            }
        }
    }
}

/// A transfer's movement once its own fields are checked.
fn movement(payer: Uuid, new: &NewTransfer) -> ApiResult<Movement> {
    if new.to == payer {
        return Err(ApiError::bad_input(
            "recipientId",
            "a transfer goes to another player",
        ));
    }
    super::check_amount(new.amount)?;
    super::check_key(&new.key)?;
    let description = super::check_description(new.description.as_deref())?;
    let key = format!("transfer:{}", new.key);
    let movement = Movement {
        from: Some(payer),
        to: Some(new.to),
        currency_id: new.currency_id,
        amount: new.amount,
        kind: TransactionKind::Transfer,
        key,
        description,
        automated: false,
        previous: None,
        conversion: None,
    };
    movement.check()?;
    Ok(movement)
}

/// The answers to `requests`, in order, as [`super::transfer_in`] would give them one by
/// one in this order. An error returned fails the whole batch (nothing is written).
async fn apply(
    db: &DatabaseTransaction,
    requests: &[(Uuid, NewTransfer)],
    changes: &mut Changes,
) -> ApiResult<Vec<ApiResult<Applied>>> {
    let mut answers: Vec<Option<ApiResult<Applied>>> = Vec::with_capacity(requests.len());
    let mut moves: Vec<Option<Movement>> = Vec::with_capacity(requests.len());
    for (payer, new) in requests {
        match movement(*payer, new) {
            Ok(m) => {
                answers.push(None);
                moves.push(Some(m));
            }
            Err(err) => {
                answers.push(Some(Err(err)));
                moves.push(None);
            }
        }
    }
    let live: Vec<&Movement> = moves.iter().flatten().collect();
    if live.is_empty() {
        return Ok(finish(answers));
    }
    // Requests seen before: the same content is the first answer again. Exact pairs, so
    // each is one probe of the key's index however long the ledger grows.
    let mut seen_before = Condition::any();
    for m in &live {
        if let Some(from) = m.from {
            seen_before = seen_before.add(
                Condition::all()
                    .add(transaction::Column::UserId.eq(from))
                    .add(transaction::Column::IdempotencyKey.eq(m.key.as_str())),
            );
        }
    }
    let earlier: HashMap<(Uuid, String), transaction::Model> = transaction::Entity::find()
        .filter(seen_before)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|t| Some(((t.user_id?, t.idempotency_key.clone()?), t)))
        .collect();
    let currencies: HashSet<i32> = super::currencies(db)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let people: HashSet<Uuid> = live.iter().flat_map(|m| [m.from, m.to]).flatten().collect();
    let alive: HashSet<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Id.is_in(people.iter().copied()))
        .filter(user::Column::DeletedAt.is_null())
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let blocks: HashSet<(Uuid, Uuid)> = block::Entity::find()
        .filter(block::Column::UserId.is_in(people.iter().copied()))
        .filter(block::Column::TargetId.is_in(people.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.user_id, b.target_id))
        .collect();

    // Which go on to the books.
    let mut pending: Vec<usize> = Vec::new();
    for (i, m) in moves.iter().enumerate() {
        let Some(m) = m else { continue };
        let (Some(from), Some(to)) = (m.from, m.to) else {
            continue;
        };
        if let Some(first) = earlier.get(&(from, m.key.clone())) {
            answers[i] = Some(super::replayed(first.clone(), m));
        } else if !currencies.contains(&m.currency_id) {
            answers[i] = Some(Err(ApiError::NotFound("currency")));
        } else if !alive.contains(&to) {
            answers[i] = Some(Err(ApiError::NotFound("player")));
        } else if blocks.contains(&(from, to)) || blocks.contains(&(to, from)) {
            answers[i] = Some(Err(ApiError::Forbidden));
        } else {
            pending.push(i);
        }
    }
    if pending.is_empty() {
        return Ok(finish(answers));
    }

    // Every account involved, made when missing, locked in id order.
    let now = Utc::now();
    // In one order, so two workers making the same new accounts never wait crosswise.
    let owners: BTreeSet<(i32, Uuid)> = pending
        .iter()
        .filter_map(|&i| moves[i].as_ref())
        .flat_map(|m| [(m.currency_id, m.from), (m.currency_id, m.to)])
        .filter_map(|(c, u)| Some((c, u?)))
        .collect();
    account_balance::Entity::insert_many(owners.iter().map(|&(currency_id, owner)| {
        account_balance::ActiveModel {
            currency_id: Set(currency_id),
            user_id: Set(Some(owner)),
            amount: Set(0),
            held: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    }))
    .on_conflict(crate::db::any_conflict())
    .exec_without_returning(db)
    .await?;
    let mut which = Condition::any();
    for (currency_id, owner) in &owners {
        which = which.add(
            Condition::all()
                .add(account_balance::Column::CurrencyId.eq(*currency_id))
                .add(account_balance::Column::UserId.eq(*owner)),
        );
    }
    let accounts = crate::db::lock_in_order(
        db,
        account_balance::Entity::find().filter(which),
        account_balance::Column::Id,
    )
    .await?;
    // (currency, owner) → (account id, balance as the batch goes).
    let mut books: HashMap<(i32, Uuid), (i32, i64)> = accounts
        .iter()
        .filter_map(|a| Some(((a.currency_id, a.user_id?), (a.id, a.amount))))
        .collect();

    // The balances in arrival order; a transfer that would overdraw is refused alone.
    let mut accepted: Vec<usize> = Vec::new();
    for i in pending {
        let Some(m) = &moves[i] else { continue };
        let (Some(from), Some(to)) = (m.from, m.to) else {
            continue;
        };
        let held = books.get(&(m.currency_id, from)).map_or(0, |b| b.1);
        if held < m.amount || !books.contains_key(&(m.currency_id, to)) {
            answers[i] = Some(Err(ApiError::InsufficientFunds));
            continue;
        }
        if let Some(payer) = books.get_mut(&(m.currency_id, from)) {
            payer.1 -= m.amount;
        }
        if let Some(payee) = books.get_mut(&(m.currency_id, to)) {
            payee.1 += m.amount;
        }
        accepted.push(i);
    }
    if accepted.is_empty() {
        return Ok(finish(answers));
    }

    // The ledger rows; a key another instance wrote meanwhile fails the batch, whose
    // transfers then go one by one and find it.
    let rows = transaction::Entity::insert_many(accepted.iter().filter_map(|&i| {
        let m = moves[i].as_ref()?;
        Some(m.ledger_row(TransferState::Posted, None, now))
    }))
    .exec_with_returning(db)
    .await?;
    let mut by_key: HashMap<(Option<Uuid>, Option<String>), transaction::Model> = rows
        .into_iter()
        .map(|row| ((row.user_id, row.idempotency_key.clone()), row))
        .collect();

    // Every balance touched, to its final amount, in one statement.
    let touched: HashSet<(i32, Uuid)> = accepted
        .iter()
        .filter_map(|&i| moves[i].as_ref())
        .flat_map(|m| [(m.currency_id, m.from), (m.currency_id, m.to)])
        .filter_map(|(c, u)| Some((c, u?)))
        .collect();
    let amounts: Vec<(i32, i64)> = touched
        .iter()
        .filter_map(|owner| books.get(owner).copied())
        .collect();
    super::linked::set_amounts(db, &amounts, now).await?;

    // The events, and the answers.
    let mut events = Vec::with_capacity(accepted.len());
    for &i in &accepted {
        let Some(m) = &moves[i] else { continue };
        let row = by_key
            .remove(&(m.from, Some(m.key.clone())))
            .ok_or(ApiError::NotFound("transaction"))?;
        events.push(super::event_of("transfer", &row));
        for owner in [m.from, m.to].into_iter().flatten() {
            changes.push(Change::Balances { user_id: owner });
        }
        answers[i] = Some(Ok(Applied {
            row,
            already_applied: false,
        }));
    }
    platform_event::Entity::insert_many(events)
        .exec_without_returning(db)
        .await?;
    Ok(finish(answers))
}

/// Every answer; each request has one by the end.
fn finish(answers: Vec<Option<ApiResult<Applied>>>) -> Vec<ApiResult<Applied>> {
    answers
        .into_iter()
        .map(|a| a.unwrap_or(Err(ApiError::NotFound("transaction"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(to: Uuid, key: &str, amount: i64) -> NewTransfer {
        NewTransfer {
            to,
            currency_id: 1,
            amount,
            key: key.into(),
            description: None,
        }
    }

    #[test]
    fn a_transfers_own_fields_are_checked_before_the_books() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(movement(a, &new(b, "k", 5)).is_ok());
        assert!(movement(a, &new(a, "k", 5)).is_err());
        assert!(movement(a, &new(b, "k", 0)).is_err());
        assert!(movement(a, &new(b, "", 5)).is_err());
        assert_eq!(movement(a, &new(b, "k", 5)).unwrap().key, "transfer:k");
    }
}
