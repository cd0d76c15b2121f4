//! Game servers and who may host them (seed 001, Server service), and the play sessions on
//! them (Session service).

pub mod game_server;
pub mod host_ban;
pub mod play_session;
pub mod provisioning_host;
pub mod server_game;
