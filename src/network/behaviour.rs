//! The composed libp2p behaviour: one field per protocol.

use super::codec::CappedBytes;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{allow_block_list, connection_limits, gossipsub, identify, kad, mdns, ping, request_response};

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    /// With `--reserved-only`, refuses every peer outside the reserved set.
    pub allowed: Toggle<allow_block_list::Behaviour<allow_block_list::AllowedPeers>>,
    /// Bans that expire (another chain, invalid gossip, request floods) and the per-IP cap
    /// on inbound connections.
    pub gate: super::gate::Gate,
    /// Caps on established (total, per peer) and pending connections.
    pub limits: connection_limits::Behaviour,
    /// Exchanges listen addresses and protocols, which feed Kademlia.
    pub identify: identify::Behaviour,
    /// Keeps connections alive and measures round trips.
    pub ping: ping::Behaviour,
    /// Peer discovery, with a per-chain protocol name, bootnodes and random walks.
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
    /// Local-network discovery (dev and local chains, off with `--no-mdns`).
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Blocks, txs, consensus messages and receipts, with explicit validation and scoring.
    pub gossipsub: gossipsub::Behaviour<gossipsub::IdentityTransform, gossipsub::WhitelistSubscriptionFilter>,
    /// `status`: genesis, head and finalized block, exchanged on connect.
    pub status: request_response::Behaviour<CappedBytes>,
    /// `sync`: committed blocks with their certificates, by height range.
    pub sync: request_response::Behaviour<CappedBytes>,
    /// `blobs`: job programs, inputs and outputs by hash, in pieces of at most 1 MiB; who
    /// holds one is found through Kademlia provider records.
    pub blobs: request_response::Behaviour<CappedBytes>,
}
