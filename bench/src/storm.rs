//! `arena-storm`: many clients signing in at once, each obeying the retry hint it is given,
//! while a probe sends a cheap signed-in query every 20 ms. Reports sign-ins per second beside the
//! machine's bcrypt limit (cores ÷ the time of one hash, measured here first), the answers
//! by code, and the cheap query's latency beside its latency on the idle server.
//! `bench/storm.sh` starts the server and runs this.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use arena_bench::{Measured, post};
use clap::Parser;
use serde_json::{Value, json};

/// A sign-in storm against one Arena server.
#[derive(Parser)]
struct Args {
    /// The server, `http://127.0.0.1:PORT`.
    #[arg(long)]
    url: String,
    /// Clients signing in at once.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Accounts they sign in to, in turn.
    #[arg(long, default_value_t = 20)]
    accounts: usize,
    /// Seconds counted (after two seconds of warm-up).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// The server's bcrypt cost (`ARENA_BCRYPT_COST`).
    #[arg(long, default_value_t = 12)]
    cost: u32,
    /// The server's process id, on the same machine: reports the share of the machine's CPU
    /// time its `bcrypt-*` threads got during the storm (Linux `/proc`).
    #[arg(long)]
    server_pid: Option<u32>,
    /// The probe's query, sent signed in.
    #[arg(long, default_value = "{ me { id } }")]
    probe: String,
}

/// CPU time so far, in clock ticks: of the server's `bcrypt-*` threads, and of the whole
/// machine (every state of every CPU, from `/proc/stat`).
fn cpu_ticks(pid: u32) -> Option<(u64, u64)> {
    let mut bcrypt = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path();
        let name = std::fs::read_to_string(path.join("comm")).ok()?;
        if !name.starts_with("bcrypt-") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).ok()?;
        // Fields after the parenthesised name: utime and stime are the 12th and 13th.
        let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
        bcrypt += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    let machine = std::fs::read_to_string("/proc/stat").ok()?;
    let all: u64 = machine
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    Some((bcrypt, all))
}

const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";

/// Seconds of one hash at `cost` on this machine: the median of five, one at a time.
fn hash_seconds(cost: u32) -> anyhow::Result<f64> {
    let mut took = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        bcrypt::hash("a password of some length", cost)?;
        took.push(started.elapsed().as_secs_f64());
    }
    took.sort_by(f64::total_cmp);
    Ok(took[2])
}

/// Hashes per second with one thread per core hashing flat out for about three seconds: what
/// the machine gives in parallel, beside the limit the single-hash time implies.
fn parallel_rate(cores: usize, cost: u32) -> f64 {
    let started = Instant::now();
    let done: usize = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0;
                    while started.elapsed() < Duration::from_secs(3) {
                        if bcrypt::hash("a password of some length", cost).is_ok() {
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap_or(0)).sum()
    });
    done as f64 / started.elapsed().as_secs_f64()
}

