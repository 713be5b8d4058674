//! Typed settings, read from the environment (and flags of the same meaning).
//!
//! Each variable of the contract is one clap argument with `env = …`; [`Settings::for_serve`]
//! turns them into checked values and refuses bad ones with one line naming the setting.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use clap::Args;
use secrecy::SecretString;
use url::Url;

use crate::auth::AuthSettings;
use crate::cluster::RedisUrl;
use crate::cors::CorsSettings;
use crate::idempotency::{
    DEFAULT_IDEMPOTENCY_CAPACITY, DEFAULT_IDEMPOTENCY_PER_CALLER, IdempotencySettings,
};
use crate::telemetry::LogFormat;
use crate::upstream::breaker::BreakerSettings;
use crate::upstream::{UpstreamSettings, WireFormat};

pub use crate::api::{DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT_MS};

/// The longest configurable body deadline, in milliseconds.
const MAX_BODY_TIMEOUT_MS: u64 = 600_000;

/// Everything the gateway needs to run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address to bind (`GATEWAY_LISTEN`); port 0 picks a free port.
    pub listen: SocketAddr,
    /// The upstream.
    pub upstream: UpstreamSettings,
    /// JWT verification.
    pub auth: AuthSettings,
    /// The largest request body in bytes (`GATEWAY_BODY_LIMIT_BYTES`).
    pub body_limit: usize,
    /// How long a request body may take to arrive whole once its handler reads it
    /// (`GATEWAY_BODY_TIMEOUT_MS`).
    pub body_timeout: Duration,
    /// HTTP worker threads; `None` is one per core.
    pub workers: Option<usize>,
    /// `Idempotency-Key` handling.
    pub idempotency: IdempotencySettings,
    /// Per-caller rate limit (`GATEWAY_RATE_LIMIT_PER_SECOND`, `GATEWAY_RATE_LIMIT_BURST`).
    pub rate_limit: Option<RateLimit>,
    /// Redis shared by replicas (`GATEWAY_REDIS_URL`): idempotency keys, the rate limit and the
    /// upstream concurrency budget hold across replicas. In memory, per replica, when unset.
    pub redis_url: Option<RedisUrl>,
    /// Browser origins allowed to call (`GATEWAY_CORS_ORIGINS`).
    pub cors: CorsSettings,
    /// Bulk imports (`GATEWAY_IMPORT_*`).
    pub imports: crate::imports::ImportSettings,
}

/// A per-caller token bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Refill rate, requests a second.
    pub per_second: NonZeroU32,
    /// Bucket size.
    pub burst: NonZeroU32,
}

pub use crate::error::ConfigError;

/// Every problem of one configuration, one [`ConfigError`] per setting, in argument order.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl From<ConfigErrors> for ConfigError {
    /// One line per problem.
    fn from(errors: ConfigErrors) -> Self {
        let lines: Vec<String> = errors.0.into_iter().map(|error| error.0).collect();
        ConfigError(lines.join("\n"))
    }
}

/// `result`'s value; its error is added to `problems`.
fn collect<T>(problems: &mut Vec<ConfigError>, result: Result<T, ConfigError>) -> Option<T> {
    result.map_err(|error| problems.push(error)).ok()
}

/// JWT settings shared by `serve`, `sandbox` and `token`.
#[derive(Args, Clone, Debug)]
pub struct JwtArgs {
    /// HS256 key for caller JWTs, at least 32 bytes.
    #[arg(
        long = "jwt-hs256-secret",
        env = "GATEWAY_JWT_HS256_SECRET",
        hide_env_values = true
    )]
    pub hs256_secret: Option<String>,
    /// PEM public key file (RSA → RS256, EC P-256 → ES256, Ed25519 → EdDSA).
    #[arg(long = "jwt-public-key-file", env = "GATEWAY_JWT_PUBLIC_KEY_FILE")]
    pub public_key_file: Option<std::path::PathBuf>,
    /// JWKS document URL; keys are chosen by `kid`.
    #[arg(long = "jwt-jwks-url", env = "GATEWAY_JWT_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// Required `iss` claim.
    #[arg(long = "jwt-issuer", env = "GATEWAY_JWT_ISSUER")]
    pub issuer: Option<String>,
    /// Required `aud` claim.
    #[arg(long = "jwt-audience", env = "GATEWAY_JWT_AUDIENCE")]
    pub audience: Option<String>,
}

