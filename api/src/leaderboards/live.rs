//! Live boards. Every subscriber to one board's top N on an instance shares one feed: a task
//! that wakes on the board's changes from the bus (from any instance), reads the top once,
//! and publishes it when it differs. Reads are at most one per `ARENA_LIVE_INTERVAL_MS`:
//! changes inside the interval are pushed together at its end. A subscriber holds only the
//! latest top, so a slow one skips ahead and never grows memory; the feed ends with its
//! last subscriber.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use futures_util::Stream;
use tokio::{sync::watch, time::Instant};

use super::Entry;
use crate::{
    bus::{Change, Listener, Received},
    context::AppContext,
    error::ApiResult,
};

/// A board's top as pushed: its season and entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Top {
    pub board_id: i32,
    pub season: i32,
    pub entries: Vec<Entry>,
}

/// The feeds of this instance, by board and size.
#[derive(Default)]
pub struct LiveBoards(Mutex<HashMap<(i32, u64), Weak<Feed>>>);

/// One board's top N; subscribers hold it, the task watches whether any does.
pub struct Feed {
    top: watch::Receiver<Option<Arc<Top>>>,
}

impl LiveBoards {
    /// The feed of `board`'s top `first`, started when no subscriber here has it.
    fn follow(&self, ctx: &AppContext, board: i32, first: u64) -> Arc<Feed> {
        let mut feeds = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(feed) = feeds.get(&(board, first)).and_then(Weak::upgrade) {
            return feed;
        }
        feeds.retain(|_, feed| feed.strong_count() > 0);
        let (sender, top) = watch::channel(None);
        let feed = Arc::new(Feed { top });
        feeds.insert((board, first), Arc::downgrade(&feed));
        ctx.tasks.spawn(run(
            ctx.clone(),
            ctx.bus.subscribe(),
            board,
            first,
            sender,
            Arc::downgrade(&feed),
        ));
        feed
    }
}

/// `board`'s top `first` now, then each time it changes, until the server stops.
pub fn top(
    ctx: &AppContext,
    board: i32,
    first: u64,
) -> impl Stream<Item = Arc<Top>> + Send + Unpin + use<> {
    let feed = ctx.live_boards.follow(ctx, board, first);
    let top = feed.top.clone();
    // The top there is first, then each new one.
    let stream =
        futures_util::stream::unfold((feed, top, false), |(feed, mut top, sent)| async move {
            if sent {
                top.changed().await.ok()?;
            }
            loop {
                let now = top.borrow_and_update().clone();
                if let Some(now) = now {
                    return Some((now, (feed, top, true)));
                }
                top.changed().await.ok()?;
            }
        });
    let stream = futures_util::StreamExt::take_until(
        Box::pin(stream),
        ctx.shutdown.clone().cancelled_owned(),
    );
    Box::pin(stream)
}

async fn run(
    ctx: AppContext,
    mut listener: Listener,
    board: i32,
    first: u64,
    sender: watch::Sender<Option<Arc<Top>>>,
    feed: Weak<Feed>,
) {
    let interval = Duration::from_millis(ctx.settings.live_interval_ms);
    let mut read_at: Option<Instant> = None;
    let mut dirty = true;
    while feed.strong_count() > 0 {
        if dirty {
            if let Some(at) = read_at {
                tokio::time::sleep_until(at + interval).await;
            }
            // One read for every change so far: read one by one, a backlog would keep the
            // feed reading at every interval long after the board went quiet.
            listener.skip_pending();
            read_at = Some(Instant::now());
            dirty = false;
            match read(&ctx, board, first).await {
                Ok(now) => {
                    sender.send_if_modified(|top| {
                        let changed = top.as_deref() != Some(&now);
                        if changed {
                            *top = Some(Arc::new(now));
                        }
                        changed
                    });
                }
                Err(err) => {
                    tracing::warn!(?err, board, "reading a live board failed");
                    dirty = true;
                }
            }
        }
        tokio::select! {
            () = ctx.shutdown.cancelled() => return,
            received = listener.recv() => match received {
                None => return,
                Some(Received::Change(Change::Leaderboard { board_id, .. })) if board_id == board => dirty = true,
                Some(Received::Change(Change::Resync) | Received::Lagged(_)) => dirty = true,
                Some(Received::Change(_)) => {}
            },
            // Notices its last subscriber leaving on a quiet board too.
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

async fn read(ctx: &AppContext, board: i32, first: u64) -> ApiResult<Top> {
    ctx.metrics.live_reads.inc();
    let board = super::find(&ctx.db, board).await?;
    let entries = super::ranked(ctx, &board, board.season, 0, first).await?;
    Ok(Top {
        board_id: board.id,
        season: board.season,
        entries,
    })
}

/// The first of a stream of values read by `read` and the later ones that differ, read
/// again on each change `wakes` accepts (or a lag), at most once per live interval: the
/// per-subscriber feeds (a player's rank, a player's statistics).
pub fn watch<T, W, F, Fut>(
    ctx: &AppContext,
    wakes: W,
    read: F,
) -> impl Stream<Item = ApiResult<T>> + Send + Unpin + use<T, W, F, Fut>
where
    T: PartialEq + Clone + Send + 'static,
    W: Fn(&Change) -> bool + Send + 'static,
    F: Fn(AppContext) -> Fut + Send + 'static,
    Fut: Future<Output = ApiResult<T>> + Send,
{
    struct State<T, F, W> {
        ctx: AppContext,
        listener: Listener,
        last: Option<T>,
        read_at: Option<Instant>,
        read: F,
        wakes: W,
    }
    let state = State {
        ctx: ctx.clone(),
        listener: ctx.bus.subscribe(),
        last: None,
        read_at: None,
        read,
        wakes,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if s.read_at.is_some() {
                match s.listener.recv().await? {
                    Received::Change(change) if !(s.wakes)(&change) => continue,
                    _ => {}
                }
            }
            let interval = Duration::from_millis(s.ctx.settings.live_interval_ms);
            if let Some(at) = s.read_at {
                tokio::time::sleep_until(at + interval).await;
            }
            s.listener.skip_pending();
            s.read_at = Some(Instant::now());
            s.ctx.metrics.live_reads.inc();
            match (s.read)(s.ctx.clone()).await {
                Ok(now) if s.last.as_ref() == Some(&now) => {}
                Ok(now) => {
                    s.last = Some(now.clone());
                    return Some((Ok(now), s));
                }
                Err(err) => return Some((Err(err), s)),
            }
        }
    });
    let stop = ctx.shutdown.clone().cancelled_owned();
    Box::pin(futures_util::StreamExt::take_until(Box::pin(stream), stop))
}
