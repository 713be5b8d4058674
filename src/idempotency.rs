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

use std::collections::{HashMap, VecDeque};
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder, body::BoxBody, dev::Payload};
use deadpool_redis::redis;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cluster;
use crate::config::{DEFAULT_IDEMPOTENCY_CAPACITY, DEFAULT_IDEMPOTENCY_PER_CALLER};
use crate::error::Error;
use crate::metrics::{KeyRefusal, Metrics};

tokio::task_local! {
    /// Set once the keyed write running on this task has sent something upstream.
    static SENT: Arc<AtomicBool>;
}

/// Records that the keyed write running on this task (if any) is about to reach the upstream:
/// from then on, a write that is cancelled has an unknown outcome. Until then, cancelling it
/// (the caller went away while it queued for an upstream slot, say) releases its key.
pub fn mark_sent() {
    let _ = SENT.try_with(|sent| sent.store(true, Ordering::Relaxed));
}

/// The request header.
pub const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// The answer header that marks a replayed answer.
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The longest key accepted, in characters.
pub const MAX_KEY_CHARS: usize = 255;

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
            ttl: Duration::from_secs(24 * 3600),
            capacity: DEFAULT_IDEMPOTENCY_CAPACITY,
            per_caller: DEFAULT_IDEMPOTENCY_PER_CALLER,
        }
    }
}

/// A write's answer, as sent and as stored for replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Location`, if any.
    pub location: Option<String>,
    /// `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: String,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: StatusCode, body: &impl Serialize) -> Self {
        Self {
            status: status.as_u16(),
            location: None,
            content_type: "application/json".into(),
            body: serde_json::to_string(body).expect("answers serialise"),
        }
    }

    /// With a `Location` header.
    pub fn with_location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    fn into_response(self, replayed: bool) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, self.content_type.as_str()));
        if let Some(location) = self.location {
            response.insert_header((header::LOCATION, location));
        }
        if replayed {
            response.insert_header((REPLAYED_HEADER, "true"));
        }
        response.body(self.body)
    }
}

impl Responder for Reply {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        self.into_response(false)
    }
}

/// The `Idempotency-Key` of a request, if it has one: a Structured Field string of 1 to 255
/// characters. A malformed header is a 400.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl IdempotencyKey {
    /// Parses the header value (`"…"`, with `\"` and `\\` escapes, printable ASCII).
    pub fn parse(value: &[u8]) -> Result<String, Error> {
        let bad = || {
            Error::bad_field(
                "Idempotency-Key",
                "must be a quoted string of 1 to 255 characters",
            )
        };
        let inner = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .ok_or_else(bad)?;
        let mut key = String::new();
        let mut bytes = inner.iter();
        while let Some(&byte) = bytes.next() {
            match byte {
                b'\\' => match bytes.next() {
                    Some(&escaped @ (b'"' | b'\\')) => key.push(escaped as char),
                    _ => return Err(bad()),
                },
                b'"' => return Err(bad()),
                0x20..=0x7e => key.push(byte as char),
                _ => return Err(bad()),
            }
        }
        if key.is_empty() || key.len() > MAX_KEY_CHARS {
            return Err(bad());
        }
        Ok(key)
    }
}

impl FromRequest for IdempotencyKey {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mut values = request.headers().get_all(KEY_HEADER);
        ready(match (values.next(), values.next()) {
            (None, _) => Ok(Self(None)),
            // An empty header is no key (some clients send optional headers empty).
            (Some(value), None) if value.is_empty() => Ok(Self(None)),
            (Some(value), None) => {
                IdempotencyKey::parse(value.as_bytes()).map(|key| Self(Some(key)))
            }
            (Some(_), Some(_)) => Err(Error::bad_field("Idempotency-Key", "given more than once")),
        })
    }
}

/// A fingerprint of a write: method, path and the body's canonical JSON.
pub fn fingerprint(method: &str, path: &str, body: &serde_json::Value) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b"\n");
    hash.update(path.as_bytes());
    hash.update(b"\n");
    serde_json::to_writer(HashWriter(&mut hash), body).expect("JSON values serialise");
    cluster::lower_hex(&hash.finalize())
}

/// Feeds serialised JSON straight into the hash instead of building the whole text first.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the store holds for a key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Entry {
    InFlight { fingerprint: String },
    Done { fingerprint: String, reply: Reply },
    Unknown { fingerprint: String },
}

