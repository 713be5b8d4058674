//! An in-memory 8x8 ContactNow: `token.php`, `ecnow.php` (`ecnow_records`, `ecnow_datasets`,
//! `campaign_tables`, `campaign_fields`) and `database.php` (`outcomecodes`) as the real
//! service answers them.
//!
//! It is the sandbox the gateway runs against by default and a second opinion on the
//! gateway's upstream client, so it shares no code with it. It keeps the upstream's habits:
//! HTTP 200 for every protocol-level failure, `success: true` on a partial failure, ids as
//! strings in read rows, `0000-00-00 00:00:00` for unset dates, JSON escaped as PHP does it.
//!
//! # Layout
//! - `mod.rs`: the public API ([`Emulator`], [`EmulatorConfig`], [`Fault`], [`CallCounts`]),
//!   the two endpoints and the latency.
//! - `calls.rs`: call counters and the queue of injected faults.
//! - `tokens.rs`: the token book (issued tokens, the current one) and the answers about tokens.
//! - `store/`: campaign tables, datasets and records (`model`), the seeded account (`seed`),
//!   `create` and `update` (`write`), the `read` filters (`read`).
//! - `wire/`: arguments (query string, then urlencoded or multipart POST fields), JSON and
//!   XML payloads, answer envelopes and read rows.
//! - `tests/`: the emulator driven over HTTP, grouped by what the tests drive.
//!
//! Imports run one way: `mod.rs` → `store` → `wire`, `mod.rs` → `tokens` → `wire`,
//! `mod.rs` → `calls`; `wire` imports nothing of the emulator.
//!
//! # The emulated account
//! One API user (`sandbox` / `sandbox` unless configured), account id `10278`. Datasets `100`
//! and `200` (live) and `400` (on hold) in table `sandbox_campaign`, the expired `300` in table
//! `other_campaign`; five records seeded in `100`, ids from `550000`. Outcome codes `100`
//! to `302` and the account's `510456`; `200`, `201`, `302` and `510456` complete a record. Tokens are 40 lowercase hex characters; while
//! one is valid, `get` hands out that same one.
//!
//! Every call is counted, then takes the next injected [`Fault`] if any, then waits for the
//! configured latency; no lock is held across a wait.

mod calls;
mod fixtures;
mod store;
mod tokens;
mod wire;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpServer, web};

pub use calls::{CallCounts, Fault};
use calls::{Counters, FaultQueue};
pub use fixtures::{DatasetFixture, Fixtures, OutcomeFixture};
use store::{ACCOUNT_ID, ReadQuery, Store, WriteOutcome};
use tokens::{TokenBook, TokenState, expired_token, token_answer};
use wire::{Args, Envelope, Format, Row};

const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
const MAX_PAYLOAD_BYTES: usize = 32 * 1024 * 1024;
/// The largest body `token.php` reads its POST fields from.
const MAX_TOKEN_FORM_BYTES: usize = 64 * 1024;
/// The paths the scripts are served under: the root, and the root doubled.
const SCRIPT_ROOTS: [&str; 2] = ["/", "//"];
/// The worker threads of a served emulator.
const SERVER_WORKERS: usize = 2;
const SERVER_ERROR_PAGE: &str = "<html><head><title>500 Internal Server Error</title></head>\
<body><h1>Internal Server Error</h1></body></html>\n";

/// The scripts that answer calls made with a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Script {
    /// `ecnow.php`: records, datasets, campaign tables and fields.
    Ecnow,
    /// `database.php`: the account's configuration (outcome codes).
    Database,
}

impl Script {
    fn name(self) -> &'static str {
        match self {
            Self::Ecnow => "ecnow.php",
            Self::Database => "database.php",
        }
    }
}

/// The methods the emulator answers, each on its script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    /// `ecnow.php?method=ecnow_records`: read, create, update.
    Records,
    /// `ecnow.php?method=ecnow_datasets`: read, create, update.
    Datasets,
    /// `ecnow.php?method=campaign_tables`: read.
    CampaignTables,
    /// `ecnow.php?method=campaign_fields`: read.
    CampaignFields,
    /// `database.php?method=outcomecodes`: read.
    OutcomeCodes,
}

