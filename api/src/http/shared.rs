//! Subscriptions that every anonymous subscriber receives alike — a board's top, a player's
//! statistics — are executed once per instance for all the sockets that send the same
//! request: the first one's execution feeds a watch channel, and each socket takes the
//! latest result from it (a slow one skips ahead, as with any live feed). Ten thousand
//! followers of one board then cost one execution per change, not ten thousand; only the
//! frames are written per socket. A signed-in socket executes its own, since what a viewer
//! may see of a player can depend on who asks.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::{
    Data, Executor, Request, Response,
    parser::types::{OperationType, Selection},
};
use futures_util::{StreamExt, stream::BoxStream};
use tokio::sync::watch;

use crate::{graphql::ArenaSchema, metrics::Metrics};

/// Root fields whose results depend only on the request, never on who asks.
const SHAREABLE: &[&str] = &["leaderboardUpdated", "playerStatsUpdated"];

/// What the request is, exactly: its text, operation and variables.
type Key = (String, Option<String>, String);

/// The shared executions of this instance.
#[derive(Default)]
pub(crate) struct SharedFeeds(Mutex<HashMap<Key, Weak<Feed>>>);

struct Feed {
    latest: watch::Receiver<Option<Arc<Response>>>,
}

/// The schema as one socket's subscriptions run it: shared when the socket is anonymous and
/// the subscription is one everybody receives alike.
#[derive(Clone)]
pub(crate) struct SocketExecutor {
    schema: ArenaSchema,
    feeds: Arc<SharedFeeds>,
    metrics: Arc<Metrics>,
    anonymous: Arc<AtomicBool>,
}

impl SocketExecutor {
    pub(crate) fn new(schema: ArenaSchema, feeds: Arc<SharedFeeds>, metrics: Arc<Metrics>) -> Self {
        Self {
            schema,
            feeds,
            metrics,
            anonymous: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the socket's viewer is anonymous: set at `connection_init`, cleared when a
    /// ping carries a token.
    pub(crate) fn anonymous_flag(&self) -> Arc<AtomicBool> {
        self.anonymous.clone()
    }
}

/// The key of a request whose result is the same for every anonymous subscriber.
fn shareable(request: &Request) -> Option<Key> {
    let document = async_graphql::parser::parse_query(&request.query).ok()?;
    let operation = match &request.operation_name {
        Some(name) => {
            document
                .operations
                .iter()
                .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))?
                .1
        }
        None => {
            let mut all = document.operations.iter();
            let (_, only) = all.next()?;
            if all.next().is_some() {
                return None;
            }
            only
        }
    };
    let operation = &operation.node;
    if operation.ty != OperationType::Subscription {
        return None;
    }
    let [selection] = operation.selection_set.node.items.as_slice() else {
        return None;
    };
    let Selection::Field(field) = &selection.node else {
        return None;
    };
    if !SHAREABLE.contains(&field.node.name.node.as_str()) {
        return None;
    }
    let variables = serde_json::to_string(&request.variables).ok()?;
    Some((
        request.query.clone(),
        request.operation_name.clone(),
        variables,
    ))
}

/// A copy of a shared result for one socket.
fn copy(shared: &Response) -> Response {
    let mut response = Response::new(shared.data.clone());
    response.errors = shared.errors.clone();
    response.extensions = shared.extensions.clone();
    response
}

impl SharedFeeds {
    fn follow(
        &self,
        key: Key,
        schema: &ArenaSchema,
        metrics: &Metrics,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> Arc<Feed> {
        let mut feeds = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // An ended execution (its stream finished) is not joined: the next starts afresh.
        if let Some(feed) = feeds.get(&key).and_then(Weak::upgrade)
            && feed.latest.has_changed().is_ok()
        {
            metrics.shared_joins.inc();
            return feed;
        }
        metrics.shared_executions.inc();
        feeds.retain(|_, feed| feed.strong_count() > 0);
        let (sender, latest) = watch::channel(None);
        let feed = Arc::new(Feed { latest });
        feeds.insert(key, Arc::downgrade(&feed));
        let mut results = Executor::execute_stream(schema, request, session_data);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = sender.closed() => return,
                    next = results.next() => match next {
                        Some(response) => {
                            sender.send_replace(Some(Arc::new(response)));
                        }
                        None => return,
                    },
                }
            }
        });
        feed
    }
}

impl Executor for SocketExecutor {
    async fn execute(&self, request: Request) -> Response {
        self.schema.execute(request).await
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let key = if self.anonymous.load(Ordering::Acquire) {
            shareable(&request)
        } else {
            None
        };
        let Some(key) = key else {
            return Executor::execute_stream(&self.schema, request, session_data);
        };
        let feed = self
            .feeds
            .follow(key, &self.schema, &self.metrics, request, session_data);
        let latest = feed.latest.clone();
        // The result there is first, then each newer one.
        futures_util::stream::unfold(
            (feed, latest, false),
            |(feed, mut latest, sent)| async move {
                if sent {
                    latest.changed().await.ok()?;
                }
                loop {
                    let now = latest.borrow_and_update().clone();
                    if let Some(now) = now {
                        return Some((copy(&now), (feed, latest, true)));
                    }
                    latest.changed().await.ok()?;
                }
            },
        )
        .boxed()
    }
}
