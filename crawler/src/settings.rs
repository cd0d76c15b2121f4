//! The crawler's settings, layered as the api's are: built-in defaults, then an optional
//! file (`--config` or `ARENA_CRAWLER_CONFIG`), then the environment variables of
//! [`ENV_VARS`].

use std::{fmt, net::SocketAddr, num::NonZeroU32, path::Path, str::FromStr};

use arena_api::settings::{DatabaseBackend, Secret, SettingsError, load_layered, redact_url};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use url::Url;

/// Every environment variable the crawler reads, with the settings key it sets.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("DATABASE_URL", "database_url"),
    ("ARENA_DATABASE_MAX_CONNECTIONS", "database_max_connections"),
    ("RUST_LOG", "log"),
    ("ARENA_CRAWLER_API_URL", "api_url"),
    ("ARENA_CRAWLER_APP_IDS", "app_ids"),
    ("ARENA_CRAWLER_XBOX_RANGE", "xbox_range"),
    ("ARENA_CRAWLER_PS_RANGE", "ps_range"),
    ("ARENA_CRAWLER_BIND", "bind"),
    ("ARENA_CRAWLER_COORDINATOR_URL", "coordinator_url"),
    ("ARENA_CRAWLER_TOKEN", "token"),
    ("ARENA_CRAWLER_DATE", "date"),
    ("ARENA_CRAWLER_LEASE_SECONDS", "lease_seconds"),
    ("ARENA_CRAWLER_GROWTH_WITHIN", "growth_within"),
    ("ARENA_CRAWLER_GROWTH_STEP", "growth_step"),
    ("ARENA_CRAWLER_WORKER_NAME", "worker_name"),
    ("ARENA_CRAWLER_RECONNECT_SECONDS", "reconnect_seconds"),
    (
        "ARENA_CRAWLER_REQUEST_TIMEOUT_SECONDS",
        "request_timeout_seconds",
    ),
    ("ELASTICSEARCH_URL", "elasticsearch_url"),
    (
        "ARENA_CRAWLER_ES_INDEX_PREFIX",
        "elasticsearch_index_prefix",
    ),
];

/// The variable that names the settings file.
pub const CONFIG_ENV_VAR: &str = "ARENA_CRAWLER_CONFIG";

/// The crawler's whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrawlerSettings {
    /// `DATABASE_URL`: the Arena database the crawl writes into.
    pub database_url: Secret,
    /// `ARENA_DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: u32,
    /// `RUST_LOG`.
    pub log: String,
    /// `ARENA_CRAWLER_API_URL`: the WG API's base URL.
    pub api_url: Url,
    /// `ARENA_CRAWLER_APP_IDS`: `id:rps,id:rps`.
    pub app_ids: AppIds,
    /// `ARENA_CRAWLER_XBOX_RANGE`: `min-max`, or `off`.
    pub xbox_range: IdRange,
    /// `ARENA_CRAWLER_PS_RANGE`: `min-max`, or `off`.
    pub ps_range: IdRange,
    /// `ARENA_CRAWLER_BIND`: where the coordinator accepts workers.
    pub bind: SocketAddr,
    /// `ARENA_CRAWLER_COORDINATOR_URL`: where a worker finds the coordinator.
    pub coordinator_url: Url,
    /// `ARENA_CRAWLER_TOKEN`: what workers must present.
    #[serde(default)]
    pub token: Option<Secret>,
    /// `ARENA_CRAWLER_DATE`: the day being recorded (`YYYY-MM-DD`); today (UTC) when unset.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// `ARENA_CRAWLER_LEASE_SECONDS`: how long a worker may hold a batch before it is re-issued.
    pub lease_seconds: u64,
    /// `ARENA_CRAWLER_GROWTH_WITHIN`: grow a range when the highest id seen is this close to its end.
    pub growth_within: i64,
    /// `ARENA_CRAWLER_GROWTH_STEP`: how far the range grows.
    pub growth_step: i64,
    /// `ARENA_CRAWLER_WORKER_NAME`: how a worker names itself; host and process id when unset.
    #[serde(default)]
    pub worker_name: Option<String>,
    /// `ARENA_CRAWLER_RECONNECT_SECONDS`: how long a worker keeps trying to reach a coordinator.
    pub reconnect_seconds: u64,
    /// `ARENA_CRAWLER_REQUEST_TIMEOUT_SECONDS`: longest wait for one API answer.
    pub request_timeout_seconds: u64,
    /// `ELASTICSEARCH_URL`: export there after each run; no export when unset or empty.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub elasticsearch_url: Option<Url>,
    /// `ARENA_CRAWLER_ES_INDEX_PREFIX`: indexes are `{prefix}-{kind}-{YYYY.MM.DD}`.
    pub elasticsearch_index_prefix: String,
}

