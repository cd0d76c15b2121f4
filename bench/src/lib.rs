//! What the load commands share: running many client loops for a fixed time, and reading
//! their rate and latency.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

/// The server under load, its database, and how hard and long to load it.
#[derive(clap::Args)]
pub struct Target {
    /// The server, `http://127.0.0.1:PORT`.
    #[arg(long)]
    pub url: String,
    /// The server's database, for the plain-client reference.
    #[arg(long)]
    pub database_url: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds each scenario runs (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

/// What a load command talks to: the server's base address and GraphQL endpoint, an HTTP
/// client with one idle connection per client, and the server's database.
pub struct Opened {
    pub base: String,
    pub graphql: String,
    pub http: reqwest::Client,
    pub db: DatabaseConnection,
}

impl Target {
    /// Opens the server and its database.
    pub async fn open(&self) -> anyhow::Result<Opened> {
        let base = self.url.trim_end_matches('/').to_owned();
        Ok(Opened {
            graphql: format!("{base}/graphql"),
            base,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(self.connections)
                .build()?,
            db: arena_api::db::connect_url(&self.database_url, 20).await?,
        })
    }
}

/// What one scenario measured.
pub struct Measured {
    /// Requests finished while counting.
    pub requests: usize,
    /// Of those, the ones that failed.
    pub errors: usize,
    /// How long the counting lasted.
    pub seconds: f64,
    /// Each request's latency.
    pub latencies: Vec<Duration>,
}

impl Measured {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// The latency below which `p` of the requests finished.
    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(at).copied().unwrap_or_default()
    }

    /// One line: rate, p50, p99 and errors.
    pub fn report(&self, name: &str) {
        println!(
            "{name:<34} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
            self.rate(),
            self.percentile(0.5).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0,
            self.errors
        );
    }
}

/// How long a scenario runs, and optionally at what pace.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// Seconds counted, after one second of warm-up.
    pub seconds: u64,
    /// Requests started per second, spread evenly over the loops (an open loop: a request's
    /// latency counts from when it was due, so a loop that falls behind shows it); `None`:
    /// each loop sends its next request as soon as the last one answered.
    pub rate: Option<f64>,
}

impl From<u64> for Span {
    fn from(seconds: u64) -> Self {
        Self {
            seconds,
            rate: None,
        }
    }
}

