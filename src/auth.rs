//! Who the caller is and what it may touch: the JWT extractor, the key source, scopes and
//! dataset/table grants.
//!
//! Key sources: an HS256 secret, a PEM public key, a JWKS URL (any combination). Each key
//! verifies exactly one algorithm, fixed by the key, never by the token. `exp` and `sub` are
//! required, `nbf` is checked when present, `iss`/`aud` when configured, leeway is 30 s. Tokens
//! that name their own key (`jku`, `x5u`, `jwk`, `x5c`) are refused and nothing is fetched. Every
//! rejection answers the same 401; the reason goes to the debug log only. A per-caller rate limit
//! (by `sub`) applies after authentication.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, http::header, web};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::{DatasetId, TableName};
use crate::error::Error;

/// The shortest HS256 secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// The longest bearer token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
const LEEWAY_SECONDS: u64 = 30;

/// How caller JWTs are verified.
#[derive(Clone, Debug, Default)]
pub struct AuthSettings {
    /// HS256 key, at least 32 bytes (`GATEWAY_JWT_HS256_SECRET`).
    pub hs256_secret: Option<SecretString>,
    /// PEM public key: RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA)
    /// (`GATEWAY_JWT_PUBLIC_KEY_FILE`, read at start).
    pub public_key_pem: Option<Vec<u8>>,
    /// JWKS document with keys chosen by `kid` (`GATEWAY_JWT_JWKS_URL`).
    pub jwks_url: Option<url::Url>,
    /// Required `iss`, when set (`GATEWAY_JWT_ISSUER`).
    pub issuer: Option<String>,
    /// Required `aud`, when set (`GATEWAY_JWT_AUDIENCE`).
    pub audience: Option<String>,
}

/// Where verification keys come from. Each key carries the one algorithm it verifies, so the
/// token's `alg` can only select among configured (key, algorithm) pairs, never widen them.
enum KeySource {
    /// One shared HS256 secret.
    Hs256(DecodingKey),
    /// One public key, its algorithm taken from the key.
    PublicKey(DecodingKey, Algorithm),
    /// Keys of a JWKS document, by `kid`.
    Jwks(Arc<Jwks>),
}

/// A cached JWKS document: fetched at start, refreshed in the background, refetched on an
/// unknown `kid` at most once per [`JWKS_REFETCH_INTERVAL`]; a failed fetch keeps the last keys.
pub struct Jwks {
    url: url::Url,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm)>>,
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

/// The least time between two JWKS fetches caused by unknown `kid`s.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// How often the JWKS is refreshed in the background.
pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(300);

/// The algorithm a JWK verifies: its `alg`, or what its key type implies. Symmetric keys are
/// never taken from a JWKS.
fn jwk_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    if let Some(algorithm) = jwk.common.key_algorithm {
        return Algorithm::try_from(algorithm)
            .ok()
            .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512));
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        _ => None,
    }
}

/// The largest JWKS document read.
pub(crate) const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// The JWKS document at `url`, unparsed: a successful answer of at most [`MAX_JWKS_BYTES`]. The
/// error names no URL.
pub(crate) async fn fetch_jwks_document(
    http: &reqwest::Client,
    url: url::Url,
) -> Result<web::Bytes, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if bytes.len() > MAX_JWKS_BYTES {
        return Err("document larger than 1 MiB".into());
    }
    Ok(bytes)
}

