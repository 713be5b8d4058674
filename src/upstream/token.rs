//! The upstream access token, cached in moka.
//!
//! One entry, one fetch however many requests arrive at once (`try_get_with` coalesces
//! concurrent loads and caches no error), and an expiry set to refresh the token before it runs
//! out: min(60 s, 10 % of its lifetime) before `expire`.
//!
//! A refusal of the credentials is remembered for [`AUTH_RETRY_INTERVAL`]: until then every
//! request gets it back without a call, so probes and callers cannot make the gateway resend a
//! refused API key (and risk a vendor lockout) more than once per interval.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::Expiry;
use moka::future::Cache;
use moka::ops::compute::Op;
use url::Url;

use crate::error::Error;

/// How long a refusal of the API credentials is remembered: `token.php` is asked again at most
/// once per this interval while it refuses them.
pub const AUTH_RETRY_INTERVAL: Duration =
    Duration::from_secs(crate::error::RETRY_AFTER_AUTH_FAILED_SECS);

/// An upstream token. Its value is never printed: `Debug` shows a placeholder.
#[derive(Clone)]
pub(crate) struct Token(Arc<Issued>);

struct Issued {
    value: Box<str>,
    /// The URLs of records calls made with this token, built on first use (see
    /// [`Token::records_urls`]).
    records_urls: OnceLock<RecordsUrls>,
}

/// One URL per records action, with the common arguments and none of the call's own.
pub(crate) type RecordsUrls = [Url; 3];

impl Token {
    /// A token of `value`.
    pub fn new(value: String) -> Self {
        Self(Arc::new(Issued {
            value: value.into(),
            records_urls: OnceLock::new(),
        }))
    }

    /// The token's value, for the query string only.
    pub fn expose(&self) -> &str {
        &self.0.value
    }

    /// The records calls' URLs for this token: `build(value)` the first time, then kept as long
    /// as the token, so a call only encodes its own arguments.
    pub fn records_urls(&self, build: impl FnOnce(&str) -> RecordsUrls) -> &RecordsUrls {
        self.0.records_urls.get_or_init(|| build(&self.0.value))
    }
}

impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        self.0.value == other.0.value
    }
}

impl Eq for Token {}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A token with how long it is used before a refresh.
#[derive(Clone, Debug)]
pub(crate) struct CachedToken {
    token: Token,
    fresh_for: Duration,
}

struct RefreshBeforeExpiry;

impl Expiry<(), CachedToken> for RefreshBeforeExpiry {
    fn expire_after_create(&self, _: &(), value: &CachedToken, _: Instant) -> Option<Duration> {
        Some(value.fresh_for)
    }
}

/// The token cache of one client.
pub(crate) struct TokenCache {
    cache: Cache<(), CachedToken>,
    /// The last token fetched: `token.php` hands back the same token while it is valid, so a
    /// refresh that returns it again keeps it until its real expiry instead of refetching.
    last: Mutex<Option<Token>>,
    /// The last refusal of the credentials ([`Error::UpstreamAuthFailed`]) and when it came;
    /// cleared by a token.
    refused: Mutex<Option<(Instant, Error)>>,
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(1)
                .expire_after(RefreshBeforeExpiry)
                .build(),
            last: Mutex::new(None),
            refused: Mutex::new(None),
        }
    }

    /// The cached token, if one is held: the hit path, which builds no fetch future.
    pub async fn cached(&self) -> Option<Token> {
        self.cache.get(&()).await.map(|cached| cached.token)
    }

    /// The cached token, or the result of one shared `fetch` (value and unix `expire`); while a
    /// refusal of the credentials is younger than [`AUTH_RETRY_INTERVAL`], that refusal and no
    /// fetch. Loads run one at a time, so the check and the fetch cannot race.
    pub async fn get<F>(&self, fetch: F) -> Result<Token, Error>
    where
        F: Future<Output = Result<(String, i64), Error>>,
    {
        let load = async {
            if let Some((at, refusal)) = &*self.refused.lock().expect("token lock poisoned")
                && at.elapsed() < AUTH_RETRY_INTERVAL
            {
                return Err(refusal.clone());
            }
            let (value, expire) = fetch.await.inspect_err(|error| {
                if matches!(error, Error::UpstreamAuthFailed(_)) {
                    *self.refused.lock().expect("token lock poisoned") =
                        Some((Instant::now(), error.clone()));
                }
            })?;
            *self.refused.lock().expect("token lock poisoned") = None;
            let token = Token::new(value);
            let remaining = remaining_until(expire);
            let mut last = self.last.lock().expect("token lock poisoned");
            let fresh_for = if last.as_ref() == Some(&token) {
                remaining
            } else {
                remaining - (remaining / 10).min(Duration::from_secs(60))
            };
            *last = Some(token.clone());
            tracing::info!(
                valid_for_s = remaining.as_secs(),
                "fetched an upstream token"
            );
            Ok::<_, Error>(CachedToken {
                token,
                fresh_for: fresh_for.max(Duration::from_secs(1)),
            })
        };
        self.cache
            .try_get_with((), load)
            .await
            .map(|cached| cached.token)
            .map_err(|error: Arc<Error>| (*error).clone())
    }

    /// Whether a token is held now.
    pub fn holds_token(&self) -> bool {
        self.cache.contains_key(&())
    }

    /// Drops `rejected` if it is still the cached token (a newer one is kept).
    pub async fn drop_rejected(&self, rejected: &Token) {
        self.cache
            .entry(())
            .and_compute_with(|entry| async move {
                match entry {
                    Some(entry) if entry.value().token == *rejected => Op::Remove,
                    _ => Op::Nop,
                }
            })
            .await;
    }
}

/// How long until the unix time `expire` (zero once past).
pub(super) fn remaining_until(expire: i64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    Duration::from_secs_f64((expire as f64 - now).max(0.0))
}
