//! Compute traffic: `blobs` requests and responses, and `receipts` gossip.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ergon::wire::decode_blob_request(data);
    let _ = ergon::wire::decode_blob_response(data);
    if let Ok(msg) = ergon::wire::decode_receipt_gossip(data) {
        let _ = msg.signature_ok();
    }
});
