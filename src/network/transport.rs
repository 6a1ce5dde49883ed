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

pub fn build(
    kind: TransportKind,
    key: &identity::Keypair,
    psk: Option<PreSharedKey>,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, noise::Error> {
    let noise = noise::Config::new(key)?;
    let yamux = yamux::Config::default();
    let timeout = Duration::from_secs(20);
    Ok(match kind {
        TransportKind::Memory => MemoryTransport::default()
            .upgrade(Version::V1)
            .authenticate(noise)
            .multiplex(yamux)
            .timeout(timeout)
            .boxed(),
        TransportKind::Tcp { quic } => {
            let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
            let tcp: Boxed<(PeerId, StreamMuxerBox)> = match psk {
                Some(psk) => tcp
                    .and_then(move |socket, _| PnetConfig::new(psk).handshake(socket))
                    .upgrade(Version::V1)
                    .authenticate(noise)
                    .multiplex(yamux)
                    .timeout(timeout)
                    .map(|(p, m), _| (p, StreamMuxerBox::new(m)))
                    .boxed(),
                None => tcp
                    .upgrade(Version::V1)
                    .authenticate(noise)
                    .multiplex(yamux)
                    .timeout(timeout)
                    .map(|(p, m), _| (p, StreamMuxerBox::new(m)))
                    .boxed(),
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
