//! The relay: copies the platform's outbox (`platform_events`: sign-ins, purchases, trades,
//! sessions, quest completions, ledger moves) into the event stream, so quests and other
//! handlers see the platform's events as they see the games'. Each outbox row becomes one
//! stored event, scope `platform`, id `platform:<row id>`, in the transaction that marks the
//! row relayed; a row copied twice (two instances) is stored once.

use std::time::Duration;

use arena_entity::events::{game_event, platform_event};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use uuid::Uuid;

use crate::{bus::Change, context::AppContext, error::ApiResult};

/// Outbox rows one transaction copies.
const RELAY_BATCH: u64 = 1_000;

/// The player a platform event is about, from its payload.
fn player_of(payload: &serde_json::Value) -> Option<Uuid> {
    ["userId", "buyer", "sender", "from", "to"]
        .iter()
        .find_map(|field| payload.get(field)?.as_str()?.parse().ok())
}

/// Copies up to [`RELAY_BATCH`] outbox rows into the stream: how many rows it read, and the
/// ids of the events it stored.
pub async fn relay_in(
    db: &impl ConnectionTrait,
    changes: &mut crate::bus::Changes,
) -> ApiResult<(usize, Vec<i64>)> {
    // The outbox grows from empty between analyzes; the ids are a list of up to a thousand.
    crate::db::custom_plans_in(db).await?;
    let rows = platform_event::Entity::find()
        // Written out, not bound: a bound `false` in a generic plan misses the partial index
        // of unrelayed rows and scans the whole outbox.
        .filter(Expr::col(platform_event::Column::Relayed).not())
        .order_by_asc(platform_event::Column::Id)
        .limit(RELAY_BATCH)
        .lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok((0, Vec::new()));
    }
    let read = rows.len();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let events = rows.into_iter().map(|row| game_event::ActiveModel {
        scope: Set("platform".into()),
        event_key: Set(format!("platform:{}", row.id)),
        game_id: Set(row
            .payload
            .get("gameId")
            .and_then(serde_json::Value::as_i64)
            .and_then(|g| i32::try_from(g).ok())),
        kind: Set(row.kind),
        name: Set(None),
        user_id: Set(player_of(&row.payload)),
        winner_id: Set(None),
        loser_id: Set(None),
        data: Set(Some(row.payload)),
        occurred_at: Set(row.created_at),
        // The platform had it when it wrote the outbox row, not when the relay copied it.
        received_at: Set(row.created_at),
        source: Set("platform".into()),
        state: Set(game_event::State::Pending),
        processed_at: Set(None),
        failure: Set(None),
        ..Default::default()
    });
    let stored = super::store_in(db, events).await?;
    platform_event::Entity::update_many()
        .col_expr(platform_event::Column::Relayed, Expr::value(true))
        .filter(crate::db::one_of(db, platform_event::Column::Id, ids))
        .exec(db)
        .await?;
    if !stored.is_empty() {
        changes.push(Change::Events { game_id: None });
    }
    Ok((read, stored))
}

/// Relays the outbox until shutdown: every `ARENA_EVENT_RELAY_MS`, and at once again while
/// there is more. Stored events go onto the processor's queue.
pub fn spawn(ctx: &AppContext) {
    let ctx = ctx.clone();
    ctx.tasks.clone().spawn(async move {
        let mut more = false;
        loop {
            if !more {
                tokio::select! {
                    () = ctx.shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(ctx.settings.event_relay_ms)) => {}
                }
            }
            let relayed = ctx
                .write(async |db, changes| relay_in(db, changes).await)
                .await;
            more = match relayed {
                Ok((read, ids)) => {
                    ctx.events.push(ids).await;
                    read as u64 >= RELAY_BATCH
                }
                Err(err) => {
                    tracing::warn!(?err, "relaying platform events failed");
                    false
                }
            };
        }
    });
}