/// Runs one loop of `one` per state (each loop passes its state through every call: `one`
/// returns whether the request succeeded and the state for the next) for the span's
/// seconds, after a second of warm-up that is not counted.
pub async fn drive<S, F, Fut>(span: impl Into<Span>, states: Vec<S>, one: F) -> Measured
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = (bool, S)> + Send,
{
    let span = span.into();
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let loops_n = states.len();
    let began = tokio::time::Instant::now();
    let mut loops = Vec::with_capacity(loops_n);
    for (k, state) in states.into_iter().enumerate() {
        let (one, counting, stop) = (one.clone(), counting.clone(), stop.clone());
        loops.push(tokio::spawn(async move {
            let (mut latencies, mut errors, mut state) = (Vec::new(), 0, state);
            // Loop k sends requests k, k + n, k + 2n, … of the paced sequence.
            let mut turn = k;
            while !stop.load(Ordering::Relaxed) {
                let due = match span.rate {
                    Some(rate) => {
                        let due = began + Duration::from_secs_f64(turn as f64 / rate);
                        turn += loops_n;
                        tokio::time::sleep_until(due).await;
                        due
                    }
                    None => tokio::time::Instant::now(),
                };
                let counted = counting.load(Ordering::Relaxed);
                let (ok, next) = one(state).await;
                state = next;
                if counted && counting.load(Ordering::Relaxed) {
                    latencies.push(due.elapsed());
                    errors += usize::from(!ok);
                }
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(span.seconds)).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut measured = Measured {
        requests: 0,
        errors: 0,
        seconds: elapsed,
        latencies: Vec::new(),
    };
    for finished in loops {
        if let Ok((latencies, errors)) = finished.await {
            measured.requests += latencies.len();
            measured.errors += errors;
            measured.latencies.extend(latencies);
        }
    }
    measured
}

/// One GraphQL POST; whether it answered without errors.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> Option<Value> {
    let authorization = token.map(|t| format!("Bearer {t}"));
    post_as(http, url, authorization.as_deref(), body).await
}

/// One GraphQL POST with any `Authorization` (a game server's `Server <token>`, say);
/// whether it answered without errors.
pub async fn post_as(
    http: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    body: &Value,
) -> Option<Value> {
    let mut request = http.post(url).json(body);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let answer: Value = request.send().await.ok()?.json().await.ok()?;
    answer.get("errors").is_none().then_some(answer)
}

/// The first column of the one row `sql` answers, a number.
pub async fn one_number(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .context("a row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// Waits until no event is pending; when the last was applied (within 50 ms). Called once
/// every event was stored (its call answered): a later event (a relayed one) has a larger
/// id than those, so the probe starts from the lowest pending id it saw.
pub async fn drained(db: &DatabaseConnection) -> anyhow::Result<Instant> {
    let mut from = 0;
    loop {
        // One probe of the pending index, from where it left off: the index keeps an entry
        // for each applied event until a vacuum, and a probe from its start would walk them
        // all, every 50 ms, beside the processor it measures.
        let lowest = one_number(
            db,
            &format!(
                "SELECT COALESCE(MIN(id), 0) FROM (SELECT id FROM game_events \
                 WHERE state = 'pending' AND id >= {from} ORDER BY id LIMIT 1) p"
            ),
        )
        .await?;
        if lowest == 0 {
            return Ok(Instant::now());
        }
        from = lowest;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs one statement with a plain client; whether it succeeded.
pub async fn sql(db: &DatabaseConnection, sql: &str) -> bool {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .is_ok()
}

/// The text of the server's `/metrics`.
pub async fn metrics(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    Ok(http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?)
}

/// The statement counter in a `/metrics` text.
fn statement_count(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix("arena_db_statements_total "))
        .and_then(|v| v.trim().parse().ok())
}

/// The statement counter from `/metrics`.
pub async fn statements(http: &reqwest::Client, base: &str) -> anyhow::Result<f64> {
    statement_count(&metrics(http, base).await?)
        .context("/metrics has no arena_db_statements_total")
}

/// The cumulative latency buckets of `operation` in a `/metrics` text: (upper bound in
/// seconds, requests at or below it).
pub fn latency_buckets(text: &str, operation: &str) -> Vec<(f64, f64)> {
    let label = format!("operation=\"{operation}\"");
    text.lines()
        .filter(|l| {
            l.starts_with("arena_graphql_request_duration_seconds_bucket{") && l.contains(&label)
        })
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            let count = l.rsplit(' ').next()?.trim().parse().ok()?;
            Some((bound, count))
        })
        .collect()
}

/// The server's own latency bound for `p` of the requests of `operation` made between two
/// `/metrics` readings: the upper bound of the histogram bucket holding that request.
pub fn server_percentile(before: &str, after: &str, operation: &str, p: f64) -> Option<f64> {
    let earlier = latency_buckets(before, operation);
    let later = latency_buckets(after, operation);
    let counted: Vec<(f64, f64)> = later
        .iter()
        .map(|&(bound, n)| {
            let was = earlier
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0.0, |&(_, n)| n);
            (bound, n - was)
        })
        .collect();
    let total = counted.iter().map(|&(_, n)| n).fold(0.0, f64::max);
    if total <= 0.0 {
        return None;
    }
    counted
        .iter()
        .find(|&&(_, n)| n >= total * p)
        .map(|&(bound, _)| bound)
}

/// Registers and signs in `n` accounts; their (access, refresh) tokens.
pub async fn accounts(
    http: &reqwest::Client,
    url: &str,
    n: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let run = std::process::id();
    let mut signed_in = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("load{run}x{i}");
        let password = format!("{name}-long-password");
        let register = json!({
            "query": "mutation($i: RegisterInput!) { register(input: $i) { id } }",
            "variables": { "i": { "username": name, "email": format!("{name}@example.com"), "password": password } }
        });
        post(http, url, None, &register).await.context("register")?;
        let login = json!({
            "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }",
            "variables": { "i": { "login": name, "password": password } }
        });
        let session = post(http, url, None, &login).await.context("login")?;
        let tokens = &session["data"]["login"];
        signed_in.push((
            tokens["accessToken"].as_str().context("access")?.to_owned(),
            tokens["refreshToken"]
                .as_str()
                .context("refresh")?
                .to_owned(),
        ));
    }
    Ok(signed_in)
}

/// Registers, optionally makes admin, and signs in one account; its access token and id.
pub async fn account(
    http: &reqwest::Client,
    url: &str,
    db: &sea_orm::DatabaseConnection,
    name: &str,
    admin: bool,
) -> anyhow::Result<(String, String)> {
    let password = format!("{name}-long-password");
    let made = post(http, url, None, &json!({
        "query": "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        "variables": { "i": { "username": name, "email": format!("{name}@example.com"), "password": password } }
    }))
    .await
    .context("register")?;
    let id = made["data"]["register"]["id"]
        .as_str()
        .context("id")?
        .to_owned();
    if admin {
        let user: uuid::Uuid = id.parse()?;
        db.execute_unprepared(&format!(
            "INSERT INTO user_roles (user_id, role_id) SELECT '{user}', id FROM roles WHERE role = 'admin'"
        ))
        .await?;
    }
    let session = post(
        http,
        url,
        None,
        &json!({
            "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            "variables": { "i": { "login": name, "password": password } }
        }),
    )
    .await
    .context("login")?;
    let token = session["data"]["login"]["accessToken"]
        .as_str()
        .context("token")?
        .to_owned();
    Ok((token, id))
}

/// Creates and publishes a game as `admin`; its id.
pub async fn game(
    http: &reqwest::Client,
    graphql: &str,
    admin: &str,
    name: &str,
) -> anyhow::Result<String> {
    let made = gql(
        http,
        graphql,
        admin,
        "mutation($i: CreateContentInput!) { createContent(input: $i) { id } }",
        json!({ "i": { "type": "GAME", "name": name, "game": { "maxPlayers": 64 } } }),
    )
    .await?;
    let id = made["data"]["createContent"]["id"]
        .as_str()
        .context("game id")?
        .to_owned();
    gql(
        http,
        graphql,
        admin,
        "mutation($id: ID!) { publishContent(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await?;
    Ok(id)
}

pub async fn gql(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    post(
        http,
        url,
        Some(token),
        &json!({ "query": query, "variables": variables }),
    )
    .await
    .with_context(|| format!("failed: {query}"))
}

/// Reports a scenario with the server's own percentiles of `operation`.
pub async fn loaded<S, F, Fut>(
    name: &str,
    http: &reqwest::Client,
    base: &str,
    operation: &str,
    span: impl Into<Span>,
    states: Vec<S>,
    one: F,
) -> anyhow::Result<usize>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = (bool, S)> + Send,
{
    let clients = states.len();
    let before = metrics(http, base).await?;
    let measured = drive(span, states, one).await;
    let after = metrics(http, base).await?;
    measured.report(name);
    let bound = |p| {
        server_percentile(&before, &after, operation, p)
            .map_or_else(|| "n/a".to_owned(), |b| format!("{:.1} ms", b * 1000.0))
    };
    println!(
        "  in the service, {clients} clients (server histogram, bucket bound): p50 <= {}, p99 <= {}",
        bound(0.5),
        bound(0.99)
    );
    let served = |text: &str| {
        latency_buckets(text, operation)
            .iter()
            .map(|&(_, n)| n)
            .fold(0.0, f64::max)
    };
    if let (Some(b), Some(a)) = (statement_count(&before), statement_count(&after)) {
        let n = served(&after) - served(&before);
        if n > 0.0 {
            println!(
                "  database statements per {operation} (and what the scenario sends with it): {:.1}",
                (a - b) / n
            );
        }
    }
    Ok(measured.errors)
}

/// The reference figure: single-row INSERTs, one transaction each, by 20 plain clients for
/// `seconds`, into a table of the server's own database.
pub async fn reference_inserts(db: &DatabaseConnection, seconds: u64) -> anyhow::Result<()> {
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS bench_inserts (id bigserial PRIMARY KEY, payer uuid, amount bigint, created_at timestamptz DEFAULT now())",
    )
    .await?;
    let insert = {
        let db = db.clone();
        move |(): ()| {
            let db = db.clone();
            async move {
                let ok = sql(
                    &db,
                    "INSERT INTO bench_inserts (payer, amount) VALUES (gen_random_uuid(), 1)",
                )
                .await;
                (ok, ())
            }
        }
    };
    drive(seconds, vec![(); 20], insert)
        .await
        .report("plain SQL: single-row INSERT, 20 clients");
    Ok(())
}
