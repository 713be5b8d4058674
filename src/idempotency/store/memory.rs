//! The in-memory store of one replica.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::key::StoreKey;
use super::reservation::{Reservation, retry_after_secs};
use crate::idempotency::entry::Entry;
use crate::idempotency::settings::IdempotencySettings;
use crate::metrics::KeyRefusal;

/// Stale expiry records tolerated beyond one per live entry before the queue is compacted.
const STALE_RECORD_SLACK: usize = 1024;

/// The in-memory store. Bounded by count and never by eviction: an entry leaves only when its
/// TTL passes or its write releases it, and a new key past the capacity or its caller's share is
/// refused. Every operation first drops what expired.
#[derive(Default)]
pub(in crate::idempotency) struct MemoryStore {
    entries: HashMap<Arc<str>, Stored>,
    /// Live keys per caller hash; a caller with none has no row.
    live_by_caller: HashMap<Arc<str>, usize>,
    /// One record per write, in write order, which with one TTL is expiry order. A record whose
    /// write number is not its entry's current one is stale and dropped when reached.
    expiries: VecDeque<Expiry>,
    writes: u64,
}

struct Stored {
    caller: Arc<str>,
    entry: Entry,
    /// The number of the write that last stored the entry (and set its expiry).
    write: u64,
}

struct Expiry {
    at: Instant,
    name: Arc<str>,
    write: u64,
}

impl MemoryStore {
    /// Reserves `key` with `in_flight` at `now`; see [`Reservation`].
    pub(super) fn reserve(
        &mut self,
        key: &StoreKey,
        in_flight: &Entry,
        now: Instant,
        settings: &IdempotencySettings,
    ) -> Reservation {
        self.purge(now);
        if let Some(stored) = self.entries.get(&key.name) {
            return Reservation::Taken(stored.entry.clone());
        }
        let caller_live = self.live_by_caller.get(&key.caller).copied().unwrap_or(0);
        let refusal = if caller_live >= settings.per_caller {
            Some(KeyRefusal::CallerQuota)
        } else if self.entries.len() >= settings.capacity {
            Some(KeyRefusal::StoreFull)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            let caller = match refusal {
                KeyRefusal::CallerQuota => Some(&*key.caller),
                KeyRefusal::StoreFull => None,
            };
            return Reservation::Refused {
                refusal,
                retry_after: self.retry_after(now, caller),
            };
        }
        self.put(key, in_flight.clone(), now, settings.ttl);
        Reservation::Reserved {
            live_keys: self.entries.len(),
        }
    }

    /// Stores `entry` under `key` until `now + ttl`, or removes the key (`None`) if it still
    /// holds the reservation of `reserved`; answers the live keys.
    pub(super) fn settle(
        &mut self,
        key: &StoreKey,
        entry: Option<&Entry>,
        reserved: &Entry,
        now: Instant,
        ttl: Duration,
    ) -> usize {
        self.purge(now);
        match entry {
            Some(entry) => self.put(key, entry.clone(), now, ttl),
            None => {
                let ours = self.entries.get(&key.name).is_some_and(|stored| {
                    stored.entry.reservation().is_some()
                        && stored.entry.reservation() == reserved.reservation()
                });
                if ours {
                    self.remove(&key.name);
                }
            }
        }
        self.entries.len()
    }

    /// Drops what expired at `now` and answers the live keys.
    pub(super) fn live_keys(&mut self, now: Instant) -> usize {
        self.purge(now);
        self.entries.len()
    }

    /// Drops expired entries and stale expiry records from the front of the queue; afterwards
    /// the front record, if any, is the live entry that expires first.
    fn purge(&mut self, now: Instant) {
        while let Some(front) = self.expiries.front() {
            let current = self
                .entries
                .get(&front.name)
                .is_some_and(|stored| stored.write == front.write);
            if current && front.at > now {
                break;
            }
            let name = Arc::clone(&front.name);
            self.expiries.pop_front();
            if current {
                self.remove(&name);
            }
        }
    }

    fn remove(&mut self, name: &str) {
        let Some(stored) = self.entries.remove(name) else {
            return;
        };
        if let Some(live) = self.live_by_caller.get_mut(&stored.caller) {
            *live -= 1;
            if *live == 0 {
                self.live_by_caller.remove(&stored.caller);
            }
        }
    }

    /// Stores `entry` under `key` until `now + ttl`.
    fn put(&mut self, key: &StoreKey, entry: Entry, now: Instant, ttl: Duration) {
        self.writes += 1;
        let write = self.writes;
        match self.entries.get_mut(&key.name) {
            Some(stored) => {
                stored.entry = entry;
                stored.write = write;
            }
            None => {
                self.entries.insert(
                    Arc::clone(&key.name),
                    Stored {
                        caller: Arc::clone(&key.caller),
                        entry,
                        write,
                    },
                );
                *self
                    .live_by_caller
                    .entry(Arc::clone(&key.caller))
                    .or_default() += 1;
            }
        }
        self.expiries.push_back(Expiry {
            at: now + ttl,
            name: Arc::clone(&key.name),
            write,
        });
        // Each live entry has one current record; the rest are stale. Keys released long before
        // they would expire leave stale records far from the front, so past as many stale as
        // current records (plus some slack) the queue keeps only the current ones: it stays
        // within twice the live entries, at an amortised constant cost per write.
        if self.expiries.len() > 2 * self.entries.len() + STALE_RECORD_SLACK {
            let entries = &self.entries;
            self.expiries.retain(|record| {
                entries
                    .get(&record.name)
                    .is_some_and(|stored| stored.write == record.write)
            });
        }
    }

