//! The network: the one owner of the libp2p `Swarm`.
//!
//! Everyone else holds a cloneable [`NetworkHandle`] (commands with `oneshot` replies) and
//! reads a stream of typed [`NetworkEvent`]s; nothing of libp2p leaves this module.
//!
//! Protocols: identify, ping, Kademlia (protocol name per chain) with bootnodes, random
//! walks and provider records for blobs, mDNS, gossipsub with per-chain topics (`blocks`,
//! `txs`, `consensus`, `receipts`), and request-response `status`, `sync` and `blobs`. Gossip is validated explicitly: this module
//! decodes every message once, with a size cap, rejecting what does not decode; the node
//! judges the rest and reports Accept / Ignore / Reject, and only accepted messages are
//! forwarded. Rejections lower the sender's gossipsub score; peers below the graylist
//! threshold, on another chain, or flooding `sync` are disconnected and banned.

mod behaviour;
mod codec;
mod gate;
mod swarm_loop;
pub mod transport;

pub use gate::PeerPolicy;
pub use libp2p::pnet::PreSharedKey;
pub use transport::{BoxedDuplex, Duplex, LinkLayer, SharedLinkLayer, TransportKind};

use crate::primitives::{CommitCertificate, CompactBlock, Hash, SealedTx};
use crate::wire::{BlockTxsRequest, Status, SyncQuery, SyncReply, SyncRequest};
use libp2p::gossipsub::MessageId;
use libp2p::{identity, Multiaddr, PeerId};
use std::fmt;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid multiaddr {addr:?}: {reason}")]
    Multiaddr { addr: String, reason: String },
    #[error("transport: {0}")]
    Transport(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("dial failed: {0}")]
    Dial(String),
    #[error("sync request failed: {0}")]
    Sync(String),
    #[error("blob request failed: {0}")]
    Blob(String),
    #[error("network stopped")]
    Stopped,
}

pub type Result<T> = std::result::Result<T, NetworkError>;

pub fn parse_multiaddr(s: &str) -> Result<Multiaddr> {
    s.trim()
        .parse()
        .map_err(|e: libp2p::multiaddr::Error| NetworkError::Multiaddr { addr: s.into(), reason: e.to_string() })
}

/// A node's network identity from a 32-byte ed25519 secret.
pub fn keypair_from_secret(secret: [u8; 32]) -> Result<identity::Keypair> {
    let mut s = secret;
    identity::Keypair::ed25519_from_bytes(&mut s).map_err(|e| NetworkError::Transport(format!("node key: {e}")))
}

pub struct NetworkConfig {
    pub keypair: identity::Keypair,
    pub transport: TransportKind,
    pub listen: Vec<Multiaddr>,
    pub bootnodes: Vec<Multiaddr>,
    pub genesis: Hash,
    pub mdns: bool,
    pub swarm_key: Option<PreSharedKey>,
    pub reserved_only: bool,
    pub reserved_peers: Vec<Multiaddr>,
    pub max_peers: u32,
    /// Largest gossip message and request-response message (the spec's
    /// `limits.max_message_bytes`).
    pub max_message_bytes: usize,
    pub max_tx_bytes: usize,
    /// Ban lengths and the per-IP connection cap.
    pub policy: PeerPolicy,
}

/// What the network needs to know of the chain: our status, and blocks and txs to serve.
pub trait ChainView: Send + Sync + 'static {
    fn status(&self) -> Status;
    /// Encoded `CommittedBlock`s from `from`, at most `count` and `max_bytes` in all, and the
    /// next block as an encoded `CompactCommittedBlock` if it alone is over `max_bytes`.
    fn committed_blocks(&self, from: u64, count: u32, max_bytes: usize) -> (Vec<Vec<u8>>, Option<Vec<u8>>);
    /// The encoded answer to a [`BlockTxsRequest`]: at most `max_bytes`.
    fn block_txs(&self, request: &BlockTxsRequest, max_bytes: usize) -> Vec<u8>;
    /// Up to [`crate::wire::BLOB_CHUNK`] bytes of a blob this node holds, from `offset`.
    fn blob_piece(&self, hash: &Hash, offset: u64) -> Option<crate::wire::BlobPiece>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Blocks,
    Txs,
    Consensus,
    Receipts,
}

impl Topic {
    pub const ALL: [Topic; 4] = [Topic::Blocks, Topic::Txs, Topic::Consensus, Topic::Receipts];

