//! `Idempotency-Key` on writes (draft-ietf-httpapi-idempotency-key-header): a retried create or
//! update with the same key gets the first answer replayed, and never reaches ContactNow twice.
//!
//! A key is scoped to the caller (`sub`). The first request with it reserves the key (in flight),
//! runs, and stores its final answer with a fingerprint of method, path and body. Later requests
//! with the same key: same fingerprint and done → the answer is replayed; still running → 409;
//! other fingerprint → 422; first outcome unknown (the upstream got the request but its answer
//! was lost) → 409 saying so, so that a retry never creates blindly. Requests that fail before
//! anything reached the upstream release the key. The store is in memory or Redis, shared
//! by replicas; a Redis that cannot be reached makes keyed writes 503, never a silent duplicate.
//!
//! The store never drops a live key to make room: it holds at most `capacity` keys and each
//! caller at most `per_caller`, and a NEW key past either is refused (429
//! `idempotency_quota_exceeded` / 503 `idempotency_store_full`) before anything is sent, while
//! retries of keys already held are answered as usual. Only expiry (the TTL) frees a key.
//!
//! # Layout
//! - this file: [`Idempotency::run`], the one entry point of the write routes, and the guard that
//!   settles a key whose write was cancelled.
//! - `key`: the [`IdempotencyKey`] header; `fingerprint`: [`fingerprint()`] of a write;
//!   `reply`: the [`Reply`] every write answers with; `settings`: [`IdempotencySettings`].
//! - `entry`: the state of a key (in flight, done, unknown) and how a write's end moves it.
//! - `store`: the memory and Redis stores behind one `Store`.
//!
//! Whether a write reached ContactNow is learnt from the upstream client through an
//! [`upstream::sent::SentNotifier`](crate::upstream::sent::SentNotifier) this layer installs
//! around the write: the client knows nothing of this layer.

mod entry;
mod fingerprint;
mod key;
mod reply;
mod settings;
mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::HttpResponse;

use crate::error::Error;
use crate::metrics::{KeyRefusal, Metrics};
use crate::upstream::sent::SentNotifier;
use entry::{Ending, Entry, Reach};
pub use fingerprint::fingerprint;
pub use key::{IdempotencyKey, KEY_HEADER, MAX_KEY_CHARS};
pub use reply::{REPLAYED_HEADER, Reply};
pub use settings::{
    DEFAULT_IDEMPOTENCY_CAPACITY, DEFAULT_IDEMPOTENCY_PER_CALLER, DEFAULT_TTL, IdempotencySettings,
};
use store::{Reservation, Store, StoreKey};

/// Which write a key guards: the `required` setting applies to creates only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// A create (`POST`): must carry a key when `GATEWAY_IDEMPOTENCY_REQUIRED` is set.
    Create,
    /// An update (`PATCH`): a key is always optional.
    Update,
}

/// The idempotency layer of the write routes.
pub struct Idempotency {
    store: Store,
    settings: IdempotencySettings,
    metrics: Arc<Metrics>,
}

