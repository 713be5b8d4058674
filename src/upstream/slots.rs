//! The upstream concurrency budget (`CONTACTNOW_MAX_CONCURRENCY`): a semaphore in this replica,
//! or, with the shared Redis, leases in one sorted set so that the budget holds for the whole
//! cluster.
//!
//! A lease is a member of the set scored by its expiry (Redis time). It is removed when the
//! exchange ends (its [`Slot`] is dropped), and expires on its own after the exchange deadline
//! plus [`LEASE_MARGIN`], so the leases of a replica that crashed free themselves. Taking a lease
//! first drops the expired ones, then counts the rest, in one script. A request first takes a
//! permit of this replica's semaphore and only then asks Redis, so at most the budget of one
//! replica's requests poll Redis at once; the lease's guard exists before the script runs, so a
//! request cancelled while Redis answers still removes its lease.

use std::time::{Duration, Instant};

use deadpool_redis::{Pool, redis};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::cluster;
use crate::error::Error;

/// How long a lease outlives the exchange deadline before it expires on its own.
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// How long a request waiting for a cluster-wide slot first waits before it asks again; each
/// wait doubles up to [`LEASE_POLL_MAX`], and a random part of up to half of it is added so
/// that waiters do not ask in step.
const LEASE_POLL: Duration = Duration::from_millis(25);
/// The longest wait between two asks for a cluster-wide slot (before the random part).
const LEASE_POLL_MAX: Duration = Duration::from_millis(200);

/// Takes a lease if fewer than the budget are live. KEYS: the lease set. ARGV: lease id, budget,
/// lease lifetime in ms. Answers 1 when taken, 0 when every slot is leased.
static LEASE_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[3])), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
",
    )
});

/// The Redis sorted set of live leases.
fn lease_set() -> String {
    format!("{}upstream-leases", cluster::KEY_PREFIX)
}

/// The budget of upstream exchanges in flight at once.
pub struct Slots {
    max: usize,
    local: Semaphore,
    shared: Option<SharedSlots>,
}

struct SharedSlots {
    pool: Pool,
    lease: Duration,
}

/// One upstream slot, held until dropped.
pub enum Slot<'a> {
    /// A permit of this replica's semaphore.
    Local(SemaphorePermit<'a>),
    /// A cluster-wide lease, removed from Redis when dropped, with the permit of this replica's
    /// semaphore that was held while waiting for it (so that at most the budget of this
    /// replica's requests ask Redis at once).
    Lease(Lease, SemaphorePermit<'a>),
}

/// A cluster-wide lease, possibly taken; dropping it removes it (in the background). It exists
/// before the script that may take it runs, so that a request cancelled while the script's answer
/// is on its way still removes what the script added (removing a missing lease is harmless).
pub struct Lease {
    pool: Pool,
    id: String,
    /// Whether Redis may hold the lease: the script was sent and did not answer "not taken".
    maybe_taken: bool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Outside a Tokio runtime (or with nothing to remove) the lease is left to expire.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.maybe_taken {
            return;
        }
        let (pool, id) = (self.pool.clone(), std::mem::take(&mut self.id));
        runtime.spawn(async move {
            // A removal that fails leaves the lease to expire.
            if let Ok(mut connection) = pool.get().await {
                let _: Result<i64, _> = redis::cmd("ZREM")
                    .arg(lease_set())
                    .arg(id)
                    .query_async(&mut connection)
                    .await;
            }
        });
    }
}

impl Slots {
    /// `max` slots in this replica.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            max,
            local: Semaphore::new(max),
            shared: None,
        }
    }

    /// Makes the budget cluster-wide, kept in the shared Redis. `exchange_deadline` bounds how
    /// long one exchange holds its slot; a lease lives that plus [`LEASE_MARGIN`].
    pub fn share(&mut self, pool: Pool, exchange_deadline: Duration) {
        self.shared = Some(SharedSlots {
            pool,
            lease: exchange_deadline + LEASE_MARGIN,
        });
    }

    /// A slot, waited for at most `queue_timeout` (zero: one try); `UpstreamBusy` when none
    /// came free, `StoreUnavailable` when the shared Redis cannot be reached (fail closed).
    pub async fn acquire(&self, queue_timeout: Duration) -> Result<Slot<'_>, Error> {
        match &self.shared {
            None => self.local_permit(queue_timeout).await.map(Slot::Local),
            // Boxed: a request's future holds a pointer to the Redis path, not its state.
            Some(shared) => Box::pin(self.acquire_shared(shared, queue_timeout)).await,
        }
    }

    /// A permit of this replica's budget: at once when one is free (no timer), else the first
    /// one freed within `queue_timeout`.
    async fn local_permit(
        &self,
        queue_timeout: Duration,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, Error> {
        if let Ok(permit) = self.local.try_acquire() {
            return Ok(permit);
        }
        match queue_timeout {
            Duration::ZERO => None,
            wait => tokio::time::timeout(wait, self.local.acquire())
                .await
                .ok()
                .and_then(Result::ok),
        }
        .ok_or(Error::UpstreamBusy)
    }

    /// A lease of the cluster-wide budget (after a local permit), as [`Self::acquire`].
    async fn acquire_shared(
        &self,
        shared: &SharedSlots,
        queue_timeout: Duration,
    ) -> Result<Slot<'_>, Error> {
        let deadline = Instant::now() + queue_timeout;
        let local = self.local_permit(queue_timeout).await?;
        let mut lease = Lease {
            pool: shared.pool.clone(),
            id: uuid::Uuid::new_v4().to_string(),
            maybe_taken: false,
        };
        let mut poll = LEASE_POLL;
        loop {
            lease.maybe_taken = true;
            let taken: i64 = cluster::run_script(
                &shared.pool,
                "upstream concurrency",
                &LEASE_SCRIPT,
                &[&lease_set()],
                &[
                    &lease.id,
                    &self.max.to_string(),
                    &shared.lease.as_millis().to_string(),
                ],
            )
            .await?;
            if taken == 1 {
                return Ok(Slot::Lease(lease, local));
            }
            lease.maybe_taken = false;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::UpstreamBusy);
            }
            let jitter = poll.mul_f64(rand::random::<f64>() / 2.0);
            tokio::time::sleep(left.min(poll + jitter)).await;
            poll = (poll * 2).min(LEASE_POLL_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_dropped_outside_a_runtime_is_left_to_expire() {
        let pool = cluster::redis_pool(&"redis://127.0.0.1:1/".into()).expect("a pool");
        drop(Lease {
            pool,
            id: "lease".into(),
            maybe_taken: true,
        });
    }
}
