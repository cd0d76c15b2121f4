//! Progress of a run for whoever watches the coordinator: an `indicatif` bar (batches,
//! accounts per second, ETA) when standard error is a terminal, plain log lines otherwise.

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};

/// Reports a run's progress.
pub struct Reporter {
    bar: Option<ProgressBar>,
    total: i64,
    last_line: Instant,
}

impl Reporter {
    /// For run `run_id` with `done` of `total` batches already written.
    pub fn new(run_id: i64, total: i64, done: i64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(u64::try_from(total).unwrap_or(0));
            let style = ProgressStyle::with_template(
                "run {prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} batches · {msg} · ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(run_id.to_string());
            bar.set_position(u64::try_from(done).unwrap_or(0));
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Self {
            bar,
            total,
            last_line: Instant::now(),
        }
    }

    /// `done` batches written, `accounts_per_second` lately, `workers` connected.
    pub fn update(&mut self, done: i64, accounts_per_second: f64, workers: usize) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(u64::try_from(done).unwrap_or(0));
                bar.set_message(format!(
                    "{accounts_per_second:.0} accounts/s · {workers} workers"
                ));
            }
            None if self.last_line.elapsed() >= Duration::from_secs(5) => {
                self.last_line = Instant::now();
                tracing::info!(
                    batches = done,
                    of = self.total,
                    accounts_per_second = accounts_per_second.round(),
                    workers,
                    "progress"
                );
            }
            None => {}
        }
    }

    /// Every batch is written.
    pub fn finish(&mut self, done: i64) {
        if let Some(bar) = self.bar.take() {
            bar.set_position(u64::try_from(done).unwrap_or(0));
            bar.finish_and_clear();
        }
    }

    /// The run stopped early.
    pub fn abandon(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}