impl Idempotency {
    /// The layer with its store: the shared Redis when given, else memory.
    pub fn new(
        settings: IdempotencySettings,
        redis: Option<deadpool_redis::Pool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store: Store::new(redis),
            settings,
            metrics,
        }
    }

    /// Runs `write` at most once per (caller, key, fingerprint); see the module docs.
    /// `kind` applies the `required` setting.
    /// `fingerprint` is only computed when the request carries a key.
    pub async fn run<F>(
        &self,
        sub: &str,
        key: IdempotencyKey,
        kind: WriteKind,
        fingerprint: impl FnOnce() -> String,
        write: F,
    ) -> Result<HttpResponse, Error>
    where
        F: Future<Output = Result<Reply, Error>>,
    {
        // Boxed once: the write is held below by the watcher, which would otherwise copy it.
        let write = Box::pin(write);
        let Some(key) = key.0 else {
            if kind == WriteKind::Create && self.settings.required {
                return Err(Error::bad_field("Idempotency-Key", "required on creates"));
            }
            return write.await.and_then(Reply::into_response);
        };
        let fingerprint = fingerprint();
        let sent = Arc::new(AtomicBool::new(false));
        // The guard exists before the reservation is sent: a request cancelled while Redis
        // answers still releases what the reservation took.
        let mut guard = Guard {
            layer: self,
            key: StoreKey::new(sub, &key),
            reserved: Entry::reserving(fingerprint.clone()),
            fingerprint,
            sent: Arc::clone(&sent),
            pending: None,
            phase: Phase::Reserving,
        };
        if let Some(existing) = Box::pin(guard.reserve()).await? {
            tracing::info!(state = existing.state_name(), "idempotency key seen before");
            return existing
                .verdict(&guard.fingerprint)
                .and_then(Reply::into_replay);
        }
        let notifier = {
            let sent = Arc::clone(&sent);
            SentNotifier::new(move || sent.store(true, Ordering::Relaxed))
        };
        let result = notifier.watch(write).await;
        let ending = Ending::of(&result, reach(&sent));
        Box::pin(guard.settle(ending)).await?;
        result.and_then(Reply::into_response)
    }

    /// Updates the live-key gauge from the store, dropping what expired (memory; the Redis
    /// count is refreshed by every reservation).
    pub fn refresh_key_count(&self) {
        self.count(self.store.live_keys());
    }

    /// Counts and logs a refused new key, and the error that answers it.
    fn refuse(&self, refusal: KeyRefusal, retry_after: u64) -> Error {
        self.metrics.idempotency_refused(refusal);
        match refusal {
            KeyRefusal::CallerQuota => {
                tracing::warn!(
                    per_caller = self.settings.per_caller,
                    "idempotency key refused: the caller holds its whole share"
                );
                Error::IdempotencyQuotaExceeded { retry_after }
            }
            KeyRefusal::StoreFull => {
                tracing::warn!(
                    capacity = self.settings.capacity,
                    "idempotency key refused: the store is full"
                );
                Error::IdempotencyStoreFull { retry_after }
            }
        }
    }

    /// Counts the live keys when the store told them.
    fn count(&self, live_keys: Option<usize>) {
        if let Some(live_keys) = live_keys {
            self.metrics.set_idempotency_keys(live_keys);
        }
    }
}

/// How far a write got, from the flag its [`SentNotifier`] sets.
fn reach(sent: &AtomicBool) -> Reach {
    match sent.load(Ordering::Relaxed) {
        true => Reach::MaybeSent,
        false => Reach::NothingSent,
    }
}

/// Where a keyed write is, for its [`Guard`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The reservation was (or is about to be) sent: the store may hold it.
    Reserving,
    /// The key is reserved for this request and its write runs.
    Running,
    /// Nothing is left to do: the key was taken, refused, or settled.
    Finished,
}

/// Settles a reserved key if the write never does (the handler was cancelled, e.g. the caller
/// went away): released if the reservation's answer or the write was cut before anything
/// reached the upstream, unknown after. A release frees the key only while it still holds this
/// request's reservation.
struct Guard<'a> {
    layer: &'a Idempotency,
    key: StoreKey,
    fingerprint: String,
    /// The in-flight entry this request reserves the key with (its reservation is unique).
    reserved: Entry,
    sent: Arc<AtomicBool>,
    /// What `settle` is storing, kept until it is stored so that a cancel in between still
    /// stores it.
    pending: Option<Option<Entry>>,
    phase: Phase,
}

