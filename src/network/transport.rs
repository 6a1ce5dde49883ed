//! Transports: TCP (optionally behind a pre-shared swarm key) + noise + yamux, QUIC v1, or the
//! in-memory transport for tests and netsim.
//!
//! netsim puts a [`LinkLayer`] under the in-memory transport: every connection a node dials is
//! handed to it as a raw byte stream before noise and yamux, so it can delay, throttle, or
//! refuse it. Both ends live in one process, so shaping both directions on the dialing side
//! is enough; the listening side is left as it is.

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, MemoryTransport};
use libp2p::core::upgrade::Version;
use libp2p::pnet::{PnetConfig, PreSharedKey};
use libp2p::Multiaddr;
use libp2p::{identity, noise, quic, tcp, yamux, PeerId, Transport};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How this node reaches peers; chosen by whoever builds the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportKind {
    /// TCP, plus QUIC v1 when `quic` is set and no swarm key is used.
    Tcp { quic: bool },
    /// `/memory/N` addresses inside one process.
    Memory,
    /// `/memory/N` addresses, with every dialed connection passed through a link layer.
    Simulated(SharedLinkLayer),
}

/// A connection's bytes as a link layer sees them: below noise and yamux.
pub trait Duplex: futures::AsyncRead + futures::AsyncWrite + Send + Unpin + 'static {}
impl<T: futures::AsyncRead + futures::AsyncWrite + Send + Unpin + 'static> Duplex for T {}

pub type BoxedDuplex = Box<dyn Duplex>;

/// Sits between the in-memory transport and the connection upgrade (netsim's links).
pub trait LinkLayer: Send + Sync + 'static {
    /// Called on the dialing side for every new connection to `remote` (a `/memory/N`
    /// address). Returns the stream the node will use, or an error to refuse the connection.
    fn dialed(&self, remote: &Multiaddr, stream: BoxedDuplex) -> std::io::Result<BoxedDuplex>;
}

/// A link layer shared by the nodes of one simulation; equal when it is the same one.
#[derive(Clone)]
pub struct SharedLinkLayer(pub Arc<dyn LinkLayer>);

impl fmt::Debug for SharedLinkLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedLinkLayer")
    }
}

impl PartialEq for SharedLinkLayer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedLinkLayer {}

/// Largest yamux frame body rust-yamux accepts (its `MAX_FRAME_BODY_LEN`).
const YAMUX_MAX_FRAME: usize = 1 << 20;
/// rust-yamux's fixed connection receive window (libp2p-yamux does not expose it) and the
/// window every stream starts with.
const YAMUX_CONNECTION_WINDOW: usize = 1 << 30;
const YAMUX_STREAM_WINDOW: usize = 256 << 10;
/// Streams per connection, chosen so that no stream's receive window can grow past
/// [`YAMUX_MAX_FRAME`]. rust-yamux lets windows grow (auto-tuning) into what the connection
/// window leaves beyond `max_num_streams` x 256 KiB; js-yamux sends frames as large as the
/// window it was granted, so a window over 1 MiB let a js-libp2p peer send a frame we then
/// rejected (`FrameTooLarge`), killing the connection. With 4093 streams the slack is 768 KiB:
/// a window tops out at exactly 1 MiB. No more memory is at stake than before: the
/// connection's bound is the same 1 GiB, and protocol handlers cap their own open streams.
const YAMUX_MAX_STREAMS: usize =
    (YAMUX_CONNECTION_WINDOW - (YAMUX_MAX_FRAME - YAMUX_STREAM_WINDOW)) / YAMUX_STREAM_WINDOW;
const _: () =
    assert!(YAMUX_CONNECTION_WINDOW - YAMUX_MAX_STREAMS * YAMUX_STREAM_WINDOW + YAMUX_STREAM_WINDOW <= YAMUX_MAX_FRAME);

fn yamux_config() -> yamux::Config {
    let mut c = yamux::Config::default();
    c.set_max_num_streams(YAMUX_MAX_STREAMS);
    c
}

/// Noise authentication and yamux multiplexing over any byte-stream transport.
fn secure<T>(base: T, noise: noise::Config, timeout: Duration) -> Boxed<(PeerId, StreamMuxerBox)>
where
    T: Transport + Send + Unpin + 'static,
    T::Output: futures::AsyncRead + futures::AsyncWrite + Unpin + Send + 'static,
    T::Error: Send + Sync + 'static,
    T::Dial: Send + 'static,
    T::ListenerUpgrade: Send + 'static,
{
    base.upgrade(Version::V1)
        .authenticate(noise)
        .multiplex(yamux_config())
        .timeout(timeout)
        .map(|(p, m), _| (p, StreamMuxerBox::new(m)))
        .boxed()
}

/// Whether a `/ip4|ip6/.../tcp/PORT` address can be listened on by this process alone: binds
/// it without SO_REUSEPORT (which libp2p-tcp sets) and lets it go. Port 0 and other
/// addresses pass. Fails with `AddrInUse` when another socket listens there, whether or not
/// it set SO_REUSEPORT.
pub fn tcp_port_free(addr: &Multiaddr) -> std::io::Result<()> {
    use libp2p::multiaddr::Protocol;
    let mut ip = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(std::net::IpAddr::V4(a)),
            Protocol::Ip6(a) => ip = Some(std::net::IpAddr::V6(a)),
            Protocol::Tcp(port) if port != 0 => {
                if let Some(ip) = ip {
                    // std sets SO_REUSEADDR on Unix, so sockets of an earlier run still in
                    // TIME_WAIT do not count as a clash; a listening socket does.
                    std::net::TcpListener::bind((ip, port))?;
                }
                return Ok(());
            }
            _ => {}
        }
    }
    Ok(())
}

pub fn build(
    kind: TransportKind,
    key: &identity::Keypair,
    psk: Option<PreSharedKey>,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, noise::Error> {
    let noise = noise::Config::new(key)?;
    let timeout = Duration::from_secs(20);
    Ok(match kind {
        TransportKind::Memory => secure(MemoryTransport::default(), noise, timeout),
        TransportKind::Simulated(link) => {
            let shaped = MemoryTransport::default().and_then(move |stream, endpoint| {
                let stream: BoxedDuplex = Box::new(stream);
                futures::future::ready(match endpoint {
                    libp2p::core::ConnectedPoint::Dialer { address, .. } => link.0.dialed(&address, stream),
                    libp2p::core::ConnectedPoint::Listener { .. } => Ok(stream),
                })
            });
            secure(shaped, noise, timeout)
        }
        TransportKind::Tcp { quic } => {
            let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
            let tcp = match psk {
                Some(psk) => {
                    secure(tcp.and_then(move |socket, _| PnetConfig::new(psk).handshake(socket)), noise, timeout)
                }
                None => secure(tcp, noise, timeout),
            };
            // A swarm key protects TCP only; QUIC would let strangers in, so it is off then.
            if quic && psk.is_none() {
                let q =
                    quic::tokio::Transport::new(quic::Config::new(key)).map(|(p, c), _| (p, StreamMuxerBox::new(c)));
                tcp.or_transport(q)
                    .map(|either, _| match either {
                        futures::future::Either::Left(o) => o,
                        futures::future::Either::Right(o) => o,
                    })
                    .boxed()
            } else {
                tcp
            }
        }
    })
}
