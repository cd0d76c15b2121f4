//! Arena: a game-platform backend — one GraphQL API over one SeaORM schema.
// The merged GraphQL roots hold futures deep enough (HTTP calls to provisioning hosts
// among them) that proving them `Send` needs more than the default 128 levels.
#![recursion_limit = "256"]

#[cfg(feature = "server")]
pub mod assets;
#[cfg(feature = "server")]
pub mod audit;
#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod bank;
#[cfg(feature = "server")]
pub mod battles;
#[cfg(feature = "server")]
pub mod bus;
#[cfg(feature = "server")]
pub mod catalog;
#[cfg(feature = "server")]
pub mod characters;
#[cfg(feature = "server")]
pub mod context;
#[cfg(feature = "server")]
pub mod cpu;
pub mod db;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod events;
#[cfg(feature = "server")]
pub mod expiring;
#[cfg(feature = "server")]
pub mod games;
#[cfg(feature = "server")]
pub mod graphql;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod leaderboards;
#[cfg(feature = "server")]
pub mod mail;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod play;
#[cfg(feature = "server")]
pub mod players;
#[cfg(feature = "server")]
pub mod quests;
#[cfg(feature = "server")]
pub mod redis_conn;
#[cfg(feature = "server")]
pub mod servers;
pub mod settings;
#[cfg(feature = "server")]
pub mod startup;
#[cfg(feature = "server")]
pub mod stats;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod system;
#[cfg(feature = "server")]
pub mod telemetry;

/// `mutex.locked()`: the guard, even when a holder panicked. Nothing kept behind these
/// mutexes is left half-written by a panic, so the data stays usable.
#[cfg(feature = "server")]
pub(crate) trait Locked<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T>;
}

#[cfg(feature = "server")]
impl<T> Locked<T> for std::sync::Mutex<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T> {
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
