//! Bulk imports: an uploaded file of leads (CSV or NDJSON), validated row by row as it arrives,
//! then sent upstream in chunks of `create`, with its progress kept as an [`Import`].
//!
//! Layout:
//! - [`parse`]: the streaming parse and validation of an upload; valid rows are spooled to a
//!   temporary file, so memory stays bounded whatever the upload's size.
//! - `engine`: sends the spooled rows in order, `chunk_rows` a chunk, `concurrency` chunks in
//!   flight, and stops dispatching on cancel, SIGTERM or an unreachable upstream.
//! - `store`: the imports of this replica, by id, with their owner and errors.
//! - [`redis`]: their copy in Redis when `GATEWAY_REDIS_URL` is set (any replica answers).
//! - [`client`]: the `ecnow-gateway import` command (an HTTP client of a running gateway).
//!
//! Invariants: a row is sent at most once. A chunk is dispatched once; if its answer is lost it
//! counts as `unconfirmed`, and `resume_from_row` always lies after every dispatched chunk.

pub mod client;
mod engine;
pub mod parse;
pub mod redis;
mod store;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::DatasetId;
use crate::error::ConfigError;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::upstream::ContactNowClient;
pub use store::ImportStore;

/// The default largest upload: 64 MiB.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
/// The default rows per upstream `create`.
pub const DEFAULT_CHUNK_ROWS: usize = 500;
/// The default chunks in flight per import.
pub const DEFAULT_CONCURRENCY: usize = 2;
/// The largest configurable upload: 1 GiB.
const MAX_MAX_BYTES: usize = 1024 * 1024 * 1024;
/// The most chunks in flight one import may be configured to hold.
const MAX_CONCURRENCY: usize = 16;
/// Imports one caller (`sub`) may run at once (uploading or sending); more are refused (429).
pub const MAX_RUNNING_PER_CALLER: usize = 2;
/// Imports one replica runs at once; more are refused (429).
pub const MAX_RUNNING_PER_REPLICA: usize = 8;
/// The most errors listed per import; the rest are summed up in one last entry.
pub const MAX_LISTED_ERRORS: usize = 10_000;
/// How long an import is kept after it was created.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);
/// The `Retry-After` of a refused import, in seconds.
const RETRY_AFTER_SECONDS: u64 = 30;

/// Import settings (`GATEWAY_IMPORT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportSettings {
    /// The largest upload, in bytes (`GATEWAY_IMPORT_MAX_BYTES`).
    pub max_bytes: usize,
    /// Rows per upstream `create` (`GATEWAY_IMPORT_CHUNK_ROWS`).
    pub chunk_rows: usize,
    /// Chunks in flight per import (`GATEWAY_IMPORT_CONCURRENCY`).
    pub concurrency: usize,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            chunk_rows: DEFAULT_CHUNK_ROWS,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// The `GATEWAY_IMPORT_*` arguments of `serve` and `sandbox`.
#[derive(Args, Clone, Debug)]
pub struct ImportArgs {
    /// Largest import upload, in bytes.
    #[arg(long = "import-max-bytes", env = "GATEWAY_IMPORT_MAX_BYTES", default_value_t = DEFAULT_MAX_BYTES)]
    pub import_max_bytes: usize,
    /// Rows per upstream `create` of an import (1 to 1000).
    #[arg(long = "import-chunk-rows", env = "GATEWAY_IMPORT_CHUNK_ROWS", default_value_t = DEFAULT_CHUNK_ROWS)]
    pub import_chunk_rows: usize,
    /// Chunks of one import in flight at once (1 to 16).
    #[arg(long = "import-concurrency", env = "GATEWAY_IMPORT_CONCURRENCY", default_value_t = DEFAULT_CONCURRENCY)]
    pub import_concurrency: usize,
}

