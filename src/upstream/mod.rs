//! The ContactNow client: one pooled HTTP client, the token cache, and the translation of
//! domain calls into `ecnow.php` exchanges.
//!
//! Layout:
//! - [`wire`]: the upstream's spelling, one job per file: the envelope (JSON and XML), read
//!   rows → [`crate::domain::Record`], write payloads.
//! - [`query`]: read arguments and the URL of an exchange.
//! - [`breaker`]: the circuit breaker; [`slots`]: the concurrency budget.
//! - `outcome`: the typed results of the calls ([`CreateOutcome`], [`Created`], …).
//! - `token`: the moka token cache; [`metadata`]: the moka cache of each campaign table's
//!   datasets.
//! - `transport`: one request through the breaker, read whole or refused.
//! - here: [`ContactNowClient`] and the typed outcomes of its calls.
//! - `catalog`: the metadata reads (datasets, campaign tables and fields, outcome codes),
//!   parsed and cached.
//! - [`sent`]: tells whoever runs a write (the idempotency layer) that it reached ContactNow;
//!   this client imports none of its callers.
//!
//! Every value goes into the query string through form encoding, so nothing a caller sends can
//! add or change an argument. URLs carry the token and are never logged: reqwest errors are
//! stripped of them before they become an [`Error`].

pub mod breaker;
mod catalog;
pub mod metadata;
pub mod query;
pub mod sent;
pub mod slots;
pub mod wire;

mod outcome;
mod probe;
mod token;
mod transport;
use transport::Failure;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;
use url::Url;

use crate::domain::{
    DatasetId, NewRecord, ReadFilter, RecordId, RecordPatch, Source, TableName, UpdateTarget,
};
use crate::error::Error;
use crate::metrics::{MetadataOutcome, Metrics};
use breaker::{Breaker, BreakerSettings};
pub use catalog::{DatasetCheck, OutcomeCheck};
use metadata::{MetadataCache, TableDatasets};
pub use outcome::{CreateOutcome, Created, RecordPage, UpdateOutcome};
use outcome::{data_error, is_live};
pub use probe::TokenProbe;
pub use token::AUTH_RETRY_INTERVAL;
use token::{Token, TokenCache};
pub use wire::WireFormat;
use wire::{Envelope, ListItem, ReadRecord};

/// The environment variables reqwest takes a proxy from (upper and lower case).
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The largest upstream answer read, in bytes.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// How to reach and authenticate to ContactNow.
#[derive(Clone, Debug)]
pub struct UpstreamSettings {
    /// Base URL; `token.php` and `ecnow.php` are resolved beside it (`CONTACTNOW_BASE_URL`).
    pub base_url: Url,
    /// API user name (`CONTACTNOW_USERNAME`).
    pub username: String,
    /// API key (`CONTACTNOW_API_KEY`).
    pub api_key: SecretString,
    /// Wire format (`CONTACTNOW_FORMAT`).
    pub format: WireFormat,
    /// Deadline of one upstream exchange (`CONTACTNOW_TIMEOUT_MS`).
    pub timeout: Duration,
    /// The most exchanges in flight at once (`CONTACTNOW_MAX_CONCURRENCY`).
    pub max_concurrency: usize,
    /// How long an exchange waits for one of those slots (`CONTACTNOW_QUEUE_TIMEOUT_MS`).
    pub queue_timeout: Duration,
    /// The circuit breaker.
    pub breaker: BreakerSettings,
    /// How long a campaign table's dataset list is kept (`GATEWAY_METADATA_TTL_SECONDS`).
    pub metadata_ttl: Duration,
}

/// What a table read does when ContactNow refuses the list of the table's datasets, so that
/// its rows cannot be checked against the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UncheckedTable {
    /// Keep the rows unchecked: for a caller that may read every table anyway.
    Show,
    /// Refuse the read ([`Error::TableUnchecked`], nothing shown): for a caller limited to
    /// tables.
    Refuse,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Create,
    Read,
    Update,
}

