//! Entry points for fuzz targets and property tests: the parsers that read untrusted bytes.
//! Each returns whether the input was accepted; none may panic.

use crate::domain::{BodyTarget, NewRecord, ReadFilter, RecordPatch};
use crate::upstream::WireFormat;
use crate::upstream::wire::{Envelope, records};

/// Parses an upstream answer (JSON or XML) and every row of its list, as a read would.
pub fn upstream_answer(format: WireFormat, data: &[u8]) -> bool {
    Envelope::parse(format, data)
        .and_then(|envelope| records(envelope.list))
        .is_ok()
}

/// Parses a request body as a create and as both kinds of update.
pub fn request_body(data: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return false;
    };
    let create = NewRecord::parse_body(&value).is_ok();
    let patch = RecordPatch::parse_body(&value, BodyTarget::Required).is_ok();
    let dataset_patch = RecordPatch::parse_body(&value, BodyTarget::FromPath).is_ok();
    create || patch || dataset_patch
}

/// Parses a read's query string.
pub fn read_query(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_ok_and(|query| ReadFilter::parse_query(query).is_ok())
}
