//! ergon: a libp2p-native node for a chain whose currency (AIT) is minted only for compute
//! that was delivered and verified.
//!
//! Map of the crate. Pure cores hold no IO, no clock, no randomness:
//! - [`primitives`]: hashes, keys, addresses, transactions, blocks (SCALE canonical bytes);
//! - [`ledger`]: the economy's state transition and the authenticated state tree;
//! - [`mempool`]: admission and ordering of pending transactions;
//! - [`consensus`]: the consensus state machine, inputs in and effects out.
//!
//! IO shells own the world:
//! - [`storage`]: RocksDB, one synced write batch per block;
//! - [`node`]: the driver that turns RPC calls and timers into core inputs and executes the
//!   effects;
//! - [`rpc`]: the JSON-RPC server (jsonrpsee), `/metrics` and `/health`;
//! - [`wire`]: protobuf encodings for everything that leaves the process;
//! - [`chainspec`]: chain specs and genesis.
//!
//! The `ergon` binary (src/main.rs, src/cli/) is the only place that uses `anyhow`.

pub mod chainspec;
pub mod consensus;
pub mod ledger;
pub mod mempool;
pub mod network;
pub mod node;
pub mod primitives;
pub mod rpc;
pub mod storage;
pub mod vm;
pub mod wire;