impl Entry {
    fn state_name(&self) -> &'static str {
        match self {
            Entry::InFlight { .. } => "in_flight",
            Entry::Done { .. } => "done",
            Entry::Unknown { .. } => "unknown",
        }
    }

    fn fingerprint(&self) -> &str {
        match self {
            Entry::InFlight { fingerprint }
            | Entry::Done { fingerprint, .. }
            | Entry::Unknown { fingerprint } => fingerprint,
        }
    }

    /// What a new request with `fingerprint` meets.
    fn verdict(&self, fingerprint: &str) -> Result<Reply, Error> {
        if self.fingerprint() != fingerprint {
            return Err(Error::KeyReused);
        }
        match self {
            Entry::Done { reply, .. } => Ok(reply.clone()),
            Entry::InFlight { .. } => Err(Error::KeyInFlight),
            Entry::Unknown { .. } => Err(Error::OutcomeUnknown),
        }
    }
}

enum Backend {
    Memory(Mutex<MemoryStore>),
    Redis(deadpool_redis::Pool),
}

/// The idempotency layer of the write routes.
pub struct Idempotency {
    backend: Backend,
    settings: IdempotencySettings,
    metrics: Arc<Metrics>,
}

/// How a write ended, for the store.
enum Ending {
    /// A final answer: store it for replay.
    Final(Reply),
    /// Nothing reached the upstream: forget the key so that a retry runs.
    Release,
    /// The upstream may have acted: keep the key marked unknown.
    Unknown,
}

/// Where a key is stored: under its caller's hash, in the caller's count of live keys.
#[derive(Clone, Debug)]
struct StoreKey {
    /// The caller (`sub`), hashed.
    caller: Arc<str>,
    /// The entry's name: prefix, caller hash and key hash.
    name: Arc<str>,
}

impl StoreKey {
    fn new(sub: &str, key: &str) -> Self {
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
    fn caller_index(&self) -> String {
        format!("{}idem-caller:{}", cluster::KEY_PREFIX, self.caller)
    }
}

/// The Redis sorted set of every live key, scored by expiry.
fn all_keys_index() -> String {
    format!("{}idem-keys", cluster::KEY_PREFIX)
}

/// Reserves a key in Redis, counting live keys per caller and in all. KEYS: entry, caller
/// index, all-keys index. ARGV: in-flight entry, TTL ms, per-caller share, capacity. Answers
/// `[existing, entry]`, `[reserved, live keys]`, or `[caller_quota | store_full, ms to wait]`.
/// The indexes are sorted sets scored by expiry (Redis time), trimmed on every reservation, so
/// that their counts are the live keys.
static RESERVE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
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

/// Stores a reserved key's outcome for a fresh TTL, or releases it (ARGV[1] empty). KEYS and
/// ARGV[2] as in [`RESERVE_SCRIPT`].
static SETTLE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
if ARGV[1] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], KEYS[1])
  redis.call('ZREM', KEYS[3], KEYS[1])
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

/// Runs [`SETTLE_SCRIPT`] for `entry` (`None` releases the key).
async fn settle_in_redis(
    pool: &deadpool_redis::Pool,
    key: &StoreKey,
    entry: Option<&Entry>,
    ttl: Duration,
) -> Result<(), Error> {
    let value = entry
        .map(|entry| serde_json::to_string(entry).expect("entries serialise"))
        .unwrap_or_default();
    cluster::run_script::<i64>(
        pool,
        "idempotency store",
        &SETTLE_SCRIPT,
        &[&key.name, &key.caller_index(), &all_keys_index()],
        &[&value, &ttl.as_millis().to_string()],
    )
    .await
    .map(|_| ())
}

/// Whole seconds (at least 1) for a `Retry-After` of `wait`.
fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0 || wait.is_zero())
}

/// Stale expiry records tolerated beyond one per live entry before the queue is compacted.
const STALE_RECORD_SLACK: usize = 1024;

/// The in-memory store. Bounded by count and never by eviction: an entry leaves only when its
/// TTL passes or its write releases it, and a new key past the capacity or its caller's share is
/// refused. Every operation first drops what expired.
#[derive(Default)]
struct MemoryStore {
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

    /// Seconds until the first live entry expires (after a [`Self::purge`]).
    fn retry_after(&self, now: Instant) -> u64 {
        let wait = self.expiries.front().map_or(Duration::ZERO, |front| {
            front.at.saturating_duration_since(now)
        });
        retry_after_secs(wait)
    }
}

