//! The per-caller rate limit (a token bucket by `sub`): per replica in memory, or for the whole
//! cluster in the shared Redis.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::error::Error;

/// A per-caller rate limit (token bucket by `sub`): per replica in memory, or for the whole
/// cluster in the shared Redis.
pub struct CallerLimiter {
    backend: LimiterBackend,
}

enum LimiterBackend {
    /// This replica's buckets.
    Local {
        limiter: governor::DefaultKeyedRateLimiter<String>,
        clock: governor::clock::DefaultClock,
    },
    /// One bucket per caller in Redis, shared by every replica.
    Shared {
        pool: deadpool_redis::Pool,
        /// Microseconds between two requests at the sustained rate.
        interval_micros: f64,
        burst: u32,
    },
}

/// The callers' buckets kept in memory before the idle ones are dropped.
const MAX_LOCAL_BUCKETS: usize = 100_000;

/// GCRA (the token bucket as one "theoretical arrival time" per caller) in Redis time. KEYS:
/// the caller's bucket. ARGV: microseconds per request, burst. Answers 0 when the request may
/// go, else the microseconds to wait. The key expires when the bucket is full again.
static RATE_SCRIPT: std::sync::LazyLock<deadpool_redis::redis::Script> =
    std::sync::LazyLock::new(|| {
        deadpool_redis::redis::Script::new(
            r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > tolerance then
  return string.format('%d', math.ceil(next_tat - tolerance - now))
end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX',
  string.format('%d', math.ceil((next_tat - now) / 1000) + 1))
return '0'
",
        )
    });

impl CallerLimiter {
    /// `per_second` requests a second per caller, with bursts of `burst`, in this replica.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        let quota = governor::Quota::per_second(per_second).allow_burst(burst);
        Self {
            backend: LimiterBackend::Local {
                limiter: governor::RateLimiter::keyed(quota),
                clock: governor::clock::DefaultClock::default(),
            },
        }
    }

    /// The same limit for the whole cluster, kept in the shared Redis (`GATEWAY_REDIS_URL`):
    /// a caller gets `per_second` and `burst` however many replicas it spreads over.
    pub fn shared(per_second: NonZeroU32, burst: NonZeroU32, pool: deadpool_redis::Pool) -> Self {
        Self {
            backend: LimiterBackend::Shared {
                pool,
                interval_micros: 1e6 / f64::from(per_second.get()),
                burst: burst.get(),
            },
        }
    }

    /// Takes one request from `sub`'s bucket, or says when to retry. With Redis, a Redis that
    /// cannot be reached refuses the request (503 `store_unavailable`): the limit fails closed.
    pub async fn check(&self, sub: &str) -> Result<(), Error> {
        match &self.backend {
            LimiterBackend::Local { limiter, clock } => check_local(limiter, clock, sub),
            LimiterBackend::Shared {
                pool,
                interval_micros,
                burst,
            } => check_shared(pool, *interval_micros, *burst, sub).await,
        }
    }

    /// [`Self::check`] for a limit kept in this replica's memory, decided without waiting;
    /// `None` for the shared limit, which asks Redis.
    pub fn check_here(&self, sub: &str) -> Option<Result<(), Error>> {
        match &self.backend {
            LimiterBackend::Local { limiter, clock } => Some(check_local(limiter, clock, sub)),
            LimiterBackend::Shared { .. } => None,
        }
    }
}

/// [`CallerLimiter::check`] against `sub`'s bucket in this replica's `limiter`.
fn check_local(
    limiter: &governor::DefaultKeyedRateLimiter<String>,
    clock: &governor::clock::DefaultClock,
    sub: &str,
) -> Result<(), Error> {
    if limiter.len() > MAX_LOCAL_BUCKETS {
        limiter.retain_recent();
    }
    limiter.check_key(&sub.to_owned()).map_err(|not_until| {
        use governor::clock::Clock;
        too_many(not_until.wait_time_from(clock.now()))
    })
}

/// [`CallerLimiter::check`] against `sub`'s bucket in Redis: `interval_micros` between two
/// requests at the sustained rate, bursts of `burst`.
async fn check_shared(
    pool: &deadpool_redis::Pool,
    interval_micros: f64,
    burst: u32,
    sub: &str,
) -> Result<(), Error> {
    let key = format!(
        "{}rate:{}",
        crate::cluster::KEY_PREFIX,
        crate::cluster::hashed(sub)
    );
    let wait_micros: String = crate::cluster::run_script(
        pool,
        "rate limit",
        &RATE_SCRIPT,
        &[&key],
        &[&interval_micros.to_string(), &burst.to_string()],
    )
    .await?;
    match wait_micros.parse::<u64>() {
        Ok(0) => Ok(()),
        Ok(micros) => Err(too_many(Duration::from_micros(micros))),
        Err(e) => Err(crate::cluster::unavailable("rate limit", e)),
    }
}

/// The refusal of a request that may be sent again after `wait` (whole seconds, at least one).
fn too_many(wait: Duration) -> Error {
    Error::TooManyRequests {
        retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}
