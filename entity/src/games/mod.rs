//! Games (seed 001, Game service): a game's row, its support flags and its plays.

pub mod game;
pub mod game_play;
pub mod game_support;
