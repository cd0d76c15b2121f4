//! Quests (seed 002): events advance a player's streak on each quest they trigger; a full
//! streak completes the quest, up to its duplication limit, and its reward is paid through
//! the bank's ledger with the completion as the idempotency key, at once (auto-claim) or
//! when the player claims it. Progress is written by the event processor in the transaction
//! that applies the event, so a redelivered event advances nothing twice.

pub mod graphql;

use std::collections::{BTreeSet, HashMap, HashSet};

use arena_entity::{
    bank::transaction::TransactionKind,
    events::{game_event, platform_event, quest, quest_completion, quest_progress},
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::OnConflict,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::{privileges, viewer::Viewer},
    bank::{self, Movement},
    bus::{Change, Changes},
    error::{ApiError, ApiResult},
};

/// Event types a quest can be triggered by: the games' and the platform's.
pub const TRIGGERS: &[&str] = &[
    "game_over",
    "gameplay",
    "state_change",
    "sign_in",
    "purchase",
    "trade.confirmed",
    "session.started",
    "session.ended",
    "quest.completed",
];
/// Longest quest name.
pub const MAX_NAME: usize = 64;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 2_000;

/// The player an event advances: a `game_over`'s winner, otherwise its player.
fn subject(event: &game_event::Model) -> Option<Uuid> {
    if event.kind == "game_over" {
        event.winner_id
    } else {
        event.user_id
    }
}

/// Whether `event` counts towards `quest`: its type, game and name, arrived after the quest
/// was created, and happened in its window.
fn matches(quest: &quest::Model, event: &game_event::Model) -> bool {
    quest.trigger_kind == event.kind
        && quest.trigger_game_id.is_none_or(|g| event.game_id == Some(g))
        && quest
            .trigger_name
            .as_ref()
            .is_none_or(|name| event.name.as_ref() == Some(name))
        // Events that arrive after the quest exists; old outbox rows relayed late do not
        // complete a new quest.
        && event.received_at >= quest.created_at
        && quest.starts_at.is_none_or(|at| event.occurred_at >= at)
        && quest.ends_at.is_none_or(|at| event.occurred_at < at)
}

/// A player's standing on a quest while a batch is worked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Standing {
    streak: i32,
    completions: i32,
    last_day: Option<NaiveDate>,
}

/// A completion a batch made.
struct Completed {
    quest: i32,
    user: Uuid,
    number: i32,
    event: i64,
    at: DateTime<Utc>,
}

/// One event's changes, kept only when the whole event is applied.
#[derive(Default)]
pub struct Updates {
    standings: Vec<((i32, Uuid), Standing)>,
    completed: Vec<Completed>,
}

/// The quests a batch's events trigger and their players' standings on them: loaded once
/// (locked on PostgreSQL), written once at the end.
#[derive(Default)]
pub struct Batch {
    quests: Vec<quest::Model>,
    standings: HashMap<(i32, Uuid), Standing>,
    changed: HashSet<(i32, Uuid)>,
    completed: Vec<Completed>,
}

