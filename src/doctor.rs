//! `ecnow-gateway doctor`: the configuration of `serve`, checked end to end without writing
//! anything upstream.
//!
//! One line per check, `ok`, `warn` (a reduced service, with the fallback and the fix; the exit
//! code stays 0), `FAIL` (with the fix) or `skip` (an earlier check failed), and the
//! latency of each check that talks to something. No line ever holds a secret: the API key,
//! JWT secrets and upstream tokens are only sent, and Redis URLs (which may carry a password)
//! are never printed.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{ServeArgs, Settings};
use crate::domain::TableName;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::upstream::metadata::Listing;
use crate::upstream::{ContactNowClient, TokenProbe};

/// How long the JWKS fetch and the Redis `PING` may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What one check found.
enum Outcome {
    /// Passed, with what was seen.
    Ok(String),
    /// Failed: what went wrong, and what to do about it.
    Fail { problem: String, fix: String },
    /// Passed with a reduced service: what is missing, what the gateway does instead, and the
    /// fix. The exit code stays 0.
    Warn {
        problem: String,
        fallback: String,
        fix: String,
    },
    /// Not run, because an earlier check failed.
    Skipped,
}

/// One printed line.
struct Check {
    name: &'static str,
    outcome: Outcome,
    latency: Option<Duration>,
}

impl Check {
    fn line(&self) -> String {
        let mut line = match &self.outcome {
            Outcome::Ok(detail) => format!("ok    {:<16} {detail}", self.name),
            Outcome::Fail { problem, fix } => {
                format!("FAIL  {:<16} {problem}; fix: {fix}", self.name)
            }
            Outcome::Warn {
                problem,
                fallback,
                fix,
            } => format!("warn  {:<16} {problem}: {fallback}; fix: {fix}", self.name),
            Outcome::Skipped => {
                format!(
                    "skip  {:<16} not checked: fix the checks above first",
                    self.name
                )
            }
        };
        if let Some(latency) = self.latency {
            let _ = write!(line, " ({} ms)", latency.as_millis());
        }
        line
    }

    fn failed(&self) -> bool {
        !matches!(self.outcome, Outcome::Ok(_) | Outcome::Warn { .. })
    }
}

