//! Where a key is stored, in memory and in Redis: names built from hashes of the caller and the
//! key, never from their text.

use std::sync::Arc;

use crate::cluster;

/// Where a key is stored: under its caller's hash, in the caller's count of live keys.
#[derive(Clone, Debug)]
pub(in crate::idempotency) struct StoreKey {
    /// The caller (`sub`), hashed.
    pub(super) caller: Arc<str>,
    /// The entry's name: prefix, caller hash and key hash.
    pub(super) name: Arc<str>,
}

impl StoreKey {
    /// The place of `key` of caller `sub`.
    pub(in crate::idempotency) fn new(sub: &str, key: &str) -> Self {
        let caller = cluster::hashed(sub);
        Self {
            name: format!(
                "{}idem:{caller}:{}",
                cluster::KEY_PREFIX,
                cluster::hashed(key)
            )
            .into(),
            caller: caller.into(),
        }
    }

    /// The Redis sorted set of the caller's live keys, scored by expiry.
    pub(super) fn caller_index(&self) -> String {
        format!("{}idem-caller:{}", cluster::KEY_PREFIX, self.caller)
    }
}

/// The Redis sorted set of every live key, scored by expiry.
pub(super) fn all_keys_index() -> String {
    format!("{}idem-keys", cluster::KEY_PREFIX)
}
