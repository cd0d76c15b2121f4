//! Events: the platform's outbox, written in the transaction of the action it records, and
//! the stored event stream that games, trusted backends and the platform feed.

pub mod game_event;
pub mod leaderboard;
pub mod leaderboard_record;
pub mod leaderboard_season;
pub mod platform_event;
pub mod player_stat;
pub mod quest;
pub mod quest_completion;
pub mod quest_progress;
pub mod stat_rule;
