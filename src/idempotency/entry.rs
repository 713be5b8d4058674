//! The state of a key: what the store holds for it, what a new request with it meets, and what
//! the end of its write leaves.
//!
//! ```text
//! (none) --reserve--> InFlight --final answer--> Done     (replayed to the same request)
//!                        |  \---maybe sent-----> Unknown  (409: the outcome is unknown)
//!                        \--error before sent--> (none) (released: a retry runs)
//! ```

use serde::{Deserialize, Serialize};

use super::reply::Reply;
use crate::error::Error;

/// What the store holds for a key. Stored as JSON in Redis: the shape is part of what replicas
/// of different versions share.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(super) enum Entry {
    /// The first write is running, under the reservation `reservation` (unique per request):
    /// only the request that reserved the key releases it.
    InFlight {
        fingerprint: String,
        #[serde(default)]
        reservation: String,
    },
    /// The first write ended with `reply`.
    Done { fingerprint: String, reply: Reply },
    /// The first write may have reached the upstream and its answer was lost.
    Unknown { fingerprint: String },
}

impl Entry {
    /// A fresh reservation of a key for a write with `fingerprint`.
    pub(super) fn reserving(fingerprint: String) -> Self {
        Entry::InFlight {
            fingerprint,
            reservation: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// The reservation of an in-flight entry.
    pub(super) fn reservation(&self) -> Option<&str> {
        match self {
            Entry::InFlight { reservation, .. } => Some(reservation),
            Entry::Done { .. } | Entry::Unknown { .. } => None,
        }
    }

    /// The name of the state, for logs.
    pub(super) fn state_name(&self) -> &'static str {
        match self {
            Entry::InFlight { .. } => "in_flight",
            Entry::Done { .. } => "done",
            Entry::Unknown { .. } => "unknown",
        }
    }

    fn fingerprint(&self) -> &str {
        match self {
            Entry::InFlight { fingerprint, .. }
            | Entry::Done { fingerprint, .. }
            | Entry::Unknown { fingerprint } => fingerprint,
        }
    }

    /// What a new request with `fingerprint` meets.
    pub(super) fn verdict(&self, fingerprint: &str) -> Result<Reply, Error> {
        if self.fingerprint() != fingerprint {
            return Err(Error::KeyReused);
        }
        match self {
            Entry::Done { reply, .. } => Ok(reply.clone()),
            Entry::InFlight { .. } => Err(Error::KeyInFlight),
            Entry::Unknown { .. } => Err(Error::OutcomeUnknown),
        }
    }
}

/// Whether a write reached the upstream before it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reach {
    /// Nothing was sent: no record can exist.
    NothingSent,
    /// A write was sent (or about to be): the upstream may have acted.
    MaybeSent,
}

/// How a write ended, for the store.
#[derive(Debug)]
pub(super) enum Ending {
    /// A final answer: store it for replay.
    Final(Reply),
    /// Nothing reached the upstream: forget the key so that a retry runs.
    Release,
    /// The upstream may have acted: keep the key marked unknown.
    Unknown,
}

impl Ending {
    /// How a write that answered `result` ended, given how far it got.
    pub(super) fn of(result: &Result<Reply, Error>, reach: Reach) -> Self {
        let error = match result {
            Ok(reply) => return Ending::Final(reply.clone()),
            Err(error) => error,
        };
        match (error, reach) {
            (
                Error::UpstreamUnavailable(_)
                | Error::UpstreamBusy
                | Error::StoreUnavailable(_)
                | Error::UpstreamAuthFailed(_),
                _,
            ) => Ending::Release,
            // Any error before the write was sent (a token endpoint refusing or answering
            // nonsense, say): nothing can exist upstream, and the same request may succeed once
            // the fault is fixed, so a retry runs instead of replaying a stale error.
            (_, Reach::NothingSent) => Ending::Release,
            (Error::UpstreamTimeout | Error::UpstreamFailed(_) | Error::Internal(_), _) => {
                Ending::Unknown
            }
            (other, Reach::MaybeSent) => Ending::Final(Reply::problem(other)),
        }
    }

    /// What the store keeps for the key afterwards (`None`: nothing, the key is free).
    pub(super) fn into_entry(self, fingerprint: String) -> Option<Entry> {
        match self {
            Ending::Final(reply) => Some(Entry::Done { fingerprint, reply }),
            Ending::Release => None,
            Ending::Unknown => Some(Entry::Unknown { fingerprint }),
        }
    }

    /// How a write cancelled before it answered ended.
    pub(super) fn cancelled(reach: Reach) -> Self {
        match reach {
            Reach::NothingSent => Ending::Release,
            Reach::MaybeSent => Ending::Unknown,
        }
    }
}
