//! Battle statistics of World of Tanks console players, written by the crawler.

pub mod crawl_batch;
pub mod crawl_range;
pub mod crawl_run;
pub mod crawl_sample;
pub mod crawl_worker;
pub mod daily_activity;
pub mod daily_diff;
pub mod daily_total;
pub mod export_backlog;
pub mod player;
