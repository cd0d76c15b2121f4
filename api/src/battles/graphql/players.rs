//! Player statistics: players, their history, daily activity and top players.
use arena_entity::battles::{daily_diff, daily_total, player};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use crate::battles::{Counter, PlayerFilter, PlayerOrder};
use crate::{
    error::ApiError,
    graphql::{
        app, load,
        loaders::HistoryOf,
        pagination::{KeyConnection, Keyset, MAX_PAGE, OffsetConnection, OffsetWindow},
        viewer,
    },
};

/// A counter of `statistics.all`, or a record kept on the player.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum BattleCounter {
    /// Battles played.
    Battles,
    /// Battles won.
    Wins,
    /// Battles lost.
    Losses,
    /// Damage dealt.
    DamageDealt,
    /// Damage received.
    DamageReceived,
    /// Vehicles destroyed.
    Frags,
    /// Enemies spotted.
    Spotted,
    /// Experience.
    Xp,
    /// Battles survived.
    SurvivedBattles,
    /// Capture points.
    CapturePoints,
    /// Capture points reset.
    DroppedCapturePoints,
    /// Hits.
    Hits,
    /// Shots.
    Shots,
    /// Most damage in one battle (player only).
    MaxDamage,
    /// Most frags in one battle (player only).
    MaxFrags,
    /// Most experience in one battle (player only).
    MaxXp,
    /// Trees cut (player only).
    TreesCut,
}

impl From<BattleCounter> for Counter {
    fn from(counter: BattleCounter) -> Self {
        use BattleCounter as B;
        match counter {
            B::Battles => Counter::Daily("battles"),
            B::Wins => Counter::Daily("wins"),
            B::Losses => Counter::Daily("losses"),
            B::DamageDealt => Counter::Daily("damage_dealt"),
            B::DamageReceived => Counter::Daily("damage_received"),
            B::Frags => Counter::Daily("frags"),
            B::Spotted => Counter::Daily("spotted"),
            B::Xp => Counter::Daily("xp"),
            B::SurvivedBattles => Counter::Daily("survived_battles"),
            B::CapturePoints => Counter::Daily("capture_points"),
            B::DroppedCapturePoints => Counter::Daily("dropped_capture_points"),
            B::Hits => Counter::Daily("hits"),
            B::Shots => Counter::Daily("shots"),
            B::MaxDamage => Counter::Record("max_damage"),
            B::MaxFrags => Counter::Record("max_frags"),
            B::MaxXp => Counter::Record("max_xp"),
            B::TreesCut => Counter::Record("trees_cut"),
        }
    }
}

/// What players are ordered by.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum BattlePlayerSort {
    /// Account id.
    Id,
    /// Wins over battles (players with no battles are left out).
    WinRate,
    /// Battles played.
    Battles,
    /// Battles won.
    Wins,
    /// Damage dealt.
    DamageDealt,
    /// Vehicles destroyed.
    Frags,
    /// Experience.
    Xp,
    /// Most damage in one battle.
    MaxDamage,
    /// Most frags in one battle.
    MaxFrags,
    /// Most experience in one battle.
    MaxXp,
}

impl From<BattlePlayerSort> for PlayerOrder {
    fn from(sort: BattlePlayerSort) -> Self {
        use BattlePlayerSort as S;
        let counter = |c: BattleCounter| PlayerOrder::Counter(c.into());
        match sort {
            S::Id => PlayerOrder::Id,
            S::WinRate => PlayerOrder::WinRate,
            S::Battles => counter(BattleCounter::Battles),
            S::Wins => counter(BattleCounter::Wins),
            S::DamageDealt => counter(BattleCounter::DamageDealt),
            S::Frags => counter(BattleCounter::Frags),
            S::Xp => counter(BattleCounter::Xp),
            S::MaxDamage => counter(BattleCounter::MaxDamage),
            S::MaxFrags => counter(BattleCounter::MaxFrags),
            S::MaxXp => counter(BattleCounter::MaxXp),
        }
    }
}

/// A console platform.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum BattlePlatform {
    /// Xbox.
    Xbox,
    /// PlayStation.
    Ps,
}

impl BattlePlatform {
    fn as_str(self) -> &'static str {
        match self {
            Self::Xbox => "xbox",
            Self::Ps => "ps",
        }
    }

    fn of(raw: &str) -> Self {
        if raw == "ps" { Self::Ps } else { Self::Xbox }
    }
}

/// The `statistics.all` counters.
#[derive(SimpleObject)]
pub struct BattleCounters {
    battles: i64,
    wins: i64,
    losses: i64,
    damage_dealt: i64,
    damage_received: i64,
    frags: i64,
    spotted: i64,
    xp: i64,
    survived_battles: i64,
    capture_points: i64,
    dropped_capture_points: i64,
    hits: i64,
    shots: i64,
}

