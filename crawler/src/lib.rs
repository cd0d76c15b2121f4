//! The battle-stats crawler: the WG console API's formats, a paced and retrying client,
//! and a simulator of the API for tests, benchmarks and demos.

pub mod client;
pub mod simulator;
pub mod wg;
