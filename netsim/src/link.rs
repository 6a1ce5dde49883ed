//! The link layer: what the wire does to the bytes between two simulated nodes.
//!
//! Every node listens on `/memory/<port>` (libp2p's in-memory transport). When a node dials
//! another, the connection's raw stream (below noise and yamux) is handed to [`NodeLink`],
//! which puts two pump tasks between the node and the stream, one per direction. A pump
//! stamps each chunk the node writes with the time it arrives at the other end and delivers
//! it then:
//!
//! - **bandwidth**: a chunk of `n` bytes occupies the link for `n / bandwidth`; chunks queue
//!   behind each other (serialisation delay);
//! - **latency and jitter**: one-way delay `latency + U(-jitter, +jitter)`, at least 0;
//! - **loss**: a reliable stream cannot lose bytes, so loss is what TCP makes of it. A chunk
//!   spans `ceil(n / 1460)` packets; it is hit with probability `1 - (1 - loss)^packets`, and
//!   a hit chunk arrives one retransmission timeout later (`max(200ms, 2 * latency + 4 *
//!   jitter)`, doubling while the retransmission is lost too, at most 6 times). With
//!   `loss_unit = "message"` a chunk is hit with probability `loss` whatever its size, and
//!   each retry waits one timeout, without backing off (a resend, as gossip or consensus
//!   would, rather than TCP's exponential backoff);
//! - **order**: a stream delivers in order, so a chunk never overtakes the one before it. A
//!   delayed chunk holds up those behind it (head-of-line blocking), as in TCP.
//!
//! **Partitions and crashes** cut links: every open connection between the two sides is
//! reset at once (both pumps stop and drop the stream, so both nodes see the connection
//! close), and dials across the cut are refused. When the cut heals, nodes reconnect on
//! their own (bootnode redials, Kademlia walks); the simulator dials nothing for them.
//!
//! Shaping both directions on the dialing side is enough: both ends are in this process.
//! The per-direction RNG is seeded from the run's seed, the link and a connection counter,
//! so the draws are reproducible for a given sequence of writes (which libp2p's timing
//! decides).

use crate::pipe::Pipe;
use crate::scenario::{LinkProfile, LossUnit};
use crate::schedule::derive_rng;
use ergon::network::{BoxedDuplex, LinkLayer};
use futures::{AsyncReadExt, AsyncWriteExt, SinkExt, Stream, StreamExt};
use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Typical TCP payload per packet.
const MSS: usize = 1460;
const MIN_RTO: Duration = Duration::from_millis(200);
const MAX_RETRANSMITS: u32 = 6;
const READ_CHUNK: usize = 16 << 10;

/// Memory ports are global to the process; each simulation takes its own range so tests can
/// run side by side.
static NEXT_PORT_BASE: AtomicU64 = AtomicU64::new(0x6e65_7473_0000);
/// Ports per incarnation of the nodes: libp2p's memory transport never frees a port whose
/// listener was dropped without being removed (a crashed swarm), so a restarted node listens
/// on a fresh one: `base + incarnation * PORT_STRIDE + node + 1`.
const PORT_STRIDE: u64 = 1 << 10;
const MAX_INCARNATIONS: u64 = 1 << 10;

/// Totals over every link, both directions.
#[derive(Debug, Default)]
pub struct LinkCounters {
    pub chunks: AtomicU64,
    pub bytes: AtomicU64,
    /// Chunks that had to wait for a retransmission.
    pub retransmitted: AtomicU64,
    pub connections: AtomicU64,
    pub refused: AtomicU64,
    pub resets: AtomicU64,
}

struct State {
    default: LinkProfile,
    /// Per pair `(min, max)`: a profile that replaces the default.
    overrides: HashMap<(usize, usize), LinkProfile>,
    /// Node -> side of the current partition; `None`: no partition.
    sides: Option<Vec<usize>>,
    down: Vec<bool>,
    /// How many times each node has been started before.
    incarnation: Vec<u64>,
}

