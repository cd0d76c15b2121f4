//! Layered settings: built-in defaults, then an optional `arena.toml`, then environment variables.

use std::{fmt, net::SocketAddr, path::Path};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Deserializer, Serialize};

/// Every environment variable Arena reads, with the settings key it sets.
/// The loader is built from this table, so the documented list cannot drift from the code.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("DATABASE_URL", "database_url"),
    ("ARENA_DATABASE_MAX_CONNECTIONS", "database_max_connections"),
    ("REDIS_URL", "redis_url"),
    ("ARENA_REDIS_KEY_PREFIX", "redis_key_prefix"),
    ("ARENA_BIND", "bind"),
    ("RUST_LOG", "log"),
    ("ARENA_LOG_FORMAT", "log_format"),
    ("ARENA_GRAPHQL_DEPTH_LIMIT", "graphql_depth_limit"),
    ("ARENA_GRAPHQL_COMPLEXITY_LIMIT", "graphql_complexity_limit"),
    ("ARENA_MIGRATE_ON_START", "migrate_on_start"),
    ("ARENA_BODY_LIMIT_BYTES", "body_limit_bytes"),
    ("ARENA_CORS_ALLOWED_ORIGINS", "cors_allowed_origins"),
    ("ARENA_SHUTDOWN_GRACE_SECONDS", "shutdown_grace_seconds"),
    ("ARENA_JWT_SECRET", "jwt_secret"),
    ("ARENA_BCRYPT_COST", "bcrypt_cost"),
    ("ARENA_BCRYPT_THREADS", "bcrypt_threads"),
    ("ARENA_BCRYPT_QUEUE", "bcrypt_queue"),
    ("ARENA_AUTH_RATE_PER_MINUTE", "auth_rate_per_minute"),
    (
        "ARENA_ANALYTICS_RATE_PER_MINUTE",
        "analytics_rate_per_minute",
    ),
    (
        "ARENA_MAX_PENDING_FRIEND_REQUESTS",
        "max_pending_friend_requests",
    ),
    (
        "ARENA_TRUSTED_CREATOR_APPROVALS",
        "trusted_creator_approvals",
    ),
    ("ARENA_MODERATION_CLAIM_SECONDS", "moderation_claim_seconds"),
    ("ARENA_MODERATION_DUE_HOURS", "moderation_due_hours"),
    ("ARENA_TRUSTED_PROXIES", "trusted_proxies"),
    ("ARENA_SMTP_URL", "smtp_url"),
    ("ARENA_MAIL_FROM", "mail_from"),
    ("ARENA_MAIL_KEEP_SENT_SECONDS", "mail_keep_sent_seconds"),
    ("ARENA_DASHBOARD_DIR", "dashboard_dir"),
    ("ARENA_VIEWER_CACHE_SECONDS", "viewer_cache_seconds"),
    ("ARENA_BUS_CAPACITY", "bus_capacity"),
    ("ARENA_DATALOADER_DELAY_MS", "dataloader_delay_ms"),
    ("ARENA_ACCESS_TOKEN_SECONDS", "access_token_seconds"),
    ("ARENA_WS_INIT_TIMEOUT_SECONDS", "ws_init_timeout_seconds"),
    ("ARENA_WS_MAX_PER_ADDRESS", "ws_max_per_address"),
    ("ARENA_WS_MAX_TOTAL", "ws_max_total"),
    ("ARENA_ASSETS_DIR", "assets_dir"),
    ("ARENA_ASSETS_S3_BUCKET", "assets_s3_bucket"),
    ("ARENA_ASSETS_S3_ENDPOINT", "assets_s3_endpoint"),
    ("ARENA_ASSETS_S3_REGION", "assets_s3_region"),
    ("ARENA_ASSETS_S3_ACCESS_KEY_ID", "assets_s3_access_key_id"),
    (
        "ARENA_ASSETS_S3_SECRET_ACCESS_KEY",
        "assets_s3_secret_access_key",
    ),
    ("ARENA_ASSET_URL_SECONDS", "asset_url_seconds"),
    ("ARENA_RENDER_WORKERS", "render_workers"),
    ("ARENA_PUBLIC_CACHE_SECONDS", "public_cache_seconds"),
    ("ARENA_STORE_FEE_PERCENT", "store_fee_percent"),
    ("ARENA_TRADE_EXPIRY_SECONDS", "trade_expiry_seconds"),
    ("ARENA_EXPIRY_SWEEP_MS", "expiry_sweep_ms"),
    ("ARENA_SERVER_PING_SECONDS", "server_ping_seconds"),
    ("ARENA_HOST_PING_SECONDS", "host_ping_seconds"),
    ("ARENA_SESSION_JOIN_SECONDS", "session_join_seconds"),
    ("ARENA_SESSION_TIMEOUT_SECONDS", "session_timeout_seconds"),
    ("ARENA_PROVISION_WAIT_MS", "provision_wait_ms"),
    ("ARENA_PROVISION_TIMEOUT_MS", "provision_timeout_ms"),
    ("ARENA_EVENT_PROCESSOR", "event_processor"),
    ("ARENA_EVENT_REQUEUE_SECONDS", "event_requeue_seconds"),
    ("ARENA_EVENT_BATCH", "event_batch"),
    ("ARENA_LIVE_INTERVAL_MS", "live_interval_ms"),
    ("ARENA_EVENT_RELAY_MS", "event_relay_ms"),
    ("ARENA_EVENT_RETENTION_DAYS", "event_retention_days"),
];

