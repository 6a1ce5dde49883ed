//! Opening a store: the checks that refuse a damaged one (see the module docs of
//! [`crate::storage`]), then genesis for a new one.

use super::*;

/// Files only RocksDB (or the watermark) writes once a database has data: their presence
/// without `CURRENT` means a damaged database, not a new one.
fn holds_data(name: &str) -> bool {
    name.ends_with(".sst")
        || name.ends_with(".log")
        || name.ends_with(".blob")
        || name.starts_with("MANIFEST-")
        || name == watermark::FILE_NAME
}

/// Whether `path` holds a database (`CURRENT` is there): `Ok(false)` for a missing or empty
/// directory, or one a first start left before RocksDB had written anything that matters.
fn database_exists(path: &Path) -> Result<bool> {
    if path.join("CURRENT").exists() {
        return Ok(true);
    }
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(StoreError::Dir { path: path.display().to_string(), source }),
    };
    for entry in entries.flatten() {
        if holds_data(&entry.file_name().to_string_lossy()) {
            return Err(StoreError::MissingCurrent { path: path.display().to_string() });
        }
    }
    Ok(false)
}

/// RocksDB's verdicts on its own files are damage; anything else (a held lock, permissions)
/// stays a plain database error.
fn open_error(path: &Path, e: rocksdb::Error) -> StoreError {
    match e.kind() {
        rocksdb::ErrorKind::Corruption => {
            StoreError::Damaged { path: path.display().to_string(), reason: e.into_string() }
        }
        _ => StoreError::Db(e),
    }
}

fn db_options() -> Options {
    let mut opts = Options::default();
    opts.set_max_background_jobs(2);
    opts.increase_parallelism(2);
    // See the module docs: a torn last record was never acknowledged; the watermark catches
    // the loss of any record that was.
    opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::PointInTime);
    opts.set_paranoid_checks(true);
    opts
}

fn cf_descriptor(name: &str) -> ColumnFamilyDescriptor {
    let mut o = Options::default();
    if [CF_STATE, CF_TXS, CF_HASHES, CF_JMT_NODES].contains(&name) {
        let mut bo = rocksdb::BlockBasedOptions::default();
        bo.set_bloom_filter(10.0, false);
        o.set_block_based_table_factory(&bo);
    }
    ColumnFamilyDescriptor::new(name, o)
}

impl Store {
    /// A store over an opened `db`, before `init`.
    fn over(db: DB, path: &Path, retention: u64) -> Store {
        Store {
            db,
            path: path.to_path_buf(),
            retention,
            watermark: None,
            created: false,
            blob_lock: Default::default(),
            min_free: DEFAULT_MIN_FREE_BYTES,
            cache: Default::default(),
        }
    }

    /// Opens (or creates, writing genesis) the store at `path` for `spec`. A store that exists
    /// is first checked read-only, so a damaged one is refused before RocksDB's recovery
    /// rewrites anything (see the module docs).
    pub fn open(path: &Path, spec: &ChainSpec) -> Result<Store> {
        let exists = database_exists(path)?;
        if exists {
            Store::open_read_only(path, spec)?;
        }
        let mut opts = db_options();
        opts.create_if_missing(!exists);
        opts.create_missing_column_families(true);
        let db = DB::open_cf_descriptors(&opts, path, ALL_CFS.map(cf_descriptor)).map_err(|e| open_error(path, e))?;
        let mut store = Store::over(db, path, DEFAULT_STATE_RETENTION);
        store.created = store.init(spec, true)?;
        let mark = watermark::Watermark::open(path)?;
        mark.record(&store.finalized()?)?;
        store.watermark = Some(mark);
        Ok(store)
    }

