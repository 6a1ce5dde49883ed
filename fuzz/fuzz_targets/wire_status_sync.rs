//! The `status` and `sync` request-response protocols: status, sync requests and responses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ergon::wire::decode_status(data);
    let _ = ergon::wire::decode_sync_request(data);
    let _ = ergon::wire::decode_sync_response(data, 64 << 20);
});
