//! The double-sign guard on disk: for each validator key, the last (height, round, step) it
//! signed at and its lock ([`SignState`]), in its own small file beside the chain database
//! (`<base>/chains/<chain id>/sign-state.json`), written atomically and synced before the
//! message it covers is sent.
//!
//! Why apart from the database: a validator that loses its chain database (a damaged disk, a
//! `--resync`, a move to a new machine) must not lose the memory of what it signed, or it
//! signs again at heights it already voted on and is slashed. Losing the guard while the
//! database survives is the suspicious case: the node refuses to validate
//! ([`GuardError::Missing`]) unless the operator says `--unsafe-reset-sign-state`.
//!
//! The file is the interchange format itself, an adaptation of EIP-3076 (slashing-protection
//! interchange): `metadata` names the format version and the chain's genesis hash, `data`
//! holds one record per public key with its last signed position and lock (the lock's
//! justifying prevotes as SCALE bytes in hex). `ergon sign-state export` prints it;
//! `ergon sign-state import` merges a file into it, refusing another chain's and never
//! lowering a record (the higher position wins). A lock file held by the running node keeps
//! an import from racing it.

use crate::consensus::tendermint::{Lock, SignState, Step};
use crate::consensus::SignedVote;
use crate::primitives::{Hash, PublicKey};
use parity_scale_codec::{Decode, Encode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The guard's name in the chain directory.
pub const FILE_NAME: &str = "sign-state.json";

/// The interchange format version this build writes and reads.
pub const INTERCHANGE_VERSION: &str = "5";

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("cannot {action} the double-sign guard {path}: {source}")]
    Io { action: &'static str, path: String, source: std::io::Error },
    #[error("{path} is not a sign-state interchange file: {reason}")]
    Parse { path: String, reason: String },
    #[error("{path} has interchange format version {found:?}; this build reads version {INTERCHANGE_VERSION:?}")]
    Version { path: String, found: String },
    #[error(
        "{path} is for the chain with genesis {found}, not this one ({expected}). Use the file made for this \
         chain; a guard for a chain that was abandoned is reset with --unsafe-reset-sign-state"
    )]
    OtherChain { path: String, found: Hash, expected: Hash },
    #[error("{path}: the record for {pubkey} is invalid: {reason}")]
    Record { path: String, pubkey: PublicKey, reason: String },
    #[error(
        "refusing to validate: the chain database {db} exists but the double-sign guard {path} is missing, so this \
         node cannot know what its key already signed, and signing again could double-sign. Restore the file, or \
         import an export of it (`ergon sign-state import`). Only if this key signed nothing the chain has not \
         already passed (and signs nowhere else), start once with --unsafe-reset-sign-state"
    )]
    Missing { path: String, db: String },
    #[error(
        "the double-sign guard {path} is in use by another process (a node running on this base path?); stop it first"
    )]
    InUse { path: String },
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

pub type Result<T> = std::result::Result<T, GuardError>;

/// The interchange file, and the guard file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interchange {
    pub metadata: Metadata,
    pub data: Vec<Record>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub interchange_format_version: String,
    pub genesis_hash: Hash,
}

/// One validator key's guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub pubkey: PublicKey,
    pub last_signed: Position,
    /// The value the key is locked on at `last_signed.height`, if any.
    #[serde(default)]
    pub lock: Option<LockRecord>,
}

/// A (height, round, step) position: the key signs only strictly above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub height: u64,
    pub round: u32,
    pub step: StepName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepName {
    Propose,
    Prevote,
    Precommit,
}

impl From<Step> for StepName {
    fn from(s: Step) -> Self {
        match s {
            Step::Propose => StepName::Propose,
            Step::Prevote => StepName::Prevote,
            Step::Precommit => StepName::Precommit,
        }
    }
}

