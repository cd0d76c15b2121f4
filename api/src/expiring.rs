//! A map whose entries live a few seconds, for what a request reads often and the change bus
//! invalidates: a lookup that began before an invalidation does not store its answer, so a
//! change is never hidden by a read that raced it.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use crate::Locked;

struct Entries<K, V> {
    /// Bumped by every invalidation.
    generation: u64,
    by_key: HashMap<K, (V, Instant)>,
}

/// Entries kept at most `ttl`, at most `capacity` of them.
pub struct Expiring<K, V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<Entries<K, V>>,
}

/// Where a lookup began; its answer is kept only if nothing was invalidated since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl<K: Eq + Hash, V: Clone> Expiring<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: Mutex::new(Entries {
                generation: 0,
                by_key: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries<K, V>> {
        self.entries.locked()
    }

    /// The value held for `key` if it is fresh, else the ticket to store the one read.
    pub fn get(&self, key: &K) -> Result<V, Ticket> {
        let entries = self.lock();
        match entries.by_key.get(key) {
            Some((value, at)) if at.elapsed() < self.ttl => Ok(value.clone()),
            _ => Err(Ticket(entries.generation)),
        }
    }

    /// A ticket from now, for a lookup whose held value was unusable.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().generation)
    }

    /// Keeps `value` for `key` unless an invalidation came after `ticket`. When full,
    /// expired entries go, and if none had, all do.
    pub fn put(&self, ticket: Ticket, key: K, value: V) {
        let mut entries = self.lock();
        if entries.generation != ticket.0 {
            return;
        }
        if entries.by_key.len() >= self.capacity {
            let ttl = self.ttl;
            entries.by_key.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.by_key.len() >= self.capacity {
                entries.by_key.clear();
            }
        }
        entries.by_key.insert(key, (value, Instant::now()));
    }

    /// Drops the entries whose value matches.
    pub fn forget_where(&self, matches: impl Fn(&V) -> bool) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.by_key.retain(|_, (value, _)| !matches(value));
    }

    /// Drops everything.
    pub fn forget_all(&self) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.by_key.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let map: Expiring<u8, u8> = Expiring::new(Duration::from_secs(60), 10);
        let ticket = map.get(&1).unwrap_err();
        map.forget_where(|v| *v == 9);
        map.put(ticket, 1, 1);
        assert!(map.get(&1).is_err());
        let ticket = map.get(&1).unwrap_err();
        map.put(ticket, 1, 1);
        assert_eq!(map.get(&1), Ok(1));
        map.forget_where(|v| *v == 1);
        assert!(map.get(&1).is_err());
    }

    #[test]
    fn entries_expire_and_a_full_map_makes_room() {
        let map: Expiring<u8, u8> = Expiring::new(Duration::from_millis(0), 2);
        for k in 0..5 {
            let ticket = map.get(&k).unwrap_err();
            map.put(ticket, k, k);
            assert!(
                map.get(&k).is_err(),
                "a zero time limit keeps nothing fresh"
            );
        }
        let map: Expiring<u8, u8> = Expiring::new(Duration::from_secs(60), 2);
        for k in 0..3 {
            let ticket = map.get(&k).unwrap_err();
            map.put(ticket, k, k);
        }
        assert_eq!(map.get(&2), Ok(2));
        assert!(
            map.get(&0).is_err(),
            "a full map of fresh entries was emptied"
        );
    }
}
