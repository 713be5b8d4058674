//! Who the caller is and what it may touch: the JWT extractor, the key source, scopes and
//! dataset/table grants.
//!
//! The algorithm is pinned by the key source, never taken from the token. `exp` and `sub` are
//! required, `iss`/`aud` are checked when configured, leeway is 30 s. Every rejection answers
//! the same 401; the reason goes to the debug log only.

use std::future::{Ready, ready};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, http::header, web};
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
    /// Required `iss`, when set (`GATEWAY_JWT_ISSUER`).
    pub issuer: Option<String>,
    /// Required `aud`, when set (`GATEWAY_JWT_AUDIENCE`).
    pub audience: Option<String>,
}

/// Where verification keys come from. Each source pins its algorithm.
enum KeySource {
    /// One shared HS256 secret.
    Hs256(DecodingKey),
}

impl KeySource {
    /// The one algorithm this source verifies.
    fn algorithm(&self) -> Algorithm {
        match self {
            KeySource::Hs256(_) => Algorithm::HS256,
        }
    }
}

/// Verifies bearer tokens.
pub struct Authenticator {
    keys: KeySource,
    validation: Validation,
}

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
    /// Builds the verifier from the configured key source.
    pub fn new(settings: &AuthSettings) -> Result<Self, String> {
        let secret = settings
            .hs256_secret
            .as_ref()
            .ok_or("GATEWAY_JWT_HS256_SECRET: a JWT key source is required")?;
        if secret.expose_secret().len() < MIN_SECRET_BYTES {
            return Err(format!(
                "GATEWAY_JWT_HS256_SECRET: must be at least {MIN_SECRET_BYTES} bytes"
            ));
        }
        let key = DecodingKey::from_secret(secret.expose_secret().as_bytes())
            .map_err(|e| format!("GATEWAY_JWT_HS256_SECRET: {e}"))?;
        let keys = KeySource::Hs256(key);
        let mut validation = Validation::new(keys.algorithm());
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &settings.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
        }
        Ok(Self { keys, validation })
    }

    /// Verifies a bearer token and returns its caller; the error is a reason for the log.
    pub fn verify(&self, token: &str) -> Result<Caller, String> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err("token larger than 8 KiB".into());
        }
        let KeySource::Hs256(key) = &self.keys;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|e| format!("token rejected: {e}"))?
            .claims;
        Caller::from_claims(claims)
    }
}

impl Caller {
    fn from_claims(claims: Claims) -> Result<Self, String> {
        if claims.sub.is_empty() {
            return Err("empty sub".into());
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
            .map_err(|_| "invalid datasets claim".to_string())?;
        let tables = claims
            .tables
            .map(|grants| {
                grants
                    .iter()
                    .map(|t| TableName::parse("tables", t))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|_| "invalid tables claim".to_string())?;
        Ok(Self {
            read: scopes.contains(&Scope::Read.name()),
            write: scopes.contains(&Scope::Write.name()),
            sub: claims.sub,
            datasets,
            tables,
        })
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
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request))
    }
}

fn authenticate(request: &HttpRequest) -> Result<Caller, Error> {
    let authenticator = request
        .app_data::<web::Data<Authenticator>>()
        .ok_or_else(|| Error::Internal("no authenticator configured".into()))?;
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| Error::Unauthenticated("no Authorization header".into()))?
        .to_str()
        .map_err(|_| Error::Unauthenticated("Authorization header is not text".into()))?;
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(Error::Unauthenticated(
                "Authorization is not a Bearer token".into(),
            ));
        }
    };
    let caller = authenticator
        .verify(token)
        .map_err(Error::Unauthenticated)?;
    tracing::Span::current().record("sub", caller.sub.as_str());
    Ok(caller)
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
