//! One simulated node: the real ergon node (`Service`: network, consensus, ledger, mempool,
//! storage) over the simulated links, with its own RocksDB directory that survives crashes.

use crate::chain;
use crate::link::Links;
use crate::recorder::{observe, Recorder};
use ergon::chainspec::ChainSpec;
use ergon::mempool::MempoolConfig;
use ergon::network::{NetworkConfig, SharedLinkLayer, TransportKind};
use ergon::node::service::{Service, ServiceConfig};
use ergon::node::{NodeConfig, NodeHandle};
use ergon::primitives::Hash;
use ergon::storage::Store;
use libp2p::multiaddr::Protocol;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("node {node} did not start: {reason}")]
    Start { node: usize, reason: String },
    #[error(transparent)]
    Chain(#[from] chain::ChainError),
}

/// How long a restart keeps retrying while the crashed instance lets go of its store lock
/// (in-flight work finishes first).
const RESTART_PATIENCE: Duration = Duration::from_secs(40);

/// What every node of a run shares.
pub struct Shared {
    pub spec: ChainSpec,
    pub links: Arc<Links>,
    pub recorder: Arc<Recorder>,
    pub bootnodes: Vec<Vec<usize>>,
    pub validators: usize,
    /// Validators whose nodes run without their key (a task signs for them instead).
    pub byzantine: Vec<usize>,
    pub mempool: MempoolConfig,
    /// Each node's compute roles (none for most), started with the node and again after
    /// a restart.
    pub roles: Vec<crate::compute::NodeRoles>,
}

pub struct SimNode {
    pub index: usize,
    db: PathBuf,
    /// The service, the task watching it, and its compute worker if it has roles.
    running: Option<(Service, JoinHandle<()>, Option<JoinHandle<()>>)>,
    pub crashes: u32,
}

impl SimNode {
    pub fn new(index: usize, db: PathBuf) -> SimNode {
        SimNode { index, db, running: None, crashes: 0 }
    }

    pub fn is_up(&self) -> bool {
        self.running.is_some()
    }

    pub fn handle(&self) -> Option<&NodeHandle> {
        self.running.as_ref().map(|(s, _, _)| &s.handle)
    }

    /// The store of a running node, for reads.
    pub fn store(&self) -> Option<Arc<Store>> {
        self.handle().map(|h| h.store().clone())
    }

    pub fn head(&self) -> Option<(u64, Hash)> {
        let h = self.handle()?.store().head().ok()?;
        Some((h.height, h.hash))
    }

    fn config(&self, shared: &Shared) -> Result<ServiceConfig, NodeError> {
        let links = &shared.links;
        let p2p = |i: usize| -> Result<libp2p::Multiaddr, NodeError> {
            let id = chain::node_identity(i)?.public().to_peer_id();
            Ok(links.address(i).with(Protocol::P2p(id)))
        };
        let bootnodes = shared
            .bootnodes
            .get(self.index)
            .map(|b| b.iter().map(|i| p2p(*i)).collect::<Result<Vec<_>, _>>())
            .transpose()?
            .unwrap_or_default();
        let spec = shared.spec.clone();
        let network = NetworkConfig {
            keypair: chain::node_identity(self.index)?,
            transport: TransportKind::Simulated(SharedLinkLayer(Arc::new(links.for_node(self.index)))),
            listen: vec![links.address(self.index)],
            bootnodes,
            // The node fills in its store's genesis hash.
            genesis: Hash::ZERO,
            mdns: false,
            swarm_key: None,
            reserved_only: false,
            reserved_peers: vec![],
            max_peers: 200,
            max_message_bytes: spec.limits.max_message_bytes as usize,
            max_tx_bytes: spec.limits.max_tx_bytes as usize,
            policy: ergon::network::PeerPolicy::default(),
        };
        let honest = !shared.byzantine.contains(&self.index);
        let validator_key = (self.index < shared.validators && honest).then(|| chain::validator_key(self.index));
        let mempool = shared.mempool;
        Ok(ServiceConfig {
            node: NodeConfig { spec, validator_key, mempool, network: Some(network) },
            db_path: self.db.clone(),
            rpc: None,
            state_retention: None,
            blob_retention: None,
            // Beside the node's db, not in it: a crash keeps both.
            sign_state_path: self.db.with_extension(ergon::storage::sign_guard::FILE_NAME),
            reset_sign_state: false,
            min_free_disk: None,
        })
    }

    /// Starts the node on its store (new or kept from before a crash) and watches it.
    pub async fn start(&mut self, shared: &Shared) -> Result<(), NodeError> {
        if self.running.is_some() {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + RESTART_PATIENCE;
        let service = loop {
            match Service::start(self.config(shared)?).await {
                Ok(s) => break s,
                // The previous instance may still hold the RocksDB lock or the memory port.
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(node = self.index, error = %e, "start failed; retrying");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(NodeError::Start { node: self.index, reason: e.to_string() }),
            }
        };
        shared.links.set_down(self.index, false);
        let observer = tokio::spawn(observe(self.index, service.handle.clone(), shared.recorder.clone()));
        let worker = shared
            .roles
            .get(self.index)
            .filter(|r| !r.is_empty())
            .map(|r| tokio::spawn(ergon::node::compute::run(service.handle.clone(), r.keys())));
        self.running = Some((service, observer, worker));
        Ok(())
    }

    /// Crashes the node: its links are cut first (peers see the connections reset), then the
    /// service stops. The store stays on disk.
    pub async fn crash(&mut self, shared: &Shared) {
        self.take_down(shared, false).await;
    }

    /// Kills the node: its links are cut and its tasks aborted where they stand, without an
    /// orderly stop. The store stays on disk.
    pub async fn kill(&mut self, shared: &Shared) {
        self.take_down(shared, true).await;
    }

    async fn take_down(&mut self, shared: &Shared, abort: bool) {
        let Some((service, observer, worker)) = self.running.take() else { return };
        shared.links.set_down(self.index, true);
        observer.abort();
        if let Some(w) = worker {
            w.abort();
        }
        if abort {
            service.kill().await;
        } else {
            service.stop().await;
        }
        shared.links.next_incarnation(self.index);
        self.crashes += 1;
    }

    /// Stops the node at the end of a run, keeping its store open for the final checks.
    pub async fn stop(&mut self) -> Option<Arc<Store>> {
        let (service, observer, worker) = self.running.take()?;
        let store = service.handle.store().clone();
        observer.abort();
        if let Some(w) = worker {
            w.abort();
        }
        service.stop().await;
        Some(store)
    }
}
