//! The catalog's commercial tables (seed 001): prices and ownerships.

pub mod object_price;
pub mod ownership;
