//! Who is told that a write is about to reach ContactNow.
//!
//! The client knows when it sends a write; whoever runs the write (the idempotency layer) needs
//! to know whether it did, to tell a write that failed before anything was sent (safe to retry)
//! from one whose outcome is unknown. The client calls [`notify_write_sent`]; the runner wraps
//! the write in [`SentNotifier::watch`] with its own callback. Without a watcher, nothing
//! happens. The client therefore depends on no caller.

use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    /// The notifier of the write running on this task, if any.
    static WATCHER: SentNotifier;
}

/// A callback told when a write running under [`Self::watch`] is about to be sent upstream
/// (possibly more than once: a retried exchange tells again).
#[derive(Clone)]
pub struct SentNotifier(Arc<dyn Fn() + Send + Sync>);

impl SentNotifier {
    /// A notifier that calls `on_sent`.
    pub fn new(on_sent: impl Fn() + Send + Sync + 'static) -> Self {
        Self(Arc::new(on_sent))
    }

    /// Runs `write`; every [`notify_write_sent`] within it calls this notifier.
    pub async fn watch<F: Future>(self, write: F) -> F::Output {
        WATCHER.scope(self, write).await
    }
}

impl std::fmt::Debug for SentNotifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SentNotifier")
    }
}

/// Tells the watcher of the running write (if any) that it is about to reach the upstream.
pub fn notify_write_sent() {
    let _ = WATCHER.try_with(|notifier| (notifier.0)());
}