impl Method {
    fn of(script: Script, name: Option<&str>) -> Option<Self> {
        let method = match name? {
            "ecnow_records" => Self::Records,
            "ecnow_datasets" => Self::Datasets,
            "campaign_tables" => Self::CampaignTables,
            "campaign_fields" => Self::CampaignFields,
            "outcomecodes" => Self::OutcomeCodes,
            _ => return None,
        };
        let on = if method == Self::OutcomeCodes {
            Script::Database
        } else {
            Script::Ecnow
        };
        (on == script).then_some(method)
    }

    /// The method's name, and the element of each row of an XML write payload.
    fn name(self) -> &'static str {
        match self {
            Self::Records => "ecnow_records",
            Self::Datasets => "ecnow_datasets",
            Self::CampaignTables => "campaign_tables",
            Self::CampaignFields => "campaign_fields",
            Self::OutcomeCodes => "outcomecodes",
        }
    }

    /// The element of each row of an XML read answer: `ecnow_record` as the vendor's article
    /// shows; the others by the same rule **(inferred)**.
    fn xml_item(self) -> &'static str {
        match self {
            Self::Records => "ecnow_record",
            Self::Datasets => "ecnow_dataset",
            Self::CampaignTables => "campaign_table",
            Self::CampaignFields => "campaign_field",
            Self::OutcomeCodes => "outcomecode",
        }
    }

    /// Whether it takes `create` and `update`.
    fn writable(self) -> bool {
        matches!(self, Self::Records | Self::Datasets)
    }
}

/// The write actions of `ecnow.php`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Write {
    /// `create`: new records; the answer carries the new id as `key`.
    Create,
    /// `update`: existing records.
    Update,
}

/// Settings of an emulator instance.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The API username `token.php?action=get` accepts.
    pub username: String,
    /// The API key (`password`) `token.php?action=get` accepts.
    pub api_key: String,
    /// How long a newly minted token stays valid.
    pub token_lifetime: Duration,
    /// A delay added before every answer.
    pub latency: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            username: "sandbox".to_owned(),
            api_key: "sandbox".to_owned(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            latency: Duration::ZERO,
        }
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("username", &self.username)
            .field("api_key", &"[REDACTED]")
            .field("token_lifetime", &self.token_lifetime)
            .field("latency", &self.latency)
            .finish()
    }
}

/// An in-memory ContactNow; clones share one state.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("username", &self.inner.username)
            .finish_non_exhaustive()
    }
}

struct Inner {
    username: String,
    api_key: String,
    token_lifetime_ms: AtomicU64,
    latency_ns: AtomicU64,
    tokens: RwLock<TokenBook>,
    faults: FaultQueue,
    counters: Counters,
    store: RwLock<Store>,
}

impl Emulator {
    /// An emulator with the account seeded: datasets `100`, `200`, `300` (expired), `400`
    /// (on hold) and five records in `100` from id `550000`.
    pub fn new(config: EmulatorConfig) -> Self {
        let today = chrono::Local::now().date_naive();
        Self {
            inner: Arc::new(Inner {
                username: config.username,
                api_key: config.api_key,
                token_lifetime_ms: AtomicU64::new(millis(config.token_lifetime)),
                latency_ns: AtomicU64::new(nanos(config.latency)),
                tokens: RwLock::new(TokenBook::default()),
                faults: FaultQueue::default(),
                counters: Counters::default(),
                store: RwLock::new(Store::seeded(today)),
            }),
        }
    }

