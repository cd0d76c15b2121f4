//! The change bus: typed changes a domain publishes after its transaction commits, for
//! subscriptions and cache invalidation on every instance. Redis pub/sub carries them between
//! instances when Redis is configured; otherwise nothing needs to. Each instance runs the
//! hooks (cache invalidation) at once, then delivers through one bounded local channel: a slow
//! listener misses changes and is told how many ([`Received::Lagged`]), and never blocks a
//! writer or grows memory.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;
use sea_orm::{DatabaseTransaction, DbErr};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

use crate::redis_conn::Redis;

/// Something that changed, published after the commit that changed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// What one account may do changed: a sign-out, a password, its roles, its direct
    /// privileges, a ban on it, or the account itself.
    Access {
        /// The account.
        user_id: Uuid,
    },
    /// What any account may do may have changed: the role tree or a role's privileges.
    AccessAll,
    /// An address ban was placed or lifted.
    AddressBans,
    /// A crawl run's progress or status changed.
    CrawlRun {
        /// The run.
        run_id: i64,
    },
    /// What stands between two players changed: a friend request or its answer, a follow,
    /// a block.
    Relationship {
        /// One player.
        a: Uuid,
        /// The other.
        b: Uuid,
    },
    /// A content category was created, changed or removed.
    Categories,
    /// A content item changed: its fields, revisions, relations, counts or moderation.
    Content {
        /// The item.
        content_id: i32,
    },
    /// Jobs on stored files were queued: idle workers look for them.
    AssetJobs,
    /// A player's balances changed.
    Balances {
        /// The player.
        user_id: Uuid,
    },
    /// A trade was sent or changed status.
    Trade {
        /// The trade.
        trade_id: i32,
        /// Its sender and recipient.
        users: [Uuid; 2],
    },
    /// A game server was shut down: its token authenticates no more.
    ServerShutDown {
        /// The server.
        server_id: i32,
    },
    /// Events were stored for a game (`None`: the platform's).
    Events {
        /// The game.
        game_id: Option<i32>,
    },
    /// The event processor changed players' statistics in a game.
    PlayerStats {
        /// The game.
        game_id: i32,
        /// The players.
        users: Vec<Uuid>,
    },
    /// A board's records changed (the players named) or its season ended (none named).
    Leaderboard {
        /// The board.
        board_id: i32,
        /// The season written.
        season: i32,
        /// The players whose records changed.
        users: Vec<Uuid>,
    },
    /// A player's quest progress, completions or claims changed.
    QuestProgress {
        /// The player.
        user_id: Uuid,
    },
    /// Changes may have been missed (the bus reconnected): listeners drop what they cached.
    Resync,
}

/// What a listener receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A change.
    Change(Change),
    /// The listener fell behind and this many changes were dropped for it.
    Lagged(u64),
}

/// A synchronous reaction to every change, run before `publish` returns on the publishing
/// instance and as soon as the change arrives on the others: cache invalidation.
pub type Hook = Arc<dyn Fn(&Change) + Send + Sync>;

/// This instance's delivery: hooks first, then the listeners.
#[derive(Clone)]
struct Local {
    hooks: Arc<RwLock<Vec<Hook>>>,
    listeners: broadcast::Sender<Change>,
}

impl Local {
    fn new(capacity: usize) -> Self {
        Self {
            hooks: Arc::default(),
            listeners: broadcast::channel(capacity.max(1)).0,
        }
    }

    fn deliver(&self, change: Change) {
        let hooks = self
            .hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for hook in hooks {
            hook(&change);
        }
        // No listener is not an error.
        let _ = self.listeners.send(change);
    }
}

/// How changes reach the other instances.
#[async_trait::async_trait]
trait Transport: Send + Sync {
    /// Sends `changes` to the other instances, together. Failures are logged, never
    /// returned: the writer's transaction has committed already.
    async fn publish(&self, changes: &[Change]);
}

/// No other instance: nothing to send.
struct InProcess;

#[async_trait::async_trait]
impl Transport for InProcess {
    async fn publish(&self, _changes: &[Change]) {}
}

/// One commit's changes on the wire, with who sent them so an instance skips its own.
#[derive(Serialize, Deserialize)]
struct Envelope {
    from: Uuid,
    seq: u64,
    changes: Vec<Change>,
}

