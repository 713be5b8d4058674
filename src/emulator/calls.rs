//! What the emulator has been asked, and what it has been told to get wrong: call counters and
//! the queue of injected faults.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// A fault injected into the next calls (`token.php` and `ecnow.php` both count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 with a short HTML body.
    ServerError,
    /// HTTP 200 with a body that is not valid JSON or XML.
    Garbage,
    /// Sleep this long before answering normally (to trigger client timeouts).
    Stall(Duration),
}

/// Counters of what the emulator has been asked (faulted calls included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// `token.php?action=get`.
    pub token_get: u64,
    /// `token.php?action=validate`.
    pub token_validate: u64,
    /// `ecnow.php` `ecnow_records` `create`.
    pub create: u64,
    /// `ecnow.php` `ecnow_records` `read`.
    pub read: u64,
    /// `ecnow.php` `ecnow_records` `update`.
    pub update: u64,
    /// Anything else: other methods or actions, or none.
    pub other: u64,
}

/// The call counters, one per kind of call.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) token_get: AtomicU64,
    pub(super) token_validate: AtomicU64,
    pub(super) create: AtomicU64,
    pub(super) read: AtomicU64,
    pub(super) update: AtomicU64,
    pub(super) other: AtomicU64,
}

impl Counters {
    /// The counts now.
    pub(super) fn snapshot(&self) -> CallCounts {
        CallCounts {
            token_get: self.token_get.load(Ordering::Relaxed),
            token_validate: self.token_validate.load(Ordering::Relaxed),
            create: self.create.load(Ordering::Relaxed),
            read: self.read.load(Ordering::Relaxed),
            update: self.update.load(Ordering::Relaxed),
            other: self.other.load(Ordering::Relaxed),
        }
    }

    /// Sets every counter back to zero.
    pub(super) fn reset(&self) {
        for counter in [
            &self.token_get,
            &self.token_validate,
            &self.create,
            &self.read,
            &self.update,
            &self.other,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// Faults waiting for the next calls: each with how many calls it still hits.
#[derive(Default)]
pub(super) struct FaultQueue {
    queue: Mutex<VecDeque<(Fault, u32)>>,
    /// Whether the queue holds anything, read without the lock on every call.
    pending: AtomicBool,
}

impl FaultQueue {
    /// Queues `fault` for the next `calls` calls, after the faults already queued.
    pub(super) fn push(&self, fault: Fault, calls: u32) {
        if calls == 0 {
            return;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.push_back((fault, calls));
        self.pending.store(true, Ordering::Release);
    }

    /// Takes the next queued fault, if any.
    pub(super) fn take(&self) -> Option<Fault> {
        if !self.pending.load(Ordering::Acquire) {
            return None;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let (fault, left) = queue.front_mut()?;
        let fault = *fault;
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
        self.pending.store(!queue.is_empty(), Ordering::Release);
        Some(fault)
    }
}