impl From<StepName> for Step {
    fn from(s: StepName) -> Self {
        match s {
            StepName::Propose => Step::Propose,
            StepName::Prevote => Step::Prevote,
            StepName::Precommit => Step::Precommit,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    pub value: Hash,
    pub round: u32,
    /// The prevotes that justified the lock: SCALE-encoded `Vec<SignedVote>`, 0x-prefixed hex.
    pub proof: String,
}

impl Record {
    pub fn from_state(pubkey: PublicKey, s: &SignState) -> Record {
        Record {
            pubkey,
            last_signed: Position { height: s.height, round: s.round, step: s.step.into() },
            lock: s.lock.map(|l| LockRecord {
                value: l.value,
                round: l.round,
                proof: format!("0x{}", hex::encode(s.lock_proof.encode())),
            }),
        }
    }

    fn to_state(&self) -> std::result::Result<SignState, String> {
        let (lock, lock_proof) = match &self.lock {
            None => (None, vec![]),
            Some(l) => {
                let bytes = hex::decode(l.proof.strip_prefix("0x").unwrap_or(&l.proof))
                    .map_err(|e| format!("lock proof is not hex: {e}"))?;
                let proof = Vec::<SignedVote>::decode(&mut &bytes[..])
                    .map_err(|e| format!("lock proof is not a list of signed votes: {e}"))?;
                (Some(Lock { value: l.value, round: l.round }), proof)
            }
        };
        let p = &self.last_signed;
        Ok(SignState { height: p.height, round: p.round, step: p.step.into(), lock, lock_proof })
    }
}

/// The guard of one chain: every key's [`SignState`], and the file they live in.
pub struct SignGuard {
    path: PathBuf,
    genesis: Hash,
    states: BTreeMap<PublicKey, SignState>,
    /// Held for the guard's life, so an import cannot race the node (unix only).
    _lock: Option<File>,
}

/// What [`SignGuard::open_for_node`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The file was there.
    Existing,
    /// A new database: a new, empty guard.
    Created,
    /// Taken over from the database, where earlier builds kept it.
    MovedFromDatabase,
    /// No file and the node does not validate: none is needed (and none is made, so a later
    /// start as a validator still sees that it is missing).
    NotNeeded,
    /// `--unsafe-reset-sign-state`: whatever was there is gone.
    Reset,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> GuardError + 'a {
    move |source| GuardError::Io { action, path: path.display().to_string(), source }
}

fn lock_path(path: &Path) -> PathBuf {
    path.with_extension("lock")
}

#[cfg(unix)]
fn lock(path: &Path) -> Result<Option<File>> {
    use rustix::fs::{flock, FlockOperation};
    let lock = lock_path(path);
    if let Some(dir) = lock.parent() {
        std::fs::create_dir_all(dir).map_err(io("create the directory of", &lock))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(io("open the lock of", path))?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(GuardError::InUse { path: path.display().to_string() }),
        Err(e) => Err(GuardError::Io { action: "lock", path: path.display().to_string(), source: e.into() }),
    }
}

#[cfg(not(unix))]
fn lock(_path: &Path) -> Result<Option<File>> {
    Ok(None)
}

/// Fails with [`GuardError::InUse`] if a process holds the guard at `path` (a node running on
/// it); checked before deleting what such a node uses.
pub fn ensure_unused(path: &Path) -> Result<()> {
    lock(path).map(drop)
}

/// Reads and validates the interchange file at `path`; `None` if there is none.
pub fn read(path: &Path) -> Result<Option<Interchange>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", path)(e)),
    };
    parse(path, &text).map(Some)
}

/// Parses and validates interchange JSON (`path` names it in errors).
pub fn parse(path: &Path, text: &str) -> Result<Interchange> {
    let shown = || path.display().to_string();
    let file: Interchange =
        serde_json::from_str(text).map_err(|e| GuardError::Parse { path: shown(), reason: e.to_string() })?;
    if file.metadata.interchange_format_version != INTERCHANGE_VERSION {
        return Err(GuardError::Version { path: shown(), found: file.metadata.interchange_format_version });
    }
    for r in &file.data {
        r.to_state().map_err(|reason| GuardError::Record { path: shown(), pubkey: r.pubkey, reason })?;
    }
    Ok(file)
}

/// The higher of two guards for one key (the first on a tie): never lower what is kept.
fn max_state(a: SignState, b: SignState) -> SignState {
    if (b.height, b.round, b.step) > (a.height, a.round, a.step) {
        b
    } else {
        a
    }
}

impl SignGuard {
    /// The guard's path in a chain directory (`<base>/chains/<chain id>`).
    pub fn path_in(chain_dir: &Path) -> PathBuf {
        chain_dir.join(FILE_NAME)
    }

    /// Locks and loads the guard at `path` for the chain with `genesis`; a missing file is an
    /// empty guard that [`SignGuard::save`] will create.
    fn load(path: &Path, genesis: Hash) -> Result<(SignGuard, bool)> {
        let lock = lock(path)?;
        let file = read(path)?;
        let exists = file.is_some();
        let mut guard = SignGuard { path: path.to_path_buf(), genesis, states: BTreeMap::new(), _lock: lock };
        if let Some(file) = file {
            if file.metadata.genesis_hash != genesis {
                return Err(GuardError::OtherChain {
                    path: path.display().to_string(),
                    found: file.metadata.genesis_hash,
                    expected: genesis,
                });
            }
            guard.merge(file)?;
        }
        Ok((guard, exists))
    }

