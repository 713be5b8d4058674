//! Token verification: the key sources, one prepared validation per algorithm, the cache of
//! verified tokens, and the reason a refused token is given.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;

use super::*;

/// Verifies bearer tokens.
pub struct Authenticator {
    sources: Vec<KeySource>,
    /// One prepared `Validation` per asymmetric or HMAC algorithm a key may pin.
    validations: HashMap<Algorithm, Validation>,
    /// Tokens that passed verification, by their exact text, with their expiry.
    verified: moka::sync::Cache<Arc<str>, Verified, foldhash::fast::RandomState>,
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
            // Tokens are a few hundred bytes, hashed on every request: foldhash costs a tenth
            // of SipHash. It claims no strong resistance to crafted collisions, but only
            // verified tokens are ever inserted, so nobody without signed tokens can fill a
            // bucket.
            .build_with_hasher(foldhash::fast::RandomState::default());
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
        if let Some(caller) = self.cached_caller(token) {
            return Ok(caller);
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

    /// The caller of `token` when it was verified in the last [`VERIFIED_TTL`] and has not
    /// expired since, from the cache alone (no signature check, nothing to wait for); `None`
    /// when it has to be verified.
    pub fn cached_caller(&self, token: &str) -> Option<Caller> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let verified = self.verified.get(token)?;
        if verified.valid_at(unix_now()) {
            return Some(verified.caller);
        }
        self.verified.invalidate(token);
        None
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
                datasets_write: false,
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