    pub fn name(self) -> &'static str {
        match self {
            Topic::Blocks => "blocks",
            Topic::Txs => "txs",
            Topic::Consensus => "consensus",
            Topic::Receipts => "receipts",
        }
    }
}

/// A peer, opaque to other modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerRef(PeerId);

impl fmt::Display for PeerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies a gossip message for its validation verdict.
#[derive(Debug, Clone)]
pub struct GossipId {
    id: MessageId,
    source: PeerId,
    /// What it came on, for the per-topic counters.
    topic: Topic,
}

impl GossipId {
    pub fn source(&self) -> PeerRef {
        PeerRef(self.source)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: deliver and forward.
    Accept,
    /// Not useful (old, duplicate, not yet checkable): drop without penalty.
    Ignore,
    /// Invalid: drop and penalise the sender.
    Reject,
}

#[derive(Debug)]
pub enum NetworkEvent {
    /// A gossiped batch of txs (one message, one verdict).
    Txs {
        txs: Vec<SealedTx>,
        id: GossipId,
    },
    /// A finalized block, compact.
    Block {
        block: Box<CompactBlock>,
        commit: CommitCertificate,
        id: GossipId,
    },
    /// A proposal (with its block) or a vote, decoded but not yet checked.
    Consensus {
        msg: crate::wire::ConsensusMessage,
        id: GossipId,
    },
    /// A message on the `receipts` topic: a receipt for attestation, or an attestation.
    Receipt {
        msg: crate::wire::ReceiptGossip,
        id: GossipId,
    },
    /// A peer on our chain told us where it is (on connect).
    PeerStatus {
        peer: PeerRef,
        status: Status,
    },
    PeerDisconnected {
        peer: PeerRef,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    pub peer_id: String,
    pub address: String,
    pub direction: &'static str,
    pub head_height: Option<u64>,
    pub finalized_height: Option<u64>,
    pub score: Option<f64>,
}

/// Gossip messages judged since start, by verdict (undecodable ones are also rejected).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GossipCounters {
    pub accepted: u64,
    pub ignored: u64,
    pub rejected: u64,
    pub undecodable: u64,
}

impl GossipCounters {
    fn add(&mut self, o: &GossipCounters) {
        self.accepted += o.accepted;
        self.ignored += o.ignored;
        self.rejected += o.rejected;
        self.undecodable += o.undecodable;
    }
}

/// [`GossipCounters`] per topic; messages on a topic that is not ergon's count as `other`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicCounters {
    topics: [GossipCounters; Topic::ALL.len()],
    other: GossipCounters,
}

impl TopicCounters {
    pub(crate) fn of(&mut self, topic: Option<Topic>) -> &mut GossipCounters {
        match topic {
            Some(t) => &mut self.topics[t as usize],
            None => &mut self.other,
        }
    }

    /// Every topic's counters by name, `other` last.
    pub fn by_topic(&self) -> impl Iterator<Item = (&'static str, &GossipCounters)> {
        Topic::ALL.iter().map(|t| t.name()).zip(&self.topics).chain(std::iter::once(("other", &self.other)))
    }

    pub fn total(&self) -> GossipCounters {
        let mut t = GossipCounters::default();
        self.by_topic().for_each(|(_, c)| t.add(c));
        t
    }
}

enum Command {
    Publish {
        topic: Topic,
        data: Vec<u8>,
    },
    Report {
        id: GossipId,
        verdict: Verdict,
    },
    Sync {
        peer: PeerId,
        request: SyncQuery,
        reply: oneshot::Sender<Result<Vec<u8>>>,
    },
    /// A peer that answered with what it was not asked for.
    Penalise {
        peer: PeerId,
        reason: String,
    },
    Dial {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<()>>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerInfo>>,
    },
    ListenAddrs {
        reply: oneshot::Sender<Vec<String>>,
    },
    Counters {
        reply: oneshot::Sender<TopicCounters>,
    },
    /// Announce (Kademlia provider record) that this node holds blob `hash`.
    Provide {
        hash: Hash,
    },
    /// Stop announcing `hash` (deleted here).
    StopProviding {
        hash: Hash,
    },
    /// Who announced holding `hash`.
    Providers {
        hash: Hash,
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    BlobPiece {
        peer: PeerId,
        request: crate::wire::BlobRequest,
        reply: oneshot::Sender<Result<Vec<u8>>>,
    },
}

#[derive(Clone)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    local_peer_id: PeerId,
    max_message_bytes: usize,
    max_tx_bytes: usize,
}

