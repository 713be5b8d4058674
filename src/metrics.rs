//! Prometheus metrics, in a registry of their own (one per gateway instance).
//!
//! Labels carry only bounded values: route templates, status codes, upstream actions and
//! outcomes. Never ids, tokens or free text.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Latency buckets, in seconds: from 0.5 ms to 30 s.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The `method` label of a request: the name of a standard method, else `other`, so that an
/// invented method never becomes a label (the set of labels stays closed).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// The `route` label of an unmatched request.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    in_flight: IntGauge,
    upstream_calls: IntCounterVec,
    upstream_seconds: HistogramVec,
    token_fetches: IntCounterVec,
    token_cache_hits: IntCounter,
    circuit_state: IntGauge,
    upstream_foreign_rows: IntCounter,
    metadata_fetches: IntCounterVec,
    metadata_cache_hits: IntCounter,
    metadata_list_fetches: IntCounterVec,
    metadata_list_cache_hits: IntCounterVec,
    idempotency_keys: IntGauge,
    idempotency_refusals: IntCounterVec,
    imports: IntGaugeVec,
    import_rows: IntCounterVec,
}

/// The `state` labels of `ecnow_gateway_imports`.
const IMPORT_STATES: &[&str] = &[
    "validating",
    "sending",
    "done",
    "cancelled",
    "failed",
    "interrupted",
];
/// The `outcome` labels of `ecnow_gateway_import_rows_total`.
const IMPORT_ROW_OUTCOMES: &[&str] = &["invalid", "created", "rejected", "unconfirmed"];

/// Why a new idempotency key was refused (the `reason` label of
/// `ecnow_gateway_idempotency_refusals_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRefusal {
    /// The caller holds its whole share (`GATEWAY_IDEMPOTENCY_PER_CALLER`).
    CallerQuota,
    /// The store holds `GATEWAY_IDEMPOTENCY_CAPACITY` keys.
    StoreFull,
}

/// Which metadata list a fetch or cache hit is of (the `list` label of
/// `ecnow_gateway_metadata_list_fetches_total` and `…_metadata_list_cache_hits_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataList {
    /// `ecnow_datasets` reads (by filter or id).
    Datasets,
    /// `campaign_tables`.
    CampaignTables,
    /// `campaign_fields` of one table.
    CampaignFields,
    /// `database.php` `outcomecodes`.
    OutcomeCodes,
}

impl MetadataList {
    /// Every list, for exporting each label from the start.
    pub const ALL: [Self; 4] = [
        Self::Datasets,
        Self::CampaignTables,
        Self::CampaignFields,
        Self::OutcomeCodes,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Datasets => "datasets",
            Self::CampaignTables => "campaign_tables",
            Self::CampaignFields => "campaign_fields",
            Self::OutcomeCodes => "outcome_codes",
        }
    }
}

/// How a fetch of a campaign table's dataset list ended (the `outcome` label of
/// `ecnow_gateway_metadata_fetches_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataOutcome {
    /// ContactNow listed the table's datasets.
    Ok,
    /// ContactNow refused the dataset list itself.
    Refused,
    /// The fetch failed on the way (timeout, HTTP error, invalid answer).
    Error,
}

impl MetadataOutcome {
    const ALL: [Self; 3] = [Self::Ok, Self::Refused, Self::Error];

    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Error => "error",
        }
    }
}

impl KeyRefusal {
    fn label(self) -> &'static str {
        match self {
            KeyRefusal::CallerQuota => "caller_quota",
            KeyRefusal::StoreFull => "store_full",
        }
    }
}

fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> C {
    registry
        .register(Box::new(collector.clone()))
        .expect("metric names are unique");
    collector
}