impl JwtArgs {
    /// The checked JWT settings.
    pub fn settings(&self) -> Result<AuthSettings, ConfigError> {
        let public_key_pem = match &self.public_key_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                ConfigError(format!(
                    "GATEWAY_JWT_PUBLIC_KEY_FILE: cannot read {}: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let jwks_url = match &self.jwks_url {
            Some(url) => Some(
                Url::parse(url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| {
                        ConfigError("GATEWAY_JWT_JWKS_URL: not an http(s) URL".into())
                    })?,
            ),
            None => None,
        };
        let settings = AuthSettings {
            hs256_secret: self.hs256_secret.clone().map(SecretString::from),
            public_key_pem,
            jwks_url,
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
        };
        crate::auth::Authenticator::new(&settings).map_err(ConfigError)?;
        Ok(settings)
    }
}

/// Settings of the HTTP side shared by `serve` and `sandbox`.
#[derive(Args, Clone, Debug)]
pub struct HttpArgs {
    /// Largest request body, in bytes.
    #[arg(long = "body-limit", env = "GATEWAY_BODY_LIMIT_BYTES", default_value_t = DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,
    /// Deadline for a request body to arrive whole, in milliseconds (1 to 600000).
    #[arg(long = "body-timeout-ms", env = "GATEWAY_BODY_TIMEOUT_MS", default_value_t = DEFAULT_BODY_TIMEOUT_MS)]
    pub body_timeout_ms: u64,
    /// Log format.
    #[arg(
        long = "log-format",
        env = "GATEWAY_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Require an Idempotency-Key on creates.
    #[arg(
        long = "idempotency-required",
        env = "GATEWAY_IDEMPOTENCY_REQUIRED",
        default_value = "false"
    )]
    pub idempotency_required: String,
    /// How long an Idempotency-Key is remembered, in seconds.
    #[arg(
        long = "idempotency-ttl-seconds",
        env = "GATEWAY_IDEMPOTENCY_TTL_SECONDS",
        default_value = "86400"
    )]
    pub idempotency_ttl: String,
    /// Requests a second allowed per caller (`sub`); 0 turns the limit off.
    #[arg(
        long = "rate-limit-per-second",
        env = "GATEWAY_RATE_LIMIT_PER_SECOND",
        default_value_t = 0
    )]
    pub rate_limit_per_second: u32,
    /// Burst allowed per caller above the rate (defaults to the rate).
    #[arg(
        long = "rate-limit-burst",
        env = "GATEWAY_RATE_LIMIT_BURST",
        default_value_t = 0
    )]
    pub rate_limit_burst: u32,
    /// The most upstream exchanges in flight at once; more wait for a free slot.
    #[arg(
        long = "upstream-max-concurrency",
        env = "CONTACTNOW_MAX_CONCURRENCY",
        default_value_t = 256
    )]
    pub upstream_max_concurrency: usize,
    /// How long an exchange waits for a free slot before answering 503, in milliseconds
    /// (0: answer 503 at once).
    #[arg(
        long = "upstream-queue-timeout-ms",
        env = "CONTACTNOW_QUEUE_TIMEOUT_MS",
        default_value_t = 1_000
    )]
    pub upstream_queue_timeout_ms: u64,
    /// Consecutive upstream failures that open the circuit breaker.
    #[arg(
        long = "breaker-failures",
        env = "CONTACTNOW_BREAKER_FAILURES",
        default_value_t = 5
    )]
    pub breaker_failures: u32,
    /// How long the circuit breaker stays open before one probe, in milliseconds.
    #[arg(
        long = "breaker-cooldown-ms",
        env = "CONTACTNOW_BREAKER_COOLDOWN_MS",
        default_value_t = 10_000
    )]
    pub breaker_cooldown_ms: u64,
    /// Most idempotency keys remembered at once; past it new keys are refused (503).
    #[arg(
        long = "idempotency-capacity",
        env = "GATEWAY_IDEMPOTENCY_CAPACITY",
        default_value_t = DEFAULT_IDEMPOTENCY_CAPACITY
    )]
    pub idempotency_capacity: usize,
    /// Most idempotency keys one caller (`sub`) holds at once; past it its new keys are
    /// refused (429).
    #[arg(
        long = "idempotency-per-caller",
        env = "GATEWAY_IDEMPOTENCY_PER_CALLER",
        default_value_t = DEFAULT_IDEMPOTENCY_PER_CALLER
    )]
    pub idempotency_per_caller: usize,
    /// Redis shared by replicas: idempotency keys, imports and cluster-wide limits (in memory when
    /// unset).
    #[arg(long = "redis-url", env = "GATEWAY_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<RedisUrl>,
    /// The older name of `GATEWAY_REDIS_URL`, still accepted.
    #[arg(
        long = "idempotency-redis-url",
        env = "GATEWAY_IDEMPOTENCY_REDIS_URL",
        hide_env_values = true,
        hide = true
    )]
    pub idempotency_redis_url: Option<RedisUrl>,
    /// Comma list of exact origins (`https://crm.example.com`) whose pages may call the gateway.
    #[arg(long = "cors-origins", env = "GATEWAY_CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    /// Bulk import settings.
    #[command(flatten)]
    pub imports: crate::imports::ImportArgs,
    /// How long a campaign table's dataset list is kept, in seconds (1 to 86400).
    #[arg(
        long = "metadata-ttl-seconds",
        env = "GATEWAY_METADATA_TTL_SECONDS",
        default_value_t = crate::upstream::metadata::DEFAULT_METADATA_TTL_SECS,
        value_parser = clap::value_parser!(u64).range(1..=crate::upstream::metadata::MAX_METADATA_TTL_SECS)
    )]
    pub metadata_ttl_secs: u64,
}