impl Action {
    /// Every action, in declaration order (`action as usize` indexes it).
    const ALL: [Action; 3] = [Action::Create, Action::Read, Action::Update];

    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
        }
    }
}

/// The script an exchange calls.
#[derive(Clone, Copy, Debug)]
enum Script {
    /// `ecnow.php`: records, datasets, campaign tables and fields.
    Ecnow,
    /// `database.php`: account configuration (outcome codes).
    Database,
}

/// What one exchange produced.
enum Answer<L> {
    Envelope(Envelope<L>),
    TokenRejected,
    /// An envelope with `success` false: the upstream's error text.
    Refused(String),
}

/// The typed client of ContactNow's `token.php` and `ecnow.php`.
pub struct ContactNowClient {
    http: reqwest::Client,
    token_url: Url,
    ecnow_url: Url,
    database_url: Url,
    username: String,
    api_key: SecretString,
    format: WireFormat,
    tokens: TokenCache,
    tables: MetadataCache,
    metrics: Arc<Metrics>,
    slots: slots::Slots,
    queue_timeout: Duration,
    breaker: Breaker,
}

impl ContactNowClient {
    /// Builds the client: one pooled connection set, no redirects, the exchange deadline.
    pub fn new(settings: &UpstreamSettings, metrics: Arc<Metrics>) -> Result<Self, Error> {
        let mut http = reqwest::Client::builder();
        if !PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some())
        {
            // No proxy is configured: skip reqwest's per-request proxy matching. (On Linux these
            // variables are where reqwest takes proxies from; with one set, proxies work as before.)
            http = http.no_proxy();
        }
        let http = http
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("ecnow-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Internal(format!("HTTP client: {}", e.without_url())))?;
        let resolve = |script: &str| {
            settings
                .base_url
                .join(script)
                .map_err(|e| Error::Internal(format!("CONTACTNOW_BASE_URL: {e}")))
        };
        Ok(Self {
            http,
            token_url: resolve("token.php")?,
            ecnow_url: resolve("ecnow.php")?,
            database_url: resolve("database.php")?,
            username: settings.username.clone(),
            api_key: settings.api_key.clone(),
            format: settings.format,
            tokens: TokenCache::new(),
            tables: MetadataCache::new(settings.metadata_ttl),
            metrics,
            slots: slots::Slots::new(settings.max_concurrency),
            queue_timeout: settings.queue_timeout,
            breaker: Breaker::new(settings.breaker),
        })
    }

    /// Whether an upstream token is held now.
    pub fn holds_token(&self) -> bool {
        self.tokens.holds_token()
    }

    /// Whether the circuit breaker is open: the upstream is known to be unreachable now.
    pub fn upstream_known_down(&self) -> bool {
        self.breaker.is_open()
    }

    /// Makes sure a token is held, fetching one if needed.
    pub async fn ensure_token(&self) -> Result<(), Error> {
        self.token().await.map(|_| ())
    }

    /// Creates records in `dataset` with one `create` exchange: the upstream's counts, whatever
    /// it refused.
    #[tracing::instrument(name = "upstream create", skip_all, fields(dataset = %dataset, records = records.len()))]
    pub async fn create(
        &self,
        dataset: DatasetId,
        records: &[NewRecord],
    ) -> Result<CreateOutcome, Error> {
        let body = wire::create_payload(dataset, records, self.format);
        let envelope: Envelope = self.exchange(Action::Create, &[], Some(body)).await?;
        let created = envelope.total.unwrap_or(0);
        let rejected = envelope.bad.unwrap_or(0);
        if created + rejected == 0 && envelope.error.is_none() {
            return Err(Error::UpstreamFailed("create answered no counts".into()));
        }
        Ok(CreateOutcome {
            created,
            rejected,
            key: envelope
                .key
                .filter(|key| *key > 0)
                .and_then(|key| RecordId::try_from(key).ok()),
            live: is_live(envelope.info.as_deref()),
            info: envelope.info,
            error: envelope.error,
        })
    }