/// Room a server leaves below `max_message_bytes` for the framing of what fills a response.
pub const RESPONSE_SLACK: usize = 16 << 10;

impl NetworkHandle {
    pub fn local_peer_id(&self) -> String {
        self.local_peer_id.to_string()
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| NetworkError::Stopped)?;
        rx.await.map_err(|_| NetworkError::Stopped)
    }

    /// Publishes without waiting; a full command queue drops the message (gossip is lossy).
    pub fn publish(&self, topic: Topic, data: Vec<u8>) {
        let _ = self.commands.try_send(Command::Publish { topic, data });
    }

    pub fn report(&self, id: GossipId, verdict: Verdict) {
        let _ = self.commands.try_send(Command::Report { id, verdict });
    }

    /// Committed blocks from `peer`, decoded and size-checked (not yet validated); the last
    /// perhaps compact, its txs to be fetched with [`NetworkHandle::block_txs`].
    pub async fn sync(&self, peer: PeerRef, request: SyncRequest) -> Result<SyncReply> {
        let request = SyncQuery::Blocks(request);
        let bytes = self.ask(|reply| Command::Sync { peer: peer.0, request, reply }).await??;
        crate::wire::decode_sync_response(&bytes, self.max_message_bytes)
            .map_err(|e| NetworkError::Sync(format!("peer {peer} sent an undecodable response: {e}")))
    }

    /// Txs of a block from `peer` (those it holds of the ones asked for), decoded; not
    /// checked against what was asked.
    pub async fn block_txs(&self, peer: PeerRef, request: BlockTxsRequest) -> Result<Vec<SealedTx>> {
        let request = SyncQuery::Txs(request);
        let bytes = self.ask(|reply| Command::Sync { peer: peer.0, request, reply }).await??;
        crate::wire::decode_txs_response(&bytes, self.max_message_bytes, self.max_tx_bytes)
            .map_err(|e| NetworkError::Sync(format!("peer {peer} sent undecodable txs: {e}")))
    }

    /// Bans `peer` for an answer no honest peer gives (txs it was not asked for).
    pub fn penalise(&self, peer: PeerRef, reason: String) {
        let _ = self.commands.try_send(Command::Penalise { peer: peer.0, reason });
    }

    pub async fn dial(&self, addr: &str) -> Result<()> {
        let addr = parse_multiaddr(addr)?;
        self.ask(|reply| Command::Dial { addr, reply }).await?
    }

    pub async fn peers(&self) -> Result<Vec<PeerInfo>> {
        self.ask(|reply| Command::Peers { reply }).await
    }

    /// Listen addresses with `/p2p/<peer id>` appended.
    pub async fn listen_addrs(&self) -> Result<Vec<String>> {
        self.ask(|reply| Command::ListenAddrs { reply }).await
    }

    pub async fn counters(&self) -> Result<TopicCounters> {
        self.ask(|reply| Command::Counters { reply }).await
    }

    /// Tells the network (a Kademlia provider record) that this node holds blob `hash`.
    pub fn provide(&self, hash: Hash) {
        let _ = self.commands.try_send(Command::Provide { hash });
    }

    /// Stops announcing that this node holds blob `hash` (it deleted it).
    pub fn stop_providing(&self, hash: Hash) {
        let _ = self.commands.try_send(Command::StopProviding { hash });
    }

    /// The peers that announced holding blob `hash`.
    pub async fn providers(&self, hash: Hash) -> Result<Vec<PeerRef>> {
        Ok(self.ask(|reply| Command::Providers { hash, reply }).await?.into_iter().map(PeerRef).collect())
    }

    /// A piece of blob `hash` from `peer`, from byte `offset`: `None` if it does not hold it.
    /// Not checked against the hash: the caller checks the whole blob.
    pub async fn blob_piece(&self, peer: PeerRef, hash: Hash, offset: u64) -> Result<Option<crate::wire::BlobPiece>> {
        let request = crate::wire::BlobRequest { hash, offset };
        let bytes = self.ask(|reply| Command::BlobPiece { peer: peer.0, request, reply }).await??;
        crate::wire::decode_blob_response(&bytes)
            .map_err(|e| NetworkError::Blob(format!("peer {peer} sent an undecodable blob piece: {e}")))
    }
}