impl Batch {
    /// The active quests `events` trigger, and the standings of the players they advance,
    /// locked in (quest, player) order; `known` are the players that exist.
    pub async fn load_in(
        db: &impl ConnectionTrait,
        events: &[game_event::Model],
        known: &HashSet<Uuid>,
        now: DateTime<Utc>,
    ) -> ApiResult<Self> {
        let kinds: BTreeSet<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        let quests = quest::Entity::find()
            .filter(quest::Column::Active.eq(true))
            .filter(quest::Column::TriggerKind.is_in(kinds))
            .filter(quest::Column::CreatedAt.lte(now))
            .order_by_asc(quest::Column::Id)
            .all(db)
            .await?;
        let pairs: BTreeSet<(i32, Uuid)> = events
            .iter()
            .flat_map(|event| {
                let user = subject(event).filter(|u| known.contains(u));
                quests
                    .iter()
                    .filter(move |q| matches(q, event))
                    .filter_map(move |q| Some((q.id, user?)))
            })
            .collect();
        if pairs.is_empty() {
            return Ok(Self::default());
        }
        // Rows for newcomers first, so every standing below is a row to lock.
        for chunk in pairs.iter().collect::<Vec<_>>().chunks(5_000) {
            quest_progress::Entity::insert_many(chunk.iter().map(|(quest, user)| {
                quest_progress::ActiveModel {
                    quest_id: Set(*quest),
                    user_id: Set(*user),
                    streak: Set(0),
                    completions: Set(0),
                    last_day: Set(None),
                    updated_at: Set(now),
                }
            }))
            .on_conflict(crate::db::any_conflict())
            .exec_without_returning(db)
            .await?;
        }
        let quest_ids: BTreeSet<i32> = pairs.iter().map(|(q, _)| *q).collect();
        let users: Vec<Uuid> = pairs
            .iter()
            .map(|(_, u)| *u)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut standings = HashMap::new();
        for chunk in users.chunks(1_000) {
            let rows = quest_progress::Entity::find()
                .filter(quest_progress::Column::QuestId.is_in(quest_ids.iter().copied()))
                .filter(crate::db::one_of(
                    db,
                    quest_progress::Column::UserId,
                    chunk.to_vec(),
                ))
                .order_by_asc(quest_progress::Column::QuestId)
                .order_by_asc(quest_progress::Column::UserId)
                .lock_exclusive()
                .all(db)
                .await?;
            standings.extend(rows.into_iter().map(|r| {
                (
                    (r.quest_id, r.user_id),
                    Standing {
                        streak: r.streak,
                        completions: r.completions,
                        last_day: r.last_day,
                    },
                )
            }));
        }
        Ok(Self {
            quests,
            standings,
            ..Self::default()
        })
    }

    /// What `event` does to its player's quests, given the batch so far.
    pub fn score(
        &self,
        event: &game_event::Model,
        known: &HashSet<Uuid>,
    ) -> Result<Updates, String> {
        let mut out = Updates::default();
        let matching: Vec<&quest::Model> =
            self.quests.iter().filter(|q| matches(q, event)).collect();
        if matching.is_empty() {
            return Ok(out);
        }
        let Some(user) = subject(event) else {
            return Ok(out);
        };
        if !known.contains(&user) {
            return Err(format!("unknown player {user}"));
        }
        for quest in matching {
            let key = (quest.id, user);
            let Some(mut standing) = self.standings.get(&key).copied() else {
                continue;
            };
            // At the limit, events still count as events but complete nothing.
            if standing.completions >= quest.duplication {
                continue;
            }
            if quest.daily {
                let day = event.occurred_at.date_naive();
                match standing.last_day {
                    Some(last) if last >= day => continue,
                    Some(last) if last + Duration::days(1) == day => standing.streak += 1,
                    _ => standing.streak = 1,
                }
                standing.last_day = Some(day);
            } else {
                standing.streak += 1;
            }
            if standing.streak >= quest.streak {
                standing.streak = 0;
                standing.completions += 1;
                out.completed.push(Completed {
                    quest: quest.id,
                    user,
                    number: standing.completions,
                    event: event.id,
                    at: event.occurred_at,
                });
            }
            out.standings.push((key, standing));
        }
        Ok(out)
    }

    /// Keeps an applied event's changes.
    pub fn keep(&mut self, updates: Updates) {
        for (key, standing) in updates.standings {
            self.standings.insert(key, standing);
            self.changed.insert(key);
        }
        self.completed.extend(updates.completed);
    }