impl HttpArgs {
    /// The upstream at `base_url`, signed in as `username`, with the limits and the circuit
    /// breaker these arguments set.
    pub fn upstream(
        &self,
        base_url: Url,
        username: String,
        api_key: SecretString,
        format: WireFormat,
        timeout: Duration,
    ) -> UpstreamSettings {
        UpstreamSettings {
            base_url,
            username,
            api_key,
            format,
            timeout,
            max_concurrency: self.upstream_max_concurrency.max(1),
            queue_timeout: self.queue_timeout(),
            breaker: self.breaker(),
            metadata_ttl: Duration::from_secs(self.metadata_ttl_secs),
        }
    }

    /// The gateway's settings around `upstream` and `auth`: body limit, idempotency store and
    /// rate limit from these arguments.
    pub fn settings(
        &self,
        listen: SocketAddr,
        upstream: UpstreamSettings,
        auth: AuthSettings,
    ) -> Result<Settings, ConfigError> {
        Ok(Settings {
            listen,
            upstream,
            auth,
            body_limit: self.body_limit,
            body_timeout: self.body_timeout()?,
            workers: None,
            idempotency: self.idempotency()?,
            rate_limit: self.rate_limit(),
            redis_url: self.redis_url()?,
            cors: CorsSettings::parse(self.cors_origins.as_deref())?,
            imports: self.imports.settings()?,
        })
    }

    /// The checked body deadline.
    fn body_timeout(&self) -> Result<Duration, ConfigError> {
        Some(self.body_timeout_ms)
            .filter(|ms| (1..=MAX_BODY_TIMEOUT_MS).contains(ms))
            .map(Duration::from_millis)
            .ok_or_else(|| {
                ConfigError(format!(
                    "GATEWAY_BODY_TIMEOUT_MS: 1 to {MAX_BODY_TIMEOUT_MS} milliseconds"
                ))
            })
    }

    /// The shared Redis, from `GATEWAY_REDIS_URL` or else its older name.
    fn redis_url(&self) -> Result<Option<RedisUrl>, ConfigError> {
        let given = |url: &Option<RedisUrl>| url.clone().filter(|url| !url.expose().is_empty());
        let Some(url) = given(&self.redis_url).or_else(|| given(&self.idempotency_redis_url))
        else {
            return Ok(None);
        };
        if !(url.expose().starts_with("redis://") || url.expose().starts_with("rediss://")) {
            return Err(ConfigError(
                "GATEWAY_REDIS_URL: must start with redis:// or rediss://".into(),
            ));
        }
        Ok(Some(url))
    }

    /// The circuit breaker settings.
    fn breaker(&self) -> BreakerSettings {
        BreakerSettings {
            failures: self.breaker_failures.max(1),
            cooldown: Duration::from_millis(self.breaker_cooldown_ms),
        }
    }

