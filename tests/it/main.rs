//! Arena's end-to-end tests: one binary, one module per area. Each test starts the real
//! server and talks to it over HTTP and websockets as clients do.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account;
mod assets;
mod auth;
mod backbone;
mod bank;
mod bans;
mod battles;
mod catalog;
mod characters;
mod crawler;
mod dashboard;
mod deploy;
mod errors;
mod event_faults;
mod events;
mod guards;
mod hardening;
mod http;
mod leaderboards;
mod live;
mod pages;
mod play;
mod quests;
mod roles;
mod schema;
mod servers;
mod services;
mod social;
mod stats;
mod store;
mod system;
mod trades;
