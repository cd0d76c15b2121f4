//! The bank (seed 001, Bank service): currencies, conversions, balances and the ledger.

pub mod account_balance;
pub mod conversion;
pub mod currency;
pub mod transaction;
