//! Game servers and who may host them (seed 001, Server service).

pub mod host_ban;
