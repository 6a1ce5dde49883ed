//! The event loop that owns the swarm.

use super::behaviour::{Behaviour, BehaviourEvent};
use super::codec::CappedBytes;
use super::{
    transport, ChainView, Command, GossipId, NetworkConfig, NetworkError, NetworkEvent, PeerInfo, PeerRef, Result,
    Topic, TopicCounters, Verdict,
};
use crate::primitives::Hash;
use crate::wire::{self, Status};
use futures::stream::{FuturesUnordered, StreamExt};
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, TopicHash};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{dial_opts::DialOpts, ConnectionId, SwarmEvent};
use libp2p::{
    allow_block_list, connection_limits, identify, kad, mdns, ping, Multiaddr, PeerId, StreamProtocol, Swarm,
    SwarmBuilder,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Sync requests (block ranges, or a block's txs: a block over 1 MiB takes one per MiB) a
/// peer may make per [`QUOTA_WINDOW`]; more are refused, and a peer that keeps flooding is
/// banned.
const SYNC_QUOTA: u32 = 256;
const QUOTA_WINDOW: Duration = Duration::from_secs(10);
const FLOOD_STRIKES: u32 = 3;
/// Blob pieces (at most 1 MiB each) a peer may ask for per [`QUOTA_WINDOW`]: 64 MiB per 10 s.
const BLOB_QUOTA: u32 = 64;
/// Blob provider records this node keeps (its own and others').
const MAX_PROVIDED: usize = 65_536;
/// How long a provider lookup may take before the fetcher falls back to connected peers.
const PROVIDERS_TIMEOUT: Duration = Duration::from_secs(10);
/// Most blocks one sync response carries.
pub const MAX_SYNC_BLOCKS: u32 = 256;
const GRAYLIST: f64 = -80.0;
/// Invalid gossip messages (undecodable, or judged Reject) after which a peer is banned; one
/// is forgotten per housekeeping tick (15 s).
const INVALID_STRIKES: u32 = 3;
/// Below this many connected peers, bootnodes we are not connected to are dialed again
/// (every 5 s).
const BOOTNODE_REDIAL_BELOW: usize = 8;

struct PeerState {
    address: Multiaddr,
    outbound: bool,
    status: Option<Status>,
    /// The highest committed block this peer relayed on gossip (see `peer_has_block`).
    relayed_height: u64,
    sync: Quota,
    blobs: Quota,
    strikes: u32,
    invalid_gossip: u32,
    connected_at: Instant,
    status_asked: Instant,
}

/// The request-response protocols whose requests count against a quota.
#[derive(Clone, Copy)]
enum Quoted {
    Sync,
    Blob,
}

/// Requests a peer made in the current [`QUOTA_WINDOW`] of one protocol.
struct Quota {
    window_start: Instant,
    requests: u32,
}

impl Quota {
    fn new() -> Quota {
        Quota { window_start: Instant::now(), requests: 0 }
    }

    /// Counts a request; `false` once more than `limit` came in this window (the count then
    /// starts again).
    fn admit(&mut self, limit: u32) -> bool {
        if self.window_start.elapsed() > QUOTA_WINDOW {
            *self = Quota::new();
        }
        self.requests += 1;
        if self.requests > limit {
            *self = Quota::new();
            return false;
        }
        true
    }
}

/// A peer that has not told us its status is asked again after this, and dropped after
/// [`STATUS_DEADLINE`].
const STATUS_RETRY: Duration = Duration::from_secs(5);
const STATUS_DEADLINE: Duration = Duration::from_secs(60);
/// Seconds between status exchanges with every peer whose status we know: the heads that
/// `system_peers` shows (and sync aims at) move on between blocks gossiped by that peer.
const STATUS_REFRESH_SECS: u32 = 10;

type Served = tokio::task::JoinHandle<(ResponseChannel<Vec<u8>>, Vec<u8>)>;

pub(super) struct SwarmLoop {
    swarm: Swarm<Behaviour>,
    chain: Arc<dyn ChainView>,
    events: super::EventSink,
    genesis: Hash,
    topics: HashMap<TopicHash, Topic>,
    topic_of: HashMap<Topic, IdentTopic>,
    peers: HashMap<PeerId, PeerState>,
    pending_sync: HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>>>>,
    pending_blobs: HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>>>>,
    /// Provider lookups: what was found so far, and who waits (answered at the first find,
    /// when the query ends, or after [`PROVIDERS_TIMEOUT`]).
    pending_providers: HashMap<kad::QueryId, ProviderLookup>,
    /// `admin_addPeer` dials waiting for their outcome, by connection id.
    pending_dials: HashMap<ConnectionId, oneshot::Sender<Result<()>>>,
    serving: FuturesUnordered<Served>,
    serving_blobs: FuturesUnordered<Served>,
    listen: Vec<Multiaddr>,
    counters: TopicCounters,
    bootnodes: Vec<Multiaddr>,
    max_message_bytes: usize,
    max_tx_bytes: usize,
    reserved: HashSet<PeerId>,
    kad_protocol: StreamProtocol,
    /// Messages published before any peer subscribed to their topic (a node that just
    /// started), retried every second for [`RETRY_FOR`].
    unsent: std::collections::VecDeque<(Topic, Vec<u8>, Instant)>,
}

const RETRY_FOR: Duration = Duration::from_secs(30);

/// A provider lookup in flight: found so far, who waits, when it started.
type ProviderLookup = (HashSet<PeerId>, oneshot::Sender<Vec<PeerId>>, Instant);

/// Why a listen address could not be bound. libp2p's `TransportError::Other` prints as an
/// empty string (the reason is in its source), so the chain of sources is spelled out.
fn listen_error(e: &libp2p::TransportError<std::io::Error>) -> String {
    match e {
        libp2p::TransportError::MultiaddrNotSupported(a) => format!("the address {a} is not supported"),
        libp2p::TransportError::Other(io) => {
            let mut parts: Vec<String> = Vec::new();
            let mut next: Option<&dyn std::error::Error> = Some(io);
            while let Some(err) = next {
                let text = err.to_string();
                if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
                    parts.push(text);
                }
                next = err.source();
            }
            let reason = if parts.is_empty() { format!("{io:?}") } else { parts.join(": ") };
            let in_use = std::iter::successors(Some(io as &dyn std::error::Error), |e| e.source()).any(|e| {
                e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
            });
            if in_use || reason.contains("in use") {
                format!("{reason} (another process listens there: stop it or choose another port)")
            } else {
                reason
            }
        }
    }
}

/// The reason for a TCP port found in use by [`transport::tcp_port_free`].
fn port_clash(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        format!("{e} (another process listens there, maybe another ergon node: stop it or choose another port)")
    } else {
        e.to_string()
    }
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

fn gossip_config(max_message_bytes: usize) -> std::result::Result<gossipsub::Config, String> {
    gossipsub::ConfigBuilder::default()
        // Unsigned envelopes (as Ethereum's consensus gossip): every payload carries its own
        // signatures (txs, votes, proposals, commit certificates), and a libp2p signature per
        // message would add one sign per publish and one verify per receipt to each tx.
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        // The id of a message is the hash of its data, so the same block or tx relayed by
        // different peers is one message.
        .message_id_fn(|m: &gossipsub::Message| gossipsub::MessageId::from(blake3::hash(&m.data).as_bytes().to_vec()))
        .max_transmit_size(max_message_bytes)
        .heartbeat_interval(Duration::from_millis(700))
        .build()
        .map_err(|e| e.to_string())
}

/// Gossip scores: an invalid message costs `-10 x n^2` for the `n` a peer sent recently (the
/// count decays by 10% a second), so three in a row cross [`GRAYLIST`] and the peer is banned
/// at once. More than 10 peers from one IP address cost each of them `-5 x excess^2`.
fn score_params(topics: &[IdentTopic]) -> gossipsub::PeerScoreParams {
    let mut params = gossipsub::PeerScoreParams {
        ip_colocation_factor_weight: -5.0,
        ip_colocation_factor_threshold: 10.0,
        ..Default::default()
    };
    for t in topics {
        let tp = gossipsub::TopicScoreParams {
            topic_weight: 1.0,
            invalid_message_deliveries_weight: -10.0,
            invalid_message_deliveries_decay: 0.9,
            ..Default::default()
        };
        params.topics.insert(t.hash(), tp);
    }
    params
}

impl SwarmLoop {
    pub(super) fn new(config: NetworkConfig, chain: Arc<dyn ChainView>, events: super::EventSink) -> Result<Self> {
        let genesis = config.genesis;
        let g = hex::encode(&genesis.0[..8]);
        let key = config.keypair.clone();
        let peer_id = key.public().to_peer_id();
        let transport = transport::build(config.transport.clone(), &key, config.swarm_key)
            .map_err(|e| NetworkError::Transport(e.to_string()))?;
        let topic_of: HashMap<Topic, IdentTopic> =
            Topic::ALL.iter().map(|t| (*t, IdentTopic::new(format!("/ergon/{g}/{}", t.name())))).collect();
        let topics: HashMap<TopicHash, Topic> = topic_of.iter().map(|(t, it)| (it.hash(), *t)).collect();
        let reserved: HashSet<PeerId> = config.reserved_peers.iter().filter_map(peer_of).collect();

        let mut gossip = gossipsub::Behaviour::new_with_subscription_filter(
            gossipsub::MessageAuthenticity::Anonymous,
            // Our messages are at most max_message_bytes (checked when decoded); gossipsub's
            // limit is on its frame, which wraps them.
            gossip_config(config.max_message_bytes.saturating_add(super::RESPONSE_SLACK))
                .map_err(NetworkError::Transport)?,
            gossipsub::WhitelistSubscriptionFilter(topics.keys().cloned().collect()),
        )
        .map_err(|e| NetworkError::Transport(e.to_string()))?;
        let all_topics: Vec<IdentTopic> = topic_of.values().cloned().collect();
        let thresholds = gossipsub::PeerScoreThresholds {
            gossip_threshold: -10.0,
            publish_threshold: -50.0,
            graylist_threshold: GRAYLIST,
            ..Default::default()
        };
        gossip.with_peer_score(score_params(&all_topics), thresholds).map_err(NetworkError::Transport)?;
        for t in &all_topics {
            gossip.subscribe(t).map_err(|e| NetworkError::Transport(e.to_string()))?;
        }

        let kad_protocol = StreamProtocol::try_from_owned(format!("/ergon/{g}/kad/1.0.0"))
            .map_err(|e| NetworkError::Transport(e.to_string()))?;
        let store_config = kad::store::MemoryStoreConfig {
            max_provided_keys: MAX_PROVIDED,
            ..kad::store::MemoryStoreConfig::default()
        };
        let mut kad = kad::Behaviour::with_config(
            peer_id,
            kad::store::MemoryStore::with_config(peer_id, store_config),
            kad::Config::new(kad_protocol.clone()),
        );
        // Nodes on private networks never learn they are publicly reachable; serve anyway.
        kad.set_mode(Some(kad::Mode::Server));

        let mdns = if config.mdns && matches!(config.transport, transport::TransportKind::Tcp { .. }) {
            Some(
                mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)
                    .map_err(|e| NetworkError::Transport(e.to_string()))?,
            )
        } else {
            None
        };
        let allowed = config.reserved_only.then(|| {
            let mut a = allow_block_list::Behaviour::<allow_block_list::AllowedPeers>::default();
            for p in &reserved {
                a.allow_peer(*p);
            }
            a
        });
        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(config.max_peers))
            .with_max_established_per_peer(Some(2))
            .with_max_pending_incoming(Some(32))
            .with_max_pending_outgoing(Some(32));
        let rr_config = request_response::Config::default().with_request_timeout(Duration::from_secs(30));
        let status_codec = CappedBytes { max_request: 1024, max_response: 1024 };
        // A request names at most a block's worth of tx hashes; every response fits one message.
        let sync_codec = CappedBytes { max_request: config.max_message_bytes, max_response: config.max_message_bytes };
        let proto = |name: &str| StreamProtocol::try_from_owned(format!("/ergon/{g}/{name}/1"));
        // `status` is the same on every chain: it is how peers on another chain are told apart.
        let status_proto = StreamProtocol::new("/ergon/status/1");
        let sync_proto = proto("sync").map_err(|e| NetworkError::Transport(e.to_string()))?;
        let blobs_proto = proto("blobs").map_err(|e| NetworkError::Transport(e.to_string()))?;
        let blobs_codec = CappedBytes { max_request: 128, max_response: wire::BLOB_CHUNK.saturating_add(64) };

        let behaviour = Behaviour {
            allowed: Toggle::from(allowed),
            gate: super::gate::Gate::new(config.policy),
            limits: connection_limits::Behaviour::new(limits),
            identify: identify::Behaviour::new(
                identify::Config::new("/ergon/1.0.0".into(), key.public())
                    .with_agent_version(format!("ergon/{}", env!("CARGO_PKG_VERSION"))),
            ),
            ping: ping::Behaviour::new(ping::Config::new()),
            kad,
            mdns: Toggle::from(mdns),
            gossipsub: gossip,
            status: request_response::Behaviour::with_codec(
                status_codec,
                [(status_proto, ProtocolSupport::Full)],
                rr_config.clone(),
            ),
            sync: request_response::Behaviour::with_codec(
                sync_codec,
                [(sync_proto, ProtocolSupport::Full)],
                rr_config.clone(),
            ),
            blobs: request_response::Behaviour::with_codec(
                blobs_codec,
                [(blobs_proto, ProtocolSupport::Full)],
                rr_config,
            ),
        };
        let mut swarm = SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_other_transport(|_| transport)
            .map_err(|e| NetworkError::Transport(e.to_string()))?
            .with_behaviour(|_| behaviour)
            .map_err(|e| NetworkError::Transport(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        for addr in &config.listen {
            // libp2p-tcp sets SO_REUSEPORT on every listening socket (to dial from the listen
            // port), so a second process of the same user binds a port already listened on
            // and "listens" beside the first; the kernel then splits new connections between
            // them. A plain bind first finds the clash.
            transport::tcp_port_free(addr)
                .map_err(|e| NetworkError::Listen { addr: addr.to_string(), reason: port_clash(&e) })?;
            swarm
                .listen_on(addr.clone())
                .map_err(|e| NetworkError::Listen { addr: addr.to_string(), reason: listen_error(&e) })?;
        }
        let mut looper = SwarmLoop {
            swarm,
            chain,
            events,
            genesis,
            topics,
            topic_of,
            peers: HashMap::new(),
            pending_sync: HashMap::new(),
            pending_blobs: HashMap::new(),
            pending_providers: HashMap::new(),
            pending_dials: HashMap::new(),
            serving: FuturesUnordered::new(),
            serving_blobs: FuturesUnordered::new(),
            listen: Vec::new(),
            counters: TopicCounters::default(),
            bootnodes: config.bootnodes.clone(),
            max_message_bytes: config.max_message_bytes,
            max_tx_bytes: config.max_tx_bytes,
            reserved,
            kad_protocol,
            unsent: Default::default(),
        };
        for addr in config.bootnodes.iter().chain(config.reserved_peers.iter()) {
            looper.add_known(addr);
            if let Err(e) = looper.swarm.dial(addr.clone()) {
                tracing::warn!(%addr, error = %e, "cannot dial");
            }
        }
        Ok(looper)
    }

    /// Remembers where a `/p2p/`-terminated address's peer lives, for Kademlia and redials.
    fn add_known(&mut self, addr: &Multiaddr) {
        if let Some(p) = peer_of(addr) {
            self.swarm.behaviour_mut().kad.add_address(&p, addr.clone());
        }
    }

    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut tick = tokio::time::interval(Duration::from_secs(15));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut retry = tokio::time::interval(Duration::from_secs(1));
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks = 0u32;
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                ev = self.swarm.select_next_some() => self.swarm_event(ev),
                Some(served) = self.serving.next(), if !self.serving.is_empty() => {
                    if let Ok((channel, bytes)) = served {
                        let _ = self.swarm.behaviour_mut().sync.send_response(channel, bytes);
                    }
                }
                Some(served) = self.serving_blobs.next(), if !self.serving_blobs.is_empty() => {
                    if let Ok((channel, bytes)) = served {
                        let _ = self.swarm.behaviour_mut().blobs.send_response(channel, bytes);
                    }
                }
                _ = tick.tick() => self.housekeeping(),
                _ = retry.tick() => {
                    ticks = ticks.wrapping_add(1);
                    if ticks % 5 == 0 {
                        self.redial_bootnodes();
                    }
                    if ticks % STATUS_REFRESH_SECS == 0 {
                        self.refresh_status();
                    }
                    self.retry_unsent();
                    self.chase_status();
                    self.expire_provider_lookups();
                }
            }
        }
        tracing::debug!("network stopped");
    }

    /// Random walks, redialing bootnodes when alone, and dropping peers gossip has graylisted.
    fn housekeeping(&mut self) {
        if !self.bootnodes.is_empty() || self.swarm.connected_peers().next().is_some() {
            self.swarm.behaviour_mut().kad.get_closest_peers(PeerId::random());
        }
        self.redial_bootnodes();
        let bad: Vec<PeerId> = self
            .peers
            .keys()
            .filter(|p| self.swarm.behaviour().gossipsub.peer_score(p).is_some_and(|s| s < GRAYLIST))
            .copied()
            .collect();
        for p in bad {
            self.ban(p, "gossip score below the graylist threshold");
        }
        // Strikes decay: one is forgotten per tick, so only a steady offender is banned.
        for s in self.peers.values_mut() {
            s.strikes = s.strikes.saturating_sub(1);
            s.invalid_gossip = s.invalid_gossip.saturating_sub(1);
        }
        self.swarm.behaviour_mut().gate.prune();
    }

    /// Dials the bootnodes we are not connected to while we have few peers: after a network
    /// split heals, a node that kept peers on its own side must still find the other side
    /// (waiting for a Kademlia walk could take long).
    fn redial_bootnodes(&mut self) {
        let connected = self.swarm.connected_peers().count();
        if connected >= BOOTNODE_REDIAL_BELOW {
            return;
        }
        for addr in self.bootnodes.clone() {
            let known = peer_of(&addr).is_some_and(|p| self.swarm.is_connected(&p));
            if !known && (connected == 0 || peer_of(&addr).is_some()) {
                let _ = self.swarm.dial(addr);
            }
        }
    }

    fn ban(&mut self, peer: PeerId, why: &str) {
        if self.reserved.contains(&peer) {
            tracing::warn!(%peer, why, "reserved peer misbehaves; keeping it");
            return;
        }
        let address = self.peers.get(&peer).map(|s| s.address.clone());
        let length = self.swarm.behaviour_mut().gate.ban(peer, address.as_ref());
        tracing::warn!(%peer, why, secs = length.as_secs(), "disconnecting and banning peer");
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    /// Drops a peer that is not misbehaving but of no use to us (it lacks a protocol we
    /// need): it may come back.
    fn disconnect(&mut self, peer: PeerId, why: &str) {
        tracing::info!(%peer, why, "disconnecting peer");
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    fn emit(&mut self, ev: NetworkEvent) {
        if let Err(e) = self.events.try_send(ev) {
            // The node is far behind on events: drop (gossip and status are re-sent).
            tracing::debug!(error = %e, "network event dropped");
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish { topic, data } => self.publish(topic, data, Instant::now()),
            Command::Report { id, verdict } => {
                let acceptance = match verdict {
                    Verdict::Accept => MessageAcceptance::Accept,
                    Verdict::Ignore => MessageAcceptance::Ignore,
                    Verdict::Reject => MessageAcceptance::Reject,
                };
                let counts = self.counters.of(Some(id.topic));
                match verdict {
                    Verdict::Accept => counts.accepted += 1,
                    Verdict::Ignore => counts.ignored += 1,
                    Verdict::Reject => counts.rejected += 1,
                }
                self.swarm.behaviour_mut().gossipsub.report_message_validation_result(&id.id, &id.source, acceptance);
                if verdict == Verdict::Reject {
                    self.invalid_gossip(id.source);
                }
            }
            Command::Sync { peer, request, reply } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, wire::encode_sync_request(&request));
                self.pending_sync.insert(id, reply);
            }
            Command::Penalise { peer, reason } => self.ban(peer, &reason),
            Command::Dial { addr, reply } => {
                self.add_known(&addr);
                let opts = match peer_of(&addr) {
                    Some(p) => DialOpts::peer_id(p).addresses(vec![addr]).build(),
                    None => DialOpts::unknown_peer_id().address(addr).build(),
                };
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
                        self.pending_dials.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(NetworkError::Dial(e.to_string())));
                    }
                }
            }
            Command::Peers { reply } => {
                let gossip = &self.swarm.behaviour().gossipsub;
                let mut out: Vec<PeerInfo> = self
                    .peers
                    .iter()
                    .map(|(p, s)| PeerInfo {
                        peer_id: p.to_string(),
                        address: s.address.to_string(),
                        direction: if s.outbound { "outbound" } else { "inbound" },
                        head_height: s.status.map(|st| st.head_height.max(s.relayed_height)),
                        finalized_height: s.status.map(|st| st.finalized_height.max(s.relayed_height)),
                        score: gossip.peer_score(p),
                    })
                    .collect();
                out.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
                let _ = reply.send(out);
            }
            Command::ListenAddrs { reply } => {
                let me = *self.swarm.local_peer_id();
                let _ = reply.send(self.listen.iter().map(|a| format!("{a}/p2p/{me}")).collect());
            }
            Command::Counters { reply } => {
                let _ = reply.send(self.counters.clone());
            }
            Command::Provide { hash } => {
                if let Err(e) = self.swarm.behaviour_mut().kad.start_providing(kad::RecordKey::new(&hash.0)) {
                    tracing::debug!(blob = %hash, error = %e, "cannot announce blob");
                }
            }
            Command::StopProviding { hash } => {
                self.swarm.behaviour_mut().kad.stop_providing(&kad::RecordKey::new(&hash.0));
            }
            Command::Providers { hash, reply } => {
                let id = self.swarm.behaviour_mut().kad.get_providers(kad::RecordKey::new(&hash.0));
                self.pending_providers.insert(id, (HashSet::new(), reply, Instant::now()));
            }
            Command::BlobPiece { peer, request, reply } => {
                let id = self.swarm.behaviour_mut().blobs.send_request(&peer, wire::encode_blob_request(&request));
                self.pending_blobs.insert(id, reply);
            }
        }
    }

    /// Answers a provider lookup with what it found, then every connected peer on our chain
    /// (a small network may hold the blob where no record points yet).
    fn answer_providers(&mut self, id: kad::QueryId) {
        let Some((found, reply, _)) = self.pending_providers.remove(&id) else { return };
        if let Some(mut q) = self.swarm.behaviour_mut().kad.query_mut(&id) {
            q.finish();
        }
        let me = *self.swarm.local_peer_id();
        let mut out: Vec<PeerId> = found.into_iter().filter(|p| *p != me).collect();
        out.sort();
        let mut others: Vec<PeerId> =
            self.peers.iter().filter(|(p, s)| s.status.is_some() && !out.contains(p)).map(|(p, _)| *p).collect();
        others.sort();
        out.extend(others);
        let _ = reply.send(out);
    }

    fn expire_provider_lookups(&mut self) {
        let late: Vec<kad::QueryId> = self
            .pending_providers
            .iter()
            .filter(|(_, (_, _, at))| at.elapsed() > PROVIDERS_TIMEOUT)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            self.answer_providers(id);
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>, first_try: Instant) {
        let Some(t) = self.topic_of.get(&topic).cloned() else { return };
        match self.swarm.behaviour_mut().gossipsub.publish(t, data.clone()) {
            Ok(_) => {}
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                if first_try.elapsed() < RETRY_FOR && self.unsent.len() < 10_000 {
                    self.unsent.push_back((topic, data, first_try));
                }
            }
            Err(e) => tracing::trace!(?topic, error = %e, "publish"),
        }
    }

    /// Asks silent peers for their status again; drops those that never answer.
    fn chase_status(&mut self) {
        let now = Instant::now();
        let mut ask = Vec::new();
        let mut drop = Vec::new();
        for (p, s) in self.peers.iter_mut().filter(|(_, s)| s.status.is_none()) {
            if now.duration_since(s.connected_at) > STATUS_DEADLINE {
                drop.push(*p);
            } else if now.duration_since(s.status_asked) > STATUS_RETRY {
                s.status_asked = now;
                ask.push(*p);
            }
        }
        if ask.is_empty() && drop.is_empty() {
            return;
        }
        let ours = wire::encode_status(&self.chain.status());
        for p in ask {
            self.swarm.behaviour_mut().status.send_request(&p, ours.clone());
        }
        for p in drop {
            tracing::info!(peer = %p, "peer never sent its status; disconnecting");
            let _ = self.swarm.disconnect_peer_id(p);
        }
    }

    /// Exchanges status again with every peer that told us one: each side learns the other's
    /// current head and finalized height.
    fn refresh_status(&mut self) {
        let known: Vec<PeerId> = self.peers.iter().filter(|(_, s)| s.status.is_some()).map(|(p, _)| *p).collect();
        if known.is_empty() {
            return;
        }
        let ours = wire::encode_status(&self.chain.status());
        for p in known {
            self.swarm.behaviour_mut().status.send_request(&p, ours.clone());
        }
    }

    /// A peer that relayed a committed block holds it: its head (and, the block carrying its
    /// commit certificate, its finalized height) is at least that block's height. Between
    /// status exchanges this keeps `system_peers` current.
    fn peer_has_block(&mut self, peer: PeerId, height: u64) {
        if let Some(s) = self.peers.get_mut(&peer) {
            s.relayed_height = s.relayed_height.max(height);
        }
    }

    fn retry_unsent(&mut self) {
        for (topic, data, first_try) in std::mem::take(&mut self.unsent) {
            self.publish(topic, data, first_try);
        }
    }

    fn swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => {
                let me = *self.swarm.local_peer_id();
                tracing::info!("listening on {address}/p2p/{me}");
                self.listen.push(address);
            }
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, num_established, connection_id, .. } => {
                let address = endpoint.get_remote_address().clone();
                if let Some(reply) = self.pending_dials.remove(&connection_id) {
                    let _ = reply.send(Ok(()));
                }
                if num_established.get() == 1 {
                    let direction = if endpoint.is_dialer() { "outbound" } else { "inbound" };
                    tracing::info!(%peer_id, %address, direction, "peer connected");
                    self.peers.insert(
                        peer_id,
                        PeerState {
                            address,
                            outbound: endpoint.is_dialer(),
                            status: None,
                            relayed_height: 0,
                            sync: Quota::new(),
                            blobs: Quota::new(),
                            strikes: 0,
                            invalid_gossip: 0,
                            connected_at: Instant::now(),
                            status_asked: Instant::now(),
                        },
                    );
                    let ours = wire::encode_status(&self.chain.status());
                    self.swarm.behaviour_mut().status.send_request(&peer_id, ours);
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. }
                if self.peers.remove(&peer_id).is_some() =>
            {
                tracing::info!(%peer_id, "peer disconnected");
                self.emit(NetworkEvent::PeerDisconnected { peer: PeerRef(peer_id) });
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, connection_id } => {
                tracing::debug!(?peer_id, %error, "dial failed");
                if let Some(reply) = self.pending_dials.remove(&connection_id) {
                    let _ = reply.send(Err(NetworkError::Dial(error.to_string())));
                }
            }
            SwarmEvent::Behaviour(b) => self.behaviour_event(b),
            _ => {}
        }
    }

    fn behaviour_event(&mut self, ev: BehaviourEvent) {
        match ev {
            // Only peers that speak our Kademlia protocol enter the routing table: others
            // (stock libp2p tools, nodes of other chains) would be handed out to everyone who
            // asks us for peers (paritytech/substrate#6549).
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })
                if info.protocols.contains(&self.kad_protocol) =>
            {
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
            }
            // mDNS finds every libp2p node on the LAN: dial it, and let identify decide.
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    if !self.swarm.is_connected(&peer) {
                        let _ = self.swarm.dial(DialOpts::peer_id(peer).addresses(vec![addr]).build());
                    }
                }
            }
            BehaviourEvent::Kad(kad::Event::RoutingUpdated { peer, .. })
                if !self.swarm.is_connected(&peer) && self.peers.len() < 25 =>
            {
                let _ = self.swarm.dial(peer);
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::Message { propagation_source, message_id, message }) => {
                self.gossip(propagation_source, message_id, message);
            }
            // Someone can take what found no one: a restarted validator's proposal and votes
            // go out as its first peer subscribes, not at the next retry tick (up to 1 s
            // later, a round's propose timeout on a fast chain).
            BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed { .. }) if !self.unsent.is_empty() => {
                self.retry_unsent();
            }
            BehaviourEvent::Status(request_response::Event::Message { peer, message, .. }) => match message {
                request_response::Message::Request { request, channel, .. } => {
                    let ours = wire::encode_status(&self.chain.status());
                    let _ = self.swarm.behaviour_mut().status.send_response(channel, ours);
                    self.peer_status(peer, &request);
                }
                request_response::Message::Response { response, .. } => self.peer_status(peer, &response),
            },
            BehaviourEvent::Sync(request_response::Event::Message { peer, message, .. }) => match message {
                request_response::Message::Request { request, channel, .. } => self.serve_sync(peer, &request, channel),
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.pending_sync.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            BehaviourEvent::Blobs(request_response::Event::Message { peer, message, .. }) => match message {
                request_response::Message::Request { request, channel, .. } => self.serve_blob(peer, &request, channel),
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.pending_blobs.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            BehaviourEvent::Blobs(request_response::Event::OutboundFailure { request_id, error, peer, .. }) => {
                if let Some(reply) = self.pending_blobs.remove(&request_id) {
                    let _ = reply.send(Err(NetworkError::Blob(format!("peer {peer}: {error}"))));
                }
            }
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::GetProviders(r),
                step,
                ..
            }) => {
                let mut found_some = false;
                if let Ok(kad::GetProvidersOk::FoundProviders { providers, .. }) = r {
                    let me = *self.swarm.local_peer_id();
                    if let Some((found, _, _)) = self.pending_providers.get_mut(&id) {
                        for p in providers.into_iter().filter(|p| *p != me) {
                            found_some |= found.insert(p);
                        }
                    }
                }
                if found_some || step.last {
                    self.answer_providers(id);
                }
            }
            BehaviourEvent::Status(request_response::Event::OutboundFailure {
                peer,
                error: request_response::OutboundFailure::UnsupportedProtocols,
                ..
            }) => self.disconnect(peer, "does not speak the ergon status protocol"),
            BehaviourEvent::Status(request_response::Event::OutboundFailure { peer, error, .. }) => {
                tracing::debug!(%peer, %error, "status request failed; will ask again");
            }
            BehaviourEvent::Sync(request_response::Event::OutboundFailure { request_id, error, peer, .. }) => {
                if let Some(reply) = self.pending_sync.remove(&request_id) {
                    let _ = reply.send(Err(NetworkError::Sync(format!("peer {peer}: {error}"))));
                }
            }
            _ => {}
        }
    }

    fn peer_status(&mut self, peer: PeerId, bytes: &[u8]) {
        if bytes.is_empty() {
            // A stream closed before anything arrived (the other side timed out on a bad
            // link): a failed exchange to retry, not a lie to punish.
            tracing::debug!(%peer, "empty status; will ask again");
            return;
        }
        let status = match wire::decode_status(bytes) {
            Ok(s) => s,
            Err(e) => return self.ban(peer, &format!("undecodable status: {e}")),
        };
        if status.genesis != self.genesis {
            tracing::warn!(%peer, theirs = %status.genesis, ours = %self.genesis, "peer is on another chain");
            return self.ban(peer, "different genesis");
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.status = Some(status);
        }
        self.emit(NetworkEvent::PeerStatus { peer: PeerRef(peer), status });
    }

    /// Whether `peer` may make one more request of `protocol` now. Past the quota the request
    /// is refused (dropping its channel fails it on the peer's side), and a peer that keeps
    /// flooding is banned.
    fn within_quota(&mut self, peer: PeerId, protocol: Quoted) -> bool {
        let Some(state) = self.peers.get_mut(&peer) else { return false };
        let (admitted, protocol) = match protocol {
            Quoted::Sync => (state.sync.admit(SYNC_QUOTA), "sync"),
            Quoted::Blob => (state.blobs.admit(BLOB_QUOTA), "blob"),
        };
        if admitted {
            return true;
        }
        state.strikes += 1;
        let strikes = state.strikes;
        tracing::debug!(%peer, strikes, protocol, "request quota exceeded");
        if strikes >= FLOOD_STRIKES {
            self.ban(peer, &format!("flooding {protocol} requests"));
        }
        false
    }

    fn serve_sync(&mut self, peer: PeerId, bytes: &[u8], channel: ResponseChannel<Vec<u8>>) {
        if !self.within_quota(peer, Quoted::Sync) {
            return;
        }
        let request = match wire::decode_sync_request(bytes, self.max_message_bytes) {
            Ok(r) => r,
            Err(e) => return self.ban(peer, &format!("undecodable sync request: {e}")),
        };
        let chain = self.chain.clone();
        let max = self.max_message_bytes.saturating_sub(super::RESPONSE_SLACK);
        self.serving.push(tokio::task::spawn_blocking(move || match request {
            wire::SyncQuery::Blocks(r) => {
                let (blocks, partial) = chain.committed_blocks(r.from, r.count.min(MAX_SYNC_BLOCKS), max);
                (channel, wire::encode_sync_response(&blocks, partial.as_deref()))
            }
            wire::SyncQuery::Txs(r) => (channel, chain.block_txs(&r, max)),
        }));
    }

    /// Serves a blob piece, within the peer's quota.
    fn serve_blob(&mut self, peer: PeerId, bytes: &[u8], channel: ResponseChannel<Vec<u8>>) {
        if !self.within_quota(peer, Quoted::Blob) {
            return;
        }
        let request = match wire::decode_blob_request(bytes) {
            Ok(r) => r,
            Err(e) => return self.ban(peer, &format!("undecodable blob request: {e}")),
        };
        let chain = self.chain.clone();
        self.serving_blobs.push(tokio::task::spawn_blocking(move || {
            let piece = chain.blob_piece(&request.hash, request.offset);
            (channel, wire::encode_blob_response(piece.as_ref()))
        }));
    }

    fn gossip(&mut self, source: PeerId, id: gossipsub::MessageId, message: gossipsub::Message) {
        let Some(topic) = self.topics.get(&message.topic).copied() else {
            tracing::debug!(peer = %source, topic = %message.topic, "gossip on a topic that is not ours");
            return self.undecodable(None, GossipId { id, source, topic: Topic::Txs });
        };
        let gid = GossipId { id, source, topic };
        let decoded = match topic {
            Topic::Txs => wire::decode_tx_batch(&message.data, self.max_message_bytes, self.max_tx_bytes)
                .map(|txs| NetworkEvent::Txs { txs, id: gid.clone() }),
            Topic::Blocks => wire::decode_compact_committed(&message.data, self.max_message_bytes)
                .map(|(block, commit)| NetworkEvent::Block { block: Box::new(block), commit, id: gid.clone() }),
            Topic::Consensus => wire::decode_consensus(&message.data, self.max_message_bytes)
                .map(|msg| NetworkEvent::Consensus { msg, id: gid.clone() }),
            Topic::Receipts => {
                wire::decode_receipt_gossip(&message.data).map(|msg| NetworkEvent::Receipt { msg, id: gid.clone() })
            }
        };
        if let Ok(NetworkEvent::Block { block, .. }) = &decoded {
            self.peer_has_block(source, block.header.height);
        }
        match decoded {
            Ok(ev) => self.emit(ev),
            Err(e) => {
                tracing::debug!(peer = %source, error = %e, "undecodable gossip");
                self.undecodable(Some(topic), gid);
            }
        }
    }

    /// Rejects a message that does not decode (or came on a topic that is not ours): counted
    /// under its topic, and a strike against its sender.
    fn undecodable(&mut self, topic: Option<Topic>, gid: GossipId) {
        let counts = self.counters.of(topic);
        counts.undecodable += 1;
        counts.rejected += 1;
        self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
            &gid.id,
            &gid.source,
            MessageAcceptance::Reject,
        );
        self.invalid_gossip(gid.source);
    }

    /// Gossipsub already lowered the peer's score; a peer whose score fell below the graylist
    /// (gossipsub would ignore it from now on, so it must be judged now, before the penalty
    /// decays) or that keeps sending invalid messages is disconnected and banned.
    fn invalid_gossip(&mut self, peer: PeerId) {
        let graylisted = self.swarm.behaviour().gossipsub.peer_score(&peer).is_some_and(|s| s < GRAYLIST);
        let Some(state) = self.peers.get_mut(&peer) else { return };
        state.invalid_gossip += 1;
        if graylisted || state.invalid_gossip >= INVALID_STRIKES {
            self.ban(peer, "repeatedly sent invalid gossip");
        }
    }
}