fn fail(problem: impl Into<String>, fix: impl Into<String>) -> Outcome {
    Outcome::Fail {
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// Runs every check, prints one line each, and exits 0 when all pass, else 1.
pub async fn run(args: &ServeArgs) -> ExitCode {
    let checks = checks(args).await;
    for check in &checks {
        println!("{}", check.line());
    }
    if checks.iter().any(Check::failed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The names of the checks that talk to something, in order.
const LIVE_CHECKS: [&str; 4] = ["jwt key source", "token.php", "ecnow.php", FIELDS_CHECK];

/// The name of the `campaign_fields` check.
const FIELDS_CHECK: &str = "campaign_fields";

async fn checks(args: &ServeArgs) -> Vec<Check> {
    let settings = match Settings::for_serve(args) {
        Ok(settings) => settings,
        Err(problems) => {
            let mut checks: Vec<Check> = problems
                .0
                .into_iter()
                .map(|problem| {
                    let setting = problem.0.split(':').next().unwrap_or_default().to_owned();
                    Check {
                        name: "setting",
                        outcome: fail(problem.0, format!("set {setting} to a usable value")),
                        latency: None,
                    }
                })
                .collect();
            checks.extend(LIVE_CHECKS.into_iter().map(|name| Check {
                name,
                outcome: Outcome::Skipped,
                latency: None,
            }));
            return checks;
        }
    };
    let upstream = &settings.upstream;
    let mut checks = vec![Check {
        name: "settings",
        outcome: Outcome::Ok(format!(
            "every setting usable; upstream {} as {} ({}), timeout {} ms",
            upstream.base_url,
            upstream.username,
            upstream.format.as_str(),
            upstream.timeout.as_millis()
        )),
        latency: None,
    }];
    checks.extend(jwt_checks(&settings).await);
    if let Some(url) = &settings.redis_url {
        checks.push(timed("redis", redis_ping(url.expose())).await);
    }
    let client = match ContactNowClient::new(upstream, Arc::new(Metrics::new())) {
        Ok(client) => client,
        Err(error) => {
            checks.push(Check {
                name: "token.php",
                outcome: fail(error.to_string(), "check CONTACTNOW_BASE_URL"),
                latency: None,
            });
            return checks;
        }
    };
    let started = Instant::now();
    let token = client.probe_token().await;
    let latency = Some(started.elapsed());
    let probe = match token {
        Ok(probe) => {
            checks.push(Check {
                name: "token.php",
                outcome: Outcome::Ok(token_detail(&probe)),
                latency,
            });
            probe
        }
        Err(error) => {
            checks.push(Check {
                name: "token.php",
                outcome: token_failure(&error),
                latency,
            });
            for name in ["ecnow.php", FIELDS_CHECK] {
                checks.push(Check {
                    name,
                    outcome: Outcome::Skipped,
                    latency: None,
                });
            }
            return checks;
        }
    };
    let started = Instant::now();
    let tables = client.probe_campaign_tables(&probe).await;
    let (outcome, first_table) = match tables {
        Ok((tables, first, account)) => (
            Outcome::Ok(format!(
                "read-only campaign_tables read answered {tables} table(s){}",
                account.map_or_else(String::new, |id| format!("; account {id}"))
            )),
            Ok(first),
        ),
        Err(error) => (
            fail(
                error.to_string(),
                "the API user must be allowed ecnow.php reads (campaign_tables); ask 8x8 support",
            ),
            Err(()),
        ),
    };
    checks.push(Check {
        name: "ecnow.php",
        outcome,
        latency: Some(started.elapsed()),
    });
    checks.push(match first_table {
        Ok(Some(table)) => timed(FIELDS_CHECK, fields_check(&client, &probe, table)).await,
        Ok(None) => Check {
            name: FIELDS_CHECK,
            outcome: Outcome::Ok("no campaign table to read the fields of".into()),
            latency: None,
        },
        Err(()) => Check {
            name: FIELDS_CHECK,
            outcome: Outcome::Skipped,
            latency: None,
        },
    });
    checks
}

/// Reads the fields of `table`: writes are checked against each campaign's own columns only
/// when ContactNow lets the API user read them.
async fn fields_check(client: &ContactNowClient, probe: &TokenProbe, table: TableName) -> Outcome {
    match client.probe_campaign_fields(probe, &table).await {
        Ok(Listing::Known((fields, custom))) => Outcome::Ok(format!(
            "read-only campaign_fields read of {table} answered {fields} field(s), {custom} \
             custom; writes are checked against each campaign's columns"
        )),
        Ok(Listing::Refused(refusal)) => Outcome::Warn {
            problem: format!("campaign_fields read refused ({refusal})"),
            fallback: "writes fall back to syntax rules (custom columns and sizes unchecked)"
                .into(),
            fix: "ask 8x8 support to allow the API user campaign_fields reads".into(),
        },
        Err(error) => fail(
            error.to_string(),
            "check that ContactNow answers campaign_fields reads (ecnow.php)",
        ),
    }
}

async fn timed(name: &'static str, check: impl Future<Output = Outcome>) -> Check {
    let started = Instant::now();
    let outcome = check.await;
    Check {
        name,
        outcome,
        latency: Some(started.elapsed()),
    }
}

fn token_detail(probe: &TokenProbe) -> String {
    let minutes = probe.lifetime.as_secs() / 60;
    let mut detail = format!(
        "credentials accepted; token valid for {}h {:02}m",
        minutes / 60,
        minutes % 60
    );
    if let Some(account) = &probe.account_id {
        let _ = write!(detail, "; account {account}");
    }
    detail
}

fn token_failure(error: &Error) -> Outcome {
    match error {
        Error::UpstreamAuthFailed(_) => fail(
            error.to_string(),
            "check CONTACTNOW_USERNAME and CONTACTNOW_API_KEY (issued by 8x8 support), and that \
             this host's egress IP is the one ContactNow expects",
        ),
        _ => fail(
            error.to_string(),
            "check CONTACTNOW_BASE_URL (e.g. https://api-106.dxi.eu/) and that this host can \
             reach it",
        ),
    }
}

/// One line per configured JWT key source.
async fn jwt_checks(settings: &Settings) -> Vec<Check> {
    let auth = &settings.auth;
    let mut checks = Vec::new();
    if auth.hs256_secret.is_some() {
        checks.push(Check {
            name: "jwt key source",
            outcome: Outcome::Ok("HS256 secret of at least 32 bytes".into()),
            latency: None,
        });
    }
    if auth.public_key_pem.is_some() {
        checks.push(Check {
            name: "jwt key source",
            outcome: Outcome::Ok("PEM public key parsed".into()),
            latency: None,
        });
    }
    if let Some(url) = &auth.jwks_url {
        checks.push(timed("jwt key source", jwks_fetch(url.clone())).await);
    }
    checks
}

/// Fetches the JWKS document and counts the keys the gateway can choose by `kid`.
async fn jwks_fetch(url: url::Url) -> Outcome {
    let fix = "check GATEWAY_JWT_JWKS_URL and that this host can reach it";
    let fetched = async {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROBE_TIMEOUT)
            .build()
            .map_err(|e| e.without_url().to_string())?;
        let bytes = crate::auth::fetch_jwks_document(&http, url).await?;
        serde_json::from_slice::<jsonwebtoken::jwk::JwkSet>(&bytes)
            .map_err(|e| format!("not a JWKS document: {e}"))
    };
    match fetched.await {
        Ok(set) => {
            let usable = set
                .keys
                .iter()
                .filter(|jwk| jwk.common.key_id.is_some())
                .count();
            if usable == 0 {
                fail("JWKS fetched but it has no key with a kid", fix)
            } else {
                Outcome::Ok(format!("JWKS fetched: {usable} key(s) with a kid"))
            }
        }
        Err(error) => fail(format!("JWKS fetch failed: {error}"), fix),
    }
}

/// `PING`s the Redis at `url`.
async fn redis_ping(url: &str) -> Outcome {
    use deadpool_redis::redis;
    let fix = "check GATEWAY_REDIS_URL (or GATEWAY_IDEMPOTENCY_REDIS_URL) and that Redis is up";
    let ping = async {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| e.to_string())?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(PROBE_TIMEOUT, ping).await {
        Ok(Ok(answer)) => Outcome::Ok(format!("PING answered {answer}")),
        Ok(Err(error)) => fail(format!("Redis: {error}"), fix),
        Err(_) => fail("Redis did not answer PING in 5 s", fix),
    }
}