/// Most `ARENA_EVENT_BATCH` may be: a batch's ids are bound as one list, under the
/// databases' limits on parameters.
pub const MAX_EVENT_BATCH: usize = 20_000;

/// The variable that names the settings file (read by the CLI, not by the loader).
pub const CONFIG_ENV_VAR: &str = "ARENA_CONFIG";

/// The whole settings tree; loaded once in `main` and passed down.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `DATABASE_URL`: `postgres://…` or `sqlite://…`.
    pub database_url: Secret,
    /// `ARENA_DATABASE_MAX_CONNECTIONS`: size of the connection pool.
    pub database_max_connections: u32,
    /// `REDIS_URL`: optional; when set, Redis must answer at start.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub redis_url: Option<Secret>,
    /// `ARENA_REDIS_KEY_PREFIX`: prefix of every key Arena writes, so instances can share a server.
    pub redis_key_prefix: String,
    /// `ARENA_BIND`: address the HTTP server listens on.
    pub bind: SocketAddr,
    /// `RUST_LOG`: the log filter.
    pub log: String,
    /// `ARENA_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `ARENA_GRAPHQL_DEPTH_LIMIT`: deepest selection nesting a query may have.
    pub graphql_depth_limit: usize,
    /// `ARENA_GRAPHQL_COMPLEXITY_LIMIT`: most fields (weighted) a query may select.
    pub graphql_complexity_limit: usize,
    /// `ARENA_MIGRATE_ON_START`: apply pending migrations when the server starts.
    pub migrate_on_start: bool,
    /// `ARENA_BODY_LIMIT_BYTES`: largest request body accepted.
    pub body_limit_bytes: usize,
    /// `ARENA_CORS_ALLOWED_ORIGINS`: comma-separated origins, or `*`; empty allows none.
    #[serde(deserialize_with = "comma_list")]
    pub cors_allowed_origins: Vec<String>,
    /// `ARENA_SHUTDOWN_GRACE_SECONDS`: how long in-flight work may take after a stop signal.
    pub shutdown_grace_seconds: u64,
    /// `ARENA_JWT_SECRET`: key that signs access tokens; when unset, one is generated once and
    /// kept in the database, so restarts and other instances accept the same tokens.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub jwt_secret: Option<Secret>,
    /// `ARENA_BCRYPT_COST`: bcrypt work factor for new password hashes (4 to 31).
    pub bcrypt_cost: u32,
    /// `ARENA_BCRYPT_THREADS`: threads that hash passwords; 0 means one per core.
    pub bcrypt_threads: usize,
    /// `ARENA_BCRYPT_QUEUE`: password hashes that may wait for a thread; past it, sign-ins
    /// and registrations are refused at once with `RATE_LIMITED` and a retry hint.
    pub bcrypt_queue: usize,
    /// `ARENA_AUTH_RATE_PER_MINUTE`: logins and registrations allowed per client address,
    /// and logins per account, each minute.
    pub auth_rate_per_minute: u32,
    /// `ARENA_ANALYTICS_RATE_PER_MINUTE`: battle activity and ranking queries an anonymous
    /// client address may make each minute; signed-in callers are not limited.
    pub analytics_rate_per_minute: u32,
    /// `ARENA_MAX_PENDING_FRIEND_REQUESTS`: unanswered friend requests one player may have
    /// out at once.
    pub max_pending_friend_requests: u32,
    /// `ARENA_TRUSTED_CREATOR_APPROVALS`: revisions a moderator must have approved before a
    /// creator's next ones go live without review; 0 trusts every creator.
    pub trusted_creator_approvals: u32,
    /// `ARENA_MODERATION_CLAIM_SECONDS`: how long a moderator holds a claimed queue item
    /// before it returns to the queue.
    pub moderation_claim_seconds: u32,
    /// `ARENA_MODERATION_DUE_HOURS`: how long after it enters the queue an item is due.
    pub moderation_due_hours: u32,
    /// `ARENA_TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges of proxies whose
    /// `X-Forwarded-For` names the client; empty trusts none.
    #[serde(deserialize_with = "comma_list")]
    pub trusted_proxies: Vec<String>,
    /// `ARENA_SMTP_URL`: `smtp://host:25`, `smtps://user:pass@host:465` or
    /// `smtp://host:587?tls=required`; when unset, mail stays in the outbox.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub smtp_url: Option<Secret>,
    /// `ARENA_MAIL_FROM`: the sender of Arena's mail.
    pub mail_from: String,
    /// `ARENA_MAIL_KEEP_SENT_SECONDS`: how long a sent message keeps its body (codes hidden
    /// from the api throughout); then only its envelope stays. Unsent bodies are purged once
    /// their codes have expired.
    pub mail_keep_sent_seconds: u64,
    /// `ARENA_DASHBOARD_DIR`: the built dashboard (`dashboard/build.sh`), served at `/admin`.
    pub dashboard_dir: std::path::PathBuf,
    /// `ARENA_VIEWER_CACHE_SECONDS`: longest a sign-in's privileges and bans, and the address
    /// bans, are reused without reading them again. Changes drop them at once through the
    /// change bus; this bounds staleness only when a bus message is lost.
    pub viewer_cache_seconds: u64,
    /// `ARENA_BUS_CAPACITY`: changes held for a listener that is behind; past it the listener
    /// is told it missed some.
    pub bus_capacity: usize,
    /// `ARENA_DATALOADER_DELAY_MS`: how long nested fields' keys are gathered before one
    /// batched read.
    pub dataloader_delay_ms: u64,
    /// `ARENA_ACCESS_TOKEN_SECONDS`: how long an access token is valid; a websocket closes
    /// when its token expires unless the client sent a fresh one.
    pub access_token_seconds: u64,
    /// `ARENA_WS_INIT_TIMEOUT_SECONDS`: how long a websocket may stay open without
    /// `connection_init`; then it is closed with 4408.
    pub ws_init_timeout_seconds: u64,
    /// `ARENA_WS_MAX_PER_ADDRESS`: websockets one client address may hold open; more are
    /// refused with 429 and `RATE_LIMITED`.
    pub ws_max_per_address: usize,
    /// `ARENA_WS_MAX_TOTAL`: websockets the server holds open; more are refused with 503.
    /// 0 means three quarters of the process's open-file limit.
    pub ws_max_total: usize,
    /// `ARENA_ASSETS_DIR`: where uploaded files are kept when no S3 bucket is configured.
    pub assets_dir: std::path::PathBuf,
    /// `ARENA_ASSETS_S3_BUCKET`: keep files in this S3-compatible bucket instead.
    #[serde(default, deserialize_with = "blank_as_none")]
    pub assets_s3_bucket: Option<String>,
    /// `ARENA_ASSETS_S3_ENDPOINT`: the S3 endpoint, for a service other than AWS; `http://`
    /// is allowed.
    #[serde(default, deserialize_with = "blank_as_none")]
    pub assets_s3_endpoint: Option<String>,
    /// `ARENA_ASSETS_S3_REGION`: the bucket's region.
    pub assets_s3_region: String,
    /// `ARENA_ASSETS_S3_ACCESS_KEY_ID`: the S3 access key; when unset, the usual AWS
    /// environment variables and instance credentials apply.
    #[serde(default, deserialize_with = "blank_as_none")]
    pub assets_s3_access_key_id: Option<String>,
    /// `ARENA_ASSETS_S3_SECRET_ACCESS_KEY`: its secret.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub assets_s3_secret_access_key: Option<Secret>,
    /// `ARENA_ASSET_URL_SECONDS`: how long a signed address of a private file, or a signed
    /// upload address, stays valid.
    pub asset_url_seconds: u64,
    /// `ARENA_RENDER_WORKERS`: thumbnail jobs this instance works on at once; 0 renders
    /// nothing here (another instance does).
    pub render_workers: usize,
    /// `ARENA_PUBLIC_CACHE_SECONDS`: longest an anonymous catalog read's answer is reused;
    /// any change to content, categories or accounts drops it at once. 0 reuses nothing.
    pub public_cache_seconds: u64,
    /// `ARENA_STORE_FEE_PERCENT`: the platform's share of a purchase's price (0 to 100),
    /// taken out of circulation; the creator gets the rest.
    pub store_fee_percent: u32,
    /// `ARENA_TRADE_EXPIRY_SECONDS`: how long a trade waits for its recipient before what it
    /// holds returns to its sender.
    pub trade_expiry_seconds: u32,
    /// `ARENA_EXPIRY_SWEEP_MS`: how often pending transfers and trades past their time are
    /// returned (each sweep is two indexed statements).
    pub expiry_sweep_ms: u64,
    /// `ARENA_EVENT_PROCESSOR`: whether this instance applies stored events (statistics);
    /// an instance that only takes requests can leave it to the others.
    pub event_processor: bool,
    /// `ARENA_EVENT_REQUEUE_SECONDS`: how long a stored event may wait unapplied before the
    /// processor queues it again (its queue entry was lost: a crash, Redis flushed), and
    /// how long a Redis consumer's unacknowledged entries wait before another takes them.
    pub event_requeue_seconds: u64,
    /// `ARENA_EVENT_BATCH`: most events one transaction of the processor applies. A backlog
    /// is applied in batches this large: a player's statistics and records are written once
    /// per batch however many of its events name them.
    pub event_batch: usize,
    /// `ARENA_EVENT_RELAY_MS`: how often the platform's outbox is read for events to relay
    /// when it was empty (at once again while there is more).
    pub event_relay_ms: u64,
    /// `ARENA_EVENT_RETENTION_DAYS`: applied events (and relayed outbox rows) older than
    /// this are deleted, hourly; failed and pending ones stay. 0 keeps everything. The
    /// default outlasts the 366 days the event analytics reach back.
    pub event_retention_days: u32,
    /// `ARENA_LIVE_INTERVAL_MS`: the least time between two pushes of one live board (a top
    /// N or a player's rank): changes inside it are pushed together, at its end.
    pub live_interval_ms: u64,
    /// `ARENA_SERVER_PING_SECONDS`: how often a game server pings; one silent for three
    /// intervals is unhealthy (no new sessions, its sessions end).
    pub server_ping_seconds: u32,
    /// `ARENA_HOST_PING_SECONDS`: how often a provisioning host pings; one silent for three
    /// intervals is not asked for servers.
    pub host_ping_seconds: u32,
    /// `ARENA_SESSION_JOIN_SECONDS`: how long a session token waits for its server to
    /// validate it.
    pub session_join_seconds: u32,
    /// `ARENA_SESSION_TIMEOUT_SECONDS`: a joined session silent (no ping) this long ends.
    pub session_timeout_seconds: u32,
    /// `ARENA_PROVISION_WAIT_MS`: longest `play` waits for a provisioning host's new server.
    pub provision_wait_ms: u64,
    /// `ARENA_PROVISION_TIMEOUT_MS`: longest one request to a provisioning host takes.
    pub provision_timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: Secret::new("sqlite://arena.db?mode=rwc"),
            database_max_connections: 10,
            redis_url: None,
            redis_key_prefix: "arena:".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            // PostgreSQL's notices ("already exists, skipping") are not news.
            log: "info,sqlx::postgres::notice=warn".into(),
            log_format: LogFormat::Text,
            graphql_depth_limit: 16,
            graphql_complexity_limit: 2000,
            migrate_on_start: true,
            body_limit_bytes: 1024 * 1024,
            cors_allowed_origins: Vec::new(),
            shutdown_grace_seconds: 30,
            jwt_secret: None,
            bcrypt_cost: 12,
            bcrypt_threads: 0,
            bcrypt_queue: 32,
            auth_rate_per_minute: 10,
            analytics_rate_per_minute: 30,
            max_pending_friend_requests: 100,
            trusted_creator_approvals: 3,
            moderation_claim_seconds: 900,
            moderation_due_hours: 24,
            trusted_proxies: Vec::new(),
            smtp_url: None,
            mail_from: "Arena <no-reply@localhost>".into(),
            mail_keep_sent_seconds: 3600,
            dashboard_dir: "dashboard/dist".into(),
            viewer_cache_seconds: 10,
            bus_capacity: 1024,
            dataloader_delay_ms: 1,
            access_token_seconds: 900,
            ws_init_timeout_seconds: 10,
            ws_max_per_address: 32,
            ws_max_total: 0,
            assets_dir: "assets".into(),
            assets_s3_bucket: None,
            assets_s3_endpoint: None,
            assets_s3_region: "us-east-1".into(),
            assets_s3_access_key_id: None,
            assets_s3_secret_access_key: None,
            asset_url_seconds: 300,
            render_workers: 1,
            public_cache_seconds: 5,
            store_fee_percent: 10,
            trade_expiry_seconds: 72 * 3600,
            expiry_sweep_ms: 1000,
            server_ping_seconds: 5,
            host_ping_seconds: 10,
            session_join_seconds: 60,
            session_timeout_seconds: 60,
            provision_wait_ms: 10_000,
            provision_timeout_ms: 2_000,
            event_processor: true,
            event_requeue_seconds: 30,
            event_batch: 10_000,
            live_interval_ms: 20,
            event_relay_ms: 200,
            event_retention_days: 400,
        }
    }
}