/// Sends through a Redis channel; a task on each instance relays it into the local one.
struct RedisPubSub {
    redis: Redis,
    channel: String,
    instance: Uuid,
    seq: AtomicU64,
    echoes: Echoes,
}

/// Publishers waiting for their message to come back from Redis, by sequence number.
type Echoes = Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>>;

/// Longest a publisher waits for its own message to come back.
const ECHO_WAIT: Duration = Duration::from_secs(1);

#[async_trait::async_trait]
impl Transport for RedisPubSub {
    async fn publish(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let envelope = Envelope {
            from: self.instance,
            seq,
            changes: changes.to_vec(),
        };
        let (echoed, echo) = oneshot::channel();
        self.echoes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(seq, echoed);
        let sent = match serde_json::to_string(&envelope) {
            Ok(payload) => {
                let mut conn = self.redis.conn();
                redis::cmd("PUBLISH")
                    .arg(&self.channel)
                    .arg(payload)
                    .query_async::<i64>(&mut conn)
                    .await
                    .map_err(|err| err.to_string())
            }
            Err(err) => Err(err.to_string()),
        };
        match sent {
            // Redis hands a message to every subscriber in one pass: once ours is back, the
            // other instances have theirs too.
            Ok(_) => {
                if tokio::time::timeout(ECHO_WAIT, echo).await.is_err() {
                    tracing::warn!(
                        changes = changes.len(),
                        "published changes did not come back from Redis"
                    );
                }
            }
            // The others catch up when their caches expire.
            Err(err) => {
                tracing::warn!(error = %err, changes = changes.len(), "publishing changes failed");
            }
        }
        self.echoes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&seq);
    }
}

/// The changes one transaction made. A service body pushes them as it writes; the wrapper
/// that opened the transaction publishes them once the commit succeeded
/// ([`ChangeBus::commit`]), so a rollback publishes nothing.
#[derive(Debug, Default)]
#[must_use = "changes are published by ChangeBus::commit"]
pub struct Changes {
    /// In the order first pushed.
    list: Vec<Change>,
    seen: HashSet<Change>,
}

impl Changes {
    /// Records `change` for publication after the commit.
    pub fn push(&mut self, change: Change) {
        if self.seen.insert(change.clone()) {
            self.list.push(change);
        }
    }
}

/// The bus of one running Arena; cheap to clone.
#[derive(Clone)]
pub struct ChangeBus {
    transport: Arc<dyn Transport>,
    local: Local,
}

impl ChangeBus {
    /// The in-process bus, holding at most `capacity` undelivered changes per listener.
    pub fn in_process(capacity: usize) -> Self {
        Self {
            transport: Arc::new(InProcess),
            local: Local::new(capacity),
        }
    }