    /// Registers `token.php`, `ecnow.php` and `database.php`, by `GET` and `POST`, at `/` and
    /// at `//` (a base
    /// URL ending in `/` joined with a client's own `/`, which the vendor's web server serves).
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let token = self.clone();
        let token_php = move |req: HttpRequest, body: web::Bytes| {
            let emulator = token.clone();
            async move { emulator.token_php(&req, &body).await }
        };
        let script = |script: Script| {
            let emulator = self.clone();
            move |req: HttpRequest, body: web::Bytes| {
                let emulator = emulator.clone();
                async move { emulator.api_php(script, &req, &body).await }
            }
        };
        let (ecnow_php, database_php) = (script(Script::Ecnow), script(Script::Database));
        for root in SCRIPT_ROOTS {
            cfg.service(
                web::resource(format!("{root}token.php"))
                    .app_data(web::PayloadConfig::new(MAX_TOKEN_FORM_BYTES))
                    .route(web::get().to(token_php.clone()))
                    .route(web::post().to(token_php.clone())),
            )
            .service(
                web::resource(format!("{root}ecnow.php"))
                    .app_data(web::PayloadConfig::new(MAX_PAYLOAD_BYTES))
                    .route(web::get().to(ecnow_php.clone()))
                    .route(web::post().to(ecnow_php.clone())),
            )
            .service(
                web::resource(format!("{root}database.php"))
                    .app_data(web::PayloadConfig::new(MAX_PAYLOAD_BYTES))
                    .route(web::get().to(database_php.clone()))
                    .route(web::post().to(database_php.clone())),
            );
        }
    }

    /// Starts an HTTP server for this emulator on `listener` ([`SERVER_WORKERS`]); await or spawn
    /// the returned server to run it.
    pub fn serve(self, listener: TcpListener) -> std::io::Result<actix_web::dev::Server> {
        let server = HttpServer::new(move || {
            let emulator = self.clone();
            actix_web::App::new().configure(move |cfg| emulator.configure(cfg))
        })
        .workers(SERVER_WORKERS)
        .listen(listener)?
        .run();
        Ok(server)
    }

    /// Sets the lifetime of tokens minted from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.inner
            .token_lifetime_ms
            .store(millis(lifetime), Ordering::Relaxed);
    }

    /// Sets the delay added before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.inner
            .latency_ns
            .store(nanos(latency), Ordering::Relaxed);
    }

    /// Makes the next `next_calls` token or `ecnow_records` calls suffer `fault`, after any
    /// faults already queued (metadata reads are never faulted).
    pub fn inject_fault(&self, fault: Fault, next_calls: u32) {
        self.inner.faults.push(fault, next_calls);
    }

    /// Makes every token issued so far answer `Expired token`; the next `get` mints a new one.
    pub fn expire_tokens(&self) {
        write(&self.inner.tokens).revoke_all();
    }

    /// What the emulator has been asked since it started or since [`Self::reset_calls`].
    pub fn calls(&self) -> CallCounts {
        self.inner.counters.snapshot()
    }

    /// Sets every call counter back to zero.
    pub fn reset_calls(&self) {
        self.inner.counters.reset();
    }

    /// How many records dataset `dataset` holds.
    pub fn records_in_dataset(&self, dataset: u64) -> usize {
        read(&self.inner.store).records_in_dataset(dataset)
    }

    /// The account's datasets, campaign tables and outcome codes as they are now.
    pub fn fixtures(&self) -> Fixtures {
        read(&self.inner.store).fixtures()
    }

    /// The account's valid token, if one has been issued and has not expired.
    pub fn current_token(&self) -> Option<String> {
        read(&self.inner.tokens)
            .current(now_ms())
            .map(|(token, _)| token.to_owned())
    }

    /// Applies the latency and, to a `faultable` call, the next fault; answers for the call
    /// when the fault does.
    async fn delay(&self, format: Format, faultable: bool) -> Option<HttpResponse> {
        let fault = if faultable {
            self.inner.faults.take()
        } else {
            None
        };
        let mut wait = Duration::from_nanos(self.inner.latency_ns.load(Ordering::Relaxed));
        if let Some(Fault::Stall(stall)) = fault {
            wait = wait.saturating_add(stall);
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        match fault {
            Some(Fault::ServerError) => Some(
                HttpResponse::build(StatusCode::INTERNAL_SERVER_ERROR)
                    .content_type("text/html; charset=UTF-8")
                    .body(SERVER_ERROR_PAGE),
            ),
            Some(Fault::Garbage) => Some(answer(format, format.garbage().to_owned())),
            Some(Fault::Stall(_)) | None => None,
        }
    }

    async fn token_php(&self, req: &HttpRequest, body: &web::Bytes) -> HttpResponse {
        let request = wire::read_request(req.query_string(), content_type(req), body).await;
        let args = request.args;
        let action = args.get("action");
        let counters = &self.inner.counters;
        let counter = match action {
            Some("get") => &counters.token_get,
            Some("validate") => &counters.token_validate,
            _ => &counters.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(action = action.unwrap_or(""), "emulator: token.php");
        let format = Format::from_arg(args.get("format"));
        if let Some(response) = self.delay(format.unwrap_or(Format::Json), true).await {
            return response;
        }
        let Some(format) = format else {
            return answer(
                Format::Json,
                Envelope::failure("Bad argument: format").write(Format::Json),
            );
        };
        if let Some(refusal) = request.refusal {
            return answer(format, Envelope::failure(refusal).write(format));
        }
        let body = match action {
            Some("get") => self.get_token(&args, format),
            Some("validate") => {
                let now = now_ms();
                let book = read(&self.inner.tokens);
                match book.state(args.get("token").unwrap_or(""), now) {
                    TokenState::Valid { expire } => Envelope {
                        success: true,
                        expire: Some(expire),
                        ..Envelope::default()
                    }
                    .write(format),
                    TokenState::Expired => expired_token().write(format),
                    TokenState::Unknown => Envelope::failure("Invalid token").write(format),
                }
            }
            _ => Envelope::failure("Bad argument: action").write(format),
        };
        answer(format, body)
    }

    fn get_token(&self, args: &Args<'_>, format: Format) -> String {
        let authentic = args.get("username") == Some(self.inner.username.as_str())
            && args.get("password") == Some(self.inner.api_key.as_str());
        if !authentic {
            return Envelope::failure("Authentication failure").write(format);
        }
        let lifetime = self.inner.token_lifetime_ms.load(Ordering::Relaxed);
        let mut book = write(&self.inner.tokens);
        let (token, expire) = book.current_or_mint(now_ms(), lifetime);
        token_answer(&token, expire, format)
    }

    /// `ecnow.php` or `database.php`: the token, then the method, the action and the format.
    async fn api_php(&self, script: Script, req: &HttpRequest, body: &web::Bytes) -> HttpResponse {
        let request = wire::read_request(req.query_string(), content_type(req), body).await;
        let (args, body) = (&request.args, request.payload);
        let method = args.get("method");
        let action = args.get("action");
        let counters = &self.inner.counters;
        let counter = match (script, method, action) {
            (Script::Ecnow, Some("ecnow_records"), Some("create")) => &counters.create,
            (Script::Ecnow, Some("ecnow_records"), Some("read")) => &counters.read,
            (Script::Ecnow, Some("ecnow_records"), Some("update")) => &counters.update,
            _ => &counters.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            script = script.name(),
            method = method.unwrap_or(""),
            action = action.unwrap_or(""),
            bytes = body.len(),
            "emulator: call"
        );
        let format = Format::from_arg(args.get("format"));
        // Injected faults hit the record calls (and tokens), never the metadata reads.
        let faultable = method == Some("ecnow_records");
        if let Some(response) = self.delay(format.unwrap_or(Format::Json), faultable).await {
            return response;
        }
        let shown = format.unwrap_or(Format::Json);
        let failure = |error: &str| answer(shown, Envelope::failure(error).write(shown));
        if let Some(refusal) = request.refusal {
            return failure(refusal);
        }
        let token_state = read(&self.inner.tokens).state(args.get("token").unwrap_or(""), now_ms());
        match token_state {
            TokenState::Valid { .. } => {}
            TokenState::Expired => return answer(shown, expired_token().write(shown)),
            TokenState::Unknown => return failure("Invalid token"),
        }
        let Some(method) = Method::of(script, method) else {
            return failure("Bad argument: method");
        };
        let write_action = match action {
            Some("read") => None,
            Some("create") if method.writable() => Some(Write::Create),
            Some("update") if method.writable() => Some(Write::Update),
            _ => return failure("Bad argument: action"),
        };
        let Some(format) = format else {
            return failure("Bad argument: format");
        };
        let Some(write_action) = write_action else {
            return answer(format, self.read_method(method, args, format));
        };
        if !matches!(args.get("raw"), Some("1" | "true")) {
            return failure("No file uploaded. Missing 'easycall' section?");
        }
        let rows = match format {
            Format::Json => wire::parse_json_rows(body),
            Format::Xml => wire::parse_xml_rows(body, method.name()),
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => return failure(error.message()),
        };
        let body = if method == Method::Datasets {
            self.write_datasets(write_action, &rows, format)
        } else {
            self.write_records(write_action, args.non_empty("id"), &rows, format)
        };
        answer(format, body)
    }

    /// A `read` of any method: records, or a configuration list.
    fn read_method(&self, method: Method, args: &Args<'_>, format: Format) -> String {
        let store = read(&self.inner.store);
        let rows = match method {
            Method::Records => return read_records(&store, args, format),
            Method::Datasets => store.read_datasets(args),
            Method::CampaignTables => Ok(store.read_campaign_tables()),
            Method::CampaignFields => store.read_campaign_fields(args),
            Method::OutcomeCodes => store::read_outcome_codes(args),
        };
        match rows {
            Ok(rows) => wire::write_read_answer(format, method.xml_item(), rows.len(), &rows),
            Err(error) => Envelope::failure(&error).write(format),
        }
    }

    fn write_datasets(&self, action: Write, rows: &[Row], format: Format) -> String {
        let outcome = {
            let mut store = write(&self.inner.store);
            match action {
                Write::Create => store.create_datasets(rows),
                Write::Update => store.update_datasets(rows),
            }
        };
        Envelope {
            success: true,
            account_id: Some(ACCOUNT_ID),
            total: Some(outcome.total),
            bad: Some(outcome.bad),
            key: (action == Write::Create).then_some(outcome.key),
            error: outcome.error.as_deref(),
            ..Envelope::default()
        }
        .write(format)
    }

    fn write_records(
        &self,
        action: Write,
        query_id: Option<&str>,
        rows: &[Row],
        format: Format,
    ) -> String {
        let outcome: WriteOutcome = {
            let mut store = write(&self.inner.store);
            if action == Write::Create {
                store.create(rows, chrono::Local::now().date_naive())
            } else {
                store.update(query_id, rows)
            }
        };
        let wrote = outcome.total > 0;
        Envelope {
            success: true,
            account_id: Some(ACCOUNT_ID),
            total: Some(outcome.total),
            bad: Some(outcome.bad),
            key: (action == Write::Create).then_some(outcome.key),
            error: outcome.error.as_deref(),
            info: wrote.then(|| outcome.info()),
            ..Envelope::default()
        }
        .write(format)
    }
}

/// An `ecnow_records` read against `store`.
fn read_records(store: &Store, args: &Args<'_>, format: Format) -> String {
    let query = match ReadQuery::parse(args) {
        Ok(query) => query,
        Err(error) => return Envelope::failure(&error).write(format),
    };
    match store.read(&query) {
        Ok(found) => {
            wire::write_read_answer(format, Method::Records.xml_item(), found.total, &found.rows)
        }
        Err(error) => Envelope::failure(&error).write(format),
    }
}

/// The request's `Content-Type`, when it is readable text.
fn content_type(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

fn answer(format: Format, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(format.content_type())
        .body(body)
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
