//! The crawl's state and results in the Arena database: runs, batches and their leases,
//! workers, progress samples, ranges, and the bulk writes of players, daily totals and
//! daily diffs (only for players whose battle count changed). One file per seam: the run's
//! lifecycle (`runs`), batch leases (`leases`), the bulk writes (`results`) and progress
//! (`progress`).

mod leases;
mod progress;
mod results;
pub mod rollups;
mod runs;

pub use self::{leases::*, progress::*, results::*, runs::*};

use std::collections::HashMap;

use arena_api::db::begin_write;
use arena_entity::battles::{
    crawl_batch, crawl_range,
    crawl_run::{self, RunStatus},
    crawl_sample, crawl_worker,
};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
    sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SimpleExpr},
};
use uuid::Uuid;

use crate::{
    protocol::Job,
    settings::{CrawlerSettings, Platform},
    wg::{MAX_IDS, Player},
};

/// The counters kept per player, per day and per diff, in the order of [`counters`].
pub use arena_migration::BATTLE_COUNTERS as COUNTERS;

/// A player's counters in the order of [`COUNTERS`].
fn counters(player: &Player) -> [i64; 13] {
    let s = &player.statistics.all;
    [
        s.battles,
        s.wins,
        s.losses,
        s.damage_dealt,
        s.damage_received,
        s.frags,
        s.spotted,
        s.xp,
        s.survived_battles,
        s.capture_points,
        s.dropped_capture_points,
        s.hits,
        s.shots,
    ]
}

const PENDING: &str = "pending";
const LEASED: &str = "leased";
const DONE: &str = "done";

/// An update that puts batches in `state`, held by no worker and under no lease.
fn unleased(state: &'static str) -> sea_orm::UpdateMany<crawl_batch::Entity> {
    crawl_batch::Entity::update_many()
        .col_expr(crawl_batch::Column::State, Expr::value(state))
        .col_expr(
            crawl_batch::Column::WorkerId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            crawl_batch::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
}
