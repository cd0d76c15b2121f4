//! Games (seed 001, Game service): a game's row and its support flags.

pub mod game;
pub mod game_support;