impl Metrics {
    /// A fresh set of metrics.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("ecnow_gateway".into()), None).expect("valid prefix");
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            registered(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()),
                    labels,
                )
                .expect("valid histogram"),
            )
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            registered(
                &registry,
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter"),
            )
        };
        let metrics = Self {
            requests: counter(
                "http_requests_total",
                "HTTP requests answered",
                &["method", "route", "status"],
            ),
            request_seconds: histogram(
                "http_request_duration_seconds",
                "HTTP request latency",
                &["route", "status"],
            ),
            in_flight: registered(
                &registry,
                IntGauge::new("http_requests_in_flight", "HTTP requests being handled")
                    .expect("valid gauge"),
            ),
            upstream_calls: counter(
                "upstream_requests_total",
                "ecnow.php exchanges",
                &["action", "outcome"],
            ),
            upstream_seconds: histogram(
                "upstream_request_duration_seconds",
                "ecnow.php exchange latency",
                &["action", "outcome"],
            ),
            token_fetches: counter(
                "upstream_token_fetches_total",
                "token.php fetches",
                &["outcome"],
            ),
            token_cache_hits: registered(
                &registry,
                IntCounter::new(
                    "upstream_token_cache_hits_total",
                    "Requests served with the cached token",
                )
                .expect("valid counter"),
            ),
            circuit_state: registered(
                &registry,
                IntGauge::new(
                    "upstream_circuit_state",
                    "Upstream circuit breaker: 0 closed, 1 open, 2 probing",
                )
                .expect("valid gauge"),
            ),
            upstream_foreign_rows: registered(
                &registry,
                IntCounter::new(
                    "upstream_foreign_rows_total",
                    "Rows ContactNow answered outside the dataset, table or id read, dropped",
                )
                .expect("valid counter"),
            ),
            metadata_fetches: counter(
                "metadata_fetches_total",
                "ecnow_datasets reads of a campaign table's datasets: ok, refused or error",
                &["outcome"],
            ),
            metadata_cache_hits: registered(
                &registry,
                IntCounter::new(
                    "metadata_cache_hits_total",
                    "Table reads served with a cached dataset list",
                )
                .expect("valid counter"),
            ),
            metadata_list_fetches: counter(
                "metadata_list_fetches_total",
                "Upstream reads of datasets, campaign tables, campaign fields and outcome codes, \
                 by list and outcome (ok, refused, error)",
                &["list", "outcome"],
            ),
            metadata_list_cache_hits: counter(
                "metadata_list_cache_hits_total",
                "Requests served with a cached dataset, campaign table, campaign field or \
                 outcome code list, by list",
                &["list"],
            ),
            idempotency_keys: registered(
                &registry,
                IntGauge::new(
                    "idempotency_keys",
                    "Live idempotency keys in the store (the whole cluster's with Redis)",
                )
                .expect("valid gauge"),
            ),
            idempotency_refusals: counter(
                "idempotency_refusals_total",
                "New idempotency keys refused: caller_quota or store_full",
                &["reason"],
            ),
            imports: registered(
                &registry,
                IntGaugeVec::new(
                    Opts::new("imports", "Imports kept by this replica, by state"),
                    &["state"],
                )
                .expect("valid gauge"),
            ),
            import_rows: counter(
                "import_rows_total",
                "Import rows by outcome: invalid, created, rejected, unconfirmed",
                &["outcome"],
            ),
            registry,
        };
        for state in IMPORT_STATES {
            metrics.imports.with_label_values(&[*state]);
        }
        for outcome in IMPORT_ROW_OUTCOMES {
            metrics.import_rows.with_label_values(&[*outcome]);
        }
        // Both reasons are exported from the start, at zero.
        for reason in [KeyRefusal::CallerQuota, KeyRefusal::StoreFull] {
            metrics
                .idempotency_refusals
                .with_label_values(&[reason.label()]);
        }
        for outcome in MetadataOutcome::ALL {
            metrics
                .metadata_fetches
                .with_label_values(&[outcome.label()]);
        }
        for list in MetadataList::ALL {
            metrics
                .metadata_list_cache_hits
                .with_label_values(&[list.label()]);
            for outcome in MetadataOutcome::ALL {
                metrics
                    .metadata_list_fetches
                    .with_label_values(&[list.label(), outcome.label()]);
            }
        }
        metrics
    }

    /// Moves one import from state `from` to state `to` (`None`: it appears or is dropped).
    /// Labels outside the closed set are ignored.
    pub fn import_state(&self, from: Option<&str>, to: Option<&str>) {
        if let Some(from) = from.filter(|state| IMPORT_STATES.contains(state)) {
            self.imports.with_label_values(&[from]).dec();
        }
        if let Some(to) = to.filter(|state| IMPORT_STATES.contains(state)) {
            self.imports.with_label_values(&[to]).inc();
        }
    }

    /// Counts import rows of an outcome (`invalid`, `created`, `rejected`, `unconfirmed`);
    /// other labels are ignored.
    pub fn import_rows(&self, outcome: &str, rows: u64) {
        if IMPORT_ROW_OUTCOMES.contains(&outcome) {
            self.import_rows.with_label_values(&[outcome]).inc_by(rows);
        }
    }

    /// Counts a request as in flight until the answer is dropped: whether the request was
    /// answered, failed or cancelled (the caller went away), the gauge comes back down.
    #[must_use = "the request stays in flight until the guard is dropped"]
    pub fn request_started(&self) -> InFlightRequest {
        self.in_flight.inc();
        InFlightRequest(self.in_flight.clone())
    }

    /// Records an answered request. `route` is a route template (never the request's path) or
    /// [`UNMATCHED_ROUTE`].
    pub fn request_finished(
        &self,
        method: &Method,
        route: &str,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let status = status.as_str();
        self.requests
            .with_label_values(&[method_label(method), route, status])
            .inc();
        self.request_seconds
            .with_label_values(&[route, status])
            .observe(elapsed.as_secs_f64());
    }

    /// Records one upstream exchange.
    pub fn upstream_call(&self, action: &str, outcome: &str, elapsed: Duration) {
        self.upstream_calls
            .with_label_values(&[action, outcome])
            .inc();
        self.upstream_seconds
            .with_label_values(&[action, outcome])
            .observe(elapsed.as_secs_f64());
    }

    /// Records a token fetch (`ok` or `error`).
    pub fn token_fetch(&self, outcome: &str) {
        self.token_fetches.with_label_values(&[outcome]).inc();
    }

    /// Records a request served with the cached token.
    pub fn token_cache_hit(&self) {
        self.token_cache_hits.inc();
    }

    /// Sets the circuit breaker state (0 closed, 1 open, 2 probing).
    pub fn set_circuit_state(&self, state: i64) {
        self.circuit_state.set(state);
    }

    /// Counts rows of a read answer that were outside the dataset, table or id asked for,
    /// dropped.
    pub fn upstream_foreign_rows(&self, rows: u64) {
        self.upstream_foreign_rows.inc_by(rows);
    }

    /// Counts a fetch of a campaign table's dataset list.
    pub fn metadata_fetch(&self, outcome: MetadataOutcome) {
        self.metadata_fetches
            .with_label_values(&[outcome.label()])
            .inc();
    }

    /// Counts a table read served with a cached dataset list.
    pub fn metadata_cache_hit(&self) {
        self.metadata_cache_hits.inc();
    }

    /// Counts an upstream read of a metadata list.
    pub fn metadata_list_fetch(&self, list: MetadataList, outcome: MetadataOutcome) {
        self.metadata_list_fetches
            .with_label_values(&[list.label(), outcome.label()])
            .inc();
    }

    /// Counts a request served with a cached metadata list.
    pub fn metadata_list_cache_hit(&self, list: MetadataList) {
        self.metadata_list_cache_hits
            .with_label_values(&[list.label()])
            .inc();
    }

    /// Sets the number of live idempotency keys.
    pub fn set_idempotency_keys(&self, keys: usize) {
        self.idempotency_keys
            .set(i64::try_from(keys).unwrap_or(i64::MAX));
    }

    /// Counts a new idempotency key refused for `reason`.
    pub fn idempotency_refused(&self, reason: KeyRefusal) {
        self.idempotency_refusals
            .with_label_values(&[reason.label()])
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding of gathered metrics");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

/// A request counted in `ecnow_gateway_http_requests_in_flight` while this lives.
#[derive(Debug)]
pub struct InFlightRequest(IntGauge);

impl Drop for InFlightRequest {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