    /// Opens the guard for a node on `store`, validating with `validator` if it does:
    /// the file if it is there; a new one for a new database; the one earlier builds kept in
    /// the database; or, for a validator whose database exists without a guard,
    /// [`GuardError::Missing`]. `reset` (`--unsafe-reset-sign-state`) starts from an empty
    /// guard whatever was there.
    pub fn open_for_node(
        path: &Path,
        store: &super::Store,
        validator: Option<&PublicKey>,
        reset: bool,
    ) -> Result<(SignGuard, Opened)> {
        let genesis = store.genesis_hash()?;
        if reset {
            let lock = lock(path)?;
            let guard = SignGuard { path: path.to_path_buf(), genesis, states: BTreeMap::new(), _lock: lock };
            guard.write()?;
            store.forget_legacy_sign_state()?;
            return Ok((guard, Opened::Reset));
        }
        let (mut guard, exists) = SignGuard::load(path, genesis)?;
        if exists {
            return Ok((guard, Opened::Existing));
        }
        if store.created() {
            guard.write()?;
            return Ok((guard, Opened::Created));
        }
        let Some(key) = validator else { return Ok((guard, Opened::NotNeeded)) };
        match store.legacy_sign_state()? {
            Some(state) => {
                guard.save(*key, &state)?;
                // Only once the file holds it.
                store.forget_legacy_sign_state()?;
                Ok((guard, Opened::MovedFromDatabase))
            }
            None => {
                Err(GuardError::Missing { path: path.display().to_string(), db: store.path().display().to_string() })
            }
        }
    }

    /// What `key` last signed, if anything.
    pub fn state_of(&self, key: &PublicKey) -> Option<&SignState> {
        self.states.get(key)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records what `key` is about to sign; on disk (synced) when this returns.
    pub fn save(&mut self, key: PublicKey, state: &SignState) -> Result<()> {
        let before = self.states.insert(key, state.clone());
        let written = self.write();
        if written.is_err() {
            // Memory says what the disk says.
            match before {
                Some(b) => self.states.insert(key, b),
                None => self.states.remove(&key),
            };
        }
        written
    }

    /// The guard as interchange JSON.
    pub fn interchange(&self) -> Interchange {
        Interchange {
            metadata: Metadata { interchange_format_version: INTERCHANGE_VERSION.into(), genesis_hash: self.genesis },
            data: self.states.iter().map(|(k, s)| Record::from_state(*k, s)).collect(),
        }
    }

    /// Takes the higher of each record and what is held (a file's records are valid: [`parse`]).
    fn merge(&mut self, file: Interchange) -> Result<Vec<(PublicKey, Merged)>> {
        let mut out = Vec::new();
        for r in file.data {
            let state = r.to_state().map_err(|reason| GuardError::Record {
                path: self.path.display().to_string(),
                pubkey: r.pubkey,
                reason,
            })?;
            let merged = match self.states.remove(&r.pubkey) {
                None => {
                    self.states.insert(r.pubkey, state);
                    Merged::Added
                }
                Some(held) => {
                    let raised = (state.height, state.round, state.step) > (held.height, held.round, held.step);
                    self.states.insert(r.pubkey, max_state(held, state));
                    if raised {
                        Merged::Raised
                    } else {
                        Merged::Kept
                    }
                }
            };
            out.push((r.pubkey, merged));
        }
        Ok(out)
    }

    /// Merges an interchange file into the guard at `path` for the chain with `genesis`
    /// (creating it if missing): refused for another chain, and no record is lowered. Refused
    /// while a node holds the guard.
    pub fn import(path: &Path, genesis: Hash, file: Interchange) -> Result<Vec<(PublicKey, Merged)>> {
        if file.metadata.genesis_hash != genesis {
            return Err(GuardError::OtherChain {
                path: "the imported file".into(),
                found: file.metadata.genesis_hash,
                expected: genesis,
            });
        }
        let (mut guard, _) = SignGuard::load(path, genesis)?;
        let merged = guard.merge(file)?;
        guard.write()?;
        Ok(merged)
    }

    /// Writes the whole guard: a temporary file, synced, renamed over the guard, and the
    /// directory synced, so a crash leaves the old file or the new one.
    fn write(&self) -> Result<()> {
        let path = &self.path;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io("create the directory of", path))?;
        let mut bytes = serde_json::to_vec_pretty(&self.interchange())
            .map_err(|e| GuardError::Parse { path: path.display().to_string(), reason: e.to_string() })?;
        bytes.push(b'\n');
        let tmp = path.with_extension("json.tmp");
        let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(&bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io("replace", path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync the directory of", path))
    }
}

/// What an import did to one key's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merged {
    /// A key the guard did not hold.
    Added,
    /// The imported position was higher.
    Raised,
    /// The held position was at least as high: unchanged.
    Kept,
}

#[cfg(test)]
mod tests;
