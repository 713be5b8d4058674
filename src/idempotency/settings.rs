//! The settings of the idempotency layer.

use std::time::Duration;

/// The default number of idempotency keys remembered at once (about 100 MiB in memory).
pub const DEFAULT_IDEMPOTENCY_CAPACITY: usize = 100_000;
/// The default number of idempotency keys one caller may hold at once (a tenth of the default
/// capacity).
pub const DEFAULT_IDEMPOTENCY_PER_CALLER: usize = 10_000;
/// How long a key is remembered unless configured.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// Idempotency settings.
#[derive(Clone, Debug)]
pub struct IdempotencySettings {
    /// Whether creates must carry a key (`GATEWAY_IDEMPOTENCY_REQUIRED`).
    pub required: bool,
    /// How long a key is remembered (`GATEWAY_IDEMPOTENCY_TTL_SECONDS`).
    pub ttl: Duration,
    /// The most live keys in the store (`GATEWAY_IDEMPOTENCY_CAPACITY`); with Redis, in the
    /// whole cluster.
    pub capacity: usize,
    /// The most live keys of one caller (`GATEWAY_IDEMPOTENCY_PER_CALLER`).
    pub per_caller: usize,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self {
            required: false,
            ttl: DEFAULT_TTL,
            capacity: DEFAULT_IDEMPOTENCY_CAPACITY,
            per_caller: DEFAULT_IDEMPOTENCY_PER_CALLER,
        }
    }
}
