//! Dev tokens: HS256 JWTs minted with the configured secret.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};

use super::*;

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
