//! The catalog's commercial tables (seed 001): prices, ownerships and trades.

pub mod object_price;
pub mod ownership;
pub mod trade;
pub mod trade_event;
pub mod trade_ownership;
