//! `tx_send`'s tx parameter: the seed's JSON form of every payload, or protobuf hex.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static SPEC: LazyLock<ergon::chainspec::ChainSpec> =
    LazyLock::new(|| ergon::chainspec::ChainSpec::load("dev").expect("the dev spec"));

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = ergon::rpc::types::parse_tx_param(&v, &SPEC);
    }
});
