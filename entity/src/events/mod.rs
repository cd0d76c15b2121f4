//! Platform events, written in the transaction of the action they record, for the event
//! stream to read in order.

pub mod platform_event;