    /// Writes the changed standings and the completions, pays those of auto-claim quests
    /// (in player order) and records a `quest.completed` platform event for each.
    pub async fn write_in(
        self,
        db: &impl ConnectionTrait,
        now: DateTime<Utc>,
        changes: &mut Changes,
    ) -> ApiResult<usize> {
        let mut keys: Vec<_> = self.changed.iter().copied().collect();
        keys.sort();
        for chunk in keys.chunks(5_000) {
            quest_progress::Entity::insert_many(chunk.iter().map(|key| {
                let standing = self.standings[key];
                quest_progress::ActiveModel {
                    quest_id: Set(key.0),
                    user_id: Set(key.1),
                    streak: Set(standing.streak),
                    completions: Set(standing.completions),
                    last_day: Set(standing.last_day),
                    updated_at: Set(now),
                }
            }))
            .on_conflict(
                OnConflict::columns([
                    quest_progress::Column::QuestId,
                    quest_progress::Column::UserId,
                ])
                .update_columns([
                    quest_progress::Column::Streak,
                    quest_progress::Column::Completions,
                    quest_progress::Column::LastDay,
                    quest_progress::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        }
        for user in keys.iter().map(|(_, u)| *u).collect::<BTreeSet<_>>() {
            changes.push(Change::QuestProgress { user_id: user });
        }
        let quests: HashMap<i32, &quest::Model> = self.quests.iter().map(|q| (q.id, q)).collect();
        let mut completed = self.completed;
        completed.sort_by_key(|c| {
            (
                quests[&c.quest].reward_currency_id,
                c.user,
                c.quest,
                c.number,
            )
        });
        // Auto-claim rewards first, all of a currency in one mint of a few statements.
        let mut paid: HashMap<(i32, Uuid, i32), i32> = HashMap::new();
        let payable: Vec<&Completed> = completed
            .iter()
            .filter(|c| quests[&c.quest].auto_claim)
            .collect();
        for group in payable.chunk_by(|a, b| {
            quests[&a.quest].reward_currency_id == quests[&b.quest].reward_currency_id
        }) {
            for chunk in group.chunks(1_000) {
                let currency = quests[&chunk[0].quest].reward_currency_id;
                let grants: Vec<Movement> = chunk
                    .iter()
                    .map(|c| reward(quests[&c.quest], c.user, c.number))
                    .collect();
                let rows = bank::mint_many_in(db, currency, &grants, changes).await?;
                for (c, row) in chunk.iter().zip(rows) {
                    paid.insert((c.quest, c.user, c.number), row);
                }
            }
        }
        let count = completed.len();
        for chunk in completed.chunks(2_000) {
            quest_completion::Entity::insert_many(chunk.iter().map(|done| {
                let transaction = paid.get(&(done.quest, done.user, done.number)).copied();
                quest_completion::ActiveModel {
                    quest_id: Set(done.quest),
                    user_id: Set(done.user),
                    number: Set(done.number),
                    event_id: Set(done.event),
                    completed_at: Set(done.at),
                    claimed_at: Set(transaction.map(|_| now)),
                    transaction_id: Set(transaction),
                    ..Default::default()
                }
            }))
            .exec_without_returning(db)
            .await?;
            platform_event::Entity::insert_many(chunk.iter().map(|done| {
                platform_event::ActiveModel {
                    kind: Set("quest.completed".into()),
                    payload: Set(json!({
                        "questId": done.quest,
                        "userId": done.user,
                        "number": done.number,
                        "claimed": paid.contains_key(&(done.quest, done.user, done.number)),
                    })),
                    created_at: Set(now),
                    ..Default::default()
                }
            }))
            .exec_without_returning(db)
            .await?;
        }
        Ok(count)
    }
}

/// The ledger movement of a completion's reward; its key is the completion's, so it is
/// paid once.
fn reward(quest: &quest::Model, user: Uuid, number: i32) -> Movement {
    Movement {
        from: None,
        to: Some(user),
        currency_id: quest.reward_currency_id,
        amount: quest.reward_amount,
        kind: TransactionKind::Mint,
        key: format!("quest:{}:{user}:{number}", quest.id),
        description: Some(format!("quest reward: {}", quest.name)),
        automated: true,
        previous: None,
        conversion: None,
    }
}

/// Pays a claimed completion's reward, once.
async fn pay_in(
    db: &impl ConnectionTrait,
    quest: &quest::Model,
    completion: quest_completion::Model,
    now: DateTime<Utc>,
    changes: &mut Changes,
) -> ApiResult<quest_completion::Model> {
    let leg = reward(quest, completion.user_id, completion.number);
    let paid = bank::move_in(db, leg, changes).await?;
    let mut active: quest_completion::ActiveModel = completion.into();
    active.claimed_at = Set(Some(now));
    active.transaction_id = Set(Some(paid.row.id));
    Ok(active.update(db).await?)
}

/// Pays the signed-in player's unclaimed completions of a quest, each once however often
/// and concurrently it is asked; the completions paid now.
pub async fn claim_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    quest_id: i32,
    changes: &mut Changes,
) -> ApiResult<Vec<quest_completion::Model>> {
    let me = viewer.require_user()?.id;
    let quest = find(db, quest_id).await?;
    let unclaimed = quest_completion::Entity::find()
        .filter(quest_completion::Column::QuestId.eq(quest.id))
        .filter(quest_completion::Column::UserId.eq(me))
        .filter(quest_completion::Column::ClaimedAt.is_null())
        .order_by_asc(quest_completion::Column::Number)
        .lock_exclusive()
        .all(db)
        .await?;
    let now = Utc::now();
    let mut paid = Vec::new();
    for completion in unclaimed {
        paid.push(pay_in(db, &quest, completion, now, changes).await?);
    }
    if !paid.is_empty() {
        changes.push(Change::QuestProgress { user_id: me });
    }
    Ok(paid)
}

/// A quest by id.
pub async fn find(db: &impl ConnectionTrait, id: i32) -> ApiResult<quest::Model> {
    quest::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("quest"))
}

/// The quests, newest first: active ones, or all of them for `quest.manage`.
pub async fn list(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    include_inactive: bool,
) -> ApiResult<Vec<quest::Model>> {
    let mut query = quest::Entity::find().order_by_desc(quest::Column::Id);
    if include_inactive {
        viewer.require_privilege(privileges::QUEST_MANAGE)?;
    } else {
        query = query.filter(quest::Column::Active.eq(true));
    }
    Ok(query.all(db).await?)
}

/// A player's place on one quest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mine {
    pub quest: quest::Model,
    pub streak: i32,
    pub completions: i32,
    pub unclaimed: i32,
    pub last_day: Option<NaiveDate>,
}

