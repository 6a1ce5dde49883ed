//! Who may connect: bans that expire, and caps per IP address.
//!
//! A misbehaving peer is banned for [`PeerPolicy::ban`], doubled for each earlier offence
//! (up to [`MAX_BAN`]), so a peer that was wrong once comes back and a repeat offender stays
//! out. A fresh peer id costs nothing to make, so bans also reach the address: while
//! [`IP_BAN_PEERS`] peers from one IP are banned, no new inbound connection from that IP is
//! accepted. Inbound connections per IP are capped too (outbound ones are our own choice).
//!
//! [`Bans`] is the bookkeeping with time passed in; [`Gate`] is the behaviour that applies it
//! to the swarm's connections.

use libp2p::core::{transport::PortUse, Endpoint};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    dummy, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent,
    ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Banned peers from one IP address at which the address itself is refused.
pub const IP_BAN_PEERS: usize = 4;
/// The longest a ban lasts, however often the peer offended.
pub const MAX_BAN: Duration = Duration::from_secs(7 * 24 * 3600);
/// Offences are forgotten this long after the last ban ends.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Peers whose offences are remembered; past it the oldest are forgotten.
const MAX_REMEMBERED: usize = 65_536;

/// How long bans last and how many connections one address may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerPolicy {
    /// A first offence's ban; each further offence doubles it.
    pub ban: Duration,
    /// Inbound connections accepted from one IP address.
    pub max_inbound_per_ip: u32,
}

impl Default for PeerPolicy {
    fn default() -> Self {
        PeerPolicy { ban: Duration::from_secs(3600), max_inbound_per_ip: 16 }
    }
}

struct Record {
    ip: Option<IpAddr>,
    offences: u32,
    until: Instant,
}

/// Ban bookkeeping, with the time passed in.
pub struct Bans {
    base: Duration,
    peers: HashMap<PeerId, Record>,
}

impl Bans {
    pub fn new(base: Duration) -> Bans {
        Bans { base, peers: HashMap::new() }
    }

    /// Bans `peer` (seen at `ip`) from `now`; returns how long.
    pub fn ban(&mut self, peer: PeerId, ip: Option<IpAddr>, now: Instant) -> Duration {
        if self.peers.len() >= MAX_REMEMBERED && !self.peers.contains_key(&peer) {
            self.forget_oldest();
        }
        let record = self.peers.entry(peer).or_insert(Record { ip, offences: 0, until: now });
        let earlier = record.offences.min(16);
        record.offences = record.offences.saturating_add(1);
        let length = self.base.saturating_mul(1u32 << earlier).min(MAX_BAN);
        // A ban never shortens one already running.
        record.until = record.until.max(now + length);
        record.ip = ip.or(record.ip);
        length
    }

    pub fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.peers.get(peer).is_some_and(|r| r.until > now)
    }

    /// Whether enough peers from `ip` are banned that the address is refused.
    pub fn ip_banned(&self, ip: IpAddr, now: Instant) -> bool {
        self.peers.values().filter(|r| r.ip == Some(ip) && r.until > now).count() >= IP_BAN_PEERS
    }

    /// Forgets peers whose last ban ended long ago (they start again at the first offence).
    pub fn prune(&mut self, now: Instant) {
        self.peers.retain(|_, r| r.until + FORGET_AFTER > now);
    }

    fn forget_oldest(&mut self) {
        if let Some(oldest) = self.peers.iter().min_by_key(|(_, r)| r.until).map(|(p, _)| *p) {
            self.peers.remove(&oldest);
        }
    }
}

/// The IP address in a multiaddr, if it has one.
pub fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("peer is banned")]
    Peer,
    #[error("too many banned peers from {0}")]
    Ip(IpAddr),
    #[error("{0} already holds {1} inbound connections")]
    PerIp(IpAddr, u32),
}

/// The behaviour that enforces [`Bans`] and the per-IP cap on connections.
pub struct Gate {
    policy: PeerPolicy,
    bans: Bans,
    inbound: HashMap<IpAddr, u32>,
    inbound_of: HashMap<ConnectionId, IpAddr>,
}

impl Gate {
    pub fn new(policy: PeerPolicy) -> Gate {
        Gate { policy, bans: Bans::new(policy.ban), inbound: HashMap::new(), inbound_of: HashMap::new() }
    }

    /// Bans `peer`, last seen at `addr`; returns for how long. The caller disconnects it.
    pub fn ban(&mut self, peer: PeerId, addr: Option<&Multiaddr>) -> Duration {
        self.bans.ban(peer, addr.and_then(ip_of), Instant::now())
    }