    /// Creates one record in `dataset`: its id, or the error the upstream's refusal stands for
    /// (404 for a dataset that does not exist, else 422).
    pub async fn create_one(
        &self,
        dataset: DatasetId,
        record: &NewRecord,
    ) -> Result<Created, Error> {
        let outcome = self.create(dataset, std::slice::from_ref(record)).await?;
        if outcome.created != 1 || outcome.rejected > 0 {
            return Err(data_error(
                outcome
                    .error
                    .unwrap_or_else(|| "ContactNow refused the record".into()),
            ));
        }
        let id = outcome
            .key
            .ok_or_else(|| Error::UpstreamFailed("create answered no key".into()))?;
        Ok(Created {
            id,
            live: outcome.live,
            info: outcome.info,
        })
    }

    /// Reads records of a dataset or table, optionally one id, as [`crate::domain::Record`]s
    /// or as their JSON ([`wire::RecordJson`], written while the answer is parsed).
    ///
    /// The upstream's filters are not trusted (an `id` search overrides the others): a row of
    /// another dataset than a dataset read's, of a dataset outside a table read's table (its
    /// datasets come from [`Self::table_datasets`]), or of another id than an id read's, is
    /// dropped, logged and counted (`upstream_foreign_rows_total`), and `total` is lowered by
    /// the rows dropped. When ContactNow refuses a table's dataset list, `unchecked` decides:
    /// the rows are kept, or the read is refused before it is sent.
    #[tracing::instrument(name = "upstream read", skip_all)]
    pub async fn read<R: ReadRecord>(
        &self,
        source: &Source,
        id: Option<RecordId>,
        filter: &ReadFilter,
        unchecked: UncheckedTable,
    ) -> Result<RecordPage<R>, Error> {
        let args = query::read_arguments(source, id, filter);
        query::check_url_budget(&self.ecnow_url, self.format, &args)?;
        let table_datasets = match source {
            Source::Dataset(_) => None,
            Source::Table(table) => match &*self.table_datasets(table).await? {
                TableDatasets::Known(datasets) => Some(datasets.clone()),
                TableDatasets::Refused => match unchecked {
                    UncheckedTable::Show => None,
                    UncheckedTable::Refuse => {
                        return Err(Error::TableUnchecked(table.to_string()));
                    }
                },
            },
        };
        let envelope = self.exchange::<R::Item>(Action::Read, &args, None).await?;
        let mut records = envelope
            .list
            .unwrap_or_default()
            .into_iter()
            .map(R::from_item)
            .collect::<Result<Vec<R>, Error>>()?;
        let returned = records.len();
        records.retain(|record| {
            let in_source = match (source, &table_datasets) {
                (Source::Dataset(dataset), _) => record.dataset_id() == dataset.get(),
                (Source::Table(_), Some(datasets)) => datasets.contains(&record.dataset_id()),
                (Source::Table(_), None) => true,
            };
            in_source && id.is_none_or(|id| record.id() == id.get())
        });
        let foreign = (returned - records.len()) as u64;
        if foreign > 0 {
            tracing::warn!(
                foreign,
                "ContactNow answered a read with rows outside what was asked; they were dropped"
            );
            self.metrics.upstream_foreign_rows(foreign);
        }
        let total = envelope
            .total
            .unwrap_or(returned as u64)
            .saturating_sub(foreign)
            .max(records.len() as u64);
        Ok(RecordPage { total, records })
    }

    /// Updates record `id` in `target`.
    #[tracing::instrument(name = "upstream update", skip_all, fields(id = %id))]
    pub async fn update(
        &self,
        id: RecordId,
        target: &UpdateTarget,
        patch: &RecordPatch,
    ) -> Result<UpdateOutcome, Error> {
        let body = wire::update_payload(id, target, patch, self.format);
        let envelope: Envelope = self
            .exchange(Action::Update, &[("id".into(), id.to_string())], Some(body))
            .await?;
        if envelope.bad.unwrap_or(0) > 0 || (envelope.total == Some(0) && envelope.error.is_some())
        {
            let message = envelope
                .error
                .unwrap_or_else(|| "the update was refused".into());
            return Err(data_error(message));
        }
        Ok(UpdateOutcome {
            live: is_live(envelope.info.as_deref()),
            info: envelope.info,
        })
    }