    /// The wait for a free upstream slot.
    fn queue_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_queue_timeout_ms)
    }

    /// The per-caller rate limit (requests a second, burst), if on.
    fn rate_limit(&self) -> Option<RateLimit> {
        let per_second = NonZeroU32::new(self.rate_limit_per_second)?;
        let burst = NonZeroU32::new(self.rate_limit_burst).unwrap_or(per_second);
        Some(RateLimit { per_second, burst })
    }

    /// The checked idempotency settings.
    fn idempotency(&self) -> Result<IdempotencySettings, ConfigError> {
        let required = match self.idempotency_required.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" | "" => false,
            _ => {
                return Err(ConfigError(
                    "GATEWAY_IDEMPOTENCY_REQUIRED: true or false".into(),
                ));
            }
        };
        let ttl = self
            .idempotency_ttl
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=30 * 86400).contains(s))
            .map(Duration::from_secs)
            .ok_or_else(|| ConfigError("GATEWAY_IDEMPOTENCY_TTL_SECONDS: 1 to 2592000".into()))?;
        if self.idempotency_capacity == 0 {
            return Err(ConfigError(
                "GATEWAY_IDEMPOTENCY_CAPACITY: at least 1".into(),
            ));
        }
        if !(1..=self.idempotency_capacity).contains(&self.idempotency_per_caller) {
            return Err(ConfigError(
                "GATEWAY_IDEMPOTENCY_PER_CALLER: 1 to GATEWAY_IDEMPOTENCY_CAPACITY".into(),
            ));
        }
        Ok(IdempotencySettings {
            required,
            ttl,
            capacity: self.idempotency_capacity,
            per_caller: self.idempotency_per_caller,
        })
    }
}

/// `ecnow-gateway serve`: the gateway against the real ContactNow.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to bind.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: String,
    /// Upstream base URL; token.php and ecnow.php are resolved beside it.
    #[arg(long = "contactnow-base-url", env = "CONTACTNOW_BASE_URL")]
    pub base_url: Option<String>,
    /// ContactNow API user name.
    #[arg(long = "contactnow-username", env = "CONTACTNOW_USERNAME")]
    pub username: Option<String>,
    /// ContactNow API key.
    #[arg(
        long = "contactnow-api-key",
        env = "CONTACTNOW_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// Wire format spoken to ContactNow.
    #[arg(
        long = "contactnow-format",
        env = "CONTACTNOW_FORMAT",
        value_enum,
        default_value = "json"
    )]
    pub format: WireFormat,
    /// Deadline of one upstream exchange, in milliseconds.
    #[arg(
        long = "contactnow-timeout-ms",
        env = "CONTACTNOW_TIMEOUT_MS",
        default_value = "10000"
    )]
    pub timeout_ms: String,
    /// JWT settings.
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// HTTP settings.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Parses a listen address, naming `GATEWAY_LISTEN` on failure.
pub fn parse_listen(value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| {
        ConfigError(format!(
            "GATEWAY_LISTEN: `{value}` is not an address like 0.0.0.0:8080"
        ))
    })
}

/// Parses the upstream deadline, naming `CONTACTNOW_TIMEOUT_MS` on failure.
pub fn parse_timeout(value: &str) -> Result<Duration, ConfigError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|ms| (1..=600_000).contains(ms))
        .map(Duration::from_millis)
        .ok_or_else(|| {
            ConfigError(format!(
                "CONTACTNOW_TIMEOUT_MS: `{value}` is not 1 to 600000 milliseconds"
            ))
        })
}

/// Parses the upstream base URL, naming `CONTACTNOW_BASE_URL` on failure. A base without a
/// trailing slash gets one, so that the scripts resolve beside it.
pub fn parse_base_url(value: &str) -> Result<Url, ConfigError> {
    let mut url = Url::parse(value)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .filter(|url| url.query().is_none() && url.fragment().is_none() && url.password().is_none())
        .ok_or_else(|| {
            ConfigError("CONTACTNOW_BASE_URL: not an absolute http(s) URL without query".into())
        })?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn required(value: &Option<String>, name: &str) -> Result<String, ConfigError> {
    value
        .clone()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ConfigError(format!("{name}: required for serve")))
}