/// A settings file or variable could not be read or made no sense.
#[derive(Debug, thiserror::Error)]
#[error("invalid settings: {0}")]
pub struct SettingsError(pub String);

impl Settings {
    /// Loads defaults, then `file` when given, then the environment variables of [`ENV_VARS`].
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let settings: Settings = load_layered(file, ENV_VARS)?;
        settings.check()?;
        Ok(settings)
    }

    /// Checks what types alone cannot.
    fn check(&self) -> Result<(), SettingsError> {
        let url = self.database_url.expose();
        if DatabaseBackend::of_url(url).is_none() {
            return Err(SettingsError(format!(
                "DATABASE_URL must start with postgres:// or sqlite:, got {}",
                redact_url(url)
            )));
        }
        if self.expiry_sweep_ms == 0 {
            return Err(SettingsError("ARENA_EXPIRY_SWEEP_MS is at least 1".into()));
        }
        if self.event_relay_ms == 0 {
            return Err(SettingsError("ARENA_EVENT_RELAY_MS is at least 1".into()));
        }
        if !(1..=MAX_EVENT_BATCH).contains(&self.event_batch) {
            return Err(SettingsError(format!(
                "ARENA_EVENT_BATCH is 1 to {MAX_EVENT_BATCH}"
            )));
        }
        if self.event_requeue_seconds == 0 {
            return Err(SettingsError(
                "ARENA_EVENT_REQUEUE_SECONDS is at least 1".into(),
            ));
        }
        for (name, value) in [
            ("ARENA_SERVER_PING_SECONDS", self.server_ping_seconds),
            ("ARENA_HOST_PING_SECONDS", self.host_ping_seconds),
            ("ARENA_SESSION_JOIN_SECONDS", self.session_join_seconds),
            (
                "ARENA_SESSION_TIMEOUT_SECONDS",
                self.session_timeout_seconds,
            ),
        ] {
            if value == 0 {
                return Err(SettingsError(format!("{name} is at least 1")));
            }
        }
        if self.provision_timeout_ms == 0 || self.provision_wait_ms < self.provision_timeout_ms {
            return Err(SettingsError(
                "ARENA_PROVISION_TIMEOUT_MS is at least 1 and at most ARENA_PROVISION_WAIT_MS"
                    .into(),
            ));
        }
        if self.trade_expiry_seconds == 0 {
            return Err(SettingsError(
                "ARENA_TRADE_EXPIRY_SECONDS is at least 1".into(),
            ));
        }
        if self.store_fee_percent > 100 {
            return Err(SettingsError("ARENA_STORE_FEE_PERCENT is 0 to 100".into()));
        }
        if self.graphql_depth_limit == 0 || self.graphql_complexity_limit == 0 {
            return Err(SettingsError("GraphQL limits must be positive".into()));
        }
        if let Some(origin) = self.cors_allowed_origins.iter().find(|o| !valid_origin(o)) {
            return Err(SettingsError(format!(
                "ARENA_CORS_ALLOWED_ORIGINS: {origin:?} is not `*` or an origin like https://example.com"
            )));
        }
        if !(4..=31).contains(&self.bcrypt_cost) {
            return Err(SettingsError("ARENA_BCRYPT_COST must be 4 to 31".into()));
        }
        if self.auth_rate_per_minute == 0 {
            return Err(SettingsError(
                "ARENA_AUTH_RATE_PER_MINUTE must be positive".into(),
            ));
        }
        if let Some(proxy) = self
            .trusted_proxies
            .iter()
            .find(|p| parse_proxy(p).is_none())
        {
            return Err(SettingsError(format!(
                "ARENA_TRUSTED_PROXIES: {proxy:?} is not an address or CIDR range"
            )));
        }
        if self
            .jwt_secret
            .as_ref()
            .is_some_and(|s| s.expose().len() < 32)
        {
            return Err(SettingsError(
                "ARENA_JWT_SECRET must be at least 32 bytes".into(),
            ));
        }
        if self.database_max_connections == 0 {
            return Err(SettingsError(
                "ARENA_DATABASE_MAX_CONNECTIONS must be positive".into(),
            ));
        }
        Ok(())
    }

    /// Which database backend `database_url` names.
    pub fn database_backend(&self) -> DatabaseBackend {
        DatabaseBackend::of_url(self.database_url.expose()).unwrap_or(DatabaseBackend::Sqlite)
    }
}

