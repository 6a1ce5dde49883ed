//! The `status` and `sync` request-response protocols: status, sync requests (block ranges
//! and a block's txs) and responses (blocks, a compact block, txs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ergon::wire::decode_status(data);
    let _ = ergon::wire::decode_sync_request(data, 1 << 20);
    let _ = ergon::wire::decode_sync_response(data, 1 << 20);
    let _ = ergon::wire::decode_txs_response(data, 1 << 20, 64 << 10);
});