    /// Opens an existing store without writing to it (RocksDB replays its log in memory) and
    /// checks it as [`Store::open`] does. For inspection, and safe beside a running node.
    pub fn open_read_only(path: &Path, spec: &ChainSpec) -> Result<Store> {
        if !database_exists(path)? {
            return Err(StoreError::NotFound { path: path.display().to_string() });
        }
        let opts = db_options();
        // A store of another layout may lack column families; open what it has, and let the
        // schema check speak.
        let present = DB::list_cf(&opts, path).map_err(|e| open_error(path, e))?;
        let cfs = ALL_CFS.iter().filter(|name| present.iter().any(|p| p == *name)).map(|name| cf_descriptor(name));
        let db = DB::open_cf_descriptors_read_only(&opts, path, cfs, false).map_err(|e| open_error(path, e))?;
        if ALL_CFS.iter().any(|name| db.cf_handle(name).is_none() && !ADDED_CFS.contains(name)) {
            let store = Store::over(db, path, 0);
            let stored = store.db.cf_handle(CF_META).and_then(|cf| store.db.get_cf(cf, KEY_SCHEMA).ok().flatten());
            let stored = stored.and_then(|b| u32::decode(&mut &b[..]).ok()).unwrap_or(0);
            return Err(StoreError::SchemaMismatch {
                path: path.display().to_string(),
                stored,
                expected: SCHEMA_VERSION,
            });
        }
        let store = Store::over(db, path, DEFAULT_STATE_RETENTION);
        store.init(spec, false)?;
        Ok(store)
    }

    /// Checks an initialised store against `spec` and its watermark, or, when `writable` and
    /// the store holds nothing and never finalized anything, writes genesis. Returns whether
    /// it wrote genesis.
    fn init(&self, spec: &ChainSpec, writable: bool) -> Result<bool> {
        let genesis_diff = StateDiff::genesis(spec, &spec.genesis()?)?;
        let path = self.path.display().to_string();
        let mark = watermark::read(&self.path)?;
        if let Some(stored) = self.get_decoded::<u32>(CF_META, KEY_SCHEMA)? {
            if stored != SCHEMA_VERSION {
                return Err(StoreError::SchemaMismatch { path, stored, expected: SCHEMA_VERSION });
            }
            let stored: Hash = self
                .get_decoded(CF_META, KEY_GENESIS)?
                .ok_or(StoreError::Corrupt { cf: CF_META, reason: "schema written but genesis missing".into() })?;
            // The spec's own genesis, computed in memory: the stored tree's version 0 would
            // describe the stored chain, not this spec's (and the error would name a wrong hash).
            let (root, _) = state_tree::apply_diff(&super::tree::EmptyTree, &genesis_diff, 0)?;
            let expected = Self::genesis_block(spec, root).hash();
            if stored != expected {
                return Err(StoreError::GenesisMismatch { path, stored, expected });
            }
            self.check_watermark(mark)?;
            return Ok(false);
        }
        if let Some(mark) = mark {
            return Err(StoreError::Damaged {
                path,
                reason: format!("it holds no blocks at all, but this node had finalized block {}", mark.height),
            });
        }
        if !writable {
            return Err(StoreError::Damaged {
                path,
                reason: "it was created but never initialised (no genesis)".into(),
            });
        }
        let (root, tree_batch) = state_tree::apply_diff(self, &genesis_diff, 0)?;
        let genesis = Self::genesis_block(spec, root);
        let mut batch = SortedBatch::default();
        batch.put(CF_META, KEY_SCHEMA, SCHEMA_VERSION.encode());
        batch.put(CF_META, KEY_GENESIS, genesis.hash().encode());
        let events: Vec<AccountEvent> = genesis_diff
            .accounts
            .iter()
            .map(|(address, after)| AccountEvent {
                address: *address,
                cause: EventCause::Genesis,
                before: Account::default(),
                after: *after,
            })
            .collect();
        let state_writes = state_writes(&genesis_diff);
        self.stage_body(&mut batch, &BlockBody::of(&genesis, &events, &genesis_diff), &state_writes);
        self.stage_head(&mut batch, &genesis, None, &[]);
        batch.sort();
        let batch = SortedBatch::join(&[&batch, &self.stage_tree(&tree_batch, 0)?], self);
        self.write(batch)?;
        self.cache.written(state_writes);
        Ok(true)
    }

    /// Refuses a store that is below, or off, the block its watermark says was finalized.
    fn check_watermark(&self, mark: Option<BlockRef>) -> Result<()> {
        let Some(mark) = mark else { return Ok(()) };
        let path = self.path.display().to_string();
        let finalized = self.finalized()?;
        if finalized.height < mark.height {
            return Err(StoreError::RolledBack { path, finalized: mark.height, head: finalized.height });
        }
        if self.height_of(&mark.hash)? != Some(mark.height) {
            return Err(StoreError::Damaged {
                path,
                reason: format!(
                    "its block {} is not the block {} this node had finalized at that height",
                    mark.height, mark.hash
                ),
            });
        }
        Ok(())
    }

    /// Whether this open created the database (it did not exist before).
    pub fn created(&self) -> bool {
        self.created
    }
}