/// The simulated network between all nodes of a run.
pub struct Links {
    state: Mutex<State>,
    /// Bumped on every cut, so pumps recheck their link.
    generation: watch::Sender<u64>,
    seed: u64,
    port_base: u64,
    nodes: usize,
    next_conn: AtomicU64,
    pub counters: LinkCounters,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl Links {
    pub fn new(nodes: usize, default: LinkProfile, seed: u64) -> Arc<Links> {
        let port_base = NEXT_PORT_BASE.fetch_add(PORT_STRIDE * MAX_INCARNATIONS, Relaxed);
        let state = State {
            default,
            overrides: HashMap::new(),
            sides: None,
            down: vec![false; nodes],
            incarnation: vec![0; nodes],
        };
        Arc::new(Links {
            state: Mutex::new(state),
            generation: watch::channel(0).0,
            seed,
            port_base,
            nodes,
            next_conn: AtomicU64::new(0),
            counters: LinkCounters::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock is a bug elsewhere; the state is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where node `i` listens in its current incarnation.
    pub fn address(&self, node: usize) -> Multiaddr {
        let incarnation = self.state().incarnation.get(node).copied().unwrap_or(0) % MAX_INCARNATIONS;
        Multiaddr::empty().with(Protocol::Memory(self.port_base + incarnation * PORT_STRIDE + node as u64 + 1))
    }

    /// A node about to restart gets a new address (see [`PORT_STRIDE`]).
    pub fn next_incarnation(&self, node: usize) {
        if let Some(i) = self.state().incarnation.get_mut(node) {
            *i += 1;
        }
    }

    fn node_at(&self, addr: &Multiaddr) -> Option<usize> {
        addr.iter().find_map(|p| match p {
            Protocol::Memory(port) => port
                .checked_sub(self.port_base + 1)
                .filter(|off| *off < PORT_STRIDE * MAX_INCARNATIONS)
                .and_then(|off| usize::try_from(off % PORT_STRIDE).ok())
                .filter(|i| *i < self.nodes),
            _ => None,
        })
    }

    /// The link layer as node `node` sees it.
    pub fn for_node(self: &Arc<Self>, node: usize) -> NodeLink {
        NodeLink { node, links: self.clone() }
    }

    pub fn is_cut(&self, a: usize, b: usize) -> bool {
        let s = self.state();
        cut(&s, a, b)
    }

    fn cut_changed(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn partition(&self, groups: &[Vec<usize>]) {
        {
            let mut s = self.state();
            let mut sides = vec![usize::MAX; self.nodes];
            for (g, members) in groups.iter().enumerate() {
                for n in members {
                    if let Some(x) = sides.get_mut(*n) {
                        *x = g;
                    }
                }
            }
            s.sides = Some(sides);
        }
        self.cut_changed();
    }

    pub fn heal(&self) {
        self.state().sides = None;
        self.cut_changed();
    }

    /// A crashed node's links are all cut until it is up again.
    pub fn set_down(&self, node: usize, down: bool) {
        if let Some(d) = self.state().down.get_mut(node) {
            *d = down;
        }
        self.cut_changed();
    }

    /// Links between `from` and `to` take `profile` (`None`: the default again).
    pub fn set_profile(&self, from: &[usize], to: &[usize], profile: Option<LinkProfile>) {
        let mut s = self.state();
        for a in from {
            for b in to.iter().filter(|b| *b != a) {
                match profile {
                    Some(p) => s.overrides.insert(pair(*a, *b), p),
                    None => s.overrides.remove(&pair(*a, *b)),
                };
            }
        }
    }

    fn profile(&self, a: usize, b: usize) -> LinkProfile {
        let s = self.state();
        s.overrides.get(&pair(a, b)).copied().unwrap_or(s.default)
    }

    /// Nodes connected to each other, ignoring the links' quality: the partition's sides
    /// minus crashed nodes.
    pub fn components(&self) -> Vec<Vec<usize>> {
        let s = self.state();
        let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
        for n in 0..self.nodes {
            if s.down.get(n).copied().unwrap_or(true) {
                continue;
            }
            let side = s.sides.as_ref().and_then(|v| v.get(n).copied()).unwrap_or(0);
            groups.entry(side).or_default().push(n);
        }
        let mut out: Vec<Vec<usize>> = groups.into_values().collect();
        out.sort();
        out
    }
}

fn cut(s: &State, a: usize, b: usize) -> bool {
    let down = |n: usize| s.down.get(n).copied().unwrap_or(true);
    let side = |n: usize| s.sides.as_ref().map(|v| v.get(n).copied().unwrap_or(usize::MAX));
    down(a) || down(b) || side(a) != side(b)
}

/// One node's view of the links: what its transport calls for every connection it dials.
pub struct NodeLink {
    node: usize,
    links: Arc<Links>,
}

impl LinkLayer for NodeLink {
    fn dialed(&self, remote: &Multiaddr, stream: BoxedDuplex) -> io::Result<BoxedDuplex> {
        let links = &self.links;
        let Some(peer) = links.node_at(remote) else {
            links.counters.refused.fetch_add(1, Relaxed);
            return Err(io::Error::new(io::ErrorKind::AddrNotAvailable, format!("{remote} is not a simulated node")));
        };
        if links.is_cut(self.node, peer) {
            links.counters.refused.fetch_add(1, Relaxed);
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "link is cut (partition or crash)"));
        }
        links.counters.connections.fetch_add(1, Relaxed);
        let conn = links.next_conn.fetch_add(1, Relaxed);
        let (pipe, written, deliver) = Pipe::new();
        let (inner_read, inner_write) = stream.split();
        let up = Direction::new(links, self.node, peer, conn);
        let down = Direction::new(links, peer, self.node, conn);
        tokio::spawn(pump(written, inner_write.into_sink(), up, links.clone()));
        tokio::spawn(pump(
            chunks(inner_read),
            deliver.sink_map_err(|_| io::ErrorKind::BrokenPipe.into()),
            down,
            links.clone(),
        ));
        Ok(Box::new(pipe))
    }
}

/// One direction of one connection: its clock and its dice.
struct Direction {
    from: usize,
    to: usize,
    rng: ChaCha8Rng,
    /// When the link finishes sending what is queued.
    free_at: Instant,
    /// Arrival of the previous chunk: nothing arrives before it.
    last_due: Instant,
}

impl Direction {
    fn new(links: &Links, from: usize, to: usize, conn: u64) -> Direction {
        let label = format!("link/{from}/{to}");
        let now = Instant::now();
        Direction { from, to, rng: derive_rng(links.seed, &label, conn), free_at: now, last_due: now }
    }

    /// When `n` bytes written now arrive.
    fn stamp(&mut self, n: usize, p: &LinkProfile, counters: &LinkCounters) -> Instant {
        let now = Instant::now();
        let start = self.free_at.max(now);
        let send_time =
            p.bandwidth.map_or(Duration::ZERO, |b| Duration::from_secs_f64(n as f64 / b.bytes_per_sec as f64));
        self.free_at = start + send_time;
        let jitter = p.jitter.0.as_secs_f64();
        let mut delay = p.latency.0.as_secs_f64();
        if jitter > 0.0 {
            delay += self.rng.gen_range(-jitter..=jitter);
        }
        let mut delay = Duration::from_secs_f64(delay.max(0.0));
        if p.loss > 0.0 {
            let packets = match p.loss_unit {
                LossUnit::Packet => n.div_ceil(MSS).max(1),
                LossUnit::Message => 1,
            };
            let hit = 1.0 - (1.0 - p.loss).powi(i32::try_from(packets).unwrap_or(i32::MAX));
            let mut rto = MIN_RTO.max(p.latency.0 * 2 + p.jitter.0 * 4);
            let mut tries = 0;
            let mut chance = hit;
            while tries < MAX_RETRANSMITS && self.rng.gen_bool(chance.clamp(0.0, 1.0)) {
                delay += rto;
                // TCP backs off; a message-level resend (gossip's, or the node's own) does not.
                if p.loss_unit == LossUnit::Packet {
                    rto *= 2;
                }
                tries += 1;
                // A retransmission is a single packet's worth of risk.
                chance = p.loss;
            }
            if tries > 0 {
                counters.retransmitted.fetch_add(1, Relaxed);
            }
        }
        let due = (self.free_at + delay).max(self.last_due);
        self.last_due = due;
        due
    }
}

/// Reads a byte stream as chunks, as they come. Each chunk is allocated at its own size: a
/// hundred nodes keep thousands of chunks in flight, so a read buffer's spare capacity would
/// cost more than the copy.
fn chunks(read: impl futures::AsyncRead + Unpin) -> impl Stream<Item = Vec<u8>> + Unpin {
    let buf = vec![0u8; READ_CHUNK];
    Box::pin(futures::stream::unfold((read, buf), |(mut r, mut buf)| async move {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some((buf.get(..n).unwrap_or_default().to_vec(), (r, buf))),
        }
    }))
}

/// Carries chunks from `src` to `dst` at the times `dir` gives them, until either side ends
/// or the link is cut.
async fn pump<S, K>(mut src: S, mut dst: K, mut dir: Direction, links: Arc<Links>)
where
    S: Stream<Item = Vec<u8>> + Unpin,
    K: futures::Sink<Vec<u8>, Error = io::Error> + Unpin,
{
    let mut cuts = links.generation.subscribe();
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut open = true;
    loop {
        let next_due = queue.front().map(|(due, _)| *due);
        tokio::select! {
            chunk = src.next(), if open => match chunk {
                Some(chunk) => {
                    let profile = links.profile(dir.from, dir.to);
                    links.counters.chunks.fetch_add(1, Relaxed);
                    links.counters.bytes.fetch_add(chunk.len() as u64, Relaxed);
                    let due = dir.stamp(chunk.len(), &profile, &links.counters);
                    queue.push_back((due, chunk));
                }
                None => open = false,
            },
            _ = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {
                let now = Instant::now();
                while queue.front().is_some_and(|(due, _)| *due <= now) {
                    let Some((_, chunk)) = queue.pop_front() else { break };
                    if dst.feed(chunk).await.is_err() {
                        return;
                    }
                }
                if dst.flush().await.is_err() {
                    return;
                }
            }
            changed = cuts.changed() => {
                if changed.is_err() || links.is_cut(dir.from, dir.to) {
                    links.counters.resets.fetch_add(1, Relaxed);
                    return;
                }
            }
        }
        if !open && queue.is_empty() {
            let _ = dst.close().await;
            return;
        }
    }
}
