//! Bounded pools for CPU-heavy work (bcrypt, parsing large queries), off the async workers.
//!
//! A pool has a fixed number of threads and a bounded queue. When the queue is full the work
//! is refused at once with a retry hint, instead of waiting until the client times out or
//! piling up threads that starve everything else.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
        mpsc::{self, Receiver, SyncSender, TrySendError},
    },
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use crate::Locked;

type Job = Box<dyn FnOnce() + Send>;

/// The pool refused the work: its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    /// Seconds after which the queue has likely drained enough to take the work.
    pub retry_after_seconds: u64,
}

/// How the pool's threads are scheduled beside the async workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Like every other thread.
    Normal,
    /// Linux's idle policy (`SCHED_IDLE`; elsewhere the lowest priority): the threads take
    /// whatever CPU request handling leaves, and any request-handling thread that wakes
    /// takes the CPU from them at once, so a storm of hashes cannot delay requests. (A nice
    /// value alone still lets a running hash finish its time slice first.)
    Background,
}

/// A fixed set of threads behind a bounded queue.
pub struct CpuPool {
    queue: SyncSender<Job>,
    threads: usize,
    capacity: usize,
    /// Jobs accepted and not yet finished.
    pending: Arc<AtomicUsize>,
    /// A moving average of one job's run time, in microseconds.
    job_micros: Arc<AtomicU64>,
}

impl CpuPool {
    /// `threads` workers named `name` at `priority`, and room for `queue` jobs waiting beyond
    /// those running.
    pub fn new(
        name: &str,
        threads: usize,
        queue: usize,
        priority: Priority,
    ) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (sender, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    if priority == Priority::Background
                        && let Err(err) = to_background()
                    {
                        tracing::warn!("cannot lower the priority of a pool thread: {err:?}");
                    }
                    work(&receiver);
                })?;
        }
        Ok(Self {
            queue: sender,
            threads,
            capacity: threads + queue,
            pending: Arc::new(AtomicUsize::new(0)),
            job_micros: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Threads a machine's cores allow.
    pub fn cores() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// Runs `job` on the pool and waits for its result, or refuses at once when the queue is
    /// full.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (tx, rx) = oneshot::channel();
        let pending = self.pending.clone();
        let job_micros = self.job_micros.clone();
        let boxed: Job = Box::new(move || {
            let started = Instant::now();
            let result = job();
            let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            // An average over about eight jobs: follows a changed cost quickly, not a blip.
            let old = job_micros.load(Ordering::Relaxed);
            let new = if old == 0 { took } else { (old * 7 + took) / 8 };
            job_micros.store(new, Ordering::Relaxed);
            pending.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(result);
        });
        self.pending.fetch_add(1, Ordering::Relaxed);
        match self.queue.try_send(boxed) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                return Err(Busy {
                    retry_after_seconds: self.drain_time().as_secs().max(1),
                });
            }
        }
        // The worker always sends unless the job panicked; a panic is not a queue refusal.
        rx.await.map_err(|_| Busy {
            retry_after_seconds: 1,
        })
    }

    /// Refuses at once when the pool could take no more work now, so a caller can turn work
    /// away before preparing it (reading the database, say).
    pub fn refuse_if_full(&self) -> Result<(), Busy> {
        if self.pending.load(Ordering::Relaxed) >= self.capacity {
            return Err(Busy {
                retry_after_seconds: self.drain_time().as_secs().max(1),
            });
        }
        Ok(())
    }

    /// About how long the work already accepted takes to finish.
    fn drain_time(&self) -> Duration {
        let pending = self.pending.load(Ordering::Relaxed) as u64;
        let per_job = self.job_micros.load(Ordering::Relaxed);
        Duration::from_micros(pending.saturating_mul(per_job) / self.threads as u64)
    }
}

#[cfg(target_os = "linux")]
fn to_background() -> Result<(), thread_priority::Error> {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    )
}

#[cfg(not(target_os = "linux"))]
fn to_background() -> Result<(), thread_priority::Error> {
    thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let receiver = receiver.locked();
            match receiver.recv() {
                Ok(job) => job,
                // The pool was dropped.
                Err(_) => return,
            }
        };
        job();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_refuses_past_the_queue() {
        let pool = Arc::new(
            CpuPool::new("test", 1, 1, Priority::Background).unwrap_or_else(|e| panic!("{e}")),
        );
        let (started, is_started) = oneshot::channel::<()>();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move || {
                    let _ = started.send(());
                    let _ = hold.recv();
                    1
                })
                .await
            }
        });
        // The only thread is busy: one job fits in the queue, the next is refused.
        is_started.await.unwrap_or_else(|e| panic!("{e}"));
        let queued = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| 2).await }
        });
        while pool.pending.load(Ordering::Relaxed) < 2 {
            tokio::task::yield_now().await;
        }
        let refused = pool.run(|| 3).await;
        assert!(matches!(refused, Err(Busy { retry_after_seconds }) if retry_after_seconds >= 1));
        let _ = release.send(());
        assert_eq!(blocker.await.ok(), Some(Ok(1)));
        assert_eq!(queued.await.ok(), Some(Ok(2)));
        assert_eq!(pool.run(|| 4).await, Ok(4));
    }
}
