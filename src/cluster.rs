//! The Redis shared by replicas (`GATEWAY_REDIS_URL`): one connection pool for the idempotency
//! store, the per-caller rate limit and the upstream concurrency budget, so that these hold for
//! the whole cluster rather than per replica.
//!
//! Every use fails closed: a Redis that cannot be reached answers `503 store_unavailable` and
//! nothing is sent upstream. Keys are hashes of caller text, never the text itself. The scripts
//! touch several keys at once, so the Redis must be a single primary (with replicas if wanted),
//! not a Redis Cluster.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use deadpool_redis::{Pool, redis};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Connections kept per replica.
const POOL_SIZE: usize = 32;
/// How long a request waits for a connection, to connect, or for a connection check.
const POOL_TIMEOUT: Duration = Duration::from_secs(2);
/// The prefix of every key the gateway writes.
pub const KEY_PREFIX: &str = "ecnow-gateway:";

/// The first 128 bits of the SHA-256 of `text`, in hex: how caller text (a `sub`, a key) is
/// named in Redis keys and in memory, whatever its length or characters.
pub fn hashed(text: &str) -> String {
    lower_hex(&Sha256::digest(text.as_bytes())[..HASHED_BYTES])
}

/// `bytes` as lower-case hexadecimal.
pub fn lower_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// How much of a SHA-256 names caller text: 128 bits.
const HASHED_BYTES: usize = 16;
/// What stands for a password in a printed Redis URL.
const REDACTED: &str = "REDACTED";

/// The URL of the shared Redis (`GATEWAY_REDIS_URL`). It may carry a password
/// (`redis://:password@host/`), so it prints (`Debug`) with the password redacted, and the whole
/// URL comes out only through [`Self::expose`].
#[derive(Clone)]
pub struct RedisUrl(SecretString);

impl RedisUrl {
    /// The whole URL, password included: for connecting only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `REDACTED`; one that does not parse is
    /// redacted whole.
    pub fn redacted(&self) -> String {
        match url::Url::parse(self.expose()) {
            Ok(mut url) if url.password().is_some() => match url.set_password(Some(REDACTED)) {
                Ok(()) => url.into(),
                Err(()) => REDACTED.into(),
            },
            Ok(url) => url.into(),
            Err(_) => REDACTED.into(),
        }
    }
}

impl From<String> for RedisUrl {
    fn from(url: String) -> Self {
        Self(url.into())
    }
}

impl From<&str> for RedisUrl {
    fn from(url: &str) -> Self {
        Self(url.into())
    }
}

impl FromStr for RedisUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(url.into())
    }
}

impl PartialEq for RedisUrl {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_tuple("RedisUrl")
            .field(&self.redacted())
            .finish()
    }
}

/// A pool of connections to `url`; connections are made on first use.
pub fn redis_pool(url: &RedisUrl) -> Result<Pool, String> {
    let mut config = deadpool_redis::Config::from_url(url.expose());
    let mut pool = deadpool_redis::PoolConfig::new(POOL_SIZE);
    pool.timeouts.wait = Some(POOL_TIMEOUT);
    pool.timeouts.create = Some(POOL_TIMEOUT);
    pool.timeouts.recycle = Some(POOL_TIMEOUT);
    config.pool = Some(pool);
    config
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .map_err(|e| format!("GATEWAY_REDIS_URL: {e}"))
}

/// `503 store_unavailable` for a Redis fault in `what` (the cause goes to the log only).
pub fn unavailable(what: &str, error: impl std::fmt::Display) -> Error {
    Error::StoreUnavailable(format!("{what}: {error}"))
}

/// Runs `script` with `keys` and `args` on a pooled connection.
pub async fn run_script<T: redis::FromRedisValue>(
    pool: &Pool,
    what: &str,
    script: &redis::Script,
    keys: &[&str],
    args: &[&str],
) -> Result<T, Error> {
    let mut connection = pool.get().await.map_err(|e| unavailable(what, e))?;
    let mut invocation = script.prepare_invoke();
    for key in keys {
        invocation.key(*key);
    }
    for arg in args {
        invocation.arg(*arg);
    }
    invocation
        .invoke_async(&mut connection)
        .await
        .map_err(|e| unavailable(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_url_never_prints_its_password() {
        for (url, shown) in [
            (
                "redis://:hunter2@cache:6379/0",
                "redis://:REDACTED@cache:6379/0",
            ),
            (
                "rediss://gateway:hunter2@cache/",
                "rediss://gateway:REDACTED@cache/",
            ),
            ("redis://cache:6379/", "redis://cache:6379/"),
            ("not a url hunter2", "REDACTED"),
        ] {
            let url = RedisUrl::from(url);
            let printed = format!("{url:?}");
            assert!(!printed.contains("hunter2"), "{printed}");
            assert!(printed.contains(shown), "{printed}");
        }
    }
}
