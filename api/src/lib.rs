//! Arena: a game-platform backend — one GraphQL API over one SeaORM schema.

pub mod audit;
pub mod auth;
pub mod battles;
pub mod bus;
pub mod context;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod redis_conn;
pub mod settings;
pub mod startup;
pub mod system;
pub mod telemetry;
