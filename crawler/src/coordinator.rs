//! The coordinator: owns one crawl run. It hands batches to workers over a websocket and
//! keeps each supplied ahead, re-issues batches whose lease expires or whose worker leaves
//! (front of the queue), writes results in bulk through one writer task, records progress,
//! and when every batch is written applies the growth rule, exports, and ends the run.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    fmt,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use arena_entity::battles::crawl_worker;
use axum::{
    Router,
    extract::{
        State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use sea_orm::DatabaseConnection;
use tokio::{
    net::TcpListener,
    sync::mpsc::{self, UnboundedSender},
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    export,
    progress::Reporter,
    protocol::{self, FromWorker, Job, NAME_HEADER, PATH, ToWorker, VERSION_HEADER},
    settings::{AppId, CrawlerSettings, Platform},
    store::{self, BatchResult, Progress, Written},
};

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The run.
    pub run_id: i64,
    /// The day recorded.
    pub day: chrono::NaiveDate,
    /// Whether it was resumed after a restart.
    pub resumed: bool,
    /// Batches in the run.
    pub batches: i64,
    /// Account ids covered.
    pub accounts: i64,
    /// Accounts found.
    pub players_found: i64,
    /// Players written (new or changed).
    pub players_changed: i64,
    /// Wall time of this process's part of the run.
    pub elapsed: Duration,
    /// From the first worker's arrival to the last batch committed: the crawl itself.
    pub crawl_time: Duration,
    /// Of the crawl, time the writer spent in database transactions.
    pub write_time: Duration,
    /// This process's peak resident memory, in KiB (Linux).
    pub peak_memory_kib: Option<u64>,
    /// Account ids covered by this process (a resumed run counts only its part).
    pub accounts_done_here: i64,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Ranges grown: platform, old maximum, new maximum.
    pub grown: Vec<(Platform, i64, i64)>,
    /// The export's outcome, when one is configured.
    pub export: Option<export::Exported>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64().max(0.001);
        write!(
            f,
            "run {} for {} complete{}: {} batches, {} ids, {} players found, {} written, \
             {:.1} s",
            self.run_id,
            self.day,
            if self.resumed { " (resumed)" } else { "" },
            self.batches,
            self.accounts,
            self.players_found,
            self.players_changed,
            seconds,
        )?;
        if !self.errors.is_empty() {
            let errors: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            write!(f, "; errors: {}", errors.join(", "))?;
        }
        for (platform, from, to) in &self.grown {
            write!(f, "; {platform} range grew from {from} to {to}")?;
        }
        if let Some(export) = &self.export {
            write!(f, "; {export}")?;
        }
        let crawl = self.crawl_time.as_secs_f64();
        if crawl > 0.0 {
            write!(
                f,
                "; crawl {crawl:.1} s at {:.0} accounts/s, {:.1} s of it writing",
                self.accounts_done_here as f64 / crawl,
                self.write_time.as_secs_f64()
            )?;
        }
        if let Some(kib) = self.peak_memory_kib {
            write!(f, "; peak memory {} MiB", kib / 1024)?;
        }
        Ok(())
    }
}

/// What connection tasks tell the coordinator.
enum Event {
    Joined {
        id: Uuid,
        name: String,
        tx: UnboundedSender<ToWorker>,
    },
    Left {
        id: Uuid,
    },
    Message {
        id: Uuid,
        message: FromWorker,
    },
}

/// What the writer task does, in order.
enum Write {
    Lease(Vec<i64>, Uuid, chrono::DateTime<Utc>),
    Release(Vec<i64>),
    Results(BatchResult),
    Progress(Progress),
}

#[derive(Clone)]
struct Shared {
    token: Arc<str>,
    events: mpsc::Sender<Event>,
    stop: CancellationToken,
}

enum JobState {
    Queued,
    Leased,
}

struct Worker {
    name: String,
    tx: UnboundedSender<ToWorker>,
    app: usize,
    rps: u32,
    leases: HashMap<i64, Instant>,
    row: crawl_worker::Model,
}