/// Any answer as JSON, errors included; `None` when the request itself failed.
async fn answer(http: &reqwest::Client, url: &str, body: &Value) -> Option<Value> {
    http.post(url)
        .json(body)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// A cheap signed-in query every 20 ms for `seconds`: its latency, without the probe itself
/// loading the server.
async fn probe(
    http: &reqwest::Client,
    graphql: &str,
    (token, query): (&str, &str),
    seconds: u64,
) -> Measured {
    let body = json!({ "query": query });
    let mut every = tokio::time::interval(Duration::from_millis(20));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut measured = Measured {
        requests: 0,
        errors: 0,
        seconds: 0.0,
        latencies: Vec::new(),
    };
    while started.elapsed() < Duration::from_secs(seconds) {
        every.tick().await;
        let sent = Instant::now();
        let ok = post(http, graphql, Some(token), &body).await.is_some();
        measured.latencies.push(sent.elapsed());
        measured.requests += 1;
        measured.errors += usize::from(!ok);
    }
    measured.seconds = started.elapsed().as_secs_f64();
    measured
}

#[derive(Default)]
struct Tally {
    /// Answers by outcome: `ok`, an error code, or `no answer`.
    outcomes: BTreeMap<String, usize>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let graphql = format!("{}/graphql", args.url.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients + 1)
        .build()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let one_hash = tokio::task::spawn_blocking(move || hash_seconds(args.cost)).await??;
    let limit = cores as f64 / one_hash;
    let cost = args.cost;
    let parallel = tokio::task::spawn_blocking(move || parallel_rate(cores, cost)).await?;
    println!(
        "{} clients over {} accounts, {} s; bcrypt cost {}: one hash {:.1} ms, so {cores} cores \
         allow {limit:.2} sign-ins/s ({parallel:.2} hashes/s measured with {cores} threads at once)",
        args.clients,
        args.accounts,
        args.seconds,
        args.cost,
        one_hash * 1000.0
    );

    let run = std::process::id();
    let mut logins = Vec::new();
    let mut token = String::new();
    for i in 0..args.accounts {
        let name = format!("storm{run}x{i}");
        let password = format!("{name}-long-password");
        let register = json!({
            "query": "mutation($i: RegisterInput!) { register(input: $i) { id } }",
            "variables": { "i": { "username": name, "email": format!("{name}@example.com"), "password": password } }
        });
        post(&http, &graphql, None, &register)
            .await
            .context("register")?;
        let login = json!({ "query": LOGIN, "variables": { "i": { "login": name, "password": password } } });
        if token.is_empty() {
            let session = post(&http, &graphql, None, &login).await.context("login")?;
            token = session["data"]["login"]["accessToken"]
                .as_str()
                .context("token")?
                .to_owned();
        }
        logins.push(login);
    }

    // The probe runs on a thread and runtime of its own, so its latency is the server's and
    // not that of the storm's clients queued in this process.
    let cheap = |seconds: u64| {
        let (graphql, token, query) = (graphql.clone(), token.clone(), args.probe.clone());
        async move {
            let thread = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let http = reqwest::Client::new();
                anyhow::Ok(runtime.block_on(probe(&http, &graphql, (&token, &query), seconds)))
            });
            tokio::task::spawn_blocking(move || thread.join())
                .await?
                .map_err(|_| anyhow::anyhow!("the probe thread panicked"))?
        }
    };
    let idle = cheap(args.seconds / 2).await?;
    idle.report("idle: cheap signed-in query");

    let (counting, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut clients = Vec::new();
    for n in 0..args.clients {
        let (http, graphql) = (http.clone(), graphql.clone());
        let login = logins[n % logins.len()].clone();
        let (counting, stop, tally) = (counting.clone(), stop.clone(), tally.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let answered = answer(&http, &graphql, &login).await;
                let code = match &answered {
                    None => "no answer".to_owned(),
                    Some(a) => match a["errors"][0]["extensions"]["code"].as_str() {
                        None if a["data"]["login"]["accessToken"].is_string() => "ok".to_owned(),
                        None => "no code".to_owned(),
                        Some(code) => code.to_owned(),
                    },
                };
                if counting.load(Ordering::Relaxed) {
                    *tally
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .outcomes
                        .entry(code.clone())
                        .or_default() += 1;
                }
                if code == "RATE_LIMITED" {
                    let wait = answered
                        .as_ref()
                        .and_then(|a| a["errors"][0]["extensions"]["retryAfterSeconds"].as_u64())
                        .unwrap_or(1);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let ticks_before = args.server_pid.and_then(cpu_ticks);
    let during = cheap(args.seconds).await?;
    let ticks_after = args.server_pid.and_then(cpu_ticks);
    counting.store(false, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.await;
    }

    let outcomes = std::mem::take(
        &mut tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .outcomes,
    );
    let signed_in = outcomes.get("ok").copied().unwrap_or(0) as f64 / seconds;
    during.report("storm: cheap signed-in query");
    println!("storm answers over {seconds:.1} s: {outcomes:?}");
    if let (Some((b0, all0)), Some((b1, all1))) = (ticks_before, ticks_after) {
        println!(
            "the server's bcrypt threads had {:.1}% of the machine's CPU time during the storm",
            100.0 * (b1 - b0) as f64 / (all1 - all0).max(1) as f64
        );
    }
    println!(
        "sign-ins {signed_in:.2}/s = {:.1}% of the bcrypt limit ({:.1}% of the parallel rate); \
         cheap query p99 {:.2} ms = {:.2}x idle ({:.2} ms)",
        100.0 * signed_in / limit,
        100.0 * signed_in / parallel,
        during.percentile(0.99).as_secs_f64() * 1000.0,
        during.percentile(0.99).as_secs_f64() / idle.percentile(0.99).as_secs_f64(),
        idle.percentile(0.99).as_secs_f64() * 1000.0
    );
    let unexpected: usize = outcomes
        .iter()
        .filter(|(code, _)| !matches!(code.as_str(), "ok" | "RATE_LIMITED"))
        .map(|(_, n)| n)
        .sum();
    if unexpected > 0 || during.errors > 0 {
        bail!(
            "{unexpected} sign-ins and {} cheap queries failed",
            during.errors
        );
    }
    Ok(())
}