impl Idempotency {
    /// The layer with its store: the shared Redis when given, else memory.
    pub fn new(
        settings: IdempotencySettings,
        redis: Option<deadpool_redis::Pool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let backend = match redis {
            Some(pool) => Backend::Redis(pool),
            None => Backend::Memory(Mutex::default()),
        };
        Self {
            backend,
            settings,
            metrics,
        }
    }

    /// Runs `write` at most once per (caller, key, fingerprint); see the module docs.
    /// `is_create` applies the `required` setting.
    /// `fingerprint` is only computed when the request carries a key.
    pub async fn run<F>(
        &self,
        sub: &str,
        key: IdempotencyKey,
        is_create: bool,
        fingerprint: impl FnOnce() -> String,
        write: F,
    ) -> Result<HttpResponse, Error>
    where
        F: Future<Output = Result<Reply, Error>>,
    {
        let Some(key) = key.0 else {
            if is_create && self.settings.required {
                return Err(Error::bad_field("Idempotency-Key", "required on creates"));
            }
            return write.await.map(|reply| reply.into_response(false));
        };
        let store_key = StoreKey::new(sub, &key);
        let fingerprint = fingerprint();
        if let Some(existing) = Box::pin(self.reserve(&store_key, &fingerprint)).await? {
            tracing::info!(state = existing.state_name(), "idempotency key seen before");
            return existing
                .verdict(&fingerprint)
                .map(|reply| reply.into_response(true));
        }
        let sent = Arc::new(AtomicBool::new(false));
        let mut guard = Guard {
            layer: self,
            key: store_key,
            fingerprint,
            sent: Arc::clone(&sent),
            pending: None,
            settled: false,
        };
        let result = SENT.scope(Arc::clone(&sent), write).await;
        let reached_upstream = sent.load(Ordering::Relaxed);
        let ending = match &result {
            Ok(reply) => Ending::Final(reply.clone()),
            Err(error) => match error {
                Error::UpstreamUnavailable(_)
                | Error::UpstreamBusy
                | Error::StoreUnavailable(_) => Ending::Release,
                Error::UpstreamTimeout | Error::UpstreamFailed(_) | Error::Internal(_)
                    if reached_upstream =>
                {
                    Ending::Unknown
                }
                // The same faults before anything was written (a token endpoint answering
                // nonsense, say): nothing can exist, so a retry may run.
                Error::UpstreamTimeout | Error::UpstreamFailed(_) | Error::Internal(_) => {
                    Ending::Release
                }
                other => Ending::Final(Reply {
                    status: actix_web::ResponseError::status_code(other).as_u16(),
                    location: None,
                    content_type: "application/problem+json".into(),
                    body: serde_json::to_string(
                        &other.problem(&crate::telemetry::current_request_id()),
                    )
                    .expect("problems serialise"),
                }),
            },
        };
        Box::pin(guard.settle(ending)).await?;
        result.map(|reply| reply.into_response(false))
    }