macro_rules! counters_of {
    ($row:expr) => {
        BattleCounters {
            battles: $row.battles,
            wins: $row.wins,
            losses: $row.losses,
            damage_dealt: $row.damage_dealt,
            damage_received: $row.damage_received,
            frags: $row.frags,
            spotted: $row.spotted,
            xp: $row.xp,
            survived_battles: $row.survived_battles,
            capture_points: $row.capture_points,
            dropped_capture_points: $row.dropped_capture_points,
            hits: $row.hits,
            shots: $row.shots,
        }
    };
}

impl From<&daily_total::Model> for BattleCounters {
    fn from(row: &daily_total::Model) -> Self {
        counters_of!(row)
    }
}

impl From<&daily_diff::Model> for BattleCounters {
    fn from(row: &daily_diff::Model) -> Self {
        counters_of!(row)
    }
}

/// A World of Tanks console player as the crawler last saw them.
pub struct BattlePlayer(player::Model);

#[Object]
impl BattlePlayer {
    /// The WG account id.
    async fn id(&self) -> i64 {
        self.0.id
    }
    /// Platform.
    async fn platform(&self) -> BattlePlatform {
        BattlePlatform::of(&self.0.platform)
    }
    /// Nickname.
    async fn nickname(&self) -> &str {
        &self.0.nickname
    }
    /// When the account was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The player's last battle.
    async fn last_battle_time(&self) -> DateTime<Utc> {
        self.0.last_battle_time
    }
    /// When WG last updated the account.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Counters over all battles.
    async fn statistics(&self) -> BattleCounters {
        counters_of!(self.0)
    }
    /// Wins over battles, or null with no battles.
    async fn win_rate(&self) -> Option<f64> {
        (self.0.battles > 0).then(|| self.0.wins as f64 / self.0.battles as f64)
    }
    /// Most damage in one battle.
    async fn max_damage(&self) -> i64 {
        self.0.max_damage
    }
    /// Most frags in one battle.
    async fn max_frags(&self) -> i64 {
        self.0.max_frags
    }
    /// Most experience in one battle.
    async fn max_xp(&self) -> i64 {
        self.0.max_xp
    }
    /// Trees cut.
    async fn trees_cut(&self) -> i64 {
        self.0.trees_cut
    }
    /// When a crawl first found the account.
    async fn first_seen_at(&self) -> DateTime<Utc> {
        self.0.first_seen_at
    }
    /// When a crawl last wrote it (pulls that found no change write nothing).
    async fn last_pulled_at(&self) -> DateTime<Utc> {
        self.0.last_pulled_at
    }
    /// Days on which the battle count changed, newest first: the totals at the end of the
    /// day and the growth that day. At most 366 days and 100 entries.
    async fn history(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<BattleDay>> {
        let limit = page_size(first)?;
        crate::battles::check_range(from, to)?;
        let key = HistoryOf {
            player_id: self.0.id,
            from,
            to,
            limit,
        };
        let days = load(ctx).load_one(key).await?.unwrap_or_default();
        Ok(days
            .into_iter()
            .map(|day| BattleDay {
                day: day.day,
                total: day.total.as_ref().map(BattleCounters::from),
                diff: day.diff.as_ref().map(BattleCounters::from),
            })
            .collect())
    }
}

fn page_size(first: Option<i32>) -> Result<u64, ApiError> {
    match first {
        Some(n) if n < 0 => Err(ApiError::bad_input("first", "a page size is not negative")),
        Some(n) => Ok(u64::try_from(n).unwrap_or(0).min(MAX_PAGE)),
        None => Ok(MAX_PAGE),
    }
}

/// One day of a player's history.
#[derive(SimpleObject)]
pub struct BattleDay {
    day: NaiveDate,
    /// Counters at the end of the day.
    total: Option<BattleCounters>,
    /// Growth that day (a new player's first is the whole count).
    diff: Option<BattleCounters>,
}

/// Narrows the player list; every field given must match.
#[derive(InputObject, Default)]
pub struct BattlePlayerFilter {
    /// On this platform.
    platform: Option<BattlePlatform>,
    /// Nickname starts with this, whatever the case.
    nickname_prefix: Option<String>,
    /// Last battle at or after.
    active_since: Option<DateTime<Utc>>,
    /// Last battle before.
    active_until: Option<DateTime<Utc>>,
    /// At least this many battles.
    min_battles: Option<i64>,
}

/// Daily activity on one platform.
#[derive(SimpleObject)]
pub struct BattleActivity {
    day: NaiveDate,
    platform: BattlePlatform,
    /// Players whose battle count grew.
    active_players: i64,
    battles: i64,
    wins: i64,
    damage_dealt: i64,
}

/// A player's sum of a counter over a period.
pub struct RankedPlayer {
    rank: u64,
    value: i64,
    player: Option<player::Model>,
    player_id: i64,
}

#[Object]
impl RankedPlayer {
    /// 1 for the top.
    async fn rank(&self) -> u64 {
        self.rank
    }
    /// The sum over the period.
    async fn value(&self) -> i64 {
        self.value
    }
    /// The account id.
    async fn player_id(&self) -> i64 {
        self.player_id
    }
    /// The player.
    async fn player(&self) -> Option<BattlePlayer> {
        self.player.clone().map(BattlePlayer)
    }
}

/// Player statistics: public.
#[derive(Default)]
pub struct PlayersQuery;

#[Object]
impl PlayersQuery {
    /// A player by account id or by nickname (whatever the case). Public.
    async fn battle_player(
        &self,
        ctx: &Context<'_>,
        id: Option<i64>,
        nickname: Option<String>,
    ) -> async_graphql::Result<Option<BattlePlayer>> {
        let db = &app(ctx).db;
        let found = match (id, nickname) {
            (Some(id), None) => crate::battles::player_by_id(db, id).await?,
            (None, Some(nickname)) => crate::battles::player_by_nickname(db, &nickname).await?,
            _ => {
                return Err(ApiError::bad_input("id", "give id or nickname, one of them").into());
            }
        };
        Ok(found.map(BattlePlayer))
    }

