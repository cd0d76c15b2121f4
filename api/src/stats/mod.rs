//! Player statistics (seed 003): named integers per game and player, changed by the events
//! the processor applies. Each game's events go through one Rust handler chosen by name
//! (`games.stats_handler`: the default win/loss handler, a game's own such as the
//! rock-paper-scissors weapon counts, or one an embedding registers), then through the
//! rules admins configure without a release.

pub mod graphql;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, RwLock},
};

use arena_entity::{
    events::{
        game_event,
        player_stat::{self, Entity as PlayerStats},
        stat_rule::{self, Op, Subject},
    },
    games::game,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use crate::{
    auth::{privileges, viewer::Viewer},
    error::{ApiError, ApiResult},
};

/// The handler every game starts with.
pub const DEFAULT_HANDLER: &str = "default";
/// The rock-paper-scissors handler: weapon selections, then wins and losses.
pub const RPS_HANDLER: &str = "rps";
/// Longest statistic name.
pub const MAX_STAT: usize = 64;
/// Most rules one game has.
pub const MAX_RULES: usize = 100;

/// One change a handler asks of a player's statistic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatOp {
    pub user: Uuid,
    pub stat: String,
    pub op: Op,
    pub value: i64,
}

impl StatOp {
    /// Adds `value` to `user`'s `stat`.
    pub fn add(user: Uuid, stat: &str, value: i64) -> Self {
        Self {
            user,
            stat: stat.to_owned(),
            op: Op::Add,
            value,
        }
    }
}

/// Turns one stored event into statistics changes. A handler sees each event once per
/// attempt to apply it and must not reach outside: the changes it returns are written in
/// the transaction that marks the event processed. `Err` refuses the event with its reason.
pub trait StatsHandler: Send + Sync {
    /// The changes `event` makes, pushed onto `out`.
    fn handle(&self, event: &game_event::Model, out: &mut Vec<StatOp>) -> Result<(), String>;
}

/// Games, wins and losses from `game_over`.
pub struct WinLoss;

impl StatsHandler for WinLoss {
    fn handle(&self, event: &game_event::Model, out: &mut Vec<StatOp>) -> Result<(), String> {
        if event.kind != "game_over" {
            return Ok(());
        }
        let (Some(winner), Some(loser)) = (event.winner_id, event.loser_id) else {
            return Err("`game_over` names a winner and a loser".into());
        };
        out.extend([
            StatOp::add(winner, "games", 1),
            StatOp::add(winner, "wins", 1),
            StatOp::add(loser, "games", 1),
            StatOp::add(loser, "losses", 1),
        ]);
        Ok(())
    }
}

/// Rock-paper-scissors: each `select_weapon` gameplay event counts the weapon its data
/// names (0 rock, 1 paper, 2 scissors, null a botched turn); everything else as [`WinLoss`].
pub struct RpsWeapons;

impl StatsHandler for RpsWeapons {
    fn handle(&self, event: &game_event::Model, out: &mut Vec<StatOp>) -> Result<(), String> {
        if event.kind != "gameplay" || event.name.as_deref() != Some("select_weapon") {
            return WinLoss.handle(event, out);
        }
        let user = event
            .user_id
            .ok_or("`select_weapon` names its player (`userId`)")?;
        let selection = match event.data.as_ref().unwrap_or(&serde_json::Value::Null) {
            serde_json::Value::Null => "botch",
            // The seed's servers send the digit as a string; a number means the same.
            value => match (value.as_str(), value.as_i64()) {
                (Some("0"), _) | (_, Some(0)) => "rock",
                (Some("1"), _) | (_, Some(1)) => "paper",
                (Some("2"), _) | (_, Some(2)) => "scissors",
                _ => {
                    return Err(format!(
                        "`select_weapon` data is 0, 1, 2 or null, not {value}"
                    ));
                }
            },
        };
        out.push(StatOp::add(
            user,
            &format!("{selection}_selection_count"),
            1,
        ));
        Ok(())
    }
}

/// The Rust handlers by name. Arena registers its own; an embedding registers more before or
/// after start, and admins pick one per game with `setStatsHandler`.
pub struct Handlers(RwLock<BTreeMap<String, Arc<dyn StatsHandler>>>);

impl Default for Handlers {
    fn default() -> Self {
        let handlers = Self(RwLock::default());
        handlers.register(DEFAULT_HANDLER, Arc::new(WinLoss));
        handlers.register(RPS_HANDLER, Arc::new(RpsWeapons));
        handlers
    }
}

