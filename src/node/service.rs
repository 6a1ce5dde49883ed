//! A whole node: store, driver and RPC server, started and stopped together. The CLI, the
//! benchmark and (later) netsim all build nodes through this.

use super::{start, NodeConfig, NodeError, NodeHandle};
use crate::rpc::RpcConfig;
use crate::storage::sign_guard::{GuardError, Opened, SignGuard};
use crate::storage::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;

pub struct ServiceConfig {
    pub node: NodeConfig,
    pub db_path: PathBuf,
    /// `None`: no RPC server (benchmarks, in-process tests).
    pub rpc: Option<RpcConfig>,
    /// State-tree versions to keep; `None`: [`crate::storage::DEFAULT_STATE_RETENTION`].
    pub state_retention: Option<u64>,
    /// Blocks a blob is kept after a job last needed it; `None`:
    /// [`crate::node::DEFAULT_BLOB_RETENTION`] ([`crate::node::keep_blobs`]).
    pub blob_retention: Option<u64>,
    /// The double-sign guard's file, outside `db_path` so losing the database keeps it
    /// ([`crate::storage::sign_guard`]).
    pub sign_state_path: PathBuf,
    /// `--unsafe-reset-sign-state`: start from an empty guard, whatever was there.
    pub reset_sign_state: bool,
    /// Free bytes below which the store refuses writes; `None`:
    /// [`crate::storage::DEFAULT_MIN_FREE_BYTES`].
    pub min_free_disk: Option<u64>,
}

pub struct Service {
    pub handle: NodeHandle,
    pub rpc_addr: Option<SocketAddr>,
    rpc: Option<jsonrpsee::server::ServerHandle>,
    driver: tokio::task::JoinHandle<()>,
    stop: oneshot::Sender<()>,
    /// The blob keeper ([`crate::node::keep_blobs`]), stopped with the driver.
    blobs: tokio::task::JoinHandle<()>,
    stop_blobs: oneshot::Sender<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("cannot start RPC on {addr}: {source}")]
    Rpc { addr: SocketAddr, source: std::io::Error },
    #[error("cannot create {path}: {source}")]
    Dir { path: String, source: std::io::Error },
    #[error(transparent)]
    Guard(#[from] GuardError),
}

impl Service {
    pub async fn start(config: ServiceConfig) -> Result<Service, ServiceError> {
        std::fs::create_dir_all(&config.db_path)
            .map_err(|source| ServiceError::Dir { path: config.db_path.display().to_string(), source })?;
        let mut store = Store::open(&config.db_path, &config.node.spec).map_err(NodeError::from)?;
        if let Some(blocks) = config.state_retention {
            store.set_retention(blocks);
        }
        if let Some(bytes) = config.min_free_disk {
            store.set_min_free(bytes);
        }
        let validator = config.node.validator_key.as_ref().map(|k| k.public());
        let (guard, opened) =
            SignGuard::open_for_node(&config.sign_state_path, &store, validator.as_ref(), config.reset_sign_state)?;
        let shown = guard.path().display().to_string();
        match opened {
            Opened::Reset => tracing::warn!(guard = %shown, "double-sign guard reset (--unsafe-reset-sign-state)"),
            Opened::MovedFromDatabase => tracing::info!(guard = %shown, "double-sign guard moved out of the database"),
            Opened::Created => tracing::info!(guard = %shown, "new double-sign guard"),
            Opened::Existing | Opened::NotNeeded => {}
        }
        let store = Arc::new(store);
        let (stop, stopped) = oneshot::channel::<()>();
        let (handle, driver) = start(config.node, store, guard, async move {
            let _ = stopped.await;
        })?;
        let (stop_blobs, blobs_stopped) = oneshot::channel::<()>();
        let retention = config.blob_retention.unwrap_or(super::DEFAULT_BLOB_RETENTION);
        let blobs = tokio::spawn(super::keep_blobs(handle.clone(), retention, async move {
            let _ = blobs_stopped.await;
        }));
        let (rpc_addr, rpc) = match config.rpc {
            Some(rpc) => {
                let addr = rpc.addr;
                let (local, server) = crate::rpc::start(rpc, handle.clone())
                    .await
                    .map_err(|source| ServiceError::Rpc { addr, source })?;
                (Some(local), Some(server))
            }
            None => (None, None),
        };
        Ok(Service { handle, rpc_addr, rpc, driver, stop, blobs, stop_blobs })
    }

    /// Stops RPC, then the driver and the blob keeper, and waits for them; the store closes when the last handle
    /// is dropped.
    /// Stops at once, as a killed process would: the driver and the blob keeper are aborted
    /// where they stand (an await point), and the RPC server is told to stop. The store keeps
    /// what was committed (netsim's crash storms).
    pub async fn kill(self) {
        if let Some(rpc) = self.rpc {
            let _ = rpc.stop();
        }
        self.driver.abort();
        self.blobs.abort();
        let _ = self.driver.await;
        let _ = self.blobs.await;
    }

    pub async fn stop(self) {
        if let Some(rpc) = self.rpc {
            let _ = rpc.stop();
            rpc.stopped().await;
        }
        let _ = self.stop.send(());
        let _ = self.stop_blobs.send(());
        let _ = self.driver.await;
        let _ = self.blobs.await;
    }
}
