//! Every kind of record the node reads back from its RocksDB store, and from the files beside
//! it (the finalized watermark's `BlockRef`, the double-sign guard), decoded as the reader
//! decodes it: SCALE `Decode::decode` on a `&[u8]` (trailing bytes ignored, as `Store` does),
//! borsh `from_slice` for the state tree's nodes and stale-node lists, serde JSON for the guard
//! file. The first input byte picks the kind ([`DECODERS`], modulo its length), the rest is the
//! record. A record that decodes must re-encode to bytes that decode, whole, to the same value.
//! Seeds: `fuzz/corpus/state_values/`, a few per kind (the first byte is the index below).
#![no_main]
use ergon::consensus::{SignState, SignedVote};
use ergon::ledger::{self, payload, Account, StateKey, Supply};
use ergon::primitives::{Address, Block, CommitCertificate, Evidence, Hash, Header, SealedTx};
use ergon::storage::{sign_guard, BlockRef, HistoryEntry, TxRecord};
use libfuzzer_sys::fuzz_target;
use parity_scale_codec::{Decode, Encode};
use std::fmt::Debug;

/// `Store::decode`: SCALE, the record's leading bytes.
fn scale<T: Decode + Encode + PartialEq + Debug>(data: &[u8]) {
    let Ok(value) = T::decode(&mut &data[..]) else { return };
    let bytes = value.encode();
    let mut rest = &bytes[..];
    let again = T::decode(&mut rest).expect("a re-encoded record decodes");
    assert!(rest.is_empty(), "a re-encoded record decodes with {} bytes left over", rest.len());
    assert_eq!(again, value, "a re-encoded record decodes to another value");
}

/// The state tree's nodes (`CF_JMT_NODES`) and stale-node lists (`CF_JMT_STALE`): borsh, whole.
fn borsh<T: borsh::BorshDeserialize + borsh::BorshSerialize + PartialEq + Debug>(data: &[u8]) {
    let Ok(value) = borsh::from_slice::<T>(data) else { return };
    let bytes = borsh::to_vec(&value).expect("a decoded node re-encodes");
    let again = borsh::from_slice::<T>(&bytes).expect("a re-encoded node decodes");
    assert_eq!(again, value, "a re-encoded node decodes to another value");
}

/// The double-sign guard file (`sign-state.json`), with each record's lock proof (SCALE
/// `Vec<SignedVote>` in hex), as `sign_guard::read` parses it.
fn sign_guard_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = std::path::Path::new("sign-state.json");
    let Ok(file) = sign_guard::parse(path, text) else { return };
    let json = serde_json::to_string(&file).expect("a parsed guard serializes");
    let again = sign_guard::parse(path, &json).expect("a re-serialized guard parses");
    assert_eq!(again, file, "a re-serialized guard parses to another value");
}

/// The index is the input's first byte (append only: the seeds name their kind by it).
const DECODERS: &[fn(&[u8])] = &[
    // CF_META: schema version, genesis hash, head and finalized pointers (and the
    // watermark's slot record), the legacy double-sign guard, the locked block.
    scale::<u32>,       // 0 (also the StateKey counts: Maturing, Expiring, Unbonding, ...)
    scale::<Hash>,      // 1 (also StateKey::RecentBlock, Beacon)
    scale::<BlockRef>,  // 2
    scale::<SignState>, // 3
    scale::<Block>,     // 4
    // Block storage: headers, bodies, commit certificates, tx index, state changes,
    // evidence, account history.
    scale::<Header>,                                                    // 5
    scale::<(Vec<SealedTx>, Vec<Evidence>, Option<CommitCertificate>)>, // 6
    scale::<CommitCertificate>,                                         // 7
    scale::<TxRecord>,                                                  // 8
    scale::<Vec<(Address, Account)>>,                                   // 9
    scale::<(Evidence, Option<u64>)>,                                   // 10
    scale::<HistoryEntry>,                                              // 11
    // The state tree: nodes, stale-node lists (borsh), values (SCALE).
    borsh::<jmt::storage::Node>,         // 12
    borsh::<Vec<jmt::storage::NodeKey>>, // 13
    scale::<Option<Vec<u8>>>,            // 14
    // CF_STATE (and the tree's values), by StateKey.
    scale::<Account>,                         // 15 Account
    scale::<Supply>,                          // 16 Supply
    scale::<ledger::validators::Validators>,  // 17 Validators
    scale::<u64>,                             // 18 Evidence, TrialGrant
    scale::<payload::job::Job>,               // 19 Job
    scale::<payload::receipt::ReceiptRecord>, // 20 Receipt
    scale::<u128>,                            // 21 Delegation, EpochMint, Slash
    scale::<Address>,                         // 22 (queue entries before schema 8)
    scale::<payload::stake::Delegators>,      // 23 Delegators
    scale::<payload::fraud::Verdict>,         // 24 Verdict
    scale::<payload::params::Updates>,        // 25 Params
    scale::<ledger::reputation::Receipts>,    // 26 Reputation
    scale::<ledger::work::Work>,              // 27 Work
    scale::<ledger::liveness::Liveness>,      // 28 Liveness
    scale::<ledger::draw::Miners>,            // 29 Miners
    scale::<Vec<(Address, bool)>>,            // 30 Verdicts
    scale::<Vec<ledger::unbonding::Unbond>>,  // 31 Unbonds
    scale::<Vec<Address>>,                    // 32 UnbondingFrom, ReceiptVerifiers, unbonding queue pages
    scale::<ledger::beacon::RevealChain>,     // 33 RevealChain
    scale::<ledger::draw::Drawn>,             // 34 a job's draw (its own record before schema 8)
    scale::<StateKey>,                        // 35 the keys, as the RPC decodes them
    // The double-sign guard: its lock proofs, and the whole file.
    scale::<Vec<SignedVote>>, // 36
    sign_guard_file,          // 37
    // Height queue pages of jobs, receipts and draws (schema 8).
    scale::<Vec<Hash>>, // 38
];

fuzz_target!(|data: &[u8]| {
    let Some((&kind, record)) = data.split_first() else { return };
    DECODERS[usize::from(kind) % DECODERS.len()](record);
});
