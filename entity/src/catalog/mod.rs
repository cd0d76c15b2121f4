//! The catalog (seed 001, Catalog service): categories, content, revisions, relations,
//! moderation, reports, votes and favorites.

pub mod category;
pub mod category_type;
pub mod content;
pub mod favorite;
pub mod moderator_action;
pub mod moderator_action_ban;
pub mod relation;
pub mod report;
pub mod revision;
pub mod vote;