impl Settings {
    /// The settings of `serve`; every unusable setting is reported, not only the first.
    pub fn for_serve(args: &ServeArgs) -> Result<Self, ConfigErrors> {
        let mut problems = Vec::new();
        let listen = collect(&mut problems, parse_listen(&args.listen));
        let base_url = collect(
            &mut problems,
            required(&args.base_url, "CONTACTNOW_BASE_URL").and_then(|url| parse_base_url(&url)),
        );
        let username = collect(
            &mut problems,
            required(&args.username, "CONTACTNOW_USERNAME"),
        );
        let api_key = collect(&mut problems, required(&args.api_key, "CONTACTNOW_API_KEY"));
        let timeout = collect(&mut problems, parse_timeout(&args.timeout_ms));
        let auth = collect(&mut problems, args.jwt.settings());
        let (
            Some(listen),
            Some(base_url),
            Some(username),
            Some(api_key),
            Some(timeout),
            Some(auth),
        ) = (listen, base_url, username, api_key, timeout, auth)
        else {
            // The HTTP side's own problems, so that one run lists them too.
            collect(&mut problems, args.http.idempotency());
            return Err(ConfigErrors(problems));
        };
        let upstream = args
            .http
            .upstream(base_url, username, api_key.into(), args.format, timeout);
        args.http
            .settings(listen, upstream, auth)
            .map_err(|error| ConfigErrors(vec![error]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_resolve_scripts_beside_them() {
        let url = parse_base_url("https://api-106.dxi.eu").unwrap();
        assert_eq!(
            url.join("ecnow.php").unwrap().as_str(),
            "https://api-106.dxi.eu/ecnow.php"
        );
        let url = parse_base_url("https://api.contactnow.8x8.com/api").unwrap();
        assert_eq!(
            url.join("token.php").unwrap().as_str(),
            "https://api.contactnow.8x8.com/api/token.php"
        );
        for bad in [
            "api.dxi.eu",
            "ftp://x/",
            "https://x/?token=1",
            "https://u:p@x/",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
    }

    /// The HTTP settings parsed from flags alone.
    fn http_args(flags: &[&str]) -> HttpArgs {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            http: HttpArgs,
        }
        <Flags as clap::Parser>::try_parse_from(
            std::iter::once("gateway").chain(flags.iter().copied()),
        )
        .unwrap()
        .http
    }

    #[test]
    fn idempotency_capacity_and_share_are_checked() {
        let settings = http_args(&[
            "--idempotency-capacity",
            "50",
            "--idempotency-per-caller",
            "5",
        ])
        .idempotency()
        .unwrap();
        assert_eq!((settings.capacity, settings.per_caller), (50, 5));
        let error = |flags: &[&str]| http_args(flags).idempotency().unwrap_err().0;
        assert!(
            error(&["--idempotency-capacity", "0"]).starts_with("GATEWAY_IDEMPOTENCY_CAPACITY")
        );
        assert!(
            error(&[
                "--idempotency-capacity",
                "10",
                "--idempotency-per-caller",
                "11"
            ])
            .starts_with("GATEWAY_IDEMPOTENCY_PER_CALLER")
        );
        assert!(
            error(&["--idempotency-per-caller", "0"]).starts_with("GATEWAY_IDEMPOTENCY_PER_CALLER")
        );
    }

    #[test]
    fn the_redis_url_has_an_older_name() {
        let url = |flags: &[&str]| http_args(flags).redis_url();
        assert_eq!(url(&[]).unwrap(), None);
        assert_eq!(
            url(&["--idempotency-redis-url", "redis://old:6379/"]).unwrap(),
            Some("redis://old:6379/".into())
        );
        assert_eq!(
            url(&[
                "--idempotency-redis-url",
                "redis://old:6379/",
                "--redis-url",
                "redis://new:6379/"
            ])
            .unwrap(),
            Some("redis://new:6379/".into())
        );
        assert!(
            url(&["--redis-url", "http://x/"])
                .unwrap_err()
                .0
                .starts_with("GATEWAY_REDIS_URL")
        );
    }

    #[test]
    fn bad_settings_name_the_variable() {
        assert!(
            parse_timeout("0")
                .unwrap_err()
                .0
                .starts_with("CONTACTNOW_TIMEOUT_MS")
        );
        assert!(
            parse_listen("8080")
                .unwrap_err()
                .0
                .starts_with("GATEWAY_LISTEN")
        );
    }
}
