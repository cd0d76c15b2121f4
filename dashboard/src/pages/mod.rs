//! One module per page.

pub mod audit;
pub mod bank;
pub mod bans;
pub mod boards;
pub mod catalog;
pub mod crawls;
pub mod economy;
pub mod events;
pub mod home;
pub mod hosts;
pub mod moderation;
pub mod play;
pub mod quests;
pub mod roles;
pub mod signin;
pub mod trades;
pub mod users;