/// The coordinator's books.
struct Books {
    run_id: i64,
    api_url: String,
    lease: Duration,
    apps: Vec<AppId>,
    jobs: HashMap<i64, (Job, Platform, JobState)>,
    queue: VecDeque<i64>,
    workers: HashMap<Uuid, Worker>,
    departed: Vec<crawl_worker::Model>,
    errors: BTreeMap<String, u64>,
    writes: mpsc::Sender<Write>,
}

impl Books {
    fn share(&self, app: usize) -> u32 {
        let sharing = self
            .workers
            .values()
            .filter(|w| w.app == app)
            .count()
            .max(1);
        let rps = self.apps[app].requests_per_second.get();
        (rps / u32::try_from(sharing).unwrap_or(u32::MAX)).max(1)
    }

    /// Tells every worker of `app` its share of the rate when it changed.
    fn rebalance(&mut self, app: usize) {
        let share = self.share(app);
        for worker in self.workers.values_mut().filter(|w| w.app == app) {
            if worker.rps != share {
                worker.rps = share;
                worker.row.requests_per_second = i32::try_from(share).unwrap_or(i32::MAX);
                let _ = worker.tx.send(ToWorker::Rate {
                    requests_per_second: share,
                });
            }
        }
    }

    fn count_error(&mut self, kind: &str, n: u64) {
        *self.errors.entry(kind.to_owned()).or_default() += n;
    }

    /// Takes `ids` back from `worker` and puts them at the front of the queue.
    async fn requeue(&mut self, ids: Vec<i64>) {
        for id in ids.iter().rev() {
            if let Some((_, _, state)) = self.jobs.get_mut(id)
                && matches!(state, JobState::Leased)
            {
                *state = JobState::Queued;
                self.queue.push_front(*id);
            }
        }
        if !ids.is_empty() {
            let _ = self.writes.send(Write::Release(ids)).await;
        }
    }

    /// Keeps every worker supplied with enough batches to stay busy at its rate.
    async fn dispatch(&mut self) {
        let until = Utc::now()
            + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(60));
        let expires = Instant::now() + self.lease;
        let ids: Vec<Uuid> = self.workers.keys().copied().collect();
        for id in ids {
            let Some(worker) = self.workers.get_mut(&id) else {
                continue;
            };
            // Two seconds of work in hand, so latency never idles the worker.
            let ahead = (worker.rps as usize * 2).clamp(4, 64);
            let mut jobs = Vec::new();
            while worker.leases.len() + jobs.len() < ahead {
                let Some(batch) = self.queue.pop_front() else {
                    break;
                };
                // Ids whose job was answered meanwhile are stale: skip them.
                if let Some((job, _, state)) = self.jobs.get_mut(&batch)
                    && matches!(state, JobState::Queued)
                {
                    *state = JobState::Leased;
                    jobs.push(*job);
                }
            }
            if jobs.is_empty() {
                continue;
            }
            for job in &jobs {
                worker.leases.insert(job.batch_id, expires);
            }
            let batch_ids = jobs.iter().map(|job| job.batch_id).collect();
            let _ = worker.tx.send(ToWorker::Work(jobs));
            let _ = self.writes.send(Write::Lease(batch_ids, id, until)).await;
        }
    }

    async fn expire_leases(&mut self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        for worker in self.workers.values_mut() {
            worker.leases.retain(|batch, until| {
                let keep = *until > now;
                if !keep {
                    expired.push(*batch);
                }
                keep
            });
        }
        if !expired.is_empty() {
            tracing::warn!(batches = expired.len(), "leases expired; re-issuing");
            self.count_error("lease_expired", expired.len() as u64);
            self.requeue(expired).await;
        }
    }

    fn progress(&self, accounts_per_second: f64) -> Progress {
        let now = Utc::now();
        let mut workers: Vec<crawl_worker::Model> = self.departed.clone();
        workers.extend(self.workers.values().map(|w| {
            let mut row = w.row.clone();
            row.last_seen_at = now;
            row
        }));
        Progress {
            accounts_per_second,
            errors: self.errors.clone(),
            workers_connected: i32::try_from(self.workers.len()).unwrap_or(i32::MAX),
            workers,
        }
    }
}

