//! Outgoing mail.

pub mod outbox_message;
