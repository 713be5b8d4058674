//! The `ecnow-gateway import` command: uploads a CSV or NDJSON file to a running gateway as an
//! import, follows it with a progress bar (plain lines when stderr is not a terminal), prints
//! the summary and writes the refused rows to `FILE.errors.csv`. Ctrl-C cancels the import.
//!
//! Exit codes: 0 when every row was created, 1 otherwise, 2 for unusable arguments.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::{Import, ImportError, ImportErrors};

/// How often the import is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_LINE_INTERVAL: Duration = Duration::from_secs(5);
/// How long one request to the gateway may take (an upload of a large file included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// The default gateway.
pub const DEFAULT_GATEWAY: &str = "http://127.0.0.1:8080";

/// Arguments of `ecnow-gateway import`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  export ECNOW_TOKEN=$(ecnow-gateway token --sub loader)
  ecnow-gateway import leads.csv --dataset 100
  ecnow-gateway import leads.ndjson --dataset 100 --gateway https://gateway.example.com
  ecnow-gateway import leads.csv --dataset 100 --start-row 2501   # the rest of an interrupted import

Exit code 0 when every row was created, 1 otherwise (refused rows are in FILE.errors.csv), 2 for
unusable arguments.")]
pub struct ImportArgs {
    /// The file of leads: `.csv` (a header row of field names) or `.ndjson` / `.jsonl` (one
    /// record object per line).
    pub file: PathBuf,
    /// The dataset to load into.
    #[arg(long)]
    pub dataset: u64,
    /// The gateway's base URL.
    #[arg(long, default_value = DEFAULT_GATEWAY)]
    pub gateway: String,
    /// A bearer token with `records:write` and `records:read`.
    #[arg(long, env = "ECNOW_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The first data row to send (an interrupted import's `resume_from_row`).
    #[arg(long = "start-row")]
    pub start_row: Option<u64>,
}

/// Why the command ended without a finished import.
enum Failure {
    /// Unusable arguments: exit 2.
    Usage(String),
    /// The import could not be run or did not load every row: exit 1.
    Incomplete(String),
}

fn content_type(file: &Path) -> Result<&'static str, Failure> {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => Ok("text/csv"),
        Some("ndjson" | "jsonl") => Ok("application/x-ndjson"),
        _ => Err(Failure::Usage(format!(
            "{}: the file must end in .csv, .ndjson or .jsonl",
            file.display()
        ))),
    }
}

/// Runs the command.
pub async fn run(args: ImportArgs) -> ExitCode {
    match import(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Incomplete(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

struct Gateway {
    http: reqwest::Client,
    base: url::Url,
    token: String,
}

impl Gateway {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<(reqwest::StatusCode, Value), Failure> {
        let url = self
            .base
            .join(path)
            .map_err(|e| Failure::Usage(format!("--gateway: {e}")))?;
        let response = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| Failure::Incomplete(format!("the gateway cannot be reached: {e}")))?;
        read(response).await
    }
}

async fn read(response: reqwest::Response) -> Result<(reqwest::StatusCode, Value), Failure> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Failure::Incomplete(format!("the gateway's answer was cut: {e}")))?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, body))
}

/// The problem's detail and field errors, one per line.
fn explain(status: reqwest::StatusCode, problem: &Value) -> String {
    let mut text = format!(
        "the gateway answered {status}: {}",
        problem["detail"].as_str().unwrap_or("no detail")
    );
    for error in problem["errors"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\n  {}: {}",
            error["field"].as_str().unwrap_or(""),
            error["message"].as_str().unwrap_or("")
        ));
    }
    text
}

fn parse_import(body: Value) -> Result<Import, Failure> {
    serde_json::from_value(body)
        .map_err(|e| Failure::Incomplete(format!("the gateway answered an unknown import: {e}")))
}