    /// Seconds until the first live entry expires (after a [`Self::purge`]): of `caller` when
    /// given, else of the whole store. The caller's first is found by walking the queue in
    /// expiry order, at most as far as the caller's oldest key (only refusals ask).
    fn retry_after(&self, now: Instant, caller: Option<&str>) -> u64 {
        let first = self.expiries.iter().find(|record| {
            self.entries.get(&record.name).is_some_and(|stored| {
                stored.write == record.write && caller.is_none_or(|c| *stored.caller == *c)
            })
        });
        let wait = first.map_or(Duration::ZERO, |record| {
            record.at.saturating_duration_since(now)
        });
        retry_after_secs(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_store_frees_keys_only_when_they_expire() {
        let mut store = MemoryStore::default();
        let start = Instant::now();
        let ttl = Duration::from_secs(10);
        let (a, b) = (StoreKey::new("alice", "a"), StoreKey::new("bob", "b"));
        let in_flight = || Entry::reserving("f".into());
        store.put(&a, in_flight(), start, ttl);
        store.put(&b, in_flight(), start + Duration::from_secs(2), ttl);
        // Settling `a` later renews its expiry; its first record is stale.
        store.put(&a, in_flight(), start + Duration::from_secs(5), ttl);
        assert_eq!(store.live_by_caller[&a.caller], 1);
        store.purge(start + Duration::from_secs(11));
        assert_eq!(store.entries.len(), 2, "a was renewed, b is still live");
        assert_eq!(store.retry_after(start + Duration::from_secs(11), None), 1);
        store.purge(start + Duration::from_secs(12));
        assert!(!store.entries.contains_key(&b.name));
        assert!(!store.live_by_caller.contains_key(&b.caller));
        assert_eq!(store.retry_after(start + Duration::from_secs(12), None), 3);
        store.purge(start + Duration::from_secs(15));
        assert!(store.entries.is_empty() && store.live_by_caller.is_empty());
        assert!(store.expiries.is_empty(), "stale records are dropped too");
    }

    #[test]
    fn released_keys_leave_no_records_behind() {
        let mut store = MemoryStore::default();
        let now = Instant::now();
        for i in 0..20 * STALE_RECORD_SLACK {
            let key = StoreKey::new("svc", &i.to_string());
            let in_flight = Entry::reserving("f".into());
            store.put(&key, in_flight, now, Duration::from_secs(3600));
            store.remove(&key.name);
        }
        assert!(store.entries.is_empty() && store.live_by_caller.is_empty());
        assert!(store.expiries.len() <= STALE_RECORD_SLACK + 1);
    }

    #[test]
    fn a_release_frees_only_the_reservation_it_made() {
        let mut store = MemoryStore::default();
        let start = Instant::now();
        let ttl = Duration::from_secs(1);
        let settings = IdempotencySettings {
            ttl,
            ..IdempotencySettings::default()
        };
        let key = StoreKey::new("svc", "k");
        let (first, second) = (Entry::reserving("f".into()), Entry::reserving("f".into()));
        assert!(matches!(
            store.reserve(&key, &first, start, &settings),
            Reservation::Reserved { .. }
        ));
        // The first reservation expired and another request reserved the key.
        let later = start + 2 * ttl;
        assert!(matches!(
            store.reserve(&key, &second, later, &settings),
            Reservation::Reserved { .. }
        ));
        assert_eq!(store.settle(&key, None, &first, later, ttl), 1, "kept");
        assert_eq!(store.settle(&key, None, &second, later, ttl), 0, "freed");
    }

    #[test]
    fn a_caller_past_its_share_waits_for_its_own_oldest_key() {
        let mut store = MemoryStore::default();
        let start = Instant::now();
        let settings = IdempotencySettings {
            capacity: 10,
            per_caller: 1,
            ttl: Duration::from_secs(100),
            ..IdempotencySettings::default()
        };
        let reserve = |store: &mut MemoryStore, caller: &str, key: &str, at: Instant| {
            let key = StoreKey::new(caller, key);
            store.reserve(&key, &Entry::reserving("f".into()), at, &settings)
        };
        reserve(&mut store, "quiet", "q", start);
        reserve(&mut store, "flood", "f0", start + Duration::from_secs(30));
        let now = start + Duration::from_secs(40);
        match reserve(&mut store, "flood", "f1", now) {
            Reservation::Refused { retry_after, .. } => assert_eq!(retry_after, 90),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
