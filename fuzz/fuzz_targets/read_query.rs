//! A caller's query string on `GET …/records`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ecnow_gateway::fuzzing::read_query(data);
});
