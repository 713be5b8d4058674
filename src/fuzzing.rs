//! Entry points for fuzz targets and property tests: the parsers that read untrusted bytes.
//! Each returns whether the input was accepted; none may panic.

use crate::domain::{BodyTarget, NewRecord, ReadFilter, RecordPatch};
use crate::error::Error;
use crate::upstream::WireFormat;
use crate::upstream::wire::{Envelope, RecordJson, Row, records};

/// Parses an upstream answer (JSON or XML) and every row of its list both ways a read may:
/// into [`crate::domain::Record`]s, and transcoded into their JSON. Panics when the two
/// disagree (one refuses what the other takes, or the JSON differs from the record's), or
/// when the hand-written JSON reader disagrees with serde_json.
pub fn upstream_answer(format: WireFormat, data: &[u8]) -> bool {
    if let (WireFormat::Json, Ok(text)) = (format, std::str::from_utf8(data)) {
        crate::upstream::wire::assert_json_readers_agree(text);
    }
    let records = Envelope::<Row>::parse(format, data).and_then(|envelope| records(envelope.list));
    let transcoded =
        Envelope::<Result<RecordJson, Error>>::parse(format, data).and_then(|envelope| {
            envelope
                .list
                .unwrap_or_default()
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
        });
    match (&records, transcoded) {
        (Ok(records), Ok(transcoded)) => {
            let expected: Vec<RecordJson> = records.iter().map(RecordJson::of).collect();
            assert!(
                expected == transcoded,
                "the transcoder wrote other JSON than the records'"
            );
        }
        (Err(_), Err(_)) => {}
        (records, transcoded) => {
            panic!("the two readers disagree: {records:?} against {transcoded:?}")
        }
    }
    records.is_ok()
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
