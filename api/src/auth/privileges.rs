//! The privileges Arena checks, named once. Migrations seed them (and keep their own copies
//! of the names, as history); a test checks that every name here is seeded.

/// Sign in to the dashboard and read its figures and role tree.
pub const DASHBOARD_ACCESS: &str = "dashboard.access";
/// See other accounts' email, phone, last sign-in, roles and sign-ins.
pub const USER_READ_PRIVATE: &str = "user.read_private";
/// Search accounts.
pub const USER_SEARCH: &str = "user.search";
/// Place and lift bans.
pub const USER_BAN: &str = "user.ban";
/// End another account's sign-ins.
pub const USER_LOGOUT: &str = "user.logout";
/// Read the audit log.
pub const AUDIT_READ: &str = "audit.read";
/// Moderate user-generated content.
pub const CONTENT_MODERATE: &str = "content.moderate";
/// Take forwarded moderation items.
pub const CONTENT_REVIEW_FORWARDED: &str = "content.review_forwarded";
/// Create, move and remove content categories.
pub const CATALOG_MANAGE: &str = "catalog.manage";
/// Change roles and grant privileges.
pub const ROLE_MANAGE: &str = "role.manage";
/// Create currency.
pub const BANK_MINT: &str = "bank.mint";
/// Manage provisioning hosts and game servers.
pub const SERVER_MANAGE: &str = "server.manage";
/// Quarantine game servers (no new joins) and end play sessions.
pub const SERVER_QUARANTINE: &str = "server.quarantine";
/// Manage quests.
pub const QUEST_MANAGE: &str = "quest.manage";
/// Read outgoing mail.
pub const MAIL_READ: &str = "mail.read";
/// Read crawl runs and follow their progress.
pub const CRAWLER_READ: &str = "crawler.read";
/// Send events of any game, as a trusted backend.
pub const EVENT_INGEST: &str = "event.ingest";
/// See stored events and where their processing stands.
pub const EVENT_MANAGE: &str = "event.manage";
/// Create, change and reset leaderboards.
pub const LEADERBOARD_MANAGE: &str = "leaderboard.manage";

/// Every privilege above.
pub const ALL: &[&str] = &[
    DASHBOARD_ACCESS,
    USER_READ_PRIVATE,
    USER_SEARCH,
    USER_BAN,
    USER_LOGOUT,
    AUDIT_READ,
    CONTENT_MODERATE,
    CONTENT_REVIEW_FORWARDED,
    CATALOG_MANAGE,
    ROLE_MANAGE,
    BANK_MINT,
    SERVER_MANAGE,
    SERVER_QUARANTINE,
    QUEST_MANAGE,
    MAIL_READ,
    CRAWLER_READ,
    EVENT_INGEST,
    EVENT_MANAGE,
    LEADERBOARD_MANAGE,
];
