//! Where keys live: in this process ([`memory`]) or in the Redis shared by replicas
//! ([`redis`]). Both hold at most `capacity` live keys and each caller at most `per_caller`,
//! never drop a live key to make room, and free a key only when its TTL passes or its write
//! releases it.

mod key;
mod memory;
mod redis;
mod reservation;

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::entry::Entry;
use super::settings::IdempotencySettings;
use crate::error::Error;
pub(super) use key::StoreKey;
use memory::MemoryStore;
pub(super) use reservation::Reservation;

/// The store of one gateway.
pub(super) enum Store {
    /// In this process.
    Memory(Mutex<MemoryStore>),
    /// In the shared Redis.
    Redis(deadpool_redis::Pool),
}

impl Store {
    /// The shared Redis when given, else memory.
    pub(super) fn new(redis: Option<deadpool_redis::Pool>) -> Self {
        match redis {
            Some(pool) => Self::Redis(pool),
            None => Self::Memory(Mutex::default()),
        }
    }

    /// Reserves `key` with `in_flight`, unless it is taken or a new key is refused.
    pub(super) async fn reserve(
        &self,
        key: &StoreKey,
        in_flight: &Entry,
        settings: &IdempotencySettings,
    ) -> Result<Reservation, Error> {
        match self {
            Self::Memory(store) => {
                Ok(lock(store).reserve(key, in_flight, Instant::now(), settings))
            }
            Self::Redis(pool) => redis::reserve(pool, key, in_flight, settings).await,
        }
    }

    /// Stores `entry` under a key reserved with `reserved` for a fresh `ttl`, or releases the
    /// key (`None`) if it still holds `reserved` (never a reservation of another request made
    /// after ours expired). A reserved key is stored even past the capacity (its reservation
    /// counted it). Answers the live keys when the store counts them on the way.
    pub(super) async fn settle(
        &self,
        key: &StoreKey,
        entry: Option<&Entry>,
        reserved: &Entry,
        ttl: Duration,
    ) -> Result<Option<usize>, Error> {
        match self {
            Self::Memory(store) => Ok(Some(lock(store).settle(
                key,
                entry,
                reserved,
                Instant::now(),
                ttl,
            ))),
            Self::Redis(pool) => redis::settle(pool, key, entry, reserved, ttl)
                .await
                .map(|()| None),
        }
    }

    /// Drops expired keys and answers the live ones, when this replica counts them itself
    /// (memory); the Redis store counts the cluster's on every reservation.
    pub(super) fn live_keys(&self) -> Option<usize> {
        match self {
            Self::Memory(store) => Some(lock(store).live_keys(Instant::now())),
            Self::Redis(_) => None,
        }
    }

    /// [`Self::settle`] from a place that cannot wait (a drop): at once in memory, on a
    /// spawned task with Redis.
    pub(super) fn settle_detached(
        &self,
        key: StoreKey,
        entry: Option<Entry>,
        reserved: Entry,
        ttl: Duration,
    ) -> Option<usize> {
        match self {
            Self::Memory(store) => {
                Some(lock(store).settle(&key, entry.as_ref(), &reserved, Instant::now(), ttl))
            }
            Self::Redis(pool) => {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let _ = redis::settle(&pool, &key, entry.as_ref(), &reserved, ttl).await;
                });
                None
            }
        }
    }
}

fn lock(store: &Mutex<MemoryStore>) -> std::sync::MutexGuard<'_, MemoryStore> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}
