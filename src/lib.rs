//! ecnow-gateway: clean REST over the 8x8 ContactNow record API.
//!
//! # Layout
//! - [`config`]: typed settings from the environment.
//! - [`startup`]: [`startup::Application`] — build (bind) and run.
//! - [`lifecycle`]: whether the gateway is draining (set by `startup`, read by `/readyz`).
//! - [`telemetry`]: log subscriber, request span and request id.
//! - [`request_id`]: the id of the request being handled (a task-local both the middleware and
//!   the error answers use).
//! - [`error`]: the one [`error::Error`] type and its problem+json body.
//! - [`cors`]: which browser origins may call, and their CORS headers.
//! - [`auth`]: who the caller is and what it may touch: JWKS, verification and its cache, the
//!   caller extractor, the rate limit, dev-token minting, one file each.
//! - [`metrics`]: Prometheus metrics of one instance.
//! - [`otel`]: OpenTelemetry trace export (OTLP) and the caller's `traceparent`.
//! - [`idempotency`]: `Idempotency-Key` on writes: the key, the fingerprint, the stored
//!   [`idempotency::Reply`], the key's states, and its store (memory or Redis).
//! - [`cluster`]: the Redis shared by replicas (its URL, pool, hashed keys, scripts).
//! - [`imports`]: bulk imports (streaming validation, chunked sending, the `import` command).
//! - [`api`]: handlers (`records`: create, reads, updates), the problem responses they list,
//!   and the OpenAPI document (`constraints` states the domain's own bounds and patterns).
//! - [`domain`]: the column table (one line per column gives `Column` and `Record`), parsed
//!   ids and values, writes and read filters.
//! - [`upstream`]: the ContactNow client (token cache, query building, transport, typed
//!   outcomes, concurrency slots) and its wire, one job per file (envelope in JSON/XML, rows,
//!   payloads); [`upstream::sent`] tells the runner of a write that it reached ContactNow.
//! - [`emulator`]: the in-memory ContactNow behind `sandbox` and the tests.
//! - [`cli`]: the commands of the binary.
//! - [`doctor`]: `ecnow-gateway doctor`, the end-to-end check of a configuration.
//! - [`fuzzing`]: the untrusted-input parsers, for fuzz targets and property tests.
//!
//! Data flows one way: `api` → `domain` → `upstream` → wire. `api` never sees wire names,
//! `upstream` never sees HTTP request types, and `emulator` shares no code with `upstream`.
//! Nothing calls back up: `upstream` reports a sent write through a notifier that
//! `idempotency` installs, `api` reads the drain state from `lifecycle`, not from `startup`.

pub mod api;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod cors;
pub mod doctor;
pub mod domain;
pub mod emulator;
pub mod error;
pub mod fuzzing;
pub mod idempotency;
pub mod imports;
pub mod lifecycle;
pub mod metrics;
pub mod otel;
pub mod request_id;
pub mod startup;
pub mod telemetry;
pub mod upstream;
