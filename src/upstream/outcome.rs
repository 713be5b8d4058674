//! What the client's calls come to, typed: the upstream's counts and texts read once, here.

use crate::domain::{Record, RecordId};
use crate::error::Error;

/// The result of one `create` exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateOutcome {
    /// Records inserted.
    pub created: u64,
    /// Records refused.
    pub rejected: u64,
    /// The new record's id (for a single record).
    pub key: Option<RecordId>,
    /// Whether the record is live on the dialler, from `info`.
    pub live: bool,
    /// The upstream's information text.
    pub info: Option<String>,
    /// The upstream's error text about refused records.
    pub error: Option<String>,
}

impl CreateOutcome {
    /// Whether the upstream's error or information text says `words`.
    pub fn says(&self, words: &str) -> bool {
        [&self.error, &self.info]
            .into_iter()
            .flatten()
            .any(|text| text.contains(words))
    }
}

/// A record created by [`ContactNowClient::create_one`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    /// The new record's id.
    pub id: RecordId,
    /// Whether the record is live on the dialler, from `info`.
    pub live: bool,
    /// The upstream's information text.
    pub info: Option<String>,
}

/// The result of a successful `update`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// Whether the record is live on the dialler, from `info`.
    pub live: bool,
    /// The upstream's information text.
    pub info: Option<String>,
}

/// One page of a read, its records as [`Record`]s or as their JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordPage<R = Record> {
    /// Every match, even those the limit cut.
    pub total: u64,
    /// The records returned.
    pub records: Vec<R>,
}

/// Whether `info` says the record is live on the dialler.
pub(super) fn is_live(info: Option<&str>) -> bool {
    info.map(str::to_ascii_lowercase)
        .is_some_and(|info| info.contains("live") && !info.contains("not live"))
}

/// An upstream error that describes the caller's data: "does not exist" is a 404, the rest 422.
pub(super) fn data_error(message: String) -> Error {
    if message.contains("does not exist") {
        Error::NotFound(message)
    } else {
        Error::UpstreamRejected(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_is_read_from_info() {
        assert!(is_live(Some("Record is LIVE on the dialer.")));
        assert!(!is_live(Some(
            "Record is NOT live on the dialer due having a complete outcome."
        )));
        assert!(!is_live(None));
    }
}