    pub fn prune(&mut self) {
        self.bans.prune(Instant::now());
    }

    fn check_peer(&self, peer: &PeerId) -> Result<(), ConnectionDenied> {
        if self.bans.is_banned(peer, Instant::now()) {
            return Err(ConnectionDenied::new(Refused::Peer));
        }
        Ok(())
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let Some(ip) = ip_of(remote) else { return Ok(()) };
        if self.bans.ip_banned(ip, Instant::now()) {
            return Err(ConnectionDenied::new(Refused::Ip(ip)));
        }
        let held = self.inbound.get(&ip).copied().unwrap_or(0);
        if held >= self.policy.max_inbound_per_ip {
            return Err(ConnectionDenied::new(Refused::PerIp(ip, held)));
        }
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check_peer(&peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: Option<PeerId>,
        _: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if let Some(peer) = peer {
            self.check_peer(&peer)?;
        }
        Ok(vec![])
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check_peer(&peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) if e.endpoint.is_listener() => {
                if let Some(ip) = ip_of(e.endpoint.get_remote_address()) {
                    *self.inbound.entry(ip).or_insert(0) += 1;
                    self.inbound_of.insert(e.connection_id, ip);
                }
            }
            FromSwarm::ConnectionClosed(e) => {
                if let Some(ip) = self.inbound_of.remove(&e.connection_id) {
                    if let Some(n) = self.inbound.get_mut(&ip) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.inbound.remove(&ip);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(&mut self, _: PeerId, _: ConnectionId, event: THandlerOutEvent<Self>) {
        libp2p::core::util::unreachable(event)
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_ban_expires_and_a_repeat_offender_waits_twice_as_long() {
        let mut bans = Bans::new(HOUR);
        let p = PeerId::random();
        let t0 = Instant::now();
        assert_eq!(bans.ban(p, None, t0), HOUR);
        assert!(bans.is_banned(&p, t0 + HOUR - Duration::from_secs(1)));
        assert!(!bans.is_banned(&p, t0 + HOUR));
        let t1 = t0 + 2 * HOUR;
        assert_eq!(bans.ban(p, None, t1), 2 * HOUR);
        assert!(bans.is_banned(&p, t1 + HOUR + Duration::from_secs(1)));
        assert!(!bans.is_banned(&p, t1 + 2 * HOUR));
        // However many offences, a ban ends within MAX_BAN.
        let mut t = t1;
        for _ in 0..40 {
            t += MAX_BAN;
            assert!(bans.ban(p, None, t) <= MAX_BAN);
        }
        assert!(!bans.is_banned(&p, t + MAX_BAN));
    }

    #[test]
    fn offences_are_forgotten_a_day_after_the_ban_ends() {
        let mut bans = Bans::new(HOUR);
        let p = PeerId::random();
        let t0 = Instant::now();
        bans.ban(p, None, t0);
        bans.prune(t0 + HOUR + FORGET_AFTER + Duration::from_secs(1));
        assert_eq!(bans.ban(p, None, t0 + 30 * HOUR), HOUR, "a forgotten peer starts at the first offence");
    }

    #[test]
    fn an_address_is_refused_while_enough_of_its_peers_are_banned() {
        let mut bans = Bans::new(HOUR);
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let other: IpAddr = "10.1.2.4".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..IP_BAN_PEERS - 1 {
            bans.ban(PeerId::random(), Some(ip), t0);
        }
        bans.ban(PeerId::random(), Some(other), t0);
        assert!(!bans.ip_banned(ip, t0));
        bans.ban(PeerId::random(), Some(ip), t0);
        assert!(bans.ip_banned(ip, t0));
        assert!(!bans.ip_banned(other, t0));
        assert!(!bans.ip_banned(ip, t0 + HOUR), "the address is let in again when its bans end");
    }

    #[test]
    fn memory_is_bounded() {
        let mut bans = Bans::new(HOUR);
        let t0 = Instant::now();
        for i in 0..MAX_REMEMBERED + 10 {
            bans.ban(PeerId::random(), None, t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(bans.peers.len(), MAX_REMEMBERED);
    }

    #[test]
    fn ips_are_read_from_addresses() {
        let a: Multiaddr = "/ip4/127.0.0.2/tcp/7070".parse().unwrap();
        assert_eq!(ip_of(&a), Some("127.0.0.2".parse().unwrap()));
        let m: Multiaddr = "/memory/12".parse().unwrap();
        assert_eq!(ip_of(&m), None);
    }
}