/// Accounts per second over the last few seconds.
struct Rate {
    samples: VecDeque<(Instant, i64)>,
}

impl Rate {
    fn observe(&mut self, done: i64) -> f64 {
        let now = Instant::now();
        self.samples.push_back((now, done));
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > Duration::from_secs(5))
        {
            self.samples.pop_front();
        }
        match (self.samples.front(), self.samples.back()) {
            (Some((t0, d0)), Some((t1, d1))) if t1 > t0 => {
                (d1 - d0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

/// The lock a coordinator holds on its database.
const SOLE: &str = "arena.crawl.coordinator";

/// Why a second coordinator on one database stops.
pub const ALREADY_RUNNING: &str =
    "another coordinator is running a crawl on this database; only one may";

/// Runs the coordinator on `listener` until the run completes (`Ok`) or `stop` fires.
pub async fn coordinate(
    settings: CrawlerSettings,
    db: DatabaseConnection,
    listener: TcpListener,
    token: String,
    stop: CancellationToken,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    // Held until this returns: a second coordinator on the database would hand out the
    // same batches and count them twice.
    let Some(_sole) = arena_api::db::try_exclusive(settings.database_url.expose(), SOLE).await?
    else {
        anyhow::bail!("{ALREADY_RUNNING}");
    };
    let ranges = store::ranges(&db, &settings).await?;
    let opened = store::open_run(&db, settings.day(), &ranges).await?;
    let run = opened.run.clone();
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(
        run = run.id,
        day = %run.day,
        resumed = opened.resumed,
        batches = run.batches_total,
        left = opened.pending.len(),
        %addr,
        "coordinating"
    );

    // Everything this function spawns ends with it, also when the caller drops it.
    let guard = stop.child_token();
    let _drop_guard = guard.clone().drop_guard();
    let (events_tx, mut events) = mpsc::channel::<Event>(1024);
    let (writes_tx, writes_rx) = mpsc::channel::<Write>(256);
    let (committed_tx, mut committed) = mpsc::unbounded_channel::<Written>();
    let shared = Shared {
        token: token.into(),
        events: events_tx,
        stop: guard.clone(),
    };
    let app = Router::new()
        .route(PATH, get(accept))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(shared);
    let server_stop = guard.clone();
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(server_stop.cancelled_owned())
            .await;
        if let Err(err) = served {
            tracing::error!(%err, "coordinator server stopped");
        }
    });
    let writer = tokio::spawn(writer(
        db.clone(),
        run.id,
        run.day,
        writes_rx,
        committed_tx,
        guard.clone(),
    ));

    let mut books = Books {
        run_id: run.id,
        api_url: settings.api_url.to_string(),
        lease: Duration::from_secs(settings.lease_seconds),
        apps: settings.app_ids.0.clone(),
        jobs: HashMap::with_capacity(opened.pending.len()),
        queue: VecDeque::with_capacity(opened.pending.len()),
        workers: HashMap::new(),
        departed: Vec::new(),
        errors: BTreeMap::new(),
        writes: writes_tx,
    };
    for (job, platform) in &opened.pending {
        books
            .jobs
            .insert(job.batch_id, (*job, *platform, JobState::Queued));
        books.queue.push_back(job.batch_id);
    }
    let mut done = run.batches_done;
    let accounts_at_start = run.accounts_done;
    let mut crawl_started: Option<Instant> = None;
    let total = run.batches_total;
    let mut rate = Rate {
        samples: VecDeque::new(),
    };
    let mut accounts_done = run.accounts_done;
    let mut reporter = Reporter::new(run.id, total, done);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut ticks: u64 = 0;
    while !books.jobs.is_empty() {
        tokio::select! {
            () = stop.cancelled() => {
                reporter.abandon();
                anyhow::bail!("stopped before run {} completed ({done} of {total} batches)", run.id);
            }
            Some(event) = events.recv() => {
                if crawl_started.is_none() && matches!(event, Event::Joined { .. }) {
                    crawl_started = Some(Instant::now());
                }
                handle(&mut books, event).await;
            }
            Some(written) = committed.recv() => {
                done += written.batches;
                accounts_done += written.accounts;
            }
            _ = tick.tick() => {
                ticks += 1;
                books.expire_leases().await;
                let aps = rate.observe(accounts_done);
                reporter.update(done, aps, books.workers.len());
                if ticks.is_multiple_of(2) {
                    let _ = books.writes.send(Write::Progress(books.progress(aps))).await;
                }
            }
        }
        books.dispatch().await;
    }
    // Wait for the last writes to commit.
    while done < total {
        tokio::select! {
            () = stop.cancelled() => anyhow::bail!("stopped while writing run {}", run.id),
            Some(written) = committed.recv() => {
                done += written.batches;
                accounts_done += written.accounts;
            }
        }
    }
    let crawl_time = crawl_started.map(|at| at.elapsed()).unwrap_or_default();
    let now = Utc::now();
    for worker in books.workers.values_mut() {
        let _ = worker.tx.send(ToWorker::Finished);
        worker.row.disconnected_at = Some(now);
    }
    let progress = books.progress(0.0);
    let _ = books.writes.send(Write::Progress(progress)).await;
    drop(books);
    // The writer drains its queue and ends when the books drop their sender.
    let write_time = writer.await.unwrap_or_default();
    reporter.finish(done);
    let grown = store::finish(&db, run.id, &settings).await?;
    let export = match &settings.elasticsearch_url {
        Some(url) => {
            Some(export::export_day(&db, url, &settings.elasticsearch_index_prefix, run.day).await?)
        }
        None => None,
    };
    let stored = store::run(&db, run.id).await?;
    let summary = Summary {
        run_id: run.id,
        day: run.day,
        resumed: opened.resumed,
        batches: stored.batches_done,
        accounts: stored.accounts_done,
        players_found: stored.players_found,
        players_changed: stored.players_changed,
        elapsed: started.elapsed(),
        crawl_time,
        write_time,
        peak_memory_kib: peak_memory_kib(),
        accounts_done_here: accounts_done - accounts_at_start,
        errors: serde_json::from_str(&stored.errors).unwrap_or_default(),
        grown,
        export,
    };
    store::complete(&db, run.id, &summary.to_string()).await?;
    // Let workers read their Finished before the server goes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    guard.cancel();
    let _ = server.await;
    Ok(summary)
}

async fn handle(books: &mut Books, event: Event) {
    match event {
        Event::Joined { id, name, tx } => {
            // The application id with the fewest workers.
            let app = (0..books.apps.len())
                .min_by_key(|app| books.workers.values().filter(|w| w.app == *app).count())
                .unwrap_or(0);
            let now = Utc::now();
            let row = crawl_worker::Model {
                id,
                run_id: books.run_id,
                name: name.clone(),
                application_id: books.apps[app].id.clone(),
                requests_per_second: 0,
                connected_at: now,
                last_seen_at: now,
                disconnected_at: None,
                batches_done: 0,
                accounts_done: 0,
                errors: 0,
            };
            books.workers.insert(
                id,
                Worker {
                    name,
                    tx,
                    app,
                    rps: 0,
                    leases: HashMap::new(),
                    row,
                },
            );
            let share = books.share(app);
            if let Some(worker) = books.workers.get_mut(&id) {
                worker.rps = share;
                worker.row.requests_per_second = i32::try_from(share).unwrap_or(i32::MAX);
                tracing::info!(worker = %worker.name, app = %books.apps[app].id, rps = share, "worker joined");
                let _ = worker.tx.send(ToWorker::Welcome {
                    worker_id: id,
                    run_id: books.run_id,
                    api_url: books.api_url.clone(),
                    application_id: books.apps[app].id.clone(),
                    requests_per_second: share,
                });
            }
            books.rebalance(app);
        }
        Event::Left { id } => {
            let Some(mut worker) = books.workers.remove(&id) else {
                return;
            };
            let leased: Vec<i64> = worker.leases.keys().copied().collect();
            tracing::info!(worker = %worker.name, reissued = leased.len(), "worker left");
            if !leased.is_empty() {
                books.count_error("worker_lost", leased.len() as u64);
            }
            worker.row.disconnected_at = Some(Utc::now());
            books.departed.push(worker.row);
            books.requeue(leased).await;
            books.rebalance(worker.app);
        }
        Event::Message { id, message } => {
            let (batch_id, retries) = match &message {
                FromWorker::Done {
                    batch_id, retries, ..
                }
                | FromWorker::Failed {
                    batch_id, retries, ..
                } => (*batch_id, retries.clone()),
            };
            let retried: u64 = retries.iter().map(|(_, n)| u64::from(*n)).sum();
            for (kind, n) in &retries {
                books.count_error(kind, u64::from(*n));
            }
            let leased_here = books
                .workers
                .get_mut(&id)
                .is_some_and(|worker| worker.leases.remove(&batch_id).is_some());
            if let Some(worker) = books.workers.get_mut(&id) {
                worker.row.errors += i64::try_from(retried).unwrap_or(i64::MAX);
            }
            match message {
                FromWorker::Done { players, .. } => {
                    // Jobs leave the books when handed to the writer, which retries until
                    // they commit; a second answer for the same batch finds nothing here.
                    let Some((job, platform, state)) = books.jobs.remove(&batch_id) else {
                        return;
                    };
                    // A late answer for a re-issued batch is as good as any: take it, and
                    // drop the other lease.
                    if matches!(state, JobState::Leased) && !leased_here {
                        for worker in books.workers.values_mut() {
                            worker.leases.remove(&batch_id);
                        }
                    }
                    if let Some(worker) = books.workers.get_mut(&id) {
                        worker.row.batches_done += 1;
                        worker.row.accounts_done += job.last_id - job.first_id + 1;
                    }
                    let result = BatchResult {
                        job,
                        platform,
                        players,
                    };
                    let _ = books.writes.send(Write::Results(result)).await;
                }
                FromWorker::Failed { reason, .. } => {
                    tracing::warn!(batch = batch_id, %reason, "batch failed; re-issuing");
                    books.count_error("batch_failed", 1);
                    if let Some(worker) = books.workers.get_mut(&id) {
                        worker.row.errors += 1;
                    }
                    if leased_here {
                        books.requeue(vec![batch_id]).await;
                    }
                }
            }
        }
    }
}

/// Applies bookkeeping writes in order; consecutive results are written together in one
/// transaction, two transactions at a time on PostgreSQL (its work spreads over two
/// backends; SQLite has one writer anyway). Each group covers other batches and other
/// players, so the transactions never wait on each other but for the run's counters at
/// their end. A failed write is retried until it succeeds or the coordinator stops:
/// nothing accepted is dropped. Returns the time spent in result transactions, summed.
async fn writer(
    db: DatabaseConnection,
    run_id: i64,
    day: chrono::NaiveDate,
    mut writes: mpsc::Receiver<Write>,
    committed: mpsc::UnboundedSender<Written>,
    stop: CancellationToken,
) -> Duration {
    const GROUP: usize = 64;
    let parallel = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        2
    } else {
        1
    };
    let mut busy = Duration::ZERO;
    let mut in_flight = tokio::task::JoinSet::new();
    let mut results = Vec::with_capacity(GROUP);
    let mut finish =
        |outcome: Result<Option<(Written, Duration)>, tokio::task::JoinError>| match outcome {
            Ok(Some((written, took))) => {
                busy += took;
                let _ = committed.send(written);
                true
            }
            _ => false,
        };
    loop {
        // Report each transaction as soon as it commits, also while no write arrives.
        let first = tokio::select! {
            write = writes.recv() => match write {
                Some(write) => write,
                None => break,
            },
            Some(outcome) = in_flight.join_next(), if !in_flight.is_empty() => {
                if !finish(outcome) {
                    return busy;
                }
                continue;
            }
        };
        let mut next = Some(first);
        while let Some(write) = next.take() {
            match write {
                Write::Results(result) => results.push(result),
                other => {
                    retrying(&stop, "bookkeeping", || apply(&db, run_id, &other)).await;
                }
            }
            if results.len() >= GROUP {
                break;
            }
            next = writes.try_recv().ok();
        }
        if results.is_empty() {
            continue;
        }
        while in_flight.len() >= parallel {
            if let Some(outcome) = in_flight.join_next().await
                && !finish(outcome)
            {
                return busy;
            }
        }
        let group = std::mem::replace(&mut results, Vec::with_capacity(GROUP));
        let (db, stop) = (db.clone(), stop.clone());
        in_flight.spawn(async move {
            let began = Instant::now();
            let written = retrying(&stop, "results", || {
                store::write_results(&db, run_id, day, &group)
            })
            .await?;
            Some((written, began.elapsed()))
        });
    }
    while let Some(outcome) = in_flight.join_next().await {
        finish(outcome);
    }
    busy
}

/// `VmHWM` of this process: the most resident memory it has had.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn apply(db: &DatabaseConnection, run_id: i64, write: &Write) -> Result<(), sea_orm::DbErr> {
    match write {
        Write::Lease(ids, worker, until) => store::lease(db, ids, *worker, *until).await,
        Write::Release(ids) => store::release(db, ids).await,
        Write::Progress(progress) => store::record_progress(db, run_id, progress).await,
        Write::Results(_) => Ok(()),
    }
}

