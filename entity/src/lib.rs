//! SeaORM entities of the Arena schema: one module per table, grouped by domain folder.

pub mod assets;
pub mod audit;
pub mod auth;
pub mod bank;
pub mod battles;
pub mod catalog;
pub mod characters;
pub mod events;
pub mod games;
pub mod mail;
pub mod players;
pub mod servers;
pub mod store;
pub mod system;
