//! The social graph (seed 001, Player service): friends, follows and blocks.

pub mod block;
pub mod follow;
pub mod friend;