impl Jwks {
    fn new(url: url::Url) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("GATEWAY_JWT_JWKS_URL: {e}"))?;
        Ok(Self {
            url,
            http,
            keys: RwLock::new(HashMap::new()),
            last_fetch: tokio::sync::Mutex::new(None),
        })
    }

    fn key(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        self.keys.read().expect("jwks lock").get(kid).cloned()
    }

    /// Fetches the document and replaces the keys; on failure the last keys stay.
    pub async fn refresh(&self) {
        self.refresh_if_older_than(Duration::ZERO).await;
    }

    /// [`Jwks::refresh`], unless the last fetch is younger than `age`. The check and the fetch
    /// hold one lock, so that requests racing on an unknown `kid` fetch once between them.
    async fn refresh_if_older_than(&self, age: Duration) {
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < age) {
            return;
        }
        *last_fetch = Some(Instant::now());
        let fetched = async {
            let bytes = fetch_jwks_document(&self.http, self.url.clone()).await?;
            serde_json::from_slice::<JwkSet>(&bytes).map_err(|e| e.to_string())
        }
        .await;
        match fetched {
            Ok(set) => {
                let keys: HashMap<_, _> = set
                    .keys
                    .iter()
                    .filter_map(|jwk| {
                        let kid = jwk.common.key_id.clone()?;
                        let algorithm = jwk_algorithm(jwk)?;
                        let key = DecodingKey::from_jwk(jwk).ok()?;
                        Some((kid, (key, algorithm)))
                    })
                    .collect();
                tracing::info!(keys = keys.len(), "JWKS fetched");
                *self.keys.write().expect("jwks lock") = keys;
            }
            Err(error) => tracing::warn!(%error, "JWKS fetch failed; keeping the last keys"),
        }
    }

    /// The key for `kid`, refetching the document once if it is unknown and the last fetch is
    /// older than [`JWKS_REFETCH_INTERVAL`].
    async fn key_refetching(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        self.refresh_if_older_than(JWKS_REFETCH_INTERVAL).await;
        self.key(kid)
    }
}

/// Verifies bearer tokens.
pub struct Authenticator {
    sources: Vec<KeySource>,
    /// One prepared `Validation` per asymmetric or HMAC algorithm a key may pin.
    validations: HashMap<Algorithm, Validation>,
    /// Tokens that passed verification, by their exact text, with their expiry.
    verified: moka::sync::Cache<Arc<str>, Verified>,
}

/// The longest a verified token is trusted without verifying it again, so that a key removed
/// from a JWKS stops working within this time.
pub const VERIFIED_TTL: Duration = Duration::from_secs(60);
/// The most bytes of tokens the verified-token cache holds.
const VERIFIED_CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// A token that passed verification: its caller and its `exp`, checked again on every use.
#[derive(Clone)]
struct Verified {
    caller: Caller,
    exp: u64,
}

impl Verified {
    /// Whether the token is still within its `exp` (plus the leeway) at `now`.
    fn valid_at(&self, now: u64) -> bool {
        now <= self.exp.saturating_add(LEEWAY_SECONDS)
    }
}

/// Keeps a verified token for [`VERIFIED_TTL`], or less when it expires sooner.
struct UntilExpiry;

impl moka::Expiry<Arc<str>, Verified> for UntilExpiry {
    fn expire_after_create(
        &self,
        _: &Arc<str>,
        verified: &Verified,
        _: Instant,
    ) -> Option<Duration> {
        let left = verified
            .exp
            .saturating_add(LEEWAY_SECONDS)
            .saturating_sub(unix_now());
        Some(VERIFIED_TTL.min(Duration::from_secs(left)))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The algorithms a key source may pin.
const ALGORITHMS: [Algorithm; 10] = [
    Algorithm::HS256,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A permission carried in the `scope` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `records:read`
    Read,
    /// `records:write`
    Write,
}

impl Scope {
    /// The scope's name in the claim.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "records:read",
            Scope::Write => "records:write",
        }
    }
}

/// A dataset id in the `datasets` claim: a number or a string.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum DatasetClaim {
    /// `100`
    Number(u64),
    /// `"100"`
    Text(String),
}

/// The claims the gateway reads and mints.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Claims {
    /// The caller's identity.
    pub sub: String,
    /// Expiry, unix seconds.
    pub exp: u64,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Datasets the caller is limited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasets: Option<Vec<DatasetClaim>>,
    /// Campaign tables the caller is limited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The `sub` claim.
    pub sub: String,
    read: bool,
    write: bool,
    datasets: Option<Vec<DatasetId>>,
    tables: Option<Vec<TableName>>,
}