impl Default for CrawlerSettings {
    fn default() -> Self {
        Self {
            database_url: Secret::new("sqlite://arena.db?mode=rwc"),
            database_max_connections: 10,
            log: "info,sqlx::postgres::notice=warn".into(),
            api_url: Url::parse("http://127.0.0.1:8100/").unwrap_or_else(|_| unreachable!()),
            app_ids: AppIds(vec![AppId {
                id: "demo".into(),
                requests_per_second: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            }]),
            // The ranges seen in the original tracker.
            xbox_range: IdRange(Some((5_000, 15_500_000))),
            ps_range: IdRange(Some((1_073_740_000, 1_085_000_000))),
            bind: SocketAddr::from(([127, 0, 0, 1], 8200)),
            coordinator_url: Url::parse("ws://127.0.0.1:8200/ws")
                .unwrap_or_else(|_| unreachable!()),
            token: None,
            date: None,
            lease_seconds: 60,
            growth_within: 50_000,
            growth_step: 200_000,
            worker_name: None,
            reconnect_seconds: 300,
            request_timeout_seconds: 10,
            elasticsearch_url: None,
            elasticsearch_index_prefix: "arena-battles".into(),
        }
    }
}

impl CrawlerSettings {
    /// Loads the layers and checks them.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let settings: Self = load_layered(file, ENV_VARS)?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        let fault = |message: String| Err(SettingsError(message));
        if DatabaseBackend::of_url(self.database_url.expose()).is_none() {
            return fault(format!(
                "DATABASE_URL must start with postgres:// or sqlite:, got {}",
                redact_url(self.database_url.expose())
            ));
        }
        if self.xbox_range.0.is_none() && self.ps_range.0.is_none() {
            return fault(
                "ARENA_CRAWLER_XBOX_RANGE and ARENA_CRAWLER_PS_RANGE are both off: nothing to crawl"
                    .into(),
            );
        }
        if let (Some((_, xbox_max)), Some((ps_min, _))) = (self.xbox_range.0, self.ps_range.0)
            && xbox_max >= ps_min
        {
            return fault("ARENA_CRAWLER_XBOX_RANGE and ARENA_CRAWLER_PS_RANGE overlap".into());
        }
        if self.lease_seconds == 0 || self.request_timeout_seconds == 0 {
            return fault(
                "ARENA_CRAWLER_LEASE_SECONDS and ARENA_CRAWLER_REQUEST_TIMEOUT_SECONDS must be positive"
                    .into(),
            );
        }
        if self.growth_within < 0 || self.growth_step < 0 {
            return fault(
                "ARENA_CRAWLER_GROWTH_WITHIN and ARENA_CRAWLER_GROWTH_STEP cannot be negative"
                    .into(),
            );
        }
        if self.database_max_connections == 0 {
            return fault("ARENA_DATABASE_MAX_CONNECTIONS must be positive".into());
        }
        if !matches!(self.coordinator_url.scheme(), "ws" | "wss") {
            return fault("ARENA_CRAWLER_COORDINATOR_URL must be a ws:// or wss:// URL".into());
        }
        Ok(())
    }

    /// The configured platforms and their ranges.
    pub fn platforms(&self) -> Vec<(Platform, i64, i64)> {
        [
            (Platform::Xbox, self.xbox_range),
            (Platform::Ps, self.ps_range),
        ]
        .into_iter()
        .filter_map(|(platform, range)| range.0.map(|(min, max)| (platform, min, max)))
        .collect()
    }

    /// The day being recorded.
    pub fn day(&self) -> NaiveDate {
        self.date.unwrap_or_else(|| chrono::Utc::now().date_naive())
    }
}