impl ImportArgs {
    /// The checked settings; a bad value names its setting.
    pub fn settings(&self) -> Result<ImportSettings, ConfigError> {
        if !(1..=MAX_MAX_BYTES).contains(&self.import_max_bytes) {
            return Err(ConfigError(format!(
                "GATEWAY_IMPORT_MAX_BYTES: 1 to {MAX_MAX_BYTES} bytes"
            )));
        }
        if !(1..=crate::domain::write::MAX_BATCH).contains(&self.import_chunk_rows) {
            return Err(ConfigError(format!(
                "GATEWAY_IMPORT_CHUNK_ROWS: 1 to {}",
                crate::domain::write::MAX_BATCH
            )));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.import_concurrency) {
            return Err(ConfigError(format!(
                "GATEWAY_IMPORT_CONCURRENCY: 1 to {MAX_CONCURRENCY}"
            )));
        }
        Ok(ImportSettings {
            max_bytes: self.import_max_bytes,
            chunk_rows: self.import_chunk_rows,
            concurrency: self.import_concurrency,
        })
    }
}

/// Where an import is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    /// The upload is arriving and its rows are being validated.
    Validating,
    /// Valid rows are going upstream.
    Sending,
    /// Every valid row was sent (see `created`, `rejected`, `unconfirmed`).
    Done,
    /// Cancelled by `DELETE`: no chunk started after it.
    Cancelled,
    /// Stopped because ContactNow could not be reached; `resume_from_row` says where to go on.
    Failed,
    /// Stopped by a gateway shutdown; `resume_from_row` says where to go on.
    Interrupted,
}

impl ImportState {
    /// Every state, for metric labels.
    pub const ALL: [ImportState; 6] = [
        ImportState::Validating,
        ImportState::Sending,
        ImportState::Done,
        ImportState::Cancelled,
        ImportState::Failed,
        ImportState::Interrupted,
    ];

    /// Whether the import has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, ImportState::Validating | ImportState::Sending)
    }

    /// The state's name, as serialised and as the `state` metric label.
    pub fn label(self) -> &'static str {
        match self {
            ImportState::Validating => "validating",
            ImportState::Sending => "sending",
            ImportState::Done => "done",
            ImportState::Cancelled => "cancelled",
            ImportState::Failed => "failed",
            ImportState::Interrupted => "interrupted",
        }
    }
}

/// An import, as callers see it. Row numbers count data rows from 1 (a CSV header is not one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "imp_6f1c2a9e5b0d4f63a3d48c2e1b7f9a10", "dataset_id": 100,
    "state": "done", "rows": 1200, "invalid": 3, "sent": 1197, "created": 1197, "rejected": 0,
    "unconfirmed": 0, "resume_from_row": null, "created_at": "2026-11-30T09:12:00Z",
    "finished_at": "2026-11-30T09:12:41Z"}))]
pub struct Import {
    /// The import's id.
    pub id: String,
    /// The dataset the rows go to.
    pub dataset_id: u64,
    /// Where the import is.
    pub state: ImportState,
    /// Data rows this import covers (from `start_row` on), valid or not.
    pub rows: u64,
    /// Rows refused by validation; never sent.
    pub invalid: u64,
    /// Rows sent upstream: `created + rejected + unconfirmed`.
    pub sent: u64,
    /// Rows ContactNow created.
    pub created: u64,
    /// Rows ContactNow refused (see the errors).
    pub rejected: u64,
    /// Rows of chunks whose answer was lost: they may or may not exist upstream, and are never
    /// sent again.
    pub unconfirmed: u64,
    /// When the import stopped early (`interrupted`, `failed`, `cancelled`): the first row never
    /// sent; upload the same file with `?start_row=` this to send the rest.
    pub resume_from_row: Option<u64>,
    /// When the upload started (RFC 3339, UTC).
    pub created_at: String,
    /// When the import ended (RFC 3339, UTC).
    pub finished_at: Option<String>,
}

/// One entry of an import's errors: an invalid row (never sent), or a chunk ContactNow refused
/// rows of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ImportError {
    /// A row refused by validation.
    Row {
        /// The data row, from 1.
        row: u64,
        /// The field concerned (`""` for the row as a whole).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Rows of a chunk (`"501-1000"`), refused or unconfirmed upstream.
    Rows {
        /// The first and last data row of the chunk.
        rows: String,
        /// What happened to them.
        message: String,
    },
}