/// Retries `op` with capped backoff until it succeeds, or `None` once `stop` fires.
async fn retrying<T, F, Fut>(stop: &CancellationToken, what: &str, mut op: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sea_orm::DbErr>>,
{
    let mut wait = Duration::from_millis(100);
    loop {
        match op().await {
            Ok(value) => return Some(value),
            Err(err) => {
                tracing::error!(%err, what, "database write failed; retrying");
                tokio::select! {
                    () = stop.cancelled() => return None,
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The websocket handshake: a wrong token or protocol version is refused with a reason
/// before the upgrade.
async fn accept(
    State(shared): State<Shared>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let authorization = text(header::AUTHORIZATION.as_str());
    if let Some(reason) = protocol::refusal(&shared.token, authorization, text(VERSION_HEADER)) {
        let status = if reason.contains("token") {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::UPGRADE_REQUIRED
        };
        tracing::warn!(%reason, "worker refused");
        return (status, reason).into_response();
    }
    let name = text(NAME_HEADER)
        .unwrap_or("worker")
        .chars()
        .take(128)
        .collect();
    upgrade.on_upgrade(move |socket| connection(socket, name, shared))
}

async fn connection(socket: WebSocket, name: String, shared: Shared) {
    let id = Uuid::now_v7();
    let (tx, mut outbox) = mpsc::unbounded_channel();
    if shared
        .events
        .send(Event::Joined { id, name, tx })
        .await
        .is_err()
    {
        return;
    }
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            () = shared.stop.cancelled() => break,
            message = outbox.recv() => {
                let Some(message) = message else { break };
                let finished = matches!(message, ToWorker::Finished);
                let Ok(bytes) = protocol::encode(&message) else { break };
                if sink.send(Message::Binary(bytes.into())).await.is_err() {
                    break;
                }
                if finished {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Binary(bytes))) => match protocol::decode::<FromWorker>(&bytes) {
                    Ok(message) => {
                        if shared.events.send(Event::Message { id, message }).await.is_err() {
                            break;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%err, "undecodable worker message; closing");
                        break;
                    }
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = shared.events.send(Event::Left { id }).await;
}
