//! The rank index: answers top, rank and neighbours without counting rows. With Redis, a
//! sorted set per board and season (the member encodes the tie-break: earlier achievement,
//! then lower player id) and a hash from player to member; without, an ordered set in the
//! process. The database stays the truth: the index is written with absolute scores after
//! each commit, each write carries the record's `updated_at` and an older one never
//! replaces a newer, so a replay or a late rebuild cannot skew a rank. A board's index is
//! built from the database when it is missing (a flushed Redis, a restart), and records
//! changed in the last minutes are written again every minute, covering an instance that
//! died between its commit and its index write.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Mutex,
};

use arena_entity::events::{leaderboard, leaderboard_record};
use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::Entry;
use crate::{
    error::{ApiError, ApiResult},
    redis_conn::Redis,
};

/// A record as the index holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Indexed {
    pub user: Uuid,
    pub score: i64,
    pub achieved_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&leaderboard_record::Model> for Indexed {
    fn from(r: &leaderboard_record::Model) -> Self {
        Self {
            user: r.user_id,
            score: r.score,
            achieved_at: r.achieved_at,
            updated_at: r.updated_at,
        }
    }
}

/// Where the index lives.
pub enum RankIndex {
    Redis(Redis),
    Local(Mutex<HashMap<(i32, i32), LocalBoard>>),
}

/// A record's place in rank order: ascending is best first.
type SortKey = (i64, i64, Uuid);

/// A player's record in the process: its place, its version and its score.
struct Placed {
    key: SortKey,
    version: i64,
    score: i64,
}

/// One board season in the process: the order, and each player's place in it.
#[derive(Default)]
pub struct LocalBoard {
    built: bool,
    order: BTreeSet<SortKey>,
    by_user: HashMap<Uuid, Placed>,
}

/// Rank order as one key.
fn sort_key(board: &leaderboard::Model, r: &Indexed) -> SortKey {
    let score = if board.descending {
        r.score.checked_neg().unwrap_or(i64::MAX)
    } else {
        r.score
    };
    (score, r.achieved_at.timestamp_micros(), r.user)
}

/// The sorted-set member of a record: its tie-break, so Redis's order of equal scores
/// (by member, reversed for a higher-first board) is Arena's.
fn member(board: &leaderboard::Model, r: &Indexed) -> String {
    let at = r.achieved_at.timestamp_micros() as u64;
    let user = r.user.as_u128();
    if board.descending {
        format!("{:016x}{:032x}", u64::MAX - at, u128::MAX - user)
    } else {
        format!("{at:016x}{user:032x}")
    }
}

/// The player and achievement time a member encodes.
fn decode(board: &leaderboard::Model, member: &str) -> Option<(Uuid, DateTime<Utc>)> {
    let at = u64::from_str_radix(member.get(..16)?, 16).ok()?;
    let user = u128::from_str_radix(member.get(16..48)?, 16).ok()?;
    let (at, user) = if board.descending {
        (u64::MAX - at, u128::MAX - user)
    } else {
        (at, user)
    };
    Some((
        Uuid::from_u128(user),
        Utc.timestamp_micros(i64::try_from(at).ok()?).single()?,
    ))
}

/// Writes records unless the index holds a newer version of them.
const APPLY: &str = r"
for i = 1, #ARGV, 4 do
  local user, member, score, version = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local old = redis.call('HGET', KEYS[2], user)
  local newer = true
  if old then
    local sep = string.find(old, '|', 1, true)
    if tonumber(string.sub(old, sep + 1)) > version then
      newer = false
    else
      redis.call('ZREM', KEYS[1], string.sub(old, 1, sep - 1))
    end
  end
  if newer then
    redis.call('ZADD', KEYS[1], score, member)
    redis.call('HSET', KEYS[2], user, member .. '|' .. version)
  end
end
return 1
";

/// A player's rank (from 0, in the board's order), score and member; nil without a record.
const RANK: &str = r"
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return false end
local member = string.sub(old, 1, string.find(old, '|', 1, true) - 1)
local rank
if ARGV[2] == '1' then rank = redis.call('ZREVRANK', KEYS[1], member)
else rank = redis.call('ZRANK', KEYS[1], member) end
return {rank, redis.call('ZSCORE', KEYS[1], member), member}
";

