//! A player's characters (seed 001, Player service): the character, its typed properties and
//! the items it wears.

pub mod character;
pub mod property;
pub mod worn_item;