/// The active quests with the player's place on each.
pub async fn mine(db: &impl ConnectionTrait, user: Uuid) -> ApiResult<Vec<Mine>> {
    let quests = quest::Entity::find()
        .filter(quest::Column::Active.eq(true))
        .order_by_desc(quest::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<i32> = quests.iter().map(|q| q.id).collect();
    let progress: HashMap<i32, quest_progress::Model> = quest_progress::Entity::find()
        .filter(quest_progress::Column::UserId.eq(user))
        .filter(quest_progress::Column::QuestId.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.quest_id, p))
        .collect();
    let unclaimed: Vec<i32> = quest_completion::Entity::find()
        .select_only()
        .column(quest_completion::Column::QuestId)
        .filter(quest_completion::Column::UserId.eq(user))
        .filter(quest_completion::Column::ClaimedAt.is_null())
        .filter(quest_completion::Column::QuestId.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(quests
        .into_iter()
        .map(|quest| {
            let p = progress.get(&quest.id);
            Mine {
                streak: p.map_or(0, |p| p.streak),
                completions: p.map_or(0, |p| p.completions),
                last_day: p.and_then(|p| p.last_day),
                unclaimed: unclaimed.iter().filter(|q| **q == quest.id).count() as i32,
                quest,
            }
        })
        .collect())
}

/// A quest as an admin asks for it.
#[derive(Debug, Clone)]
pub struct NewQuest {
    pub name: String,
    pub description: String,
    pub trigger_kind: String,
    pub trigger_game_id: Option<i32>,
    pub trigger_name: Option<String>,
    pub streak: i32,
    pub duplication: i32,
    pub auto_claim: bool,
    pub daily: bool,
    pub reward_currency_id: i32,
    pub reward_amount: i64,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Creates a quest, active; it counts events that happen from now on.
pub async fn create_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    new: NewQuest,
) -> ApiResult<quest::Model> {
    let me = viewer.require_privilege(privileges::QUEST_MANAGE)?;
    let name = crate::catalog::text_field(&new.name, "name", 1, MAX_NAME)?;
    let description =
        crate::catalog::text_field(&new.description, "description", 0, MAX_DESCRIPTION)?;
    if !TRIGGERS.contains(&new.trigger_kind.as_str()) {
        return Err(ApiError::bad_input(
            "triggerType",
            format!("a trigger is one of {}", TRIGGERS.join(", ")),
        ));
    }
    let trigger_name = crate::stats::check_source(new.trigger_name, None)?;
    if !(1..=10_000).contains(&new.streak) || !(1..=10_000).contains(&new.duplication) {
        return Err(ApiError::bad_input(
            "streak",
            "a streak and a duplication limit are 1 to 10,000",
        ));
    }
    if new.starts_at.zip(new.ends_at).is_some_and(|(s, e)| s >= e) {
        return Err(ApiError::bad_input(
            "endsAt",
            "a quest ends after it starts",
        ));
    }
    if let Some(game) = new.trigger_game_id {
        arena_entity::games::game::Entity::find_by_id(game)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("game"))?;
    }
    bank::find_currency(db, new.reward_currency_id).await?;
    if !(1..=bank::MAX_AMOUNT).contains(&new.reward_amount) {
        return Err(ApiError::bad_input(
            "rewardAmount",
            format!("a reward is 1 to {}", bank::MAX_AMOUNT),
        ));
    }
    let taken = quest::Entity::find()
        .filter(quest::Column::Name.eq(&name))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(ApiError::Conflict(format!("a quest is called {name:?}")));
    }
    let now = Utc::now();
    let made = quest::ActiveModel {
        name: Set(name),
        description: Set(description),
        trigger_kind: Set(new.trigger_kind),
        trigger_game_id: Set(new.trigger_game_id),
        trigger_name: Set(trigger_name),
        streak: Set(new.streak),
        duplication: Set(new.duplication),
        auto_claim: Set(new.auto_claim),
        daily: Set(new.daily),
        reward_currency_id: Set(new.reward_currency_id),
        reward_amount: Set(new.reward_amount),
        starts_at: Set(new.starts_at),
        ends_at: Set(new.ends_at),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    crate::audit::configured(
        db,
        me.id,
        "quest.create",
        ("quest", made.id),
        json!({ "name": made.name }),
    )
    .await?;
    Ok(made)
}

