//! A JWKS document: fetched at start, refreshed in the background, refetched on an unknown
//! `kid` at most once per interval; keys by `kid`, each with the one algorithm it verifies.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

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
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// The JWKS document at `url`, unparsed: a successful answer of at most [`MAX_JWKS_BYTES`],
/// refused as soon as more arrives (it is never read whole first). The error names no URL.
pub(crate) async fn fetch_jwks_document(
    http: &reqwest::Client,
    url: url::Url,
) -> Result<Vec<u8>, String> {
    let mut response = http
        .get(url)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let too_large = || "document larger than 1 MiB".to_string();
    if response
        .content_length()
        .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if bytes.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

impl Jwks {
    pub(super) fn new(url: url::Url) -> Result<Self, String> {
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
    pub(super) async fn key_refetching(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        self.refresh_if_older_than(JWKS_REFETCH_INTERVAL).await;
        self.key(kid)
    }
}