impl Guard<'_> {
    /// Reserves the key; returns what was there if it was taken. A new key past the caller's
    /// share or the capacity is refused; an existing one never is. A store fault leaves the
    /// guard reserving, so that its drop releases whatever the reservation may have taken.
    async fn reserve(&mut self) -> Result<Option<Entry>, Error> {
        let layer = self.layer;
        let reservation = layer
            .store
            .reserve(&self.key, &self.reserved, &layer.settings)
            .await?;
        match reservation {
            Reservation::Taken(entry) => {
                self.phase = Phase::Finished;
                Ok(Some(entry))
            }
            Reservation::Reserved { live_keys } => {
                self.phase = Phase::Running;
                layer.count(Some(live_keys));
                Ok(None)
            }
            Reservation::Refused {
                refusal,
                retry_after,
            } => {
                self.phase = Phase::Finished;
                Err(layer.refuse(refusal, retry_after))
            }
        }
    }

    async fn settle(&mut self, ending: Ending) -> Result<(), Error> {
        let entry = ending.into_entry(self.fingerprint.clone());
        self.pending = Some(entry.clone());
        let layer = self.layer;
        let live_keys = layer
            .store
            .settle(
                &self.key,
                entry.as_ref(),
                &self.reserved,
                layer.settings.ttl,
            )
            .await?;
        layer.count(live_keys);
        self.phase = Phase::Finished;
        Ok(())
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let entry = match self.phase {
            Phase::Finished => return,
            Phase::Reserving => None,
            Phase::Running => match self.pending.take() {
                Some(settling) => settling,
                None => Ending::cancelled(reach(&self.sent))
                    .into_entry(std::mem::take(&mut self.fingerprint)),
            },
        };
        let layer = self.layer;
        let reserved = self.reserved.clone();
        let live_keys =
            layer
                .store
                .settle_detached(self.key.clone(), entry, reserved, layer.settings.ttl);
        layer.count(live_keys);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::http::StatusCode;

    use super::*;
    use crate::upstream::sent::notify_write_sent;

    fn layer() -> Idempotency {
        Idempotency::new(
            IdempotencySettings::default(),
            None,
            Arc::new(Metrics::new()),
        )
    }

    fn key(k: &str) -> IdempotencyKey {
        IdempotencyKey(Some(k.into()))
    }

    async fn created() -> Result<Reply, Error> {
        Ok(Reply::json(StatusCode::CREATED, &serde_json::json!({})))
    }

    #[tokio::test]
    async fn a_cancelled_write_releases_its_key_unless_it_reached_the_upstream() {
        let layer = layer();
        async fn cancel(write: impl Future<Output = Result<HttpResponse, Error>>) {
            let cut = tokio::time::timeout(Duration::from_millis(20), write).await;
            assert!(cut.is_err(), "the write was meant to be cancelled");
        }
        let create = WriteKind::Create;
        // Cancelled while queueing: nothing was sent, a retry runs.
        cancel(layer.run("svc", key("queued"), create, String::new, async {
            std::future::pending::<Result<Reply, Error>>().await
        }))
        .await;
        let retry = layer.run("svc", key("queued"), create, String::new, created());
        assert_eq!(retry.await.unwrap().status(), StatusCode::CREATED);
        // Cancelled after sending: the outcome is unknown, a retry is refused.
        cancel(layer.run("svc", key("sent"), create, String::new, async {
            notify_write_sent();
            std::future::pending::<Result<Reply, Error>>().await
        }))
        .await;
        let retry = layer.run("svc", key("sent"), create, String::new, created());
        match retry.await {
            Err(error) => assert_eq!(error.code(), "idempotency_outcome_unknown"),
            other => panic!("expected an unknown outcome, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_failure_is_unknown_only_if_the_write_reached_the_upstream() {
        let layer = layer();
        let failed = |sent: bool| async move {
            if sent {
                notify_write_sent();
            }
            Err::<Reply, _>(Error::UpstreamFailed("garbage answer".into()))
        };
        let create = WriteKind::Create;
        let first = layer.run("svc", key("unsent"), create, String::new, failed(false));
        assert!(matches!(first.await, Err(Error::UpstreamFailed(_))));
        let retry = layer.run("svc", key("unsent"), create, String::new, created());
        assert_eq!(retry.await.unwrap().status(), StatusCode::CREATED);
        let first = layer.run("svc", key("sent"), create, String::new, failed(true));
        assert!(matches!(first.await, Err(Error::UpstreamFailed(_))));
        let retry = layer.run("svc", key("sent"), create, String::new, created());
        match retry.await {
            Err(error) => assert_eq!(error.code(), "idempotency_outcome_unknown"),
            other => panic!("expected an unknown outcome, got {other:?}"),
        }
    }
}
