//! GraphQL surface of the `battles` domain.

mod players;
mod runs;

use async_graphql::MergedObject;

pub use self::{players::*, runs::*};

/// Queries of the `battles` domain.
#[derive(MergedObject, Default)]
pub struct BattlesQuery(PlayersQuery, RunsQuery);
