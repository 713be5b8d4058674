//! The commands of the `ecnow-gateway` binary.

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::{self, TokenRequest};
use crate::config::{self, ConfigError, HttpArgs, JwtArgs, ServeArgs, Settings};
use crate::emulator::{Emulator, EmulatorConfig};
use crate::startup::Application;
use crate::telemetry::{self, LogFormat};
use crate::upstream::WireFormat;

const EXAMPLES: &str = "Examples:
  ecnow-gateway sandbox                      # gateway + emulator on 127.0.0.1:8080, prints a dev token
  ecnow-gateway emulator --listen 127.0.0.1:9090
  GATEWAY_JWT_HS256_SECRET=… ecnow-gateway token --sub billing --scope records:read --datasets 100
  CONTACTNOW_BASE_URL=https://api-106.dxi.eu/ CONTACTNOW_USERNAME=… CONTACTNOW_API_KEY=… \\
    GATEWAY_JWT_HS256_SECRET=… ecnow-gateway serve
  ecnow-gateway doctor                       # check the settings of serve end to end
  ecnow-gateway openapi > openapi/openapi.json
  ECNOW_TOKEN=… ecnow-gateway import leads.csv --dataset 100";

/// Clean REST over the 8x8 ContactNow record API.
#[derive(Parser, Debug)]
#[command(name = "ecnow-gateway", version, about, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no command: the settings of `serve`.
    #[command(flatten)]
    serve: Box<ServeArgs>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway against the real ContactNow (the default command).
    Serve(Box<ServeArgs>),
    /// Run the gateway wired to the built-in emulator, and print a dev token.
    Sandbox(SandboxArgs),
    /// Run only the emulator of token.php and ecnow.php.
    Emulator(EmulatorArgs),
    /// Mint an HS256 dev JWT with the configured secret.
    Token(TokenArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Check the configuration of `serve` end to end, writing nothing upstream.
    #[command(
        after_help = "Reads the same settings as `serve`. One line per check: ok, FAIL (with the fix)
or skip. Exit code 0 when every check passes, 1 otherwise, 2 for unusable arguments."
    )]
    Doctor(Box<ServeArgs>),
    /// Upload a CSV or NDJSON file of leads to a running gateway as an import, and follow it.
    Import(crate::imports::client::ImportArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  ecnow-gateway sandbox                                   # 127.0.0.1:8080, random JWT secret
  GATEWAY_JWT_HS256_SECRET=$(openssl rand -hex 32) ecnow-gateway sandbox --listen 127.0.0.1:9000
  CONTACTNOW_FORMAT=xml ecnow-gateway sandbox             # speak XML to the emulator")]
struct SandboxArgs {
    /// Address to bind.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Wire format spoken to the emulator.
    #[arg(
        long = "contactnow-format",
        env = "CONTACTNOW_FORMAT",
        value_enum,
        default_value = "json"
    )]
    format: WireFormat,
    /// Delay added to every answer of the emulator, e.g. 50ms (as a real upstream would).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    latency: Duration,
    #[command(flatten)]
    jwt: JwtArgs,
    #[command(flatten)]
    http: HttpArgs,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  ecnow-gateway emulator                                   # 127.0.0.1:9090, sandbox/sandbox
  ecnow-gateway emulator --listen 0.0.0.0:9090 --username api --api-key secret --token-lifetime 30m
  ecnow-gateway emulator --latency 50ms                    # answer like a real upstream, for benchmarks

Then point a gateway at it: CONTACTNOW_BASE_URL=http://127.0.0.1:9090/ ecnow-gateway serve")]
struct EmulatorArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: String,
    /// API user name the emulator accepts.
    #[arg(long, default_value = "sandbox")]
    username: String,
    /// API key the emulator accepts.
    #[arg(long = "api-key", default_value = "sandbox")]
    api_key: String,
    /// Lifetime of the tokens it issues, e.g. 12h, 30m, 90s.
    #[arg(long = "token-lifetime", default_value = "12h", value_parser = parse_duration)]
    token_lifetime: Duration,
    /// Delay added to every answer, e.g. 50ms (as a real upstream would).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    latency: Duration,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  ecnow-gateway token                                          # read + write, every dataset, 12 h
  ecnow-gateway token --sub billing --scope records:read --datasets 100,200 --ttl 30m
  ecnow-gateway token --sub dialler --tables sandbox_campaign
  ecnow-gateway token --sub ops --scope \"records:read datasets:write\"