async fn import(args: &ImportArgs) -> Result<bool, Failure> {
    let token = args
        .token
        .clone()
        .filter(|token| !token.is_empty())
        .ok_or_else(|| Failure::Usage("a token is needed: --token or $ECNOW_TOKEN".into()))?;
    let content_type = content_type(&args.file)?;
    let base = url::Url::parse(&args.gateway)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| {
            Failure::Usage(format!(
                "--gateway: `{}` is not an http(s) URL",
                args.gateway
            ))
        })?;
    if args.dataset == 0 || args.start_row == Some(0) {
        return Err(Failure::Usage(
            "--dataset and --start-row are integers from 1".into(),
        ));
    }
    let body = tokio::fs::read(&args.file)
        .await
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.file.display())))?;
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("ecnow-gateway-import/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Failure::Incomplete(format!("HTTP client: {e}")))?;
    let gateway = Gateway { http, base, token };

    let mut path = format!("datasets/{}/imports", args.dataset);
    if let Some(row) = args.start_row {
        path.push_str(&format!("?start_row={row}"));
    }
    let url = gateway
        .base
        .join(&path)
        .map_err(|e| Failure::Usage(format!("--gateway: {e}")))?;
    eprintln!("uploading {} ({} bytes)…", args.file.display(), body.len());
    let response = gateway
        .http
        .post(url)
        .bearer_auth(&gateway.token)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(
            "idempotency-key",
            format!("\"{}\"", uuid::Uuid::new_v4().simple()),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| Failure::Incomplete(format!("the gateway cannot be reached: {e}")))?;
    let (status, answer) = read(response).await?;
    if status != reqwest::StatusCode::ACCEPTED {
        return Err(Failure::Incomplete(explain(status, &answer)));
    }
    let mut import = parse_import(answer)?;
    let import_path = format!("imports/{}", import.id);
    let to_send = import.rows - import.invalid;
    eprintln!(
        "import {}: {} rows, {} invalid, sending {to_send}",
        import.id, import.rows, import.invalid
    );
    let progress = Progress::new(to_send);
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let mut cancelled = false;
    while !import.state.is_final() {
        tokio::select! {
            _ = &mut interrupt, if !cancelled => {
                cancelled = true;
                progress.note("cancelling: no new chunk starts, chunks in flight finish…");
                gateway.call(reqwest::Method::DELETE, &import_path).await?;
            }
            _ = tokio::time::sleep(POLL_INTERVAL) => {
                let (status, body) = gateway.call(reqwest::Method::GET, &import_path).await?;
                if status != reqwest::StatusCode::OK {
                    progress.finish();
                    return Err(Failure::Incomplete(explain(status, &body)));
                }
                import = parse_import(body)?;
                progress.show(import.sent);
            }
        }
    }
    progress.finish();
    print_summary(&import);
    let (_, errors) = gateway
        .call(reqwest::Method::GET, &format!("{import_path}/errors"))
        .await?;
    let errors: ImportErrors =
        serde_json::from_value(errors).unwrap_or(ImportErrors { errors: Vec::new() });
    if !errors.errors.is_empty() {
        let mut path = args.file.clone().into_os_string();
        path.push(".errors.csv");
        let path = PathBuf::from(path);
        write_errors(&path, &errors.errors)
            .map_err(|e| Failure::Incomplete(format!("{}: {e}", path.display())))?;
        println!(
            "{} refused rows and ranges with their reasons: {}",
            errors.errors.len(),
            path.display()
        );
    }
    if let Some(row) = import.resume_from_row {
        println!(
            "to send the rest: ecnow-gateway import {} --dataset {} --start-row {row}",
            args.file.display(),
            args.dataset
        );
    }
    Ok(import.state == super::ImportState::Done
        && import.created == import.rows
        && import.invalid == 0)
}

fn print_summary(import: &Import) {
    println!(
        "import {} {}: {} rows, {} created, {} rejected, {} invalid, {} unconfirmed",
        import.id,
        import.state.label(),
        import.rows,
        import.created,
        import.rejected,
        import.invalid,
        import.unconfirmed
    );
    if import.unconfirmed > 0 {
        println!(
            "{} rows were sent but their answer was lost: they are not sent again; search them by phone before loading them another way",
            import.unconfirmed
        );
    }
}

/// Writes `row,field,message` lines; a chunk's rows are a range in `row`.
fn write_errors(path: &Path, errors: &[ImportError]) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record(["row", "field", "message"])?;
    for error in errors {
        match error {
            ImportError::Row {
                row,
                field,
                message,
            } => writer.write_record([row.to_string().as_str(), field, message])?,
            ImportError::Rows { rows, message } => {
                writer.write_record([rows.as_str(), "", message])?
            }
        }
    }
    writer.flush()?;
    Ok(())
}

/// A progress bar on a terminal, else a plain line every [`PLAIN_LINE_INTERVAL`].
enum Progress {
    Bar(ProgressBar),
    Plain {
        total: u64,
        started: Instant,
        last: std::cell::Cell<Instant>,
    },
}

impl Progress {
    fn new(total: u64) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40.cyan/blue} {pos}/{len} rows sent  {per_sec}  ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Self::Bar(bar)
        } else {
            let now = Instant::now();
            Self::Plain {
                total,
                started: now,
                last: std::cell::Cell::new(now),
            }
        }
    }

    fn show(&self, sent: u64) {
        match self {
            Self::Bar(bar) => bar.set_position(sent),
            Self::Plain {
                total,
                started,
                last,
            } => {
                if last.get().elapsed() >= PLAIN_LINE_INTERVAL {
                    last.set(Instant::now());
                    let rate = sent as f64 / started.elapsed().as_secs_f64().max(0.001);
                    eprintln!("sent {sent}/{total} rows ({rate:.0} rows/s)");
                }
            }
        }
    }

    fn note(&self, message: &str) {
        match self {
            Self::Bar(bar) => bar.println(message),
            Self::Plain { .. } => eprintln!("{message}"),
        }
    }

    fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish();
        }
    }
}
