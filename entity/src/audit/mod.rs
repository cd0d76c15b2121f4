//! The moderation and administration log.

pub mod audit_entry;
