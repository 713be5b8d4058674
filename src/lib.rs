//! ecnow-gateway: clean REST over the 8x8 ContactNow record API.
//!
//! # Layout
//! - [`config`]: typed settings from the environment.
//! - [`startup`]: [`startup::Application`] — build (bind) and run.
//! - [`telemetry`]: log subscriber, request span and request id.
//! - [`error`]: the one [`error::Error`] type and its problem+json body.
//! - [`cors`]: which browser origins may call, and their CORS headers.
//! - [`auth`]: the JWT extractor, key source, scopes and grants.
//! - [`metrics`]: Prometheus metrics of one instance.
//! - [`otel`]: OpenTelemetry trace export (OTLP) and the caller's `traceparent`.
//! - [`idempotency`]: `Idempotency-Key` on writes (memory or Redis store).
//! - [`cluster`]: the Redis shared by replicas (idempotency keys, cluster-wide limits).
//! - [`imports`]: bulk imports (streaming validation, chunked sending, the `import` command).
//! - [`api`]: handlers (`records`: create, reads, updates), the problem responses they list,
//!   and the OpenAPI document (`constraints` states the domain's own bounds and patterns).
//! - [`domain`]: the column table (one line per column gives `Column` and `Record`), parsed
//!   ids and values, writes and read filters.
//! - [`upstream`]: the ContactNow client (token cache, query building, transport, typed
//!   outcomes) and its wire, one job per file (envelope in JSON/XML, rows, payloads).
//! - [`emulator`]: the in-memory ContactNow behind `sandbox` and the tests.
//! - [`cli`]: the commands of the binary.
//! - [`doctor`]: `ecnow-gateway doctor`, the end-to-end check of a configuration.
//! - [`fuzzing`]: the untrusted-input parsers, for fuzz targets and property tests.
//!
//! Data flows one way: `api` → `domain` → `upstream` → wire. `api` never sees wire names,
//! `upstream` never sees HTTP request types, and `emulator` shares no code with `upstream`.

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
pub mod metrics;
pub mod otel;
pub mod startup;
pub mod telemetry;
pub mod upstream;
