//! Gossiped tx batches and single protobuf txs (`tx_send` hex): decoded with the node's caps,
//! and a decoded tx encodes back to the bytes that seal it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(txs) = ergon::wire::decode_tx_batch(data, 1 << 20, 1 << 16) {
        for tx in &txs {
            let signed: &ergon::primitives::SignedTx = tx;
            let again = ergon::wire::decode_tx_batch(&ergon::wire::encode_tx_batch([signed]), 1 << 20, 1 << 16)
                .expect("a decoded tx encodes to a decodable batch");
            assert_eq!(again[0].hash(), tx.hash());
        }
    }
    let _ = ergon::wire::decode_signed_tx(data, 1 << 16);
});