    /// The datasets of campaign `table`, from the metadata cache or one `ecnow_datasets` read
    /// with `table=` (shared by every request that asks meanwhile). An envelope error is
    /// [`TableDatasets::Refused`] (kept like an answer); a fault on the way is an error.
    pub async fn table_datasets(&self, table: &TableName) -> Result<Arc<TableDatasets>, Error> {
        let fetch = move || async move {
            let result = self.fetch_table_datasets(table).await;
            self.metrics.metadata_fetch(match &result {
                Ok(TableDatasets::Known(_)) => MetadataOutcome::Ok,
                Ok(TableDatasets::Refused) => MetadataOutcome::Refused,
                Err(_) => MetadataOutcome::Error,
            });
            result
        };
        let (datasets, fetched) = self.tables.get(table, fetch).await?;
        if !fetched {
            self.metrics.metadata_cache_hit();
        }
        Ok(datasets)
    }

    #[tracing::instrument(name = "upstream table datasets", skip_all)]
    async fn fetch_table_datasets(&self, table: &TableName) -> Result<TableDatasets, Error> {
        let args = [("table".into(), table.to_string())];
        match self
            .exchange_answer(
                Script::Ecnow,
                query::DATASETS_METHOD,
                Action::Read,
                &args,
                None,
            )
            .await?
        {
            Ok(envelope) => TableDatasets::from_rows(envelope.list),
            Err(refusal) => {
                tracing::warn!(
                    refusal,
                    "ContactNow refused the dataset list of a campaign table: its rows cannot \
                     be checked against it"
                );
                Ok(TableDatasets::Refused)
            }
        }
    }

    /// The cached token (a hit builds no fetch future), or [`Self::fetched_token`], boxed so
    /// that every exchange's future stays the size of a hit.
    async fn token(&self) -> Result<Token, Error> {
        if let Some(token) = self.tokens.cached().await {
            self.metrics.token_cache_hit();
            return Ok(token);
        }
        Box::pin(self.fetched_token()).await
    }

    /// The token after a miss: one shared `token.php` fetch for every concurrent caller.
    async fn fetched_token(&self) -> Result<Token, Error> {
        let fetched = std::sync::atomic::AtomicBool::new(false);
        let fetch = async {
            fetched.store(true, std::sync::atomic::Ordering::Relaxed);
            let result = self.fetch_token().await;
            self.metrics
                .token_fetch(if result.is_ok() { "ok" } else { "error" });
            result
        };
        let token = self.tokens.get(fetch).await;
        if token.is_ok() && !fetched.load(std::sync::atomic::Ordering::Relaxed) {
            self.metrics.token_cache_hit();
        }
        token
    }

    /// The `token.php` request for the configured credentials (its query carries the API key).
    fn token_request_url(&self) -> Url {
        let mut url = self.token_url.clone();
        url.query_pairs_mut()
            .append_pair("action", "get")
            .append_pair("username", &self.username)
            .append_pair("password", self.api_key.expose_secret())
            .append_pair("format", self.format.as_str());
        url
    }

