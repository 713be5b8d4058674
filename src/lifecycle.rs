//! The gateway's life as the handlers see it: whether it is draining. Built by
//! [`startup`](crate::startup), read by `/readyz`; it depends on neither.

use std::sync::atomic::{AtomicBool, Ordering};

/// The gateway's life: whether it is draining.
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: AtomicBool,
}

impl Lifecycle {
    /// Whether a stop was asked and in-flight requests are draining.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Marks the gateway as draining, for good.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}