    /// Reserves the key for `fingerprint`; returns what was there if it was taken. A new key
    /// past the caller's share or the capacity is refused; an existing one never is.
    async fn reserve(&self, key: &StoreKey, fingerprint: &str) -> Result<Option<Entry>, Error> {
        let in_flight = Entry::InFlight {
            fingerprint: fingerprint.to_owned(),
        };
        match &self.backend {
            Backend::Memory(store) => {
                let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                store.purge(now);
                if let Some(stored) = store.entries.get(&key.name) {
                    return Ok(Some(stored.entry.clone()));
                }
                let caller_live = store.live_by_caller.get(&key.caller).copied();
                let refusal = if caller_live.unwrap_or(0) >= self.settings.per_caller {
                    Some(KeyRefusal::CallerQuota)
                } else if store.entries.len() >= self.settings.capacity {
                    Some(KeyRefusal::StoreFull)
                } else {
                    None
                };
                if let Some(refusal) = refusal {
                    let retry_after = store.retry_after(now);
                    drop(store);
                    return Err(self.refuse(refusal, retry_after));
                }
                store.put(key, in_flight, now, self.settings.ttl);
                self.metrics.set_idempotency_keys(store.entries.len());
                Ok(None)
            }
            Backend::Redis(pool) => {
                let value = serde_json::to_string(&in_flight).expect("entries serialise");
                let (verdict, detail): (String, String) = cluster::run_script(
                    pool,
                    "idempotency store",
                    &RESERVE_SCRIPT,
                    &[&key.name, &key.caller_index(), &all_keys_index()],
                    &[
                        &value,
                        &self.settings.ttl.as_millis().to_string(),
                        &self.settings.per_caller.to_string(),
                        &self.settings.capacity.to_string(),
                    ],
                )
                .await?;
                let wait = || Duration::from_millis(detail.parse().unwrap_or(0));
                match verdict.as_str() {
                    "existing" => serde_json::from_str(&detail)
                        .map(Some)
                        .map_err(|e| cluster::unavailable("idempotency store", e)),
                    "reserved" => {
                        self.metrics
                            .set_idempotency_keys(detail.parse().unwrap_or(0));
                        Ok(None)
                    }
                    "caller_quota" => {
                        Err(self.refuse(KeyRefusal::CallerQuota, retry_after_secs(wait())))
                    }
                    "store_full" => {
                        Err(self.refuse(KeyRefusal::StoreFull, retry_after_secs(wait())))
                    }
                    other => Err(cluster::unavailable(
                        "idempotency store",
                        format!("unexpected answer {other}"),
                    )),
                }
            }
        }
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

    /// Stores `entry` under a reserved key for a fresh TTL, or releases the key (`None`). A
    /// reserved key is stored even past the capacity (its reservation counted it).
    fn write_memory(&self, store: &Mutex<MemoryStore>, key: &StoreKey, entry: Option<Entry>) {
        let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        store.purge(now);
        match entry {
            Some(entry) => store.put(key, entry, now, self.settings.ttl),
            None => store.remove(&key.name),
        }
        self.metrics.set_idempotency_keys(store.entries.len());
    }

    async fn write_entry(&self, key: &StoreKey, entry: Option<Entry>) -> Result<(), Error> {
        match &self.backend {
            Backend::Memory(store) => {
                self.write_memory(store, key, entry);
                Ok(())
            }
            Backend::Redis(pool) => {
                settle_in_redis(pool, key, entry.as_ref(), self.settings.ttl).await
            }
        }
    }
}

/// Settles a reserved key if the write never does (the handler was cancelled, e.g. the caller
/// went away): unknown once the write reached the upstream, released before.
struct Guard<'a> {
    layer: &'a Idempotency,
    key: StoreKey,
    fingerprint: String,
    sent: Arc<AtomicBool>,
    /// What `settle` is storing, kept until it is stored so that a cancel in between still
    /// stores it.
    pending: Option<Option<Entry>>,
    settled: bool,
}