    #[tracing::instrument(name = "upstream token", skip_all)]
    async fn fetch_token(&self) -> Result<(String, i64), Error> {
        let url = self.token_request_url();
        let body = match self.send_judged(self.http.get(url)).await {
            Ok(body) => body,
            // token.php takes nothing but the credentials: an HTTP 401/403 refuses them, and is
            // remembered by the token cache like a `success:false`.
            Err(Failure::Refused(status, _))
                if matches!(
                    status,
                    reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN
                ) =>
            {
                return Err(refused_credentials(&format!("HTTP {status}")));
            }
            Err(Failure::Unavailable(error) | Failure::Refused(_, error)) => {
                return Err(match error {
                    Error::UpstreamTimeout | Error::UpstreamFailed(_) => {
                        Error::UpstreamUnavailable(format!("token endpoint: {error}"))
                    }
                    other => other,
                });
            }
        };
        let envelope: Envelope = Envelope::parse(self.format, &body)?;
        match (envelope.success, envelope.token, envelope.expire) {
            (true, Some(token), Some(expire)) => Ok((token, expire)),
            (true, _, _) => Err(Error::UpstreamFailed(
                "token answer without token or expire".into(),
            )),
            (false, _, _) => Err(refused_credentials(&envelope.error.unwrap_or_default())),
        }
    }