impl Authenticator {
    /// Builds the verifier from the configured key sources (at least one).
    pub fn new(settings: &AuthSettings) -> Result<Self, String> {
        let mut sources = Vec::new();
        if let Some(secret) = &settings.hs256_secret {
            if secret.expose_secret().len() < MIN_SECRET_BYTES {
                return Err(format!(
                    "GATEWAY_JWT_HS256_SECRET: must be at least {MIN_SECRET_BYTES} bytes"
                ));
            }
            let key = DecodingKey::from_secret(secret.expose_secret().as_bytes())
                .map_err(|e| format!("GATEWAY_JWT_HS256_SECRET: {e}"))?;
            sources.push(KeySource::Hs256(key));
        }
        if let Some(pem) = &settings.public_key_pem {
            let (key, algorithm) = public_key(pem)?;
            sources.push(KeySource::PublicKey(key, algorithm));
        }
        if let Some(url) = &settings.jwks_url {
            sources.push(KeySource::Jwks(Arc::new(Jwks::new(url.clone())?)));
        }
        if sources.is_empty() {
            return Err("GATEWAY_JWT_HS256_SECRET: a JWT key source is required (or GATEWAY_JWT_PUBLIC_KEY_FILE, GATEWAY_JWT_JWKS_URL)".into());
        }
        let validations = ALGORITHMS
            .into_iter()
            .map(|algorithm| (algorithm, validation(settings, algorithm)))
            .collect();
        let verified = moka::sync::Cache::builder()
            .max_capacity(VERIFIED_CACHE_BYTES)
            .weigher(|token: &Arc<str>, verified: &Verified| {
                u32::try_from(token.len() + verified.caller.heap_bytes() + 256).unwrap_or(u32::MAX)
            })
            .expire_after(UntilExpiry)
            .build();
        Ok(Self {
            sources,
            validations,
            verified,
        })
    }

    /// Fetches the JWKS now and keeps it fresh in the background (needs a Tokio runtime).
    pub fn start_key_refresh(&self) {
        for source in &self.sources {
            if let KeySource::Jwks(jwks) = source {
                let jwks = Arc::downgrade(jwks);
                tokio::spawn(async move {
                    while let Some(jwks) = jwks.upgrade() {
                        jwks.refresh().await;
                        drop(jwks);
                        tokio::time::sleep(JWKS_REFRESH_INTERVAL).await;
                    }
                });
            }
        }
    }

