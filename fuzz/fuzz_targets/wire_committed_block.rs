//! Committed blocks from the `blocks` topic (block and commit certificate).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((block, cert)) = ergon::wire::decode_committed_block(data, 16 << 20) {
        let bytes = ergon::wire::encode_committed_block(&block, &cert);
        let (again, _) = ergon::wire::decode_committed_block(&bytes, 16 << 20).expect("re-encoded block decodes");
        assert_eq!(again.hash(), block.hash());
    }
});
