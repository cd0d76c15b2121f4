//! Crawl runs: their figures, workers, samples and live progress.
use arena_entity::battles::{crawl_run, crawl_run::RunStatus, crawl_sample, crawl_worker};
use async_graphql::{Context, Enum, ID, Object, SimpleObject, Subscription};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::Stream;

use crate::{
    auth::privileges,
    error::ApiError,
    graphql::{
        app,
        guards::Privilege,
        live, load,
        loaders::{SamplesOf, WorkersOf},
        pagination::{IdConnection, Window},
        viewer,
    },
};

/// Where a crawl run stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum CrawlRunStatus {
    /// Batches are being fetched.
    Running,
    /// Every batch is written; growth and export are under way.
    Finishing,
    /// Done.
    Completed,
}

impl From<RunStatus> for CrawlRunStatus {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Running => Self::Running,
            RunStatus::Finishing => Self::Finishing,
            RunStatus::Completed => Self::Completed,
        }
    }
}

/// Crawl runs: privilege `crawler.read`.
#[derive(Default)]
pub struct RunsQuery;

#[Object]
impl RunsQuery {
    /// Crawl runs, newest first. Privilege `crawler.read`.
    #[graphql(guard = "Privilege(privileges::CRAWLER_READ)")]
    async fn crawl_runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<CrawlRun>> {
        let window = Window::parse(after, before, first, last)?;
        let (rows, total) = crate::battles::runs(&app(ctx).db, viewer(ctx), window).await?;
        Ok(window.page(rows, total, |row| row.id, CrawlRun))
    }

    /// One crawl run. Privilege `crawler.read`.
    #[graphql(guard = "Privilege(privileges::CRAWLER_READ)")]
    async fn crawl_run(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<CrawlRun> {
        let id = parse_run_id(&id)?;
        Ok(CrawlRun(
            crate::battles::run(&app(ctx).db, viewer(ctx), id).await?,
        ))
    }
}

fn parse_run_id(id: &ID) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad_input("id", "that is not a crawl run id"))
}

/// Errors of one kind in a run.
#[derive(SimpleObject)]
pub struct CrawlErrorCount {
    /// `rate_limited`, `source_unavailable`, `http`, `timeout`, `connection`, `malformed`,
    /// `batch_failed`, `lease_expired` or `worker_lost`.
    kind: String,
    count: i64,
}

/// A worker connection of a run.
pub struct CrawlWorker(crawl_worker::Model);

#[Object]
impl CrawlWorker {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What the worker calls itself.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The application id it calls the API with.
    async fn application_id(&self) -> &str {
        &self.0.application_id
    }
    /// Its share of that id's rate.
    async fn requests_per_second(&self) -> i32 {
        self.0.requests_per_second
    }
    async fn connected_at(&self) -> DateTime<Utc> {
        self.0.connected_at
    }
    /// When the coordinator last recorded it.
    async fn last_seen_at(&self) -> DateTime<Utc> {
        self.0.last_seen_at
    }
    /// Null while connected.
    async fn disconnected_at(&self) -> Option<DateTime<Utc>> {
        self.0.disconnected_at
    }
    async fn batches_done(&self) -> i64 {
        self.0.batches_done
    }
    async fn accounts_done(&self) -> i64 {
        self.0.accounts_done
    }
    /// Retries and failed batches.
    async fn errors(&self) -> i64 {
        self.0.errors
    }
}

/// One progress sample.
#[derive(SimpleObject)]
pub struct CrawlSample {
    at: DateTime<Utc>,
    batches_done: i64,
    accounts_done: i64,
    accounts_per_second: f64,
}

impl From<crawl_sample::Model> for CrawlSample {
    fn from(row: crawl_sample::Model) -> Self {
        Self {
            at: row.at,
            batches_done: row.batches_done,
            accounts_done: row.accounts_done,
            accounts_per_second: row.accounts_per_second,
        }
    }
}

/// A crawl run and its live progress.
pub struct CrawlRun(crawl_run::Model);

#[Object]
impl CrawlRun {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The day being recorded.
    async fn day(&self) -> NaiveDate {
        self.0.day
    }
    /// Where the run stands.
    async fn status(&self) -> CrawlRunStatus {
        self.0.status.into()
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    async fn batches_total(&self) -> i64 {
        self.0.batches_total
    }
    async fn batches_done(&self) -> i64 {
        self.0.batches_done
    }
    /// Account ids covered by finished batches.
    async fn accounts_done(&self) -> i64 {
        self.0.accounts_done
    }
    /// Ids that had an account.
    async fn players_found(&self) -> i64 {
        self.0.players_found
    }
    /// Players whose battle count changed (rows written).
    async fn players_changed(&self) -> i64 {
        self.0.players_changed
    }
    /// Over the last few seconds, as last recorded.
    async fn accounts_per_second(&self) -> f64 {
        self.0.accounts_per_second
    }
    /// Errors by kind.
    async fn errors(&self) -> Vec<CrawlErrorCount> {
        let map: std::collections::BTreeMap<String, i64> =
            serde_json::from_str(&self.0.errors).unwrap_or_default();
        map.into_iter()
            .map(|(kind, count)| CrawlErrorCount { kind, count })
            .collect()
    }
    async fn workers_connected(&self) -> i32 {
        self.0.workers_connected
    }
    /// When progress was last recorded.
    async fn progress_at(&self) -> DateTime<Utc> {
        self.0.progress_at
    }
    /// The closing summary, once completed.
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// The run's worker connections (up to 200), newest first.
    async fn workers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CrawlWorker>> {
        let rows = load(ctx).load_one(WorkersOf(self.0.id)).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(CrawlWorker)
            .collect())
    }
    /// The latest progress samples (one per two seconds), oldest first; at most 500.
    async fn samples(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 120)] last: i32,
    ) -> async_graphql::Result<Vec<CrawlSample>> {
        let last = u64::try_from(last)
            .map_err(|_| ApiError::bad_input("last", "a count is not negative"))?
            .min(500);
        let key = SamplesOf {
            run_id: self.0.id,
            last,
        };
        let rows = load(ctx).load_one(key).await?.unwrap_or_default();
        Ok(rows.into_iter().map(CrawlSample::from).collect())
    }
}

/// Subscriptions of the `battles` domain.
#[derive(Default)]
pub struct BattlesSubscription;

#[Subscription]
impl BattlesSubscription {
    /// A crawl run each time its progress is recorded, until it completes. Privilege
    /// `crawler.read`.
    #[graphql(guard = "Privilege(privileges::CRAWLER_READ)")]
    async fn crawl_progress(
        &self,
        ctx: &Context<'_>,
        run_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<CrawlRun>>> {
        use futures_util::StreamExt;
        let id = parse_run_id(&run_id)?;
        let runs =
            crate::battles::progress(app(ctx), id).map(|run| run.map(CrawlRun).map_err(Into::into));
        Ok(live(
            ctx,
            |v| v.require_privilege(privileges::CRAWLER_READ).map(drop),
            runs,
        ))
    }
}