    /// Verifies a bearer token and returns its caller; the error is a reason for the log.
    ///
    /// A token verified in the last [`VERIFIED_TTL`] is taken from a cache keyed by its exact
    /// text (its `exp` is still checked): the signature check and claim parsing were most of
    /// the gateway's own CPU per request. Only successes are cached.
    pub async fn verify(&self, token: &str) -> Result<Caller, String> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err("malformed: the token is larger than 8 KiB".into());
        }
        if let Some(verified) = self.verified.get(token) {
            if verified.valid_at(unix_now()) {
                return Ok(verified.caller);
            }
            self.verified.invalidate(token);
        }
        let (caller, exp) = self.verify_signed(token).await?;
        self.verified.insert(
            token.into(),
            Verified {
                caller: caller.clone(),
                exp,
            },
        );
        Ok(caller)
    }

    /// Checks the signature and claims of a token with the configured keys.
    async fn verify_signed(&self, token: &str) -> Result<(Caller, u64), String> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| MALFORMED.to_owned())?;
        if header.jku.is_some()
            || header.x5u.is_some()
            || header.jwk.is_some()
            || header.x5c.is_some()
        {
            return Err(
                "signature: the token names its own key (jku/x5u/jwk/x5c), which is never trusted"
                    .into(),
            );
        }
        let mut last_error = None;
        for source in &self.sources {
            let fetched;
            let (key, algorithm) = match source {
                KeySource::Hs256(key) => (key, Algorithm::HS256),
                KeySource::PublicKey(key, algorithm) => (key, *algorithm),
                KeySource::Jwks(jwks) => {
                    let Some(kid) = &header.kid else { continue };
                    let Some(found) = jwks.key_refetching(kid).await else {
                        continue;
                    };
                    fetched = found;
                    (&fetched.0, fetched.1)
                }
            };
            if algorithm != header.alg {
                continue;
            }
            let Some(validation) = self.validations.get(&algorithm) else {
                continue;
            };
            match jsonwebtoken::decode::<Claims>(token, key, validation) {
                Ok(data) => {
                    let exp = data.claims.exp;
                    return Caller::from_claims(data.claims).map(|caller| (caller, exp));
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(match last_error {
            Some(error) => rejection(&error),
            None => format!("signature: no configured key verifies {:?}", header.alg),
        })
    }
}

/// The reason of a token that is not a JWT at all.
const MALFORMED: &str = "malformed: not a JWT (three base64url parts, a JSON header and claims)";

/// The claims a reason may name; a name from anywhere else is not repeated.
const KNOWN_CLAIMS: [&str; 6] = ["exp", "nbf", "iat", "sub", "iss", "aud"];

/// Which check a signed token failed, in words safe for the caller: a fixed phrase, or a claim
/// name of [`KNOWN_CLAIMS`], never a piece of the token.
fn rejection(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    let claim = |name: &str| {
        KNOWN_CLAIMS
            .into_iter()
            .find(|known| *known == name)
            .unwrap_or("a claim")
    };
    match error.kind() {
        ErrorKind::ExpiredSignature => "expired: exp is in the past".into(),
        ErrorKind::ImmatureSignature => "not yet valid: nbf is in the future".into(),
        ErrorKind::InvalidSignature => {
            "signature: it does not verify with the configured key".into()
        }
        ErrorKind::InvalidIssuer => "issuer: iss is not the configured issuer".into(),
        ErrorKind::InvalidAudience => "audience: aud is not the configured audience".into(),
        ErrorKind::MissingRequiredClaim(name) => format!("missing claim: {}", claim(name)),
        ErrorKind::InvalidClaimFormat(name) => {
            format!("malformed claim: {} has the wrong type", claim(name))
        }
        // The claims did not deserialise: serde names a missing field, not a wrong value.
        ErrorKind::Json(json) => match json
            .to_string()
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(name) => format!("missing claim: {}", claim(name)),
            None => "malformed claims: a claim has the wrong type".into(),
        },
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            "signature: the algorithm is not the configured key's".into()
        }
        _ => MALFORMED.into(),
    }
}

/// The checks of a token signed with `algorithm`.
fn validation(settings: &AuthSettings, algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    let mut required = vec!["exp", "sub"];
    required.extend(settings.issuer.as_ref().map(|_| "iss"));
    required.extend(settings.audience.as_ref().map(|_| "aud"));
    validation.set_required_spec_claims(&required);
    match &settings.audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    if let Some(issuer) = &settings.issuer {
        validation.set_issuer(&[issuer]);
    }
    validation
}

/// Reads a PEM public key and the one algorithm it verifies.
fn public_key(pem: &[u8]) -> Result<(DecodingKey, Algorithm), String> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((key, Algorithm::RS256));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Ok((key, Algorithm::EdDSA));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return Ok((key, Algorithm::ES256));
    }
    Err("GATEWAY_JWT_PUBLIC_KEY_FILE: not a PEM RSA, EC P-256 or Ed25519 public key".into())
}