/// Defaults, then `file` when given, then the environment variables of `env_vars`
/// (variable, key): the one layering every Arena program uses.
pub fn load_layered<T>(
    file: Option<&Path>,
    env_vars: &'static [(&'static str, &'static str)],
) -> Result<T, SettingsError>
where
    T: Default + Serialize + for<'de> Deserialize<'de>,
{
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(path) = file {
        if !path.exists() {
            return Err(SettingsError(format!(
                "settings file {} does not exist",
                path.display()
            )));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    let names: Vec<&str> = env_vars.iter().map(|(name, _)| *name).collect();
    let env = Env::raw().only(&names).map(move |name| {
        env_vars
            .iter()
            .find(|(var, _)| name.as_str().eq_ignore_ascii_case(var))
            .map_or_else(
                || name.as_str().to_lowercase(),
                |(_, key)| (*key).to_owned(),
            )
            .into()
    });
    figment
        .merge(env)
        .extract()
        .map_err(|err| describe(err, env_vars))
}

/// One line per fault, naming the variable the operator set (not the internal key).
fn describe(err: figment::Error, env_vars: &[(&str, &str)]) -> SettingsError {
    let faults: Vec<String> = err
        .into_iter()
        .map(|fault| {
            let key = fault.path.join(".");
            let from_env = fault
                .metadata
                .as_ref()
                .is_some_and(|meta| meta.name.contains("environment"));
            let name = env_vars
                .iter()
                .find(|(_, k)| from_env && k.eq_ignore_ascii_case(&key))
                .map_or(key, |(var, _)| (*var).to_owned());
            let source = fault
                .metadata
                .as_ref()
                .and_then(|meta| meta.source.as_ref())
                .map(|source| format!(" (in {source})"))
                .unwrap_or_default();
            format!("{name}{source}: {}", fault.kind)
        })
        .collect();
    SettingsError(faults.join("; "))
}

/// The two supported databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseBackend {
    /// PostgreSQL, the reference backend.
    Postgres,
    /// Embedded SQLite, the default with no configuration.
    Sqlite,
}

impl DatabaseBackend {
    /// The backend a database URL names, if it names one Arena supports.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else {
            None
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A string that never prints: URLs with passwords, keys.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// A URL with its password replaced by `***`, fit for logs and error messages.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "<unparseable url>".into(),
    }
}

