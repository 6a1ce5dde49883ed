//! SCALE values as read back from disk: accounts, jobs, supply, blocks.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parity_scale_codec::Decode;

fuzz_target!(|data: &[u8]| {
    let _ = ergon::ledger::Account::decode(&mut &data[..]);
    let _ = ergon::ledger::Supply::decode(&mut &data[..]);
    let _ = ergon::ledger::payload::job::Job::decode(&mut &data[..]);
    let _ = ergon::primitives::Block::decode(&mut &data[..]);
});
