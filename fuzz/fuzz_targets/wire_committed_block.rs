//! Committed blocks: compact from the `blocks` topic, whole from sync (block and commit
//! certificate).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((block, cert)) = ergon::wire::decode_committed_block(data, 16 << 20) {
        let bytes = ergon::wire::encode_committed_block(&block, &cert);
        let (again, _) = ergon::wire::decode_committed_block(&bytes, 16 << 20).expect("re-encoded block decodes");
        assert_eq!(again.hash(), block.hash());
    }
    if let Ok((block, cert)) = ergon::wire::decode_compact_committed(data, 1 << 20) {
        let bytes = ergon::wire::encode_compact_committed(&block, &cert);
        let (again, _) = ergon::wire::decode_compact_committed(&bytes, 1 << 20).expect("re-encoded block decodes");
        assert_eq!(again, block);
    }
});