    /// The bus over Redis pub/sub on the channel `{prefix}changes`. A relay task subscribes
    /// (resubscribing after a lost connection, which it reports as [`Change::Resync`]) until
    /// `shutdown`.
    pub fn over_redis(
        redis: Redis,
        capacity: usize,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> Self {
        let local = Local::new(capacity);
        let channel = redis.key("changes");
        let instance = Uuid::new_v4();
        let echoes = Echoes::default();
        tasks.spawn(relay(
            redis.clone(),
            channel.clone(),
            Relayed {
                local: local.clone(),
                instance,
                echoes: echoes.clone(),
            },
            shutdown,
        ));
        Self {
            transport: Arc::new(RedisPubSub {
                redis,
                channel,
                instance,
                seq: AtomicU64::new(0),
                echoes,
            }),
            local,
        }
    }

    /// Runs `hook` on every change from now on, on this instance.
    pub fn on_change(&self, hook: Hook) {
        self.local
            .hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(hook);
    }

    /// Publishes `change` to every instance; call it after the commit that made the change.
    /// When it returns, this instance's hooks have run and the other instances have it.
    pub async fn publish(&self, change: Change) {
        self.publish_all(vec![change]).await;
    }

    /// Publishes `changes` as [`Self::publish`] does, in one message between instances.
    pub async fn publish_all(&self, changes: Vec<Change>) {
        for change in &changes {
            self.local.deliver(change.clone());
        }
        self.transport.publish(&changes).await;
    }

    /// Commits `txn`, then publishes `changes`: the end of every write service.
    pub async fn commit(&self, txn: DatabaseTransaction, changes: Changes) -> Result<(), DbErr> {
        txn.commit().await?;
        self.committed(changes).await;
        Ok(())
    }

    /// Publishes what a transaction that has committed changed.
    pub async fn committed(&self, changes: Changes) {
        self.publish_all(changes.list).await;
    }

    /// Delivers `change` to this instance only: for changes every instance notices by itself.
    pub fn notify_local(&self, change: Change) {
        self.local.deliver(change);
    }

    /// Listens to changes from now on.
    pub fn subscribe(&self) -> Listener {
        Listener(self.local.listeners.subscribe())
    }
}

/// One listener's view of the bus.
pub struct Listener(broadcast::Receiver<Change>);

impl Listener {
    /// The next change, or how many were missed; `None` once the bus is gone.
    pub async fn recv(&mut self) -> Option<Received> {
        match self.0.recv().await {
            Ok(change) => Some(Received::Change(change)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Received::Lagged(missed)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// Drops the changes delivered so far: for a reader about to read the state afresh,
    /// which then covers them (changes are published after their commit).
    pub fn skip_pending(&mut self) {
        while !matches!(
            self.0.try_recv(),
            Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed)
        ) {}
    }

    /// The same, as a stream that ends with the bus.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Received> + Send + Unpin {
        Box::pin(futures_util::stream::unfold(
            self,
            |mut listener| async move { listener.recv().await.map(|received| (received, listener)) },
        ))
    }
}

/// Where the relay hands what Redis brings.
struct Relayed {
    local: Local,
    instance: Uuid,
    echoes: Echoes,
}

impl Relayed {
    fn receive(&self, payload: &str) {
        let envelope = match serde_json::from_str::<Envelope>(payload) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::warn!(error = %err, "a bus message was not a change");
                return;
            }
        };
        if envelope.from != self.instance {
            for change in envelope.changes {
                self.local.deliver(change);
            }
            return;
        }
        let waiting = self
            .echoes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&envelope.seq);
        if let Some(waiting) = waiting {
            let _ = waiting.send(());
        }
    }
}

/// Relays the Redis channel into the local one until shutdown.
async fn relay(redis: Redis, channel: String, relayed: Relayed, shutdown: CancellationToken) {
    let mut connected_before = false;
    while !shutdown.is_cancelled() {
        let subscribed = async {
            let mut pubsub = redis.client().get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::select! {
            () = shutdown.cancelled() => return,
            subscribed = subscribed => subscribed,
        };
        match pubsub {
            Ok(pubsub) => {
                if connected_before {
                    // Whatever was published while we were away is lost.
                    relayed.local.deliver(Change::Resync);
                }
                connected_before = true;
                let mut messages = pubsub.into_on_message();
                loop {
                    let message = tokio::select! {
                        () = shutdown.cancelled() => return,
                        message = messages.next() => message,
                    };
                    let Some(message) = message else { break };
                    match message.get_payload::<String>() {
                        Ok(payload) => relayed.receive(&payload),
                        Err(err) => tracing::warn!(error = %err, "a bus message was not text"),
                    }
                }
                tracing::warn!("the change bus lost its Redis subscription; resubscribing");
            }
            Err(err) => tracing::warn!(error = %err, "subscribing to the change bus failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_listener_is_told_what_it_missed_and_the_writer_never_waits() {
        let bus = ChangeBus::in_process(4);
        let mut slow = bus.subscribe();
        for run_id in 0..10 {
            bus.publish(Change::CrawlRun { run_id }).await;
        }
        assert_eq!(slow.recv().await, Some(Received::Lagged(6)));
        assert_eq!(
            slow.recv().await,
            Some(Received::Change(Change::CrawlRun { run_id: 6 }))
        );
    }

    #[test]
    fn changes_travel_as_tagged_json() {
        let change = Change::Access {
            user_id: Uuid::nil(),
        };
        let text = serde_json::to_string(&change).expect("json");
        assert_eq!(
            text,
            r#"{"kind":"access","user_id":"00000000-0000-0000-0000-000000000000"}"#
        );
        assert_eq!(serde_json::from_str::<Change>(&text).expect("back"), change);
    }
}
