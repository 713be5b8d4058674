//! `Idempotency-Key` on writes (draft-ietf-httpapi-idempotency-key-header): a retried create or
//! update with the same key gets the first answer replayed, and never reaches ContactNow twice.
//!
//! A key is scoped to the caller (`sub`). The first request with it reserves the key (in flight),
//! runs, and stores its final answer with a fingerprint of method, path and body. Later requests
//! with the same key: same fingerprint and done → the answer is replayed; still running → 409;
//! other fingerprint → 422; first outcome unknown (the upstream got the request but its answer
//! was lost) → 409 saying so, so that a retry never creates blindly. Requests that fail before
//! anything reached the upstream release the key. The store is in memory (moka) or Redis, shared
//! by replicas; a Redis that cannot be reached makes keyed writes 503, never a silent duplicate.

use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder, body::BoxBody, dev::Payload};
use deadpool_redis::redis;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;

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
    /// How long a key is remembered (`GATEWAY_IDEMPOTENCY_TTL`).
    pub ttl: Duration,
    /// Redis shared by replicas (`GATEWAY_IDEMPOTENCY_REDIS_URL`); in memory when unset.
    pub redis_url: Option<String>,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self {
            required: false,
            ttl: Duration::from_secs(24 * 3600),
            redis_url: None,
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
    lower_hex(&hash.finalize())
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

/// `bytes` as lower-case hexadecimal.
fn lower_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
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
    Memory(moka::sync::Cache<String, Entry>),
    Redis(deadpool_redis::Pool),
}

/// The idempotency layer of the write routes.
pub struct Idempotency {
    backend: Backend,
    settings: IdempotencySettings,
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

fn store_error(error: impl std::fmt::Display) -> Error {
    Error::StoreUnavailable(format!("idempotency store: {error}"))
}

impl Idempotency {
    /// The layer with its store (Redis when configured, else memory).
    pub fn new(settings: IdempotencySettings) -> Result<Self, String> {
        let backend = match &settings.redis_url {
            Some(url) => {
                let mut config = deadpool_redis::Config::from_url(url.clone());
                let mut pool = deadpool_redis::PoolConfig::new(32);
                pool.timeouts.wait = Some(Duration::from_secs(2));
                pool.timeouts.create = Some(Duration::from_secs(2));
                pool.timeouts.recycle = Some(Duration::from_secs(2));
                config.pool = Some(pool);
                let pool = config
                    .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                    .map_err(|e| format!("GATEWAY_IDEMPOTENCY_REDIS_URL: {e}"))?;
                Backend::Redis(pool)
            }
            None => Backend::Memory(
                moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(settings.ttl)
                    .build(),
            ),
        };
        Ok(Self { backend, settings })
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
        let store_key = format!("ecnow-gateway:idem:{}:{}", hex(sub), hex(&key));
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

    /// Reserves the key for `fingerprint`; returns what was there if it was taken.
    async fn reserve(&self, key: &str, fingerprint: &str) -> Result<Option<Entry>, Error> {
        let in_flight = Entry::InFlight {
            fingerprint: fingerprint.to_owned(),
        };
        match &self.backend {
            Backend::Memory(cache) => {
                let mut existing = None;
                cache
                    .entry(key.to_owned())
                    .and_compute_with(|entry| match entry {
                        Some(entry) => {
                            existing = Some(entry.into_value());
                            moka::ops::compute::Op::Nop
                        }
                        None => moka::ops::compute::Op::Put(in_flight),
                    });
                Ok(existing)
            }
            Backend::Redis(pool) => {
                let mut connection = pool.get().await.map_err(store_error)?;
                let value = serde_json::to_string(&in_flight).expect("entries serialise");
                let set: Option<String> = redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(self.settings.ttl.as_millis() as u64)
                    .query_async(&mut connection)
                    .await
                    .map_err(store_error)?;
                if set.is_some() {
                    return Ok(None);
                }
                let stored: Option<String> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut connection)
                    .await
                    .map_err(store_error)?;
                match stored {
                    Some(stored) => serde_json::from_str(&stored).map(Some).map_err(store_error),
                    // Expired between SET and GET: treat as in flight; the retry will succeed.
                    None => Ok(Some(Entry::InFlight {
                        fingerprint: fingerprint.to_owned(),
                    })),
                }
            }
        }
    }

    async fn write_entry(&self, key: &str, entry: Option<Entry>) -> Result<(), Error> {
        match &self.backend {
            Backend::Memory(cache) => {
                match entry {
                    Some(entry) => cache.insert(key.to_owned(), entry),
                    None => cache.invalidate(key),
                }
                Ok(())
            }
            Backend::Redis(pool) => {
                let mut connection = pool.get().await.map_err(store_error)?;
                store_command(key, entry, self.settings.ttl)
                    .query_async::<()>(&mut connection)
                    .await
                    .map_err(store_error)
            }
        }
    }
}

/// The Redis command that stores `entry` under `key` for `ttl`, or deletes the key.
fn store_command(key: &str, entry: Option<Entry>, ttl: Duration) -> redis::Cmd {
    match entry {
        Some(entry) => {
            let mut command = redis::cmd("SET");
            command
                .arg(key)
                .arg(serde_json::to_string(&entry).expect("entries serialise"))
                .arg("PX")
                .arg(ttl.as_millis() as u64);
            command
        }
        None => {
            let mut command = redis::cmd("DEL");
            command.arg(key);
            command
        }
    }
}

/// Settles a reserved key if the write never does (the handler was cancelled, e.g. the caller
/// went away): unknown once the write reached the upstream, released before.
struct Guard<'a> {
    layer: &'a Idempotency,
    key: String,
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
        let key = std::mem::take(&mut self.key);
        match &self.layer.backend {
            Backend::Memory(cache) => match entry {
                Some(entry) => cache.insert(key, entry),
                None => cache.invalidate(&key),
            },
            Backend::Redis(pool) => {
                let (pool, command) = (
                    pool.clone(),
                    store_command(&key, entry, self.layer.settings.ttl),
                );
                tokio::spawn(async move {
                    if let Ok(mut connection) = pool.get().await {
                        let _: Result<(), _> = command.query_async(&mut connection).await;
                    }
                });
            }
        }
    }
}

fn hex(text: &str) -> String {
    lower_hex(&Sha256::digest(text.as_bytes())[..16])
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
        let layer = Idempotency::new(IdempotencySettings::default()).unwrap();
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
        let layer = Idempotency::new(IdempotencySettings::default()).unwrap();
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