impl Caller {
    fn from_claims(claims: Claims) -> Result<Self, String> {
        if claims.sub.is_empty() {
            return Err("missing claim: sub is empty".into());
        }
        let scopes: Vec<&str> = claims
            .scope
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let datasets = claims
            .datasets
            .map(|grants| {
                grants
                    .into_iter()
                    .map(|grant| match grant {
                        DatasetClaim::Number(n) => DatasetId::try_from(n),
                        DatasetClaim::Text(text) => DatasetId::parse("datasets", &text),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|_| "malformed claim: datasets is not a list of dataset ids".to_string())?;
        let tables = claims
            .tables
            .map(|grants| {
                grants
                    .iter()
                    .map(|t| TableName::parse("tables", t))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|_| {
                "malformed claim: tables is not a list of campaign table names".to_string()
            })?;
        Ok(Self {
            read: scopes.contains(&Scope::Read.name()),
            write: scopes.contains(&Scope::Write.name()),
            sub: claims.sub,
            datasets,
            tables,
        })
    }

    /// Roughly the heap memory the caller holds (for the verified-token cache's bound).
    fn heap_bytes(&self) -> usize {
        let datasets = self.datasets.as_ref().map_or(0, |d| d.len() * 8);
        let tables = self
            .tables
            .as_ref()
            .map_or(0, |t| t.iter().map(|table| table.as_str().len() + 24).sum());
        self.sub.len() + datasets + tables
    }

    /// Refuses a caller without `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Error> {
        let granted = match scope {
            Scope::Read => self.read,
            Scope::Write => self.write,
        };
        granted
            .then_some(())
            .ok_or_else(|| Error::Forbidden(format!("the token lacks the scope {}", scope.name())))
    }

    /// Whether the token lists datasets or tables, and so is limited to them.
    pub fn is_limited(&self) -> bool {
        self.datasets.is_some() || self.tables.is_some()
    }

    /// Refuses a caller limited to other datasets.
    pub fn require_dataset(&self, dataset: DatasetId) -> Result<(), Error> {
        let allowed = !self.is_limited()
            || self
                .datasets
                .as_ref()
                .is_some_and(|grants| grants.contains(&dataset));
        allowed
            .then_some(())
            .ok_or_else(|| Error::Forbidden(format!("the token does not grant dataset {dataset}")))
    }

    /// Refuses a caller limited to other tables (or to datasets only).
    pub fn require_table(&self, table: &TableName) -> Result<(), Error> {
        let allowed = !self.is_limited()
            || self
                .tables
                .as_ref()
                .is_some_and(|grants| grants.contains(table));
        allowed
            .then_some(())
            .ok_or_else(|| Error::Forbidden(format!("the token does not grant table {table}")))
    }
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let authenticator = request.app_data::<web::Data<Authenticator>>().cloned();
        let limiter = request.app_data::<web::Data<CallerLimiter>>().cloned();
        let token = bearer_token(request);
        Box::pin(async move {
            let authenticator = authenticator
                .ok_or_else(|| Error::Internal("no authenticator configured".into()))?;
            let caller = authenticator
                .verify(&token?)
                .await
                .map_err(Error::Unauthenticated)?;
            tracing::Span::current().record("sub", caller.sub.as_str());
            if let Some(limiter) = limiter {
                limiter.check(&caller.sub).await?;
            }
            Ok(caller)
        })
    }
}

/// The bearer token of the one `Authorization` header. Two or more headers are ambiguous
/// credentials and are refused, whichever of them is valid.
fn bearer_token(request: &HttpRequest) -> Result<String, Error> {
    let mut headers = request.headers().get_all(header::AUTHORIZATION);
    let header = headers
        .next()
        .ok_or_else(|| Error::Unauthenticated("no Authorization header".into()))?;
    if headers.next().is_some() {
        return Err(Error::Unauthenticated(
            "more than one Authorization header".into(),
        ));
    }
    let header = header
        .to_str()
        .map_err(|_| Error::Unauthenticated("Authorization header is not text".into()))?;
    match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(token.trim().to_owned())
        }
        _ => Err(Error::Unauthenticated(
            "Authorization is not a Bearer token".into(),
        )),
    }
}

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
        let wait = match &self.backend {
            LimiterBackend::Local { limiter, clock } => {
                if limiter.len() > MAX_LOCAL_BUCKETS {
                    limiter.retain_recent();
                }
                match limiter.check_key(&sub.to_owned()) {
                    Ok(()) => return Ok(()),
                    Err(not_until) => {
                        use governor::clock::Clock;
                        not_until.wait_time_from(clock.now())
                    }
                }
            }
            LimiterBackend::Shared {
                pool,
                interval_micros,
                burst,
            } => {
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
                    Ok(0) => return Ok(()),
                    Ok(micros) => Duration::from_micros(micros),
                    Err(e) => return Err(crate::cluster::unavailable("rate limit", e)),
                }
            }
        };
        Err(Error::TooManyRequests {
            retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
        })
    }
}