/// What an admin may change of a quest once players progress on it: its words, its reward
/// and its window. What decides progress (trigger, streak, duplication, daily, currency) is
/// fixed; a quest that should count differently is a new quest.
#[derive(Debug, Clone, Default)]
pub struct QuestChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub reward_amount: Option<i64>,
    /// `Some(None)` removes the start.
    pub starts_at: Option<Option<DateTime<Utc>>>,
    /// `Some(None)` removes the end.
    pub ends_at: Option<Option<DateTime<Utc>>>,
}

/// Changes a quest's words, reward or window; a completion already paid keeps its amount.
pub async fn update_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    changes: QuestChanges,
) -> ApiResult<quest::Model> {
    let me = viewer.require_privilege(privileges::QUEST_MANAGE)?;
    let current = find(db, id).await?;
    let mut row: quest::ActiveModel = current.clone().into();
    if let Some(name) = &changes.name {
        let name = crate::catalog::text_field(name, "name", 1, MAX_NAME)?;
        let taken = quest::Entity::find()
            .filter(quest::Column::Name.eq(&name))
            .filter(quest::Column::Id.ne(id))
            .one(db)
            .await?;
        if taken.is_some() {
            return Err(ApiError::Conflict(format!("a quest is called {name:?}")));
        }
        row.name = Set(name);
    }
    if let Some(description) = &changes.description {
        row.description = Set(crate::catalog::text_field(
            description,
            "description",
            0,
            MAX_DESCRIPTION,
        )?);
    }
    if let Some(amount) = changes.reward_amount {
        if !(1..=bank::MAX_AMOUNT).contains(&amount) {
            return Err(ApiError::bad_input(
                "rewardAmount",
                format!("a reward is 1 to {}", bank::MAX_AMOUNT),
            ));
        }
        row.reward_amount = Set(amount);
    }
    let starts_at = changes.starts_at.unwrap_or(current.starts_at);
    let ends_at = changes.ends_at.unwrap_or(current.ends_at);
    if starts_at.zip(ends_at).is_some_and(|(s, e)| s >= e) {
        return Err(ApiError::bad_input(
            "endsAt",
            "a quest ends after it starts",
        ));
    }
    row.starts_at = Set(starts_at);
    row.ends_at = Set(ends_at);
    row.updated_at = Set(Utc::now());
    let saved = row.update(db).await?;
    crate::audit::configured(
        db,
        me.id,
        "quest.update",
        ("quest", saved.id),
        json!({
            "name": saved.name,
            "rewardAmount": saved.reward_amount,
            "startsAt": saved.starts_at,
            "endsAt": saved.ends_at,
        }),
    )
    .await?;
    Ok(saved)
}