/// The answer of `GET /imports/{import}/errors`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"errors": [
    {"row": 7, "field": "mobile_phone", "message": "a phone must be 6 to 20 characters long"},
    {"rows": "501-1000", "message": "ContactNow refused 2 of these rows: No phone number provided."}]}))]
pub struct ImportErrors {
    /// Invalid rows first, then chunks, in the order they were found.
    pub errors: Vec<ImportError>,
}

/// How a running import is asked to stop.
#[derive(Debug, Default)]
pub struct StopSignal(AtomicU8);

/// Why a running import stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `DELETE /imports/{import}`.
    Cancelled,
    /// The gateway is shutting down.
    Interrupted,
}

const RUN: u8 = 0;
const CANCEL: u8 = 1;
const INTERRUPT: u8 = 2;

impl StopSignal {
    /// Asks the import to stop; the first reason given wins.
    pub fn stop(&self, reason: StopReason) {
        let value = match reason {
            StopReason::Cancelled => CANCEL,
            StopReason::Interrupted => INTERRUPT,
        };
        let _ = self
            .0
            .compare_exchange(RUN, value, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Why the import should stop, if it should.
    pub fn reason(&self) -> Option<StopReason> {
        match self.0.load(Ordering::SeqCst) {
            CANCEL => Some(StopReason::Cancelled),
            INTERRUPT => Some(StopReason::Interrupted),
            _ => None,
        }
    }
}

struct Running {
    owner: String,
    stop: Arc<StopSignal>,
}

/// The imports of this gateway: the store, the running set and its limits, the upstream client.
pub struct Imports {
    settings: ImportSettings,
    store: ImportStore,
    running: Mutex<HashMap<String, Running>>,
    idle: tokio::sync::watch::Sender<usize>,
    shutting_down: AtomicBool,
    metrics: Arc<Metrics>,
    shared: Option<Arc<redis::RedisImports>>,
}

/// A place among the running imports, taken before an upload is read; given back when dropped.
pub struct Reservation {
    imports: Arc<Imports>,
    /// The import's id.
    pub id: String,
    /// Its stop signal.
    pub stop: Arc<StopSignal>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut running = lock(&self.imports.running);
        running.remove(&self.id);
        self.imports.idle.send_replace(running.len());
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The time now, as the import object shows it.
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Imports {
    /// No imports yet; with `redis`, every import is also kept there for every replica.
    pub fn new(
        settings: ImportSettings,
        metrics: Arc<Metrics>,
        redis: Option<deadpool_redis::Pool>,
    ) -> Self {
        let shared = redis.map(|pool| Arc::new(redis::RedisImports::start(pool)));
        Self {
            settings,
            store: ImportStore::new(metrics.clone(), shared.clone()),
            shared,
            running: Mutex::new(HashMap::new()),
            idle: tokio::sync::watch::Sender::new(0),
            shutting_down: AtomicBool::new(false),
            metrics,
        }
    }

    /// The settings.
    pub fn settings(&self) -> ImportSettings {
        self.settings
    }

    /// The store.
    pub fn store(&self) -> &ImportStore {
        &self.store
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Takes a place for a new import of `owner`: `429` past [`MAX_RUNNING_PER_CALLER`] or
    /// [`MAX_RUNNING_PER_REPLICA`], `503` once the gateway is shutting down.
    pub fn reserve(self: &Arc<Self>, owner: &str) -> Result<Reservation, Error> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(Error::UpstreamUnavailable(
                "the gateway is shutting down".into(),
            ));
        }
        let mut running = lock(&self.running);
        let mine = running.values().filter(|run| run.owner == owner).count();
        if mine >= MAX_RUNNING_PER_CALLER || running.len() >= MAX_RUNNING_PER_REPLICA {
            return Err(Error::TooManyRequests {
                retry_after: RETRY_AFTER_SECONDS,
            });
        }
        let id = format!("imp_{}", uuid::Uuid::new_v4().simple());
        let stop = Arc::new(StopSignal::default());
        running.insert(
            id.clone(),
            Running {
                owner: owner.to_owned(),
                stop: stop.clone(),
            },
        );
        self.idle.send_replace(running.len());
        Ok(Reservation {
            imports: self.clone(),
            id,
            stop,
        })
    }

    /// Asks a running import to stop; `false` when it is not running here.
    pub fn signal(&self, id: &str, reason: StopReason) -> bool {
        match lock(&self.running).get(id) {
            Some(run) => {
                run.stop.stop(reason);
                true
            }
            None => false,
        }
    }

    /// Starts sending the rows spooled for a validated import, in the background.
    pub fn start_sending(
        self: &Arc<Self>,
        client: Arc<ContactNowClient>,
        reservation: Reservation,
        dataset: DatasetId,
        spool: std::fs::File,
    ) {
        let imports = self.clone();
        tokio::spawn(engine::send_all(
            imports,
            client,
            reservation,
            dataset,
            spool,
        ));
    }

    /// SIGTERM: new imports are refused, every running import stops after its chunks in flight
    /// (`interrupted`); returns once none runs, or after `deadline`.
    pub async fn interrupt_all(&self, deadline: Duration) {
        self.shutting_down.store(true, Ordering::SeqCst);
        for run in lock(&self.running).values() {
            run.stop.stop(StopReason::Interrupted);
        }
        let mut idle = self.idle.subscribe();
        let _ = tokio::time::timeout(deadline, idle.wait_for(|running| *running == 0)).await;
        if let Some(shared) = &self.shared {
            shared.flush().await;
        }
    }

    /// Import `id` if `owner` created it: this replica's, else the shared copy's.
    pub async fn find(&self, owner: &str, id: &str) -> Result<Option<Import>, Error> {
        match (self.store.get(owner, id), &self.shared) {
            (Some(import), _) => Ok(Some(import)),
            (None, Some(shared)) => shared.get(owner, id).await,
            (None, None) => Ok(None),
        }
    }

    /// The errors of import `id` if `owner` created it.
    pub async fn find_errors(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<Option<Vec<ImportError>>, Error> {
        match (self.store.errors(owner, id), &self.shared) {
            (Some(errors), _) => Ok(Some(errors)),
            (None, Some(shared)) => shared.errors(owner, id).await,
            (None, None) => Ok(None),
        }
    }

    /// Cancels import `id` of `owner` wherever it runs; answers it as it is now.
    pub async fn cancel(&self, owner: &str, id: &str) -> Result<Option<Import>, Error> {
        let Some(import) = self.find(owner, id).await? else {
            return Ok(None);
        };
        if !import.state.is_final()
            && !self.signal(id, StopReason::Cancelled)
            && let Some(shared) = &self.shared
        {
            shared.cancel(id).await?;
        }
        Ok(Some(import))
    }

    /// Returns once every change made so far is in the shared copy (at once without Redis).
    pub async fn flush_shared(&self) {
        if let Some(shared) = &self.shared {
            shared.flush().await;
        }
    }

    /// Whether import `id` was cancelled on another replica.
    pub async fn cancelled_elsewhere(&self, id: &str) -> bool {
        match &self.shared {
            Some(shared) => shared.cancelled(id).await,
            None => false,
        }
    }

    /// The import an `Idempotency-Key` of `owner` names, if any.
    pub async fn keyed(&self, owner: &str, key: &str) -> Result<Option<String>, Error> {
        match (self.store.keyed(owner, key), &self.shared) {
            (Some(id), _) => Ok(Some(id)),
            (None, Some(shared)) => shared.keyed(owner, key).await,
            (None, None) => Ok(None),
        }
    }

    /// Binds `key` of `owner` to import `id` unless it names one already: then that one.
    pub async fn bind_key(
        &self,
        owner: &str,
        key: &str,
        id: &str,
    ) -> Result<Option<String>, Error> {
        if let Some(shared) = &self.shared
            && let Some(existing) = shared.bind_key(owner, key, id).await?
        {
            return Ok(Some(existing));
        }
        Ok(self.store.bind_key(owner, key, id))
    }

    /// Forgets an import refused before anything was sent, and its key.
    pub async fn forget(&self, owner: &str, key: Option<&str>, id: &str) {
        self.store.remove(id);
        if let (Some(shared), Some(key)) = (&self.shared, key) {
            shared.unbind_key(owner, key).await;
        }
    }
}