fn empty_as_none<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Url>, D::Error> {
    let raw = Option::<String>::deserialize(de)?;
    raw.map(|raw| raw.trim().to_owned())
        .filter(|raw| !raw.is_empty())
        .map(|raw| Url::parse(&raw).map_err(serde::de::Error::custom))
        .transpose()
}

/// A console platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Xbox.
    Xbox,
    /// PlayStation.
    Ps,
}

impl Platform {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Xbox => "xbox",
            Self::Ps => "ps",
        }
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "xbox" => Ok(Self::Xbox),
            "ps" => Ok(Self::Ps),
            other => Err(format!("unknown platform {other:?}")),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inclusive account-id range, `min-max`, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdRange(pub Option<(i64, i64)>);

impl TryFrom<String> for IdRange {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let raw = raw.trim();
        if raw.is_empty() || raw.eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        let parsed = raw
            .split_once('-')
            .and_then(|(min, max)| Some((min.trim().parse().ok()?, max.trim().parse().ok()?)));
        match parsed {
            Some((min, max)) if 0 < min && min <= max => Ok(Self(Some((min, max)))),
            _ => Err(format!(
                "{raw:?} is not `min-max` with 0 < min <= max (or `off`)"
            )),
        }
    }
}

impl From<IdRange> for String {
    fn from(range: IdRange) -> Self {
        range
            .0
            .map_or_else(|| "off".into(), |(min, max)| format!("{min}-{max}"))
    }
}

/// One application id and the requests per second it may make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppId {
    /// The key sent as `application_id`.
    pub id: String,
    /// Its allowed rate.
    pub requests_per_second: NonZeroU32,
}

/// `id:rps,id:rps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppIds(pub Vec<AppId>);

impl TryFrom<String> for AppIds {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let mut ids = Vec::new();
        for item in raw
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let parsed = item
                .rsplit_once(':')
                .and_then(|(id, rps)| Some((id.trim(), rps.trim().parse::<NonZeroU32>().ok()?)));
            match parsed {
                Some((id, requests_per_second)) if !id.is_empty() => ids.push(AppId {
                    id: id.to_owned(),
                    requests_per_second,
                }),
                _ => {
                    return Err(format!(
                        "{item:?} is not `id:rps` with a positive whole rps"
                    ));
                }
            }
        }
        if ids.is_empty() {
            return Err("at least one `id:rps` is needed".into());
        }
        Ok(Self(ids))
    }
}

impl From<AppIds> for String {
    fn from(ids: AppIds) -> Self {
        ids.0
            .iter()
            .map(|app| format!("{}:{}", app.id, app.requests_per_second))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
// figment::Jail fixes the closure's error type.
#[allow(clippy::result_large_err, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "crawler.toml",
                r#"
                app_ids = "a:10,b:20"
                xbox_range = "1-1000"
                ps_range = "off"
                "#,
            )?;
            jail.set_env("ARENA_CRAWLER_APP_IDS", "k:5");
            jail.set_env("ARENA_CRAWLER_DATE", "2026-11-20");
            jail.set_env("ELASTICSEARCH_URL", "");
            let settings = CrawlerSettings::load(Some(Path::new("crawler.toml"))).unwrap();
            assert_eq!(settings.app_ids.0.len(), 1);
            assert_eq!(settings.app_ids.0[0].id, "k");
            assert_eq!(settings.platforms(), vec![(Platform::Xbox, 1, 1000)]);
            assert_eq!(settings.day().to_string(), "2026-11-20");
            assert!(settings.elasticsearch_url.is_none());
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARENA_CRAWLER_XBOX_RANGE", "100-5");
            let err = CrawlerSettings::load(None).unwrap_err().to_string();
            assert!(err.contains("ARENA_CRAWLER_XBOX_RANGE"), "{err}");
            jail.set_env("ARENA_CRAWLER_XBOX_RANGE", "1-5");
            jail.set_env("ARENA_CRAWLER_APP_IDS", "nope");
            let err = CrawlerSettings::load(None).unwrap_err().to_string();
            assert!(err.contains("ARENA_CRAWLER_APP_IDS"), "{err}");
            Ok(())
        });
    }
}
