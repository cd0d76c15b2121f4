//! Answers to anonymous catalog reads, kept for a few seconds: the public listing is the
//! busiest read of a game platform and the same for every anonymous reader, so its
//! serialized answer is reused instead of resolving 50 items' fields again.
//!
//! Only single anonymous queries whose root fields are all in [`PUBLIC_FIELDS`] are kept, and
//! only answers without errors. Any change to content, categories or accounts empties the
//! cache on every instance (through the change bus); an entry lives at most
//! `ARENA_PUBLIC_CACHE_SECONDS` even when a bus message is lost. An answer computed while a
//! change landed is not kept: entries carry the generation they were computed in.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_graphql::{
    Request,
    parser::types::{OperationType, Selection},
};
use axum::body::Bytes;
use lru::LruCache;

use super::preflight::{Checked, Preflight};
use crate::{
    Locked,
    bus::{Change, Hook},
};

/// Root fields whose anonymous answers may be reused.
pub const PUBLIC_FIELDS: &[&str] = &["contents", "content", "categories", "game", "__typename"];

/// Distinct query texts whose verdict (reusable or not) is remembered.
const VERDICTS: usize = 1024;

struct Entry {
    body: Bytes,
    at: Instant,
    generation: u64,
}

struct Inner {
    entries: LruCache<String, Entry>,
    generation: u64,
}

/// The kept answers.
pub struct PublicCache {
    inner: Mutex<Inner>,
    verdicts: Mutex<LruCache<(String, Option<String>), bool>>,
    ttl: Duration,
}

impl PublicCache {
    /// Keeps up to `capacity` answers for `ttl`; a zero `ttl` keeps none.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            inner: Mutex::new(Inner {
                entries: LruCache::new(capacity),
                generation: 0,
            }),
            verdicts: Mutex::new(LruCache::new(
                NonZeroUsize::new(VERDICTS).unwrap_or(NonZeroUsize::MIN),
            )),
            ttl,
        }
    }

    /// Empties the cache on every change a public answer may show.
    pub fn invalidation(cache: Arc<Self>) -> Hook {
        Arc::new(move |change| {
            if !matches!(
                change,
                Change::CrawlRun { .. }
                    | Change::Relationship { .. }
                    | Change::AssetJobs
                    | Change::Balances { .. }
                    | Change::Trade { .. }
                    | Change::ServerShutDown { .. }
            ) {
                cache.clear();
            }
        })
    }

    fn clear(&self) {
        let mut inner = self.inner.locked();
        inner.generation += 1;
        inner.entries.clear();
    }

    /// The key of `request` when its answer may be kept, for an anonymous caller.
    pub async fn key(&self, preflight: &Preflight, request: &Request) -> Option<String> {
        if self.ttl.is_zero() || !request.uploads.is_empty() {
            return None;
        }
        let verdict_key = (request.query.clone(), request.operation_name.clone());
        let known = self.verdicts.locked().get(&verdict_key).copied();
        let public = match known {
            Some(public) => public,
            None => {
                let public = match preflight.check(&request.query).await {
                    Checked::Document(document) => document.operations.iter().any(|(name, op)| {
                        let selected = match (&request.operation_name, name) {
                            (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
                            (Some(_), None) => false,
                            (None, _) => true,
                        };
                        selected
                            && op.node.ty == OperationType::Query
                            && op.node.selection_set.node.items.iter().all(|item| {
                                matches!(&item.node, Selection::Field(field)
                                    if PUBLIC_FIELDS.contains(&field.node.name.node.as_str()))
                            })
                    }),
                    _ => false,
                };
                self.verdicts.locked().put(verdict_key, public);
                public
            }
        };
        public.then(|| {
            let variables = serde_json::to_string(&request.variables).unwrap_or_default();
            format!(
                "{}\u{0}{}\u{0}{variables}",
                request.operation_name.as_deref().unwrap_or_default(),
                request.query
            )
        })
    }

    /// The generation an answer computed from now on belongs to.
    pub fn generation(&self) -> u64 {
        self.inner.locked().generation
    }

    /// A kept answer.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let mut inner = self.inner.locked();
        let generation = inner.generation;
        match inner.entries.get(key) {
            Some(entry) if entry.generation == generation && entry.at.elapsed() < self.ttl => {
                Some(entry.body.clone())
            }
            _ => None,
        }
    }

    /// Keeps `body`, unless a change landed since `generation`.
    pub fn put(&self, key: String, body: Bytes, generation: u64) {
        let mut inner = self.inner.locked();
        if inner.generation == generation {
            inner.entries.put(
                key,
                Entry {
                    body,
                    at: Instant::now(),
                    generation,
                },
            );
        }
    }
}
