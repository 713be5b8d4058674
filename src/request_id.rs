//! The id of the request being handled, carried in a task-local from the request middleware
//! ([`telemetry::request_context`](crate::telemetry::request_context)) to whatever answers it
//! (problem bodies, stored replies). Imports nothing of the crate, so both sides depend on it and
//! not on each other.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `handling` with `id` as the current request id.
pub async fn scope<F: Future>(id: String, handling: F) -> F::Output {
    REQUEST_ID.scope(id, handling).await
}

/// The id of the request being handled, or `""` outside a request.
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}