impl Handlers {
    /// Adds or replaces the handler called `name`.
    pub fn register(&self, name: &str, handler: Arc<dyn StatsHandler>) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_owned(), handler);
    }

    /// The handler called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn StatsHandler>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Every name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }
}

/// What a rule does to `event`, pushed onto `out`; nothing when it does not match.
pub fn apply_rule(
    rule: &stat_rule::Model,
    event: &game_event::Model,
    out: &mut Vec<StatOp>,
) -> Result<(), String> {
    if rule.event_kind != event.kind
        || rule
            .event_name
            .as_ref()
            .is_some_and(|name| event.name.as_ref() != Some(name))
    {
        return Ok(());
    }
    let user = match rule.subject {
        Subject::User => event.user_id,
        Subject::Winner => event.winner_id,
        Subject::Loser => event.loser_id,
    }
    .ok_or_else(|| {
        format!(
            "rule {} reads the event's {}, which it does not name",
            rule.id,
            subject_name(rule.subject)
        )
    })?;
    let value = match &rule.field {
        None => 1,
        Some(pointer) => event
            .data
            .as_ref()
            .and_then(|data| data.pointer(pointer))
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| {
                format!(
                    "rule {} reads data{pointer}, which is not an integer",
                    rule.id
                )
            })?,
    };
    out.push(StatOp {
        user,
        stat: rule.stat.clone(),
        op: rule.op,
        value,
    });
    Ok(())
}

fn subject_name(subject: Subject) -> &'static str {
    match subject {
        Subject::User => "player (`userId`)",
        Subject::Winner => "winner",
        Subject::Loser => "loser",
    }
}

/// `current` after `op` with `value`; `None` is a statistic not recorded yet. Sums stop at
/// the bounds of a 64-bit integer rather than wrap.
pub fn fold(current: Option<i64>, op: Op, value: i64) -> i64 {
    match (op, current) {
        (Op::Add, current) => current.unwrap_or(0).saturating_add(value),
        (Op::Set, _) | (Op::Max | Op::Min, None) => value,
        (Op::Max, Some(current)) => current.max(value),
        (Op::Min, Some(current)) => current.min(value),
    }
}

/// A statistic's key.
pub type StatKey = (i32, Uuid, String);

/// How one batch changes one statistic.
enum Change {
    /// Sums of one sign: written as the stored value plus their total, with no read, and
    /// saturating like the steps would.
    Delta(i64),
    /// Anything else (a set, a max or min, sums of both signs): the stored value is read,
    /// the ops applied in order, and the result written whole.
    Steps(Vec<(Op, i64)>),
}

impl Change {
    fn of(steps: Vec<(Op, i64)>) -> Self {
        let sums = steps.iter().all(|(op, _)| *op == Op::Add);
        let one_sign = steps.iter().all(|(_, v)| *v >= 0) || steps.iter().all(|(_, v)| *v <= 0);
        let total = steps
            .iter()
            .try_fold(0i64, |total, (_, v)| total.checked_add(*v));
        match total {
            Some(total) if sums && one_sign => Self::Delta(total),
            _ => Self::Steps(steps),
        }
    }
}

/// `player_stats.value + excluded.value`, stopping at the bounds of a 64-bit integer; the
/// nested cases keep the bound checks themselves from overflowing.
const SATURATING_SUM: &str = "CASE WHEN excluded.value >= 0 THEN \
    CASE WHEN player_stats.value > 9223372036854775807 - excluded.value THEN 9223372036854775807 \
    ELSE player_stats.value + excluded.value END \
    ELSE CASE WHEN player_stats.value < -9223372036854775807 - 1 - excluded.value \
    THEN -9223372036854775807 - 1 ELSE player_stats.value + excluded.value END END";

