//! Black-box API tests: the gateway on port 0, spoken to over HTTP, against the emulator or a
//! wiremock upstream. One binary, so linking is paid once.

mod auth;
mod campaign_fields_checks;
mod cli;
mod cluster;
mod containment;
mod cors;
mod datasets_write;
mod dialler;
mod doctor;
mod faults;
mod hardening;
mod helpers;
mod idempotency;
mod idempotency_review;
mod imports;
mod logs;
mod metadata;
mod openapi;
mod operations;
mod quotas;
mod record_checks;
mod records;
mod redteam_edge;
mod review;
mod sandbox;
mod tokens;
mod validation;
mod wire;
