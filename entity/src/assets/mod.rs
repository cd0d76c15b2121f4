//! Stored files (seed 001, Assets service), the files a content revision uses, and the jobs
//! that work on stored files.

pub mod asset;
pub mod job;
pub mod object_asset;