    /// Players, filtered and ordered (descending unless `ascending`). Public.
    #[allow(clippy::too_many_arguments)]
    async fn battle_players(
        &self,
        ctx: &Context<'_>,
        filter: Option<BattlePlayerFilter>,
        #[graphql(default_with = "BattlePlayerSort::Id")] order_by: BattlePlayerSort,
        #[graphql(default)] ascending: bool,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<KeyConnection<BattlePlayer>> {
        let filter = filter.unwrap_or_default();
        if let Some(prefix) = &filter.nickname_prefix
            && prefix.chars().count() > 64
        {
            return Err(ApiError::bad_input("nicknamePrefix", "at most 64 characters").into());
        }
        let filter = PlayerFilter {
            platform: filter.platform.map(|p| p.as_str().to_owned()),
            nickname_prefix: filter.nickname_prefix,
            active_since: filter.active_since,
            active_until: filter.active_until,
            min_battles: filter.min_battles,
        };
        let order: PlayerOrder = order_by.into();
        let keyset = Keyset::parse(after, before, first, last)?;
        let (rows, total, keyset) =
            crate::battles::players(&app(ctx).db, &filter, order, !ascending, keyset).await?;
        Ok(keyset.page(
            rows,
            total,
            |row| crate::battles::player_cursor(row, order),
            BattlePlayer,
        ))
    }

    /// Active players, battles, wins and damage per day and platform over `from..=to`
    /// (at most 366 days), oldest first. Public; costs one per day of the range, and
    /// anonymous callers are rate limited per address.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::battles::range_cost(from, to) + child_complexity")]
    async fn battle_daily_activity(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
        platform: Option<BattlePlatform>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<OffsetConnection<BattleActivity>> {
        crate::battles::limit_anonymous_analytics(app(ctx), viewer(ctx))?;
        let rows = crate::battles::daily_activity(
            &app(ctx).db,
            from,
            to,
            platform.map(BattlePlatform::as_str),
        )
        .await?;
        let window = OffsetWindow::parse(after, before, first, last, rows.len() as u64)?;
        let page: Vec<crate::battles::Activity> = rows
            .into_iter()
            .skip(usize::try_from(window.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(window.limit).unwrap_or(0))
            .collect();
        Ok(window.page(page, |row| BattleActivity {
            day: row.day,
            platform: BattlePlatform::of(&row.platform),
            active_players: row.active_players,
            battles: row.battles,
            wins: row.wins,
            damage_dealt: row.damage_dealt,
        }))
    }

    /// The players with the highest sum of a daily counter over `from..=to` (at most 366
    /// days). Public; costs one per day of the range, and anonymous callers are rate
    /// limited per address.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::battles::range_cost(from, to) + child_complexity")]
    async fn battle_top_players(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
        counter: BattleCounter,
        platform: Option<BattlePlatform>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<OffsetConnection<RankedPlayer>> {
        crate::battles::limit_anonymous_analytics(app(ctx), viewer(ctx))?;
        let (rows, window) = crate::battles::top_players(
            &app(ctx).db,
            from,
            to,
            counter.into(),
            platform.map(BattlePlatform::as_str),
            |total| OffsetWindow::parse(after, before, first, last, total),
        )
        .await?;
        let offset = window.offset;
        let rows: Vec<_> = rows
            .into_iter()
            .zip(offset + 1..)
            .map(|((ranked, player), rank)| RankedPlayer {
                rank,
                value: ranked.value,
                player,
                player_id: ranked.player_id,
            })
            .collect();
        Ok(window.page(rows, |row| row))
    }
}
