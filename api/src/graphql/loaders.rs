//! The DataLoaders: every nested field that reads the database asks here, and the keys of one
//! round of resolution become one statement per kind. A new domain adds a key type and an
//! `impl Loader<Key> for Db` that calls its service's batch function (`find_*_of`).

use std::{
    collections::{HashMap, HashSet},
    hash::Hash,
    time::Duration,
};

use arena_entity::{
    assets::{asset, job as asset_job, object_asset},
    auth::user,
    bank::{currency as bank_currency, transaction as bank_transaction},
    battles::{crawl_sample, crawl_worker},
    catalog::{
        content as catalog_content, relation as catalog_relation, report as catalog_report,
        revision as catalog_revision, vote as catalog_vote,
    },
    characters::{
        character as characters_character, property as characters_property,
        worn_item as characters_worn,
    },
    games::{game, game_support},
    servers::{game_server, provisioning_host},
    store::{
        object_price as store_price, ownership as store_ownership, trade_event as store_trade_event,
    },
};
use async_graphql::dataloader::{DataLoader, Loader};
use chrono::NaiveDate;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{
    assets, auth, bank, battles, catalog, characters, error::ApiError, games, players,
    servers::registry, store,
};

/// The loader every resolver shares: `ctx.data_unchecked::<Loaders>()`.
pub type Loaders = DataLoader<Db>;

/// Builds the shared loader. It caches nothing: each load reads the database, so no request
/// sees another's stale rows; it gathers the keys resolvers ask for within `delay`.
pub fn loaders(db: DatabaseConnection, delay: Duration) -> Loaders {
    DataLoader::new(Db(db), tokio::spawn).delay(delay)
}

/// Loads through the database pool.
pub struct Db(DatabaseConnection);

type Loaded<K, V> = Result<HashMap<K, V>, async_graphql::Error>;

fn failed(err: impl Into<ApiError>) -> async_graphql::Error {
    err.into().into()
}

/// The distinct keys, unwrapped.
fn unique<K: Copy + Eq + Hash, T>(keys: &[K], inner: impl Fn(K) -> T) -> Vec<T> {
    keys.iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .map(inner)
        .collect()
}

/// A live account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserById(pub Uuid);

impl Loader<UserById> for Db {
    type Value = user::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[UserById]) -> Loaded<UserById, user::Model> {
        let ids = unique(keys, |k| k.0);
        let found = auth::find_users(&self.0, &ids).await.map_err(failed)?;
        Ok(found.into_iter().map(|(id, u)| (UserById(id), u)).collect())
    }
}

/// The roles assigned to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RolesOf(pub Uuid);

impl Loader<RolesOf> for Db {
    type Value = Vec<String>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[RolesOf]) -> Loaded<RolesOf, Vec<String>> {
        let ids = unique(keys, |k| k.0);
        let found = auth::roles::roles_of(&self.0, &ids).await.map_err(failed)?;
        Ok(found.into_iter().map(|(id, r)| (RolesOf(id), r)).collect())
    }
}

/// An account's effective privileges, sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrivilegesOf(pub Uuid);

impl Loader<PrivilegesOf> for Db {
    type Value = Vec<String>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PrivilegesOf]) -> Loaded<PrivilegesOf, Vec<String>> {
        let ids = unique(keys, |k| k.0);
        let found = auth::viewer::effective_privileges_of(&self.0, &ids)
            .await
            .map_err(failed)?;
        Ok(found
            .into_iter()
            .map(|(id, held)| (PrivilegesOf(id), held.into_iter().collect()))
            .collect())
    }
}

/// Whether an account signs in with a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TwoFactorOf(pub Uuid);

impl Loader<TwoFactorOf> for Db {
    type Value = bool;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[TwoFactorOf]) -> Loaded<TwoFactorOf, bool> {
        let ids = unique(keys, |k| k.0);
        let enabled = auth::totp::two_factor_of(&self.0, &ids)
            .await
            .map_err(failed)?;
        Ok(ids
            .into_iter()
            .map(|id| (TwoFactorOf(id), enabled.contains(&id)))
            .collect())
    }
}

/// The privileges a privilege ban takes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BannedPrivileges(pub i32);

impl Loader<BannedPrivileges> for Db {
    type Value = Vec<String>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[BannedPrivileges]) -> Loaded<BannedPrivileges, Vec<String>> {
        let ids = unique(keys, |k| k.0);
        let found = auth::bans::banned_privileges_of(&self.0, &ids)
            .await
            .map_err(failed)?;
        Ok(found
            .into_iter()
            .map(|(id, p)| (BannedPrivileges(id), p))
            .collect())
    }
}

/// A battle player's history over a range, at most `limit` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HistoryOf {
    /// The player.
    pub player_id: i64,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Most days.
    pub limit: u64,
}

