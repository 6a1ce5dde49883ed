//! Transports: TCP (optionally behind a pre-shared swarm key) + noise + yamux, QUIC v1, or the
//! in-memory transport for tests and netsim.

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, MemoryTransport};
use libp2p::core::upgrade::Version;
use libp2p::pnet::{PnetConfig, PreSharedKey};
use libp2p::{identity, noise, quic, tcp, yamux, PeerId, Transport};
use std::time::Duration;

/// How this node reaches peers; chosen by whoever builds the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// TCP, plus QUIC v1 when `quic` is set and no swarm key is used.
    Tcp { quic: bool },
    /// `/memory/N` addresses inside one process.
    Memory,
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
        .multiplex(yamux::Config::default())
        .timeout(timeout)
        .map(|(p, m), _| (p, StreamMuxerBox::new(m)))
        .boxed()
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
