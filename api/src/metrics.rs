//! Prometheus metrics: GraphQL requests and latency by operation, errors by code, pool state.

use std::{collections::HashSet, sync::Mutex, time::Duration};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use sea_orm::DatabaseConnection;

use crate::{Locked, error::ErrorCode};

/// Operation names beyond this many distinct values are counted as `other`, so a client
/// inventing names cannot grow the metric set without bound.
const MAX_OPERATION_LABELS: usize = 256;

/// Of those, how many anonymous callers may introduce; the rest are kept for names first
/// seen from signed-in callers, so anonymous junk cannot crowd out real operations.
const MAX_ANONYMOUS_LABELS: usize = 64;

/// Longest operation name kept as a label; longer ones are counted as `other`.
pub const MAX_OPERATION_NAME: usize = 64;

/// Whether `name` may be a label: a GraphQL name of bounded length.
pub fn fits_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_OPERATION_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[derive(Default)]
struct KnownOperations {
    names: HashSet<String>,
    /// How many of `names` anonymous callers introduced.
    anonymous: usize,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// The process's metric registry and the handles that update it.
pub struct Metrics {
    registry: Registry,
    requests: Family<OperationLabels, Counter>,
    latency: Family<OperationLabels, Histogram>,
    errors: Family<CodeLabels, Counter>,
    pool: Family<PoolLabels, Gauge>,
    websockets: Gauge,
    known_operations: Mutex<KnownOperations>,
    /// Statements sent to the database since start.
    pub statements: Counter,
    /// Subscriptions executed once for every anonymous socket that sends the same one.
    pub shared_executions: Counter,
    /// Sockets that joined such an execution instead of running their own.
    pub shared_joins: Counter,
    /// Reads of live values (a board's top, a subscriber's rank or statistics) on changes.
    pub live_reads: Counter,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s
    Histogram::new([
        0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        5.0, 10.0, 16.0,
    ])
}

impl Metrics {
    /// A fresh registry; each app instance (and each test) has its own.
    pub fn new(pool_max_connections: u32) -> Self {
        let mut registry = Registry::with_prefix("arena");
        let requests = Family::<OperationLabels, Counter>::default();
        let latency = Family::<OperationLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let errors = Family::<CodeLabels, Counter>::default();
        let pool = Family::<PoolLabels, Gauge>::default();
        let pool_max: Gauge = Gauge::default();
        let websockets = Gauge::default();
        registry.register(
            "graphql_requests",
            "GraphQL requests by operation name and kind",
            requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "GraphQL request latency by operation name and kind",
            latency.clone(),
        );
        registry.register(
            "graphql_errors",
            "GraphQL errors by extensions.code",
            errors.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections by state",
            pool.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Database pool size limit",
            pool_max.clone(),
        );
        registry.register(
            "websocket_connections",
            "Open GraphQL websocket connections",
            websockets.clone(),
        );
        let statements = Counter::default();
        registry.register(
            "db_statements",
            "Statements sent to the database",
            statements.clone(),
        );
        let (shared_executions, shared_joins) = (Counter::default(), Counter::default());
        registry.register(
            "subscription_shared_executions",
            "Subscriptions executed once for the anonymous sockets that send the same one",
            shared_executions.clone(),
        );
        registry.register(
            "subscription_shared_joins",
            "Sockets that joined a shared subscription execution",
            shared_joins.clone(),
        );
        let live_reads = Counter::default();
        registry.register(
            "live_reads",
            "Reads of live values (a board's top, a subscriber's rank or statistics) on changes",
            live_reads.clone(),
        );
        pool_max.set(i64::from(pool_max_connections));
        // Every code shows from the start, so a rate() over it has a baseline.
        for code in ErrorCode::ALL {
            let _ = errors.get_or_create(&CodeLabels {
                code: code.as_str(),
            });
        }
        Self {
            registry,
            requests,
            latency,
            errors,
            pool,
            websockets,
            known_operations: Mutex::default(),
            statements,
            shared_executions,
            shared_joins,
            live_reads,
        }
    }

    /// Records one executed GraphQL request; `signed_in` callers may introduce more names.
    pub fn observe_request(
        &self,
        operation: Option<&str>,
        signed_in: bool,
        kind: &'static str,
        took: Duration,
    ) {
        let labels = OperationLabels {
            operation: self.operation_label(operation, signed_in),
            kind,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Records one error sent to a client.
    pub fn observe_error(&self, code: &str) {
        let code = ErrorCode::ALL
            .into_iter()
            .find(|known| known.as_str() == code)
            .unwrap_or(ErrorCode::Internal);
        self.errors
            .get_or_create(&CodeLabels {
                code: code.as_str(),
            })
            .inc();
    }

    /// Tracks open websocket connections.
    pub fn websocket_opened(&self) -> WebsocketGuard<'_> {
        self.websockets.inc();
        WebsocketGuard(&self.websockets)
    }

    fn operation_label(&self, operation: Option<&str>, signed_in: bool) -> String {
        let Some(name) = operation else {
            return "anonymous".into();
        };
        if !fits_label(name) {
            return "other".into();
        }
        let mut known = self.known_operations.locked();
        if known.names.contains(name) {
            return name.to_owned();
        }
        if known.names.len() >= MAX_OPERATION_LABELS
            || (!signed_in && known.anonymous >= MAX_ANONYMOUS_LABELS)
        {
            return "other".into();
        }
        known.names.insert(name.to_owned());
        if !signed_in {
            known.anonymous += 1;
        }
        name.to_owned()
    }

    /// The Prometheus text exposition, with the pool state read now.
    pub fn render(&self, db: &DatabaseConnection) -> String {
        let (open, idle) = crate::db::pool_state(db);
        self.pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(i64::from(idle));
        self.pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(open.saturating_sub(idle)));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Decrements the websocket gauge when the connection ends.
pub struct WebsocketGuard<'a>(&'a Gauge);

impl Drop for WebsocketGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