impl Loader<HistoryOf> for Db {
    type Value = Vec<battles::HistoryDay>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[HistoryOf]) -> Loaded<HistoryOf, Vec<battles::HistoryDay>> {
        // Players asked for the same range share one read.
        let mut ranges: HashMap<(NaiveDate, NaiveDate, u64), Vec<i64>> = HashMap::new();
        for key in keys {
            ranges
                .entry((key.from, key.to, key.limit))
                .or_default()
                .push(key.player_id);
        }
        let mut loaded = HashMap::new();
        for ((from, to, limit), players) in ranges {
            let mut days = battles::histories(&self.0, &players, from, to, limit)
                .await
                .map_err(failed)?;
            for player_id in players {
                let key = HistoryOf {
                    player_id,
                    from,
                    to,
                    limit,
                };
                loaded.insert(key, days.remove(&player_id).unwrap_or_default());
            }
        }
        Ok(loaded)
    }
}

/// A crawl run's workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkersOf(pub i64);

impl Loader<WorkersOf> for Db {
    type Value = Vec<crawl_worker::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[WorkersOf]) -> Loaded<WorkersOf, Vec<crawl_worker::Model>> {
        let ids = unique(keys, |k| k.0);
        let found = battles::workers_of_runs(&self.0, &ids)
            .await
            .map_err(failed)?;
        Ok(found
            .into_iter()
            .map(|(id, w)| (WorkersOf(id), w))
            .collect())
    }
}

/// A crawl run's latest `last` samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SamplesOf {
    /// The run.
    pub run_id: i64,
    /// How many.
    pub last: u64,
}

impl Loader<SamplesOf> for Db {
    type Value = Vec<crawl_sample::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[SamplesOf]) -> Loaded<SamplesOf, Vec<crawl_sample::Model>> {
        let mut by_count: HashMap<u64, Vec<i64>> = HashMap::new();
        for key in keys {
            by_count.entry(key.last).or_default().push(key.run_id);
        }
        let mut loaded = HashMap::new();
        for (last, runs) in by_count {
            let found = battles::samples_of_runs(&self.0, &runs, last)
                .await
                .map_err(failed)?;
            loaded.extend(
                found
                    .into_iter()
                    .map(|(run_id, rows)| (SamplesOf { run_id, last }, rows)),
            );
        }
        Ok(loaded)
    }
}

/// What stands between a signed-in caller and another player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StandingWith {
    /// The caller.
    pub me: Uuid,
    /// The other player.
    pub other: Uuid,
}

impl Loader<StandingWith> for Db {
    type Value = players::Standing;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[StandingWith]) -> Loaded<StandingWith, players::Standing> {
        // One caller per request: three statements for all the players it shows.
        let mut by_caller: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for key in unique(keys, |k| k) {
            by_caller.entry(key.me).or_default().push(key.other);
        }
        let mut loaded = HashMap::new();
        for (me, others) in by_caller {
            let found = players::standings(&self.0, me, &others)
                .await
                .map_err(failed)?;
            loaded.extend(
                found
                    .into_iter()
                    .map(|(other, standing)| (StandingWith { me, other }, standing)),
            );
        }
        Ok(loaded)
    }
}