impl Guard<'_> {
    async fn settle(&mut self, ending: Ending) -> Result<(), Error> {
        let fingerprint = self.fingerprint.clone();
        let entry = match ending {
            Ending::Final(reply) => Some(Entry::Done { fingerprint, reply }),
            Ending::Release => None,
            Ending::Unknown => Some(Entry::Unknown { fingerprint }),
        };
        self.pending = Some(entry.clone());
        self.layer.write_entry(&self.key, entry).await?;
        self.settled = true;
        Ok(())
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let entry = match self.pending.take() {
            Some(settling) => settling,
            None => self.sent.load(Ordering::Relaxed).then(|| Entry::Unknown {
                fingerprint: std::mem::take(&mut self.fingerprint),
            }),
        };
        match &self.layer.backend {
            Backend::Memory(store) => self.layer.write_memory(store, &self.key, entry),
            Backend::Redis(pool) => {
                let (pool, key, ttl) = (pool.clone(), self.key.clone(), self.layer.settings.ttl);
                tokio::spawn(async move {
                    let _ = settle_in_redis(&pool, &key, entry.as_ref(), ttl).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_structured_field_strings() {
        assert_eq!(
            IdempotencyKey::parse(br#""8e03978e-40d5-43e8-bc93-6894a57f9324""#).unwrap(),
            "8e03978e-40d5-43e8-bc93-6894a57f9324"
        );
        assert_eq!(IdempotencyKey::parse(br#""a\"b\\c""#).unwrap(), r#"a"b\c"#);
        let long = format!("\"{}\"", "k".repeat(256));
        for bad in [
            &b"abc"[..],
            b"\"\"",
            b"\"a",
            b"\"a\"b\"",
            b"\"\\x\"",
            "\"é\"".as_bytes(),
            long.as_bytes(),
        ] {
            assert!(
                IdempotencyKey::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[tokio::test]
    async fn a_cancelled_write_releases_its_key_unless_it_reached_the_upstream() {
        let layer = Idempotency::new(
            IdempotencySettings::default(),
            None,
            Arc::new(Metrics::new()),
        );
        let key = |k: &str| IdempotencyKey(Some(k.into()));
        let created = || async { Ok(Reply::json(StatusCode::CREATED, &serde_json::json!({}))) };
        async fn cancel(write: impl Future<Output = Result<HttpResponse, Error>>) {
            let cut = tokio::time::timeout(Duration::from_millis(20), write).await;
            assert!(cut.is_err(), "the write was meant to be cancelled");
        }
        // Cancelled while queueing: nothing was sent, a retry runs.
        cancel(layer.run("svc", key("queued"), true, String::new, async {
            std::future::pending::<Result<Reply, Error>>().await
        }))
        .await;
        let retry = layer.run("svc", key("queued"), true, String::new, created());
        assert_eq!(retry.await.unwrap().status(), StatusCode::CREATED);
        // Cancelled after sending: the outcome is unknown, a retry is refused.
        cancel(layer.run("svc", key("sent"), true, String::new, async {
            mark_sent();
            std::future::pending::<Result<Reply, Error>>().await
        }))
        .await;
        let retry = layer.run("svc", key("sent"), true, String::new, created());
        match retry.await {
            Err(error) => assert_eq!(error.code(), "idempotency_outcome_unknown"),
            other => panic!("expected an unknown outcome, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_failure_is_unknown_only_if_the_write_reached_the_upstream() {
        let layer = Idempotency::new(
            IdempotencySettings::default(),
            None,
            Arc::new(Metrics::new()),
        );
        let key = |k: &str| IdempotencyKey(Some(k.into()));
        let created = || async { Ok(Reply::json(StatusCode::CREATED, &serde_json::json!({}))) };
        let failed = |sent: bool| async move {
            if sent {
                mark_sent();
            }
            Err::<Reply, _>(Error::UpstreamFailed("garbage answer".into()))
        };
        let first = layer.run("svc", key("unsent"), true, String::new, failed(false));
        assert!(matches!(first.await, Err(Error::UpstreamFailed(_))));
        let retry = layer.run("svc", key("unsent"), true, String::new, created());
        assert_eq!(retry.await.unwrap().status(), StatusCode::CREATED);
        let first = layer.run("svc", key("sent"), true, String::new, failed(true));
        assert!(matches!(first.await, Err(Error::UpstreamFailed(_))));
        let retry = layer.run("svc", key("sent"), true, String::new, created());
        match retry.await {
            Err(error) => assert_eq!(error.code(), "idempotency_outcome_unknown"),
            other => panic!("expected an unknown outcome, got {other:?}"),
        }
    }

    #[test]
    fn the_memory_store_frees_keys_only_when_they_expire() {
        let mut store = MemoryStore::default();
        let start = Instant::now();
        let ttl = Duration::from_secs(10);
        let (a, b) = (StoreKey::new("alice", "a"), StoreKey::new("bob", "b"));
        let in_flight = || Entry::InFlight {
            fingerprint: "f".into(),
        };
        store.put(&a, in_flight(), start, ttl);
        store.put(&b, in_flight(), start + Duration::from_secs(2), ttl);
        // Settling `a` later renews its expiry; its first record is stale.
        store.put(&a, in_flight(), start + Duration::from_secs(5), ttl);
        assert_eq!(store.live_by_caller[&a.caller], 1);
        store.purge(start + Duration::from_secs(11));
        assert_eq!(store.entries.len(), 2, "a was renewed, b is still live");
        assert_eq!(store.retry_after(start + Duration::from_secs(11)), 1);
        store.purge(start + Duration::from_secs(12));
        assert!(!store.entries.contains_key(&b.name));
        assert!(!store.live_by_caller.contains_key(&b.caller));
        assert_eq!(store.retry_after(start + Duration::from_secs(12)), 3);
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
            let in_flight = Entry::InFlight {
                fingerprint: "f".into(),
            };
            store.put(&key, in_flight, now, Duration::from_secs(3600));
            store.remove(&key.name);
        }
        assert!(store.entries.is_empty() && store.live_by_caller.is_empty());
        assert!(store.expiries.len() <= STALE_RECORD_SLACK + 1);
    }

    #[test]
    fn fingerprints_ignore_key_order_but_not_values() {
        let a = fingerprint(
            "POST",
            "/datasets/100/records",
            &serde_json::json!({"a": 1, "b": 2}),
        );
        let b = fingerprint(
            "POST",
            "/datasets/100/records",
            &serde_json::json!({"b": 2, "a": 1}),
        );
        let c = fingerprint(
            "POST",
            "/datasets/100/records",
            &serde_json::json!({"b": 2, "a": 3}),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
