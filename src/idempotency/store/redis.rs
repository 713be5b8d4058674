//! The store in the Redis shared by replicas: one entry per key, and two sorted sets (the
//! caller's live keys, every live key) scored by expiry in Redis time, so that their counts are
//! the live keys of the whole cluster.

use std::sync::LazyLock;
use std::time::Duration;

use deadpool_redis::{Pool, redis::Script};

use super::key::{StoreKey, all_keys_index};
use super::reservation::{Reservation, retry_after_secs};
use crate::cluster;
use crate::error::Error;
use crate::idempotency::entry::Entry;
use crate::idempotency::settings::IdempotencySettings;
use crate::metrics::KeyRefusal;

/// What Redis faults are reported as.
const WHAT: &str = "idempotency store";

/// Reserves a key in Redis, counting live keys per caller and in all. KEYS: entry, caller
/// index, all-keys index. ARGV: in-flight entry, TTL ms, per-caller share, capacity. Answers
/// `[existing, entry]`, `[reserved, live keys]`, or `[caller_quota | store_full, ms to wait]`.
/// The indexes are sorted sets scored by expiry (Redis time), trimmed on every reservation, so
/// that their counts are the live keys.
static RESERVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local existing = redis.call('GET', KEYS[1])
if existing then return {'existing', existing} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local function wait_for(index)
  local oldest = redis.call('ZRANGE', index, 0, 0, 'WITHSCORES')
  return string.format('%d', math.max(tonumber(oldest[2]) - now, 0))
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  return {'caller_quota', wait_for(KEYS[2])}
end
local live = redis.call('ZCARD', KEYS[3])
if live >= tonumber(ARGV[4]) then
  return {'store_full', wait_for(KEYS[3])}
end
local expires = string.format('%d', now + ttl)
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], expires, KEYS[1])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[3], expires, KEYS[1])
redis.call('PEXPIRE', KEYS[3], ttl)
return {'reserved', string.format('%d', live + 1)}
",
    )
});

/// Stores a reserved key's outcome for a fresh TTL, or releases it (ARGV[1] empty) if it still
/// holds the in-flight entry of this reservation (ARGV[3], with its unique reservation id), so
/// that a release never frees a key another request reserved after ours expired. KEYS and
/// ARGV[2] as in [`RESERVE_SCRIPT`].
static SETTLE_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if ARGV[1] == '' then
  if redis.call('GET', KEYS[1]) == ARGV[3] then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], KEYS[1])
    redis.call('ZREM', KEYS[3], KEYS[1])
  end
  return 0
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
local expires = string.format('%d', now + ttl)
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], expires, KEYS[1])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[3], expires, KEYS[1])
redis.call('PEXPIRE', KEYS[3], ttl)
return 0
",
    )
});

/// Runs [`RESERVE_SCRIPT`] for `key`.
pub(super) async fn reserve(
    pool: &Pool,
    key: &StoreKey,
    in_flight: &Entry,
    settings: &IdempotencySettings,
) -> Result<Reservation, Error> {
    let value = serde_json::to_string(in_flight).expect("entries serialise");
    let (verdict, detail): (String, String) = cluster::run_script(
        pool,
        WHAT,
        &RESERVE_SCRIPT,
        &[&key.name, &key.caller_index(), &all_keys_index()],
        &[
            &value,
            &settings.ttl.as_millis().to_string(),
            &settings.per_caller.to_string(),
            &settings.capacity.to_string(),
        ],
    )
    .await?;
    let refused = |refusal| Reservation::Refused {
        refusal,
        retry_after: retry_after_secs(Duration::from_millis(detail.parse().unwrap_or(0))),
    };
    match verdict.as_str() {
        "existing" => serde_json::from_str(&detail)
            .map(Reservation::Taken)
            .map_err(|e| cluster::unavailable(WHAT, e)),
        "reserved" => Ok(Reservation::Reserved {
            live_keys: detail.parse().unwrap_or(0),
        }),
        "caller_quota" => Ok(refused(KeyRefusal::CallerQuota)),
        "store_full" => Ok(refused(KeyRefusal::StoreFull)),
        other => Err(cluster::unavailable(
            WHAT,
            format!("unexpected answer {other}"),
        )),
    }
}

/// Runs [`SETTLE_SCRIPT`] for `entry` (`None` releases the key if it still holds `reserved`).
pub(super) async fn settle(
    pool: &Pool,
    key: &StoreKey,
    entry: Option<&Entry>,
    reserved: &Entry,
    ttl: Duration,
) -> Result<(), Error> {
    let value = entry
        .map(|entry| serde_json::to_string(entry).expect("entries serialise"))
        .unwrap_or_default();
    let reserved = serde_json::to_string(reserved).expect("entries serialise");
    cluster::run_script::<i64>(
        pool,
        WHAT,
        &SETTLE_SCRIPT,
        &[&key.name, &key.caller_index(), &all_keys_index()],
        &[&value, &ttl.as_millis().to_string(), &reserved],
    )
    .await
    .map(|_| ())
}
