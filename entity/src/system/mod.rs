//! Server-wide state kept in the database.

pub mod server_secret;
