//! A caller's request body, parsed as a create and as both kinds of update.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ecnow_gateway::fuzzing::request_body(data);
});