/// Applies `ops` in order and writes each statistic they touch once: sums as deltas
/// (no read), the rest read and written whole. The body of a batch; returns the
/// statistics written.
pub async fn write_in(
    db: &impl ConnectionTrait,
    ops: &[(i32, StatOp)],
    now: DateTime<Utc>,
) -> ApiResult<HashSet<StatKey>> {
    let mut steps: HashMap<StatKey, Vec<(Op, i64)>> = HashMap::new();
    for (game, op) in ops {
        steps
            .entry((*game, op.user, op.stat.clone()))
            .or_default()
            .push((op.op, op.value));
    }
    let written: HashSet<StatKey> = steps.keys().cloned().collect();
    let mut deltas: Vec<(StatKey, i64)> = Vec::new();
    let mut folded: HashMap<StatKey, Vec<(Op, i64)>> = HashMap::new();
    for (key, steps) in steps {
        match Change::of(steps) {
            Change::Delta(total) => deltas.push((key, total)),
            Change::Steps(steps) => {
                folded.insert(key, steps);
            }
        }
    }
    let games: Vec<i32> = unique(folded.keys().map(|(game, _, _)| *game));
    let users: Vec<Uuid> = unique(folded.keys().map(|(_, user, _)| *user));
    let mut values: HashMap<StatKey, i64> = HashMap::new();
    for chunk in users.chunks(1_000) {
        let rows = PlayerStats::find()
            .filter(player_stat::Column::GameId.is_in(games.clone()))
            .filter(crate::db::one_of(
                db,
                player_stat::Column::UserId,
                chunk.to_vec(),
            ))
            .all(db)
            .await?;
        values.extend(
            rows.into_iter()
                .map(|row| ((row.game_id, row.user_id, row.stat), row.value)),
        );
    }
    let mut whole: Vec<(StatKey, i64)> = folded
        .into_iter()
        .map(|(key, steps)| {
            let value = steps
                .into_iter()
                .fold(values.get(&key).copied(), |current, (op, value)| {
                    Some(fold(current, op, value))
                })
                .unwrap_or_default();
            (key, value)
        })
        .collect();
    // In key order, so two writers never wait on each other crosswise.
    whole.sort();
    deltas.sort();
    upsert_in(db, &whole, "excluded.value", now).await?;
    upsert_in(db, &deltas, SATURATING_SUM, now).await?;
    Ok(written)
}

