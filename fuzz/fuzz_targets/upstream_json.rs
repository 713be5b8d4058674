//! An upstream answer in JSON (`CONTACTNOW_FORMAT=json`): the envelope and every read row.
#![no_main]

use ecnow_gateway::upstream::WireFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ecnow_gateway::fuzzing::upstream_answer(WireFormat::Json, data);
});