/// Rows a rebuild reads at a time.
const REBUILD_CHUNK: u64 = 10_000;

impl RankIndex {
    /// Redis's when configured, the process's otherwise.
    pub fn new(redis: Option<&Redis>) -> Self {
        match redis {
            Some(redis) => Self::Redis(redis.clone()),
            None => Self::Local(Mutex::default()),
        }
    }

    fn keys(redis: &Redis, board: i32, season: i32) -> [String; 3] {
        [
            redis.key(&format!("lb:{board}:{season}")),
            redis.key(&format!("lbm:{board}:{season}")),
            redis.key(&format!("lbok:{board}:{season}")),
        ]
    }

    /// Writes `rows` of a board's season (absolute, versioned).
    pub async fn apply(
        &self,
        board: &leaderboard::Model,
        season: i32,
        rows: &[Indexed],
    ) -> ApiResult<()> {
        match self {
            Self::Redis(redis) => {
                let [set, hash, _] = Self::keys(redis, board.id, season);
                let mut conn = redis.conn();
                for chunk in rows.chunks(2_000) {
                    let mut call = redis::cmd("EVAL");
                    call.arg(APPLY).arg(2).arg(&set).arg(&hash);
                    for r in chunk {
                        call.arg(r.user.to_string())
                            .arg(member(board, r))
                            .arg(r.score)
                            .arg(r.updated_at.timestamp_micros());
                    }
                    call.query_async::<()>(&mut conn).await?;
                }
            }
            Self::Local(boards) => {
                let mut boards = boards
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let local = boards.entry((board.id, season)).or_default();
                for r in rows {
                    let key = sort_key(board, r);
                    let version = r.updated_at.timestamp_micros();
                    if let Some(old) = local.by_user.get(&r.user) {
                        if old.version > version {
                            continue;
                        }
                        local.order.remove(&old.key);
                    }
                    local.order.insert(key);
                    local.by_user.insert(
                        r.user,
                        Placed {
                            key,
                            version,
                            score: r.score,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// Builds a board's season from the database unless it is built.
    async fn ensure(
        &self,
        db: &impl ConnectionTrait,
        board: &leaderboard::Model,
        season: i32,
    ) -> ApiResult<()> {
        let built = match self {
            Self::Redis(redis) => {
                let [_, _, ok] = Self::keys(redis, board.id, season);
                let mut conn = redis.conn();
                redis::cmd("EXISTS")
                    .arg(&ok)
                    .query_async::<bool>(&mut conn)
                    .await?
            }
            Self::Local(boards) => boards
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&(board.id, season))
                .is_some_and(|b| b.built),
        };
        if built {
            return Ok(());
        }
        let mut after = Uuid::nil();
        loop {
            let rows = leaderboard_record::Entity::find()
                .filter(leaderboard_record::Column::LeaderboardId.eq(board.id))
                .filter(leaderboard_record::Column::Season.eq(season))
                .filter(leaderboard_record::Column::UserId.gt(after))
                .order_by_asc(leaderboard_record::Column::UserId)
                .limit(REBUILD_CHUNK)
                .all(db)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.user_id;
            let indexed: Vec<Indexed> = rows.iter().map(Into::into).collect();
            self.apply(board, season, &indexed).await?;
            if (rows.len() as u64) < REBUILD_CHUNK {
                break;
            }
        }
        match self {
            Self::Redis(redis) => {
                let [_, _, ok] = Self::keys(redis, board.id, season);
                let mut conn = redis.conn();
                redis::cmd("SET")
                    .arg(&ok)
                    .arg(1)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
            Self::Local(boards) => {
                boards
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry((board.id, season))
                    .or_default()
                    .built = true;
            }
        }
        Ok(())
    }

    /// The entries from rank `offset + 1`, at most `count`.
    pub async fn range(
        &self,
        db: &impl ConnectionTrait,
        board: &leaderboard::Model,
        season: i32,
        offset: u64,
        count: u64,
    ) -> ApiResult<Vec<Entry>> {
        self.ensure(db, board, season).await?;
        if count == 0 {
            return Ok(Vec::new());
        }
        match self {
            Self::Redis(redis) => {
                let [set, _, _] = Self::keys(redis, board.id, season);
                let mut conn = redis.conn();
                let command = if board.descending {
                    "ZREVRANGE"
                } else {
                    "ZRANGE"
                };
                let rows: Vec<(String, f64)> = redis::cmd(command)
                    .arg(&set)
                    .arg(offset)
                    .arg(offset + count - 1)
                    .arg("WITHSCORES")
                    .query_async(&mut conn)
                    .await?;
                rows.into_iter()
                    .zip(offset + 1..)
                    .map(|((member, score), rank)| {
                        let (user, at) = decode(board, &member).ok_or_else(|| {
                            ApiError::Internal(anyhow::anyhow!("a bad rank member"))
                        })?;
                        Ok(Entry {
                            rank,
                            user_id: user,
                            score: score as i64,
                            achieved_at: at,
                        })
                    })
                    .collect()
            }
            Self::Local(boards) => {
                let boards = boards
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let Some(local) = boards.get(&(board.id, season)) else {
                    return Ok(Vec::new());
                };
                Ok(local
                    .order
                    .iter()
                    .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                    .take(usize::try_from(count).unwrap_or(usize::MAX))
                    .zip(offset + 1..)
                    .map(|(key, rank)| {
                        let score = local.by_user.get(&key.2).map_or(0, |p| p.score);
                        Entry {
                            rank,
                            user_id: key.2,
                            score,
                            achieved_at: Utc.timestamp_micros(key.1).single().unwrap_or_default(),
                        }
                    })
                    .collect())
            }
        }
    }

    /// A player's place; `None` without a record.
    pub async fn rank(
        &self,
        db: &impl ConnectionTrait,
        board: &leaderboard::Model,
        season: i32,
        user: Uuid,
    ) -> ApiResult<Option<Entry>> {
        self.ensure(db, board, season).await?;
        match self {
            Self::Redis(redis) => {
                let [set, hash, _] = Self::keys(redis, board.id, season);
                let mut conn = redis.conn();
                let found: Option<(u64, f64, String)> = redis::cmd("EVAL")
                    .arg(RANK)
                    .arg(2)
                    .arg(&set)
                    .arg(&hash)
                    .arg(user.to_string())
                    .arg(if board.descending { "1" } else { "0" })
                    .query_async(&mut conn)
                    .await?;
                Ok(match found {
                    Some((rank, score, member)) => {
                        let (_, at) = decode(board, &member).ok_or_else(|| {
                            ApiError::Internal(anyhow::anyhow!("a bad rank member"))
                        })?;
                        Some(Entry {
                            rank: rank + 1,
                            user_id: user,
                            score: score as i64,
                            achieved_at: at,
                        })
                    }
                    None => None,
                })
            }
            Self::Local(boards) => {
                let boards = boards
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let Some(local) = boards.get(&(board.id, season)) else {
                    return Ok(None);
                };
                Ok(local.by_user.get(&user).map(|placed| Entry {
                    rank: local.order.range(..placed.key).count() as u64 + 1,
                    user_id: user,
                    score: placed.score,
                    achieved_at: Utc
                        .timestamp_micros(placed.key.1)
                        .single()
                        .unwrap_or_default(),
                }))
            }
        }
    }

    /// Drops what the index holds of a board's season, so the next read rebuilds it.
    pub async fn forget(&self, board: i32, season: i32) -> ApiResult<()> {
        match self {
            Self::Redis(redis) => {
                let mut conn = redis.conn();
                redis::cmd("DEL")
                    .arg(&Self::keys(redis, board, season))
                    .query_async::<()>(&mut conn)
                    .await?;
            }
            Self::Local(boards) => {
                boards
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&(board, season));
            }
        }
        Ok(())
    }
}
