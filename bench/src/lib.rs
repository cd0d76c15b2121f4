//! What the load commands share: running many client loops for a fixed time, and reading
//! their rate and latency.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::Value;

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

/// Runs one loop of `one` per state (each loop passes its state through every call: `one`
/// returns whether the request succeeded and the state for the next) for `seconds`, after a
/// second of warm-up that is not counted.
pub async fn drive<S, F, Fut>(seconds: u64, states: Vec<S>, one: F) -> Measured
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = (bool, S)> + Send,
{
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut loops = Vec::with_capacity(states.len());
    for state in states {
        let (one, counting, stop) = (one.clone(), counting.clone(), stop.clone());
        loops.push(tokio::spawn(async move {
            let (mut latencies, mut errors, mut state) = (Vec::new(), 0, state);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let (ok, next) = one(state).await;
                state = next;
                if counting.load(Ordering::Relaxed) {
                    latencies.push(started.elapsed());
                    errors += usize::from(!ok);
                }
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
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
    let mut request = http.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer: Value = request.send().await.ok()?.json().await.ok()?;
    answer.get("errors").is_none().then_some(answer)
}
