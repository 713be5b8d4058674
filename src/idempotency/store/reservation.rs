//! What a store answers to a reservation.

use std::time::Duration;

use crate::idempotency::entry::Entry;
use crate::metrics::KeyRefusal;

/// What reserving a key found.
#[derive(Debug)]
pub(in crate::idempotency) enum Reservation {
    /// The key was taken already: this is its entry.
    Taken(Entry),
    /// The key is now in flight for this request; the store holds `live_keys`.
    Reserved {
        /// Live keys in the store (the whole cluster's with Redis).
        live_keys: usize,
    },
    /// A new key is refused: the caller's share or the store is full.
    Refused {
        /// Which limit.
        refusal: KeyRefusal,
        /// Whole seconds until the first key that counts against it expires.
        retry_after: u64,
    },
}

/// Whole seconds (at least 1) for a `Retry-After` of `wait`.
pub(super) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0 || wait.is_zero())
}