/// The network's events, in two queues: consensus messages, blocks and peer news are served
/// before gossiped txs, so a burst of txs neither delays a proposal or a vote nor pushes one
/// out of a full queue (as Lighthouse's beacon processor serves blocks and attestations first).
pub struct NetworkEvents {
    urgent: mpsc::Receiver<NetworkEvent>,
    txs: mpsc::Receiver<NetworkEvent>,
}

impl NetworkEvents {
    /// The next event, urgent ones first; `None` once the network has stopped.
    pub async fn recv(&mut self) -> Option<NetworkEvent> {
        tokio::select! {
            biased;
            Some(ev) = self.urgent.recv() => Some(ev),
            Some(ev) = self.txs.recv() => Some(ev),
            else => None,
        }
    }

    /// An event already queued, urgent ones first.
    pub fn try_recv(&mut self) -> Option<NetworkEvent> {
        self.try_recv_urgent().or_else(|| self.txs.try_recv().ok())
    }

    /// An urgent event already queued (anything but txs).
    pub fn try_recv_urgent(&mut self) -> Option<NetworkEvent> {
        self.urgent.try_recv().ok()
    }
}

/// The sending side of [`NetworkEvents`].
pub(crate) struct EventSink {
    urgent: mpsc::Sender<NetworkEvent>,
    txs: mpsc::Sender<NetworkEvent>,
}

impl EventSink {
    /// Queues `ev`; says why not if its queue is full or the node has stopped.
    fn try_send(&self, ev: NetworkEvent) -> std::result::Result<(), &'static str> {
        let queue = match ev {
            NetworkEvent::Txs { .. } => &self.txs,
            _ => &self.urgent,
        };
        queue.try_send(ev).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => "queue full",
            mpsc::error::TrySendError::Closed(_) => "node stopped",
        })
    }
}

/// Builds the swarm, starts listening and dialing, and spawns the event loop.
pub fn start(config: NetworkConfig, chain: std::sync::Arc<dyn ChainView>) -> Result<(NetworkHandle, NetworkEvents)> {
    let (cmd_tx, cmd_rx) = mpsc::channel(4096);
    let (urgent_tx, urgent) = mpsc::channel(4096);
    // Up to 256 txs each.
    let (txs_tx, txs) = mpsc::channel(1024);
    let local_peer_id = config.keypair.public().to_peer_id();
    let (max_message_bytes, max_tx_bytes) = (config.max_message_bytes, config.max_tx_bytes);
    let sink = EventSink { urgent: urgent_tx, txs: txs_tx };
    let looper = swarm_loop::SwarmLoop::new(config, chain, sink)?;
    tokio::spawn(looper.run(cmd_rx));
    Ok((
        NetworkHandle { commands: cmd_tx, local_peer_id, max_message_bytes, max_tx_bytes },
        NetworkEvents { urgent, txs },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Consensus messages and peer news overtake gossiped txs queued before them, and a tx
    /// burst that fills its queue leaves the urgent queue room.
    #[tokio::test]
    async fn urgent_events_go_before_txs() {
        let (urgent_tx, urgent) = mpsc::channel(4);
        let (txs_tx, txs) = mpsc::channel(2);
        let sink = EventSink { urgent: urgent_tx, txs: txs_tx };
        let mut events = NetworkEvents { urgent, txs };
        let peer = PeerId::random();
        let txs_event = || NetworkEvent::Txs {
            txs: vec![],
            id: GossipId { id: MessageId::from(vec![1]), source: peer, topic: Topic::Txs },
        };
        assert_eq!(sink.try_send(txs_event()), Ok(()));
        assert_eq!(sink.try_send(txs_event()), Ok(()));
        assert_eq!(sink.try_send(txs_event()), Err("queue full"));
        assert_eq!(sink.try_send(NetworkEvent::PeerDisconnected { peer: PeerRef(peer) }), Ok(()));
        assert!(matches!(events.recv().await, Some(NetworkEvent::PeerDisconnected { .. })));
        assert!(events.try_recv_urgent().is_none());
        assert!(matches!(events.try_recv(), Some(NetworkEvent::Txs { .. })));
        assert!(matches!(events.recv().await, Some(NetworkEvent::Txs { .. })));
        drop(sink);
        assert!(events.recv().await.is_none());
    }
}
