//! An upstream answer in XML (`CONTACTNOW_FORMAT=xml`): the envelope and every read row.
#![no_main]

use ecnow_gateway::upstream::WireFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ecnow_gateway::fuzzing::upstream_answer(WireFormat::Xml, data);
});
