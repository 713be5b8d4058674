//! Who the caller is and what it may touch: the JWT extractor, the key source, scopes and
//! dataset/table grants.
//!
//! Key sources: an HS256 secret, a PEM public key, a JWKS URL (any combination). Each key
//! verifies exactly one algorithm, fixed by the key, never by the token. `exp` and `sub` are
//! required, `nbf` is checked when present, `iss`/`aud` when configured, leeway is 30 s. Tokens
//! that name their own key (`jku`, `x5u`, `jwk`, `x5c`) are refused and nothing is fetched. Every
//! rejection answers the same 401; the reason goes to the debug log only. A per-caller rate limit
//! (by `sub`) applies after authentication.
//!
//! Layout:
//! - [`jwks`]: a JWKS document fetched, cached and refreshed, keys by `kid`.
//! - [`verify`]: the [`Authenticator`]: key sources, one prepared validation per algorithm, the
//!   verified-token cache, and the reason a token was refused.
//! - [`extractor`]: [`Caller`] as an actix extractor (one `Authorization: Bearer` header).
//! - [`limiter`]: the per-caller rate limit, in memory or in Redis.
//! - [`mint`]: dev tokens for the sandbox and `ecnow-gateway token`.
//! - here: the settings, the claims, and what a [`Caller`] may touch.

mod extractor;
mod jwks;
mod limiter;
mod mint;
mod verify;

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::domain::{DatasetId, TableName};
use crate::error::Error;

pub(crate) use jwks::fetch_jwks_document;
pub use jwks::{JWKS_REFETCH_INTERVAL, JWKS_REFRESH_INTERVAL, Jwks, MAX_JWKS_BYTES};
pub use limiter::CallerLimiter;
pub use mint::{TokenRequest, mint};
pub use verify::{Authenticator, VERIFIED_TTL};

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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A permission carried in the `scope` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `records:read`
    Read,
    /// `records:write`
    Write,
    /// `datasets:write`: create datasets and change their status, priority and texts.
    DatasetsWrite,
}

impl Scope {
    /// The scope's name in the claim.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "records:read",
            Scope::Write => "records:write",
            Scope::DatasetsWrite => "datasets:write",
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
    datasets_write: bool,
    datasets: Option<Vec<DatasetId>>,
    tables: Option<Vec<TableName>>,
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
            datasets_write: scopes.contains(&Scope::DatasetsWrite.name()),
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
            Scope::DatasetsWrite => self.datasets_write,
        };
        granted
            .then_some(())
            .ok_or_else(|| Error::Forbidden(format!("the token lacks the scope {}", scope.name())))
    }

    /// Whether the token lists datasets or tables, and so is limited to them.
    pub fn is_limited(&self) -> bool {
        self.datasets.is_some() || self.tables.is_some()
    }

    /// The campaign tables the token lists, when it lists any.
    pub fn granted_tables(&self) -> Option<&[TableName]> {
        self.tables.as_deref()
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