/// Inserts `rows`, or sets an existing row's value to `value` (SQL over the stored row and
/// `excluded`).
async fn upsert_in(
    db: &impl ConnectionTrait,
    rows: &[(StatKey, i64)],
    value: &'static str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if db.get_database_backend() == DbBackend::Postgres {
        crate::db::upsert_columns(
            db,
            "player_stats",
            vec![
                (
                    "game_id",
                    "int",
                    rows.iter()
                        .map(|((g, _, _), _)| *g)
                        .collect::<Vec<_>>()
                        .into(),
                ),
                (
                    "user_id",
                    "uuid",
                    rows.iter()
                        .map(|((_, u, _), _)| *u)
                        .collect::<Vec<_>>()
                        .into(),
                ),
                (
                    "stat",
                    "text",
                    rows.iter()
                        .map(|((_, _, s), _)| s.clone())
                        .collect::<Vec<_>>()
                        .into(),
                ),
                (
                    "value",
                    "bigint",
                    rows.iter().map(|(_, v)| *v).collect::<Vec<_>>().into(),
                ),
                ("updated_at", "timestamptz", vec![now; rows.len()].into()),
            ],
            "game_id, user_id, stat",
            &format!("value = {value}, updated_at = excluded.updated_at"),
        )
        .await?;
        return Ok(());
    }
    for chunk in rows.chunks(5_000) {
        PlayerStats::insert_many(chunk.iter().map(|((game, user, stat), value)| {
            player_stat::ActiveModel {
                game_id: Set(*game),
                user_id: Set(*user),
                stat: Set(stat.clone()),
                value: Set(*value),
                updated_at: Set(now),
            }
        }))
        .on_conflict(
            OnConflict::columns([
                player_stat::Column::GameId,
                player_stat::Column::UserId,
                player_stat::Column::Stat,
            ])
            .value(player_stat::Column::Value, Expr::cust(value))
            .update_column(player_stat::Column::UpdatedAt)
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

fn unique<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort();
    items.dedup();
    items
}

/// A player's statistics in a game, by name.
pub async fn of_player(
    db: &impl ConnectionTrait,
    game: i32,
    user: Uuid,
) -> ApiResult<Vec<player_stat::Model>> {
    Ok(PlayerStats::find()
        .filter(player_stat::Column::GameId.eq(game))
        .filter(player_stat::Column::UserId.eq(user))
        .order_by_asc(player_stat::Column::Stat)
        .all(db)
        .await?)
}

/// A game's rules, oldest first.
pub async fn rules_of(db: &impl ConnectionTrait, game: i32) -> ApiResult<Vec<stat_rule::Model>> {
    Ok(stat_rule::Entity::find()
        .filter(stat_rule::Column::GameId.eq(game))
        .order_by_asc(stat_rule::Column::Id)
        .all(db)
        .await?)
}

/// A rule as an admin asks for it.
#[derive(Debug, Clone)]
pub struct NewRule {
    pub game_id: i32,
    pub event_kind: crate::events::Kind,
    pub event_name: Option<String>,
    pub subject: Subject,
    pub field: Option<String>,
    pub stat: String,
    pub op: Op,
}

/// Adds a rule to a game: it applies to events processed from now on.
pub async fn create_rule(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    new: NewRule,
) -> ApiResult<stat_rule::Model> {
    let me = viewer.require_privilege(privileges::EVENT_MANAGE)?;
    let game = game::Entity::find_by_id(new.game_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("game"))?;
    check_stat(&new.stat)?;
    let name = check_source(new.event_name, new.field.as_deref())?;
    if rules_of(db, game.id).await?.len() >= MAX_RULES {
        return Err(ApiError::bad_input(
            "gameId",
            format!("a game has at most {MAX_RULES} rules"),
        ));
    }
    let rule = stat_rule::ActiveModel {
        game_id: Set(game.id),
        event_kind: Set(new.event_kind.as_str().to_owned()),
        event_name: Set(name),
        subject: Set(new.subject),
        field: Set(new.field),
        stat: Set(new.stat),
        op: Set(new.op),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    audited(db, me.id, "stat_rule.create", rule.game_id, rule.id).await?;
    Ok(rule)
}

/// Records a change to a game's statistics set-up in the audit log.
async fn audited(
    db: &impl ConnectionTrait,
    actor: Uuid,
    action: &'static str,
    game: i32,
    detail: impl serde::Serialize,
) -> ApiResult<()> {
    let details = serde_json::json!({ "value": detail });
    crate::audit::configured(db, actor, action, ("game", game), details).await
}

/// Removes a rule; events processed from now on no longer go through it.
pub async fn remove_rule(db: &impl ConnectionTrait, viewer: &Viewer, id: i32) -> ApiResult<()> {
    let me = viewer.require_privilege(privileges::EVENT_MANAGE)?;
    let rule = stat_rule::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("stat rule"))?;
    stat_rule::Entity::delete_by_id(id).exec(db).await?;
    audited(db, me.id, "stat_rule.remove", rule.game_id, rule.id).await
}

/// Chooses the Rust handler a game's events go through, by a name [`Handlers`] knows.
pub async fn set_handler(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    handlers: &Handlers,
    game: i32,
    name: &str,
) -> ApiResult<game::Model> {
    let me = viewer.require_privilege(privileges::EVENT_MANAGE)?;
    if handlers.get(name).is_none() {
        return Err(ApiError::bad_input(
            "handler",
            format!("the handlers are {}", handlers.names().join(", ")),
        ));
    }
    let row = game::Entity::find_by_id(game)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("game"))?;
    let mut active: game::ActiveModel = row.into();
    active.stats_handler = Set(name.to_owned());
    let saved = active.update(db).await?;
    audited(db, me.id, "game.stats_handler", game, name).await?;
    Ok(saved)
}

/// What a rule or a board reads of an event: its name (trimmed; none when empty) and a JSON
/// pointer into its data. The name, or a refusal naming the input at fault.
pub fn check_source(event_name: Option<String>, field: Option<&str>) -> ApiResult<Option<String>> {
    let name = event_name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if name
        .as_ref()
        .is_some_and(|n| n.len() > crate::events::MAX_NAME)
    {
        return Err(ApiError::bad_input(
            "eventName",
            format!("a name is at most {} bytes", crate::events::MAX_NAME),
        ));
    }
    if field.is_some_and(|f| !f.starts_with('/') || f.len() > 128) {
        return Err(ApiError::bad_input(
            "field",
            "a field is a JSON pointer into the event's data, such as /score (at most 128 bytes)",
        ));
    }
    Ok(name)
}

/// Refuses a statistic name that is empty, too long or padded.
pub fn check_stat(stat: &str) -> ApiResult<()> {
    if stat.is_empty() || stat.len() > MAX_STAT || stat.trim() != stat {
        return Err(ApiError::bad_input(
            "stat",
            format!("a statistic's name is 1 to {MAX_STAT} bytes without surrounding spaces"),
        ));
    }
    Ok(())
}