    /// One `ecnow.php` call with the cached token; a token the upstream rejects is dropped,
    /// a new one fetched, and the call retried once.
    ///
    /// The body is shared, not copied, for the retry; the token lookup and each exchange are
    /// boxed so that a handler's future holds a pointer to them rather than their whole state
    /// (which would be copied with the future on every move).
    async fn exchange<L: ListItem>(
        &self,
        action: Action,
        args: &[(Cow<'_, str>, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Envelope<L>, Error> {
        self.exchange_answer(Script::Ecnow, query::RECORDS_METHOD, action, args, body)
            .await?
            .map_err(|refusal| refusal_error(action, refusal))
    }

    /// One `ecnow.php` call of `method`, as [`Self::exchange`]: the envelope, or the error text
    /// of an envelope with `success` false.
    async fn exchange_answer<L: ListItem>(
        &self,
        script: Script,
        method: &str,
        action: Action,
        args: &[(Cow<'_, str>, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Result<Envelope<L>, String>, Error> {
        let body = body.map(Bytes::from);
        let token = self.token().await?;
        match Box::pin(self.exchange_with(&token, script, method, action, args, body.clone()))
            .await?
        {
            Answer::Envelope(envelope) => return Ok(Ok(envelope)),
            Answer::Refused(refusal) => return Ok(Err(refusal)),
            Answer::TokenRejected => {
                tracing::info!(
                    action = action.as_str(),
                    "upstream rejected the token; refreshing it once"
                );
                self.tokens.drop_rejected(&token).await;
            }
        }
        let token = self.token().await?;
        match Box::pin(self.exchange_with(&token, script, method, action, args, body)).await? {
            Answer::Envelope(envelope) => Ok(Ok(envelope)),
            Answer::Refused(refusal) => Ok(Err(refusal)),
            Answer::TokenRejected => Err(Error::UpstreamUnavailable(
                "a fresh token was rejected too".into(),
            )),
        }
    }

    async fn exchange_with<L: ListItem>(
        &self,
        token: &Token,
        script: Script,
        method: &str,
        action: Action,
        args: &[(Cow<'_, str>, String)],
        body: Option<Bytes>,
    ) -> Result<Answer<L>, Error> {
        let queued = std::time::Instant::now();
        let _slot = self.slot().await.inspect_err(|_| {
            self.metrics
                .upstream_call(action.as_str(), "busy", queued.elapsed())
        })?;
        // A records call starts from its token's URL for the action (the common arguments
        // encoded once per token); any other call encodes them all.
        let url = if matches!(script, Script::Ecnow) && method == query::RECORDS_METHOD {
            let urls = token.records_urls(|token| {
                Action::ALL.map(|action| {
                    query::ecnow_url(
                        &self.ecnow_url,
                        token,
                        method,
                        action.as_str(),
                        self.format,
                        &[],
                    )
                })
            });
            query::with_arguments(urls[action as usize].clone(), args)
        } else {
            let base = match script {
                Script::Ecnow => &self.ecnow_url,
                Script::Database => &self.database_url,
            };
            query::ecnow_url(
                base,
                token.expose(),
                method,
                action.as_str(),
                self.format,
                args,
            )
        };
        let request = match body {
            Some(body) => {
                let content_type = match self.format {
                    WireFormat::Json => "application/json",
                    WireFormat::Xml => "application/xml",
                };
                self.http
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(body)
            }
            None => self.http.get(url),
        };
        let span = tracing::info_span!(
            "upstream",
            action = action.as_str(),
            outcome = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        let answer = async {
            if !matches!(action, Action::Read) {
                sent::notify_write_sent();
            }
            let body = self.send(request).await?;
            Ok(classify(Envelope::parse(self.format, &body)?))
        }
        .instrument(span.clone())
        .await;
        let outcome = match &answer {
            Ok(Answer::Envelope(envelope))
                if envelope.bad.unwrap_or(0) > 0 || envelope.error.is_some() =>
            {
                "partial"
            }
            Ok(Answer::Envelope(_)) => "ok",
            Ok(Answer::TokenRejected) => "token_refresh",
            Ok(Answer::Refused(_)) => "error",
            Err(Error::UpstreamTimeout) => "timeout",
            Err(_) => "error",
        };
        let elapsed = started.elapsed();
        span.record("outcome", outcome);
        span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
        span.in_scope(|| tracing::debug!(outcome, "upstream exchange"));
        self.metrics
            .upstream_call(action.as_str(), outcome, elapsed);
        answer
    }

    /// Makes the `CONTACTNOW_MAX_CONCURRENCY` budget hold for the whole cluster, as leases in
    /// the shared Redis that expire `exchange_deadline` plus a margin after they are taken.
    pub fn share_slots(&mut self, pool: deadpool_redis::Pool, exchange_deadline: Duration) {
        self.slots.share(pool, exchange_deadline);
    }

    /// One of the `CONTACTNOW_MAX_CONCURRENCY` upstream slots (of this replica, or of the
    /// cluster with Redis), waited for at most `CONTACTNOW_QUEUE_TIMEOUT_MS` (a cold burst
    /// queues instead of failing).
    async fn slot(&self) -> Result<slots::Slot<'_>, Error> {
        self.slots.acquire(self.queue_timeout).await
    }
}

/// `token.php` refused the API credentials (it takes nothing else, so any refusal is theirs):
/// logged, and remembered by the token cache.
fn refused_credentials(reason: &str) -> Error {
    tracing::error!(
        reason,
        "ContactNow refused the API credentials: check CONTACTNOW_USERNAME and CONTACTNOW_API_KEY"
    );
    Error::UpstreamAuthFailed(format!("token endpoint refused: {reason}"))
}

/// Reads an envelope: success, a rejected token (to refresh), or the error it names.
fn classify<L>(envelope: Envelope<L>) -> Answer<L> {
    if envelope.success {
        return Answer::Envelope(envelope);
    }
    let error = envelope.error.unwrap_or_default();
    if ["Expired token", "Invalid token", "Unknown token"]
        .iter()
        .any(|known| error.eq_ignore_ascii_case(known))
    {
        return Answer::TokenRejected;
    }
    Answer::Refused(error)
}

/// The error a record exchange's refusal stands for.
fn refusal_error(action: Action, error: String) -> Error {
    if error.contains("does not exist") {
        Error::NotFound(error)
    } else if let Some(column) = error.strip_prefix("Bad argument: search[") {
        // A search on a column the account does not have: the caller's mistake.
        Error::bad_field(format!("search[{column}"), "ContactNow has no such column")
    } else {
        Error::UpstreamFailed(format!("{} refused: {error}", action.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::Column;

    #[test]
    fn columns_have_lower_case_write_names() {
        assert_eq!(Column::FirstName.write_name(), "firstname");
        assert_eq!(Column::MobilePhone.write_name(), "mobilephone");
        for (index, column) in Column::ALL.into_iter().enumerate() {
            assert_eq!(column as usize, index, "{column:?}");
            assert_eq!(column.write_name(), column.read_name().to_lowercase());
        }
        assert_eq!(Column::CallbackAt.read_name(), "callback");
    }
}
