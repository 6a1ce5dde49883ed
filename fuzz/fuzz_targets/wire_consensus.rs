//! Consensus messages (proposals with their blocks, votes) from the `consensus` topic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ergon::wire::decode_consensus(data, 16 << 20);
});