/// Implements `Loader<$key>` for a key wrapping an `i32` id through a batch function
/// `fn(&DatabaseConnection, &[i32]) -> ApiResult<HashMap<i32, $value>>` (or another id type).
macro_rules! by_id {
    ($(#[$doc:meta])* $key:ident => $value:ty, $batch:expr) => {
        by_id!($(#[$doc])* $key(i32) => $value, $batch);
    };
    ($(#[$doc:meta])* $key:ident($id:ty) => $value:ty, $batch:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub $id);

        impl Loader<$key> for Db {
            type Value = $value;
            type Error = async_graphql::Error;

            async fn load(&self, keys: &[$key]) -> Loaded<$key, $value> {
                let ids = unique(keys, |k| k.0);
                let found = $batch(&self.0, &ids).await.map_err(failed)?;
                Ok(found.into_iter().map(|(id, v)| ($key(id), v)).collect())
            }
        }
    };
}

by_id!(
    /// A content row, deleted or not; readers check who may see it.
    ContentById => catalog_content::Model, catalog::find_many
);
by_id!(
    /// An item's newest revisions.
    RevisionsOf => Vec<catalog_revision::Model>, catalog::revisions_of
);
by_id!(
    /// The game row of an item.
    GameOf => game::Model, games::games_of
);
by_id!(
    /// A game's support flags.
    SupportsOf => Vec<game_support::Model>, games::supports_of
);
by_id!(
    /// The reports gathered on a queue item.
    ReportsOf => Vec<catalog_report::Model>, catalog::moderation::reports_of
);
by_id!(
    /// The bans a decision placed.
    BansOf => Vec<i32>, catalog::moderation::bans_of
);
by_id!(
    /// The files of a revision.
    FilesOf => Vec<object_asset::Model>, assets::files_of
);
by_id!(
    /// A stored file, deleted or not.
    AssetById(Uuid) => asset::Model, assets::assets_by_id
);
by_id!(
    /// The thumbnails rendered from a file.
    ThumbnailsOf(Uuid) => Vec<asset::Model>, assets::thumbnails_of
);
by_id!(
    /// An item's prices.
    PricesOf => Vec<store_price::Model>, store::prices_of_many
);
by_id!(
    /// How many copies of an item the store sold new.
    SoldOf => i64, store::sold_of_many
);
by_id!(
    /// A character's properties.
    PropertiesOf => Vec<characters_property::Model>, characters::properties_of_many
);
by_id!(
    /// The items a character wears.
    WornOf => Vec<characters_worn::Model>, characters::worn_of_many
);
by_id!(
    /// A currency.
    CurrencyById => bank_currency::Model, bank::currencies_by_id
);
by_id!(
    /// An item's thumbnail files (PNG, WebP).
    ThumbnailOf => Vec<asset::Model>, assets::item_thumbnails
);
by_id!(
    /// A ledger row.
    TransactionById => bank_transaction::Model, bank::transactions_by_id
);
by_id!(
    /// The copies a trade offers.
    OfferedOf => Vec<store_ownership::Model>, store::trades::offered_of_many
);
by_id!(
    /// The copies a trade asks for.
    RequestedOf => Vec<store_ownership::Model>, store::trades::requested_of_many
);
by_id!(
    /// A trade's steps.
    TradeHistoryOf => Vec<store_trade_event::Model>, store::trades::history_of_many
);
by_id!(
    /// A character.
    CharacterById => characters_character::Model, characters::characters_by_id
);
by_id!(
    /// A game server.
    ServerById => game_server::Model, registry::servers_by_id
);
by_id!(
    /// The games a server may run.
    GamesOfServer => Vec<i32>, registry::games_of
);
by_id!(
    /// A provisioning host.
    HostById => provisioning_host::Model, registry::hosts_by_id
);
by_id!(
    /// The newest render job of a file.
    RenderOf(Uuid) => asset_job::Model, assets::jobs_of
);

/// An item's relations read one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelationsOf {
    /// The item.
    pub id: i32,
    /// Which way.
    pub direction: catalog::Direction,
}

impl Loader<RelationsOf> for Db {
    type Value = Vec<catalog_relation::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[RelationsOf]) -> Loaded<RelationsOf, Self::Value> {
        let mut loaded = HashMap::new();
        for direction in [catalog::Direction::Outgoing, catalog::Direction::Incoming] {
            let ids: Vec<i32> = unique(keys, |k| k)
                .into_iter()
                .filter(|k| k.direction == direction)
                .map(|k| k.id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let found = catalog::relations_of(&self.0, &ids, direction)
                .await
                .map_err(failed)?;
            loaded.extend(
                found
                    .into_iter()
                    .map(|(id, rows)| (RelationsOf { id, direction }, rows)),
            );
        }
        Ok(loaded)
    }
}

/// A signed-in caller's vote on an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VoteOf {
    /// The caller.
    pub me: Uuid,
    /// The item.
    pub id: i32,
}

impl Loader<VoteOf> for Db {
    type Value = catalog_vote::VoteKind;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[VoteOf]) -> Loaded<VoteOf, Self::Value> {
        let mut loaded = HashMap::new();
        for (me, ids) in by_caller(keys, |k| (k.me, k.id)) {
            let found = catalog::community::votes_of(&self.0, me, &ids)
                .await
                .map_err(failed)?;
            loaded.extend(found.into_iter().map(|v| {
                (
                    VoteOf {
                        me,
                        id: v.content_id,
                    },
                    v.vote,
                )
            }));
        }
        Ok(loaded)
    }
}

/// Whether a signed-in caller has an item among their favorites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FavoriteOf {
    /// The caller.
    pub me: Uuid,
    /// The item.
    pub id: i32,
}

impl Loader<FavoriteOf> for Db {
    type Value = ();
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[FavoriteOf]) -> Loaded<FavoriteOf, ()> {
        let mut loaded = HashMap::new();
        for (me, ids) in by_caller(keys, |k| (k.me, k.id)) {
            let found = catalog::community::favorites_of(&self.0, me, &ids)
                .await
                .map_err(failed)?;
            loaded.extend(found.into_iter().map(|id| (FavoriteOf { me, id }, ())));
        }
        Ok(loaded)
    }
}

/// The ids each caller asks about, grouped by caller.
fn by_caller<K: Copy + Eq + Hash>(
    keys: &[K],
    split: impl Fn(K) -> (Uuid, i32),
) -> HashMap<Uuid, Vec<i32>> {
    let mut grouped: HashMap<Uuid, Vec<i32>> = HashMap::new();
    for key in unique(keys, |k| k) {
        let (me, id) = split(key);
        grouped.entry(me).or_default().push(id);
    }
    grouped
}