/// A trusted proxy: a CIDR range, or one address.
pub fn parse_proxy(raw: &str) -> Option<ipnet::IpNet> {
    raw.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| raw.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

fn valid_origin(origin: &str) -> bool {
    origin == "*"
        || url::Url::parse(origin).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.path() == "/"
                && !origin.ends_with('/')
                && origin.is_ascii()
        })
}

fn empty_as_none<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Secret>, D::Error> {
    Ok(blank_as_none(de)?.map(Secret))
}

fn blank_as_none<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(de)?;
    Ok(value.filter(|v| !v.trim().is_empty()))
}

fn comma_list<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    let items = match ListOrString::deserialize(de)? {
        ListOrString::List(items) => items,
        ListOrString::String(joined) => joined.split(',').map(str::to_owned).collect(),
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

#[cfg(test)]
// figment::Jail fixes the closure's error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_need_no_configuration() {
        Jail::expect_with(|_| {
            let settings = Settings::load(None).expect("defaults load");
            assert_eq!(settings.database_url.expose(), "sqlite://arena.db?mode=rwc");
            assert_eq!(settings.database_backend(), DatabaseBackend::Sqlite);
            assert_eq!(settings.bind.to_string(), "127.0.0.1:8000");
            assert!(settings.redis_url.is_none());
            assert!(settings.migrate_on_start);
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "arena.toml",
                r#"
                bind = "0.0.0.0:9000"
                graphql_depth_limit = 7
                log_format = "json"
                cors_allowed_origins = ["https://a.example"]
                "#,
            )?;
            jail.set_env("ARENA_BIND", "127.0.0.1:9100");
            jail.set_env("DATABASE_URL", "postgres://arena:pw@db/arena");
            jail.set_env(
                "ARENA_CORS_ALLOWED_ORIGINS",
                "https://b.example, https://c.example",
            );
            jail.set_env("ARENA_MIGRATE_ON_START", "false");
            let settings = Settings::load(Some(Path::new("arena.toml"))).expect("loads");
            assert_eq!(settings.bind.to_string(), "127.0.0.1:9100");
            assert_eq!(settings.graphql_depth_limit, 7);
            assert_eq!(settings.log_format, LogFormat::Json);
            assert_eq!(settings.database_backend(), DatabaseBackend::Postgres);
            assert_eq!(
                settings.cors_allowed_origins,
                vec!["https://b.example", "https://c.example"]
            );
            assert!(!settings.migrate_on_start);
            Ok(())
        });
    }

    #[test]
    fn empty_redis_url_means_no_redis() {
        Jail::expect_with(|jail| {
            jail.set_env("REDIS_URL", "");
            assert!(Settings::load(None).expect("loads").redis_url.is_none());
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused_with_the_setting_named() {
        Jail::expect_with(|jail| {
            jail.set_env("ARENA_GRAPHQL_DEPTH_LIMIT", "deep");
            let err = Settings::load(None).expect_err("refused").to_string();
            assert!(err.contains("ARENA_GRAPHQL_DEPTH_LIMIT"), "{err}");
            Ok(())
        });
        for batch in ["0", "20001"] {
            Jail::expect_with(|jail| {
                jail.set_env("ARENA_EVENT_BATCH", batch);
                let err = Settings::load(None).expect_err("refused").to_string();
                assert!(err.contains("ARENA_EVENT_BATCH is 1 to 20000"), "{err}");
                Ok(())
            });
        }
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "mysql://root:pw@db/arena");
            let err = Settings::load(None).expect_err("refused").to_string();
            assert!(
                err.contains("DATABASE_URL") && !err.contains("pw@"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        Jail::expect_with(|jail| {
            jail.create_file("arena.toml", "bnid = \"0.0.0.0:1\"")?;
            let err = Settings::load(Some(Path::new("arena.toml"))).expect_err("refused");
            assert!(err.to_string().contains("bnid"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn cors_origins_must_be_origins() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "ARENA_CORS_ALLOWED_ORIGINS",
                "https://ok.example,not an origin",
            );
            let err = Settings::load(None).expect_err("refused").to_string();
            assert!(err.contains("not an origin"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("ARENA_CORS_ALLOWED_ORIGINS", "*");
            assert_eq!(
                Settings::load(None).expect("loads").cors_allowed_origins,
                ["*"]
            );
            Ok(())
        });
    }

    #[test]
    fn passwords_never_print() {
        let secret = Secret::new("postgres://arena:hunter2@db:5432/arena");
        assert_eq!(format!("{secret:?}"), "postgres://arena:***@db:5432/arena");
        assert_eq!(
            redact_url("sqlite://arena.db?mode=rwc"),
            "sqlite://arena.db?mode=rwc"
        );
    }
}