/// What a minted dev token grants.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// The caller's identity.
    pub sub: String,
    /// Space-separated scopes.
    pub scope: String,
    /// Datasets to limit the token to, if any.
    pub datasets: Option<Vec<u64>>,
    /// Tables to limit the token to, if any.
    pub tables: Option<Vec<String>>,
    /// Lifetime.
    pub ttl: std::time::Duration,
}

/// Mints an HS256 JWT with `secret` (for development and the sandbox).
pub fn mint(secret: &SecretString, request: &TokenRequest) -> Result<String, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let claims = Claims {
        sub: request.sub.clone(),
        exp: now + request.ttl.as_secs(),
        scope: Some(request.scope.clone()),
        datasets: request
            .datasets
            .as_ref()
            .map(|ids| ids.iter().copied().map(DatasetClaim::Number).collect()),
        tables: request.tables.clone(),
        iss: None,
        aud: None,
    };
    let key =
        EncodingKey::from_secret(secret.expose_secret().as_bytes()).map_err(|e| e.to_string())?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use moka::Expiry;

    use super::*;

    fn verified(exp: u64) -> Verified {
        Verified {
            caller: Caller {
                sub: "svc".into(),
                read: true,
                write: false,
                datasets: None,
                tables: None,
            },
            exp,
        }
    }

    #[test]
    fn a_verified_token_is_trusted_until_its_exp_and_at_most_the_ttl() {
        let now = unix_now();
        let token: Arc<str> = "a.b.c".into();
        let long = verified(now + 3600);
        assert!(long.valid_at(now));
        assert!(long.valid_at(now + 3600 + LEEWAY_SECONDS));
        assert!(!long.valid_at(now + 3600 + LEEWAY_SECONDS + 1));
        assert_eq!(
            UntilExpiry.expire_after_create(&token, &long, Instant::now()),
            Some(VERIFIED_TTL)
        );
        let short = UntilExpiry
            .expire_after_create(&token, &verified(now + 5), Instant::now())
            .unwrap();
        assert!(
            short <= Duration::from_secs(5 + LEEWAY_SECONDS),
            "{short:?}"
        );
        assert!(
            short >= Duration::from_secs(3 + LEEWAY_SECONDS),
            "{short:?}"
        );
        let expired = verified(now.saturating_sub(LEEWAY_SECONDS + 10));
        assert!(!expired.valid_at(now));
        assert_eq!(
            UntilExpiry.expire_after_create(&token, &expired, Instant::now()),
            Some(Duration::ZERO)
        );
    }

    #[tokio::test]
    async fn only_tokens_that_verify_are_remembered() {
        let secret = SecretString::from("0123456789abcdef0123456789abcdef");
        let authenticator = Authenticator::new(&AuthSettings {
            hs256_secret: Some(secret.clone()),
            ..AuthSettings::default()
        })
        .unwrap();
        let token = mint(
            &secret,
            &TokenRequest {
                sub: "svc".into(),
                scope: "records:read".into(),
                datasets: None,
                tables: None,
                ttl: Duration::from_secs(600),
            },
        )
        .unwrap();
        let forged = format!("{}x", token.trim_end_matches(|c| c != '.'));
        assert!(authenticator.verify(&forged).await.is_err());
        assert!(authenticator.verified.get(forged.as_str()).is_none());
        let caller = authenticator.verify(&token).await.unwrap();
        assert_eq!(caller.sub, "svc");
        assert!(authenticator.verified.get(token.as_str()).is_some());
        let again = authenticator.verify(&token).await.unwrap();
        assert_eq!(
            (again.sub, again.read, again.write),
            ("svc".into(), true, false)
        );
        // A remembered token past its `exp` is never used (the cache's expiry and the `exp`
        // check on use both refuse it; `valid_at` is tested on its own above): it is verified
        // again, and this text does not verify.
        let stale: Arc<str> = "stale.token.text".into();
        let now = unix_now();
        authenticator
            .verified
            .insert(Arc::clone(&stale), verified(now - LEEWAY_SECONDS - 10));
        assert!(authenticator.verify(&stale).await.is_err());
        assert!(authenticator.verified.get(&*stale).is_none());
    }
}
