//! Logging: `RUST_LOG` filter, text or JSON lines.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::settings::LogFormat;

/// Installs the global subscriber; an invalid filter falls back to `info` with a warning.
pub fn init(filter: &str, format: LogFormat) {
    let (env_filter, bad_filter) = match EnvFilter::try_new(filter) {
        Ok(env_filter) => (env_filter, None),
        Err(err) => (EnvFilter::new("info"), Some(err)),
    };
    let registry = tracing_subscriber::registry().with(env_filter);
    let installed = match format {
        // Logs go to stderr, so command output on stdout (export-schema, migrate status)
        // stays clean.
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .flatten_event(true)
                    .with_span_list(false),
            )
            .try_init(),
    };
    if let (Ok(()), Some(err)) = (installed, bad_filter) {
        tracing::warn!(%err, filter, "RUST_LOG is not a valid filter; logging at info");
    }
}