/// Turns a quest on or off; off, events no longer advance it and players no longer see it.
pub async fn set_active_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    active: bool,
) -> ApiResult<quest::Model> {
    let me = viewer.require_privilege(privileges::QUEST_MANAGE)?;
    let mut row: quest::ActiveModel = find(db, id).await?.into();
    row.active = Set(active);
    row.updated_at = Set(Utc::now());
    let saved = row.update(db).await?;
    let action = if active {
        "quest.activate"
    } else {
        "quest.deactivate"
    };
    crate::audit::configured(
        db,
        me.id,
        action,
        ("quest", saved.id),
        json!({ "name": saved.name }),
    )
    .await?;
    Ok(saved)
}

/// How often a quest was completed: completions, players who completed it, and paid ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Figures {
    pub completions: i64,
    pub players: i64,
    pub claimed: i64,
    /// Players who made any progress.
    pub started: i64,
}

/// Completion figures of `quests`, counted by the database in two statements whatever
/// their number and size.
pub async fn figures(
    db: &impl ConnectionTrait,
    quests: &[i32],
) -> ApiResult<HashMap<i32, Figures>> {
    let mut out: HashMap<i32, Figures> = HashMap::new();
    if quests.is_empty() {
        return Ok(out);
    }
    let ids = crate::db::placeholders(1, quests.len());
    let values = || {
        quests
            .iter()
            .map(|&q| q.into())
            .collect::<Vec<sea_orm::Value>>()
    };
    let completed = format!(
        "SELECT quest_id, COUNT(*) AS completions, COUNT(claimed_at) AS claimed, \
         COUNT(DISTINCT user_id) AS players FROM quest_completions \
         WHERE quest_id IN ({ids}) GROUP BY quest_id"
    );
    for row in db
        .query_all_raw(crate::db::raw(db, &completed, values()))
        .await?
    {
        let f = out.entry(row.try_get("", "quest_id")?).or_default();
        f.completions = row.try_get("", "completions")?;
        f.claimed = row.try_get("", "claimed")?;
        f.players = row.try_get("", "players")?;
    }
    let started = format!(
        "SELECT quest_id, COUNT(*) AS started FROM quest_progress \
         WHERE quest_id IN ({ids}) GROUP BY quest_id"
    );
    for row in db
        .query_all_raw(crate::db::raw(db, &started, values()))
        .await?
    {
        out.entry(row.try_get("", "quest_id")?).or_default().started =
            row.try_get("", "started")?;
    }
    Ok(out)
}
