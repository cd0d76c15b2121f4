//! One module per page.

pub mod audit;
pub mod bans;
pub mod crawls;
pub mod home;
pub mod roles;
pub mod signin;
pub mod users;