The secret comes from GATEWAY_JWT_HS256_SECRET (the same one the gateway verifies with).")]
struct TokenArgs {
    /// The caller's identity (`sub`).
    #[arg(long, default_value = "dev")]
    sub: String,
    /// Space-separated scopes: records:read, records:write, datasets:write.
    #[arg(long, default_value = "records:read records:write")]
    scope: String,
    /// Datasets to limit the token to, comma separated.
    #[arg(long, value_delimiter = ',')]
    datasets: Option<Vec<u64>>,
    /// Campaign tables to limit the token to, comma separated.
    #[arg(long, value_delimiter = ',')]
    tables: Option<Vec<String>>,
    /// Lifetime, e.g. 12h, 30m, 90s.
    #[arg(long, default_value = "12h", value_parser = parse_duration)]
    ttl: Duration,
    #[command(flatten)]
    jwt: JwtArgs,
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    let (number, unit) = value.split_at(
        value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len()),
    );
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{value}` is not a duration like 12h"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "" | "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86400,
        _ => return Err(format!("`{value}` is not a duration like 12h")),
    };
    Ok(Duration::from_secs(seconds))
}

/// Logs to standard output, and traces over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
fn init_logs(format: LogFormat) -> Result<(), ConfigError> {
    let tracer = crate::otel::tracer().map_err(ConfigError)?;
    telemetry::init_subscriber(
        format,
        "info",
        telemetry::stdout_wants_colour(),
        tracer,
        std::io::stdout,
    );
    Ok(())
}

impl Cli {
    /// Runs the command; bad configuration exits with code 2 and one line naming the setting.
    pub async fn run(self) -> ExitCode {
        if let Some(Command::Doctor(args)) = &self.command {
            return crate::doctor::run(args).await;
        }
        let result = match self.command {
            None => serve(&self.serve).await,
            Some(Command::Serve(args)) => serve(&args).await,
            Some(Command::Sandbox(args)) => sandbox(args).await,
            Some(Command::Emulator(args)) => emulator(args).await,
            Some(Command::Token(args)) => token(&args),
            Some(Command::Doctor(_)) => Ok(()),
            Some(Command::Import(args)) => return crate::imports::client::run(args).await,
            Some(Command::Openapi) => {
                print!("{}", crate::api::openapi::document_json());
                Ok(())
            }
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                for line in error.to_string().lines() {
                    eprintln!("error: {line}");
                }
                ExitCode::from(2)
            }
        }
    }
}

async fn serve(args: &ServeArgs) -> Result<(), ConfigError> {
    let settings = Settings::for_serve(args)?;
    init_logs(args.http.log_format)?;
    let application = Application::build(&settings)?;
    tracing::info!(port = application.port(), "ecnow-gateway serving");
    let served = application.run_until_stopped().await;
    crate::otel::shutdown();
    served.map_err(|e| ConfigError(format!("server: {e}")))
}

fn random_secret() -> SecretString {
    let bytes: [u8; 32] = rand::rng().random();
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into()
}

async fn sandbox(args: SandboxArgs) -> Result<(), ConfigError> {
    let listen = config::parse_listen(&args.listen)?;
    let mut jwt = args.jwt.clone();
    let secret = match &jwt.hs256_secret {
        Some(secret) => SecretString::from(secret.clone()),
        None => random_secret(),
    };
    jwt.hs256_secret = Some(secret.expose_secret().to_owned());
    let auth = jwt.settings()?;
    init_logs(args.http.log_format)?;

    let emulator_config = EmulatorConfig {
        latency: args.latency,
        ..EmulatorConfig::default()
    };
    let upstream_listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| ConfigError(format!("emulator: {e}")))?;
    let upstream_port = upstream_listener
        .local_addr()
        .map_err(|e| ConfigError(e.to_string()))?
        .port();
    let upstream = args.http.upstream(
        config::parse_base_url(&format!("http://127.0.0.1:{upstream_port}/"))?,
        emulator_config.username.clone(),
        emulator_config.api_key.clone().into(),
        args.format,
        Duration::from_secs(10),
    );
    let emulator = Emulator::new(emulator_config);
    let fixtures = emulator.fixtures();
    let emulator_server = emulator
        .serve(upstream_listener)
        .map_err(|e| ConfigError(format!("emulator: {e}")))?;
    let settings = args.http.settings(listen, upstream, auth)?;
    let application = Application::build(&settings)?;
    let token = auth::mint(
        &secret,
        &TokenRequest {
            sub: "sandbox-dev".into(),
            scope: "records:read records:write".into(),
            datasets: None,
            tables: None,
            ttl: Duration::from_secs(12 * 3600),
        },
    )
    .map_err(ConfigError)?;
    let base = format!("http://{}:{}", listen.ip(), application.port());
    // The sandbox's secret is a throwaway dev key: printing it is how `token` mints more.
    let secret_line = if args.jwt.hs256_secret.is_none() {
        format!(
            "\nJWT secret (random for this run; `ecnow-gateway token` mints more tokens with it):\n  export GATEWAY_JWT_HS256_SECRET={}\n",
            secret.expose_secret()
        )
    } else {
        String::new()
    };
    println!(
        "ecnow-gateway sandbox (emulated ContactNow at http://127.0.0.1:{upstream_port}/)\n\
         \n  API:        {base}/ (JSON index)\n  Swagger UI: {base}/swagger-ui/\n  OpenAPI:    {base}/openapi.json\n\
         \nFixtures:\n{fixtures}\n{secret_line}\
         \nDev token (read + write, 12 h):\n{token}\n\
         \nTry it:\n  export TOKEN={token}\n  curl -s -H \"Authorization: Bearer $TOKEN\" {base}/datasets/100/records\n"
    );
    tokio::spawn(emulator_server);
    let served = application.run_until_stopped().await;
    crate::otel::shutdown();
    served.map_err(|e| ConfigError(format!("server: {e}")))
}

// Settings the emulator may gain keep their defaults: hence the struct update.
#[allow(clippy::needless_update)]
async fn emulator(args: EmulatorArgs) -> Result<(), ConfigError> {
    let listener = TcpListener::bind(&args.listen)
        .map_err(|e| ConfigError(format!("--listen: cannot bind {}: {e}", args.listen)))?;
    init_logs(LogFormat::Text)?;
    let emulator = Emulator::new(EmulatorConfig {
        username: args.username,
        api_key: args.api_key,
        token_lifetime: args.token_lifetime,
        latency: args.latency,
        ..EmulatorConfig::default()
    });
    println!(
        "ContactNow emulator on http://{}/ (token.php, ecnow.php; dataset 100 seeded)",
        args.listen
    );
    emulator
        .serve(listener)
        .map_err(|e| ConfigError(format!("emulator: {e}")))?
        .await
        .map_err(|e| ConfigError(format!("emulator: {e}")))
}

fn token(args: &TokenArgs) -> Result<(), ConfigError> {
    args.jwt.settings()?;
    let secret = SecretString::from(args.jwt.hs256_secret.clone().unwrap_or_default());
    let token = auth::mint(
        &secret,
        &TokenRequest {
            sub: args.sub.clone(),
            scope: args.scope.clone(),
            datasets: args.datasets.clone(),
            tables: args.tables.clone(),
            ttl: args.ttl,
        },
    )
    .map_err(ConfigError)?;
    println!("{token}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43200)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("50ms"), Ok(Duration::from_millis(50)));
        assert!(parse_duration("1w").is_err());
    }
}
