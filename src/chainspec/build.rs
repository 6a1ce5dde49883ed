//! `ergon chainspec build`: a testnet spec with freshly generated validator and account keys,
//! built from a base spec (`local` by default) so that no one edits genesis JSON by hand.
//!
//! The built spec keeps the base spec's token, consensus, economy, limits and network
//! parameters; it replaces the genesis accounts and validators with the generated keys, and
//! drops everything tied to the well-known dev keys: `dev_keys` is off, and the faucet (the dev
//! `faucet` key) and the PARAM_UPDATE authority (dev `alice`) are removed.

use super::{ChainSpec, GenesisAccount, GenesisValidator, SpecError};
use crate::primitives::{serde_amount, Address, Keypair};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The spec file inside the output directory.
pub const SPEC_FILE: &str = "chainspec.json";
/// The key directory inside the output directory.
pub const KEYS_DIR: &str = "keys";
/// Most funded accounts one build may generate.
pub const MAX_ACCOUNTS: u32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Input(String),
    #[error("base chain spec: {0}")]
    Base(SpecError),
    #[error("the built spec does not validate: {0}")]
    Spec(SpecError),
    #[error("{path} already exists; pass --force to overwrite it")]
    Exists { path: String },
    #[error("cannot write {path}")]
    Io { path: String, source: std::io::Error },
}

fn input(msg: impl Into<String>) -> BuildError {
    BuildError::Input(msg.into())
}

/// What to build. Amounts are base units; `None` takes the base spec's value.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub validators: u32,
    pub accounts: u32,
    /// Genesis balance of every generated account and of every validator's own account
    /// [default: the base spec's first account balance].
    pub balance: Option<u128>,
    /// Each validator's bonded stake [default: the base spec's first validator stake].
    pub stake: Option<u128>,
    /// [default: `ergon-testnet`]
    pub chain_id: Option<String>,
    /// [default: `Ergon Testnet`]
    pub name: Option<String>,
}

/// A built spec and the secret keys behind its validators and accounts, in order.
pub struct Built {
    pub spec: ChainSpec,
    pub validators: Vec<Keypair>,
    pub accounts: Vec<Keypair>,
}

/// Where [`write`] put things.
#[derive(Debug, Clone)]
pub struct Written {
    pub spec: PathBuf,
    pub validator_keys: Vec<PathBuf>,
    pub account_keys: Vec<PathBuf>,
}

/// Builds a spec from `base` with keys from `rng` (the CLI passes `OsRng`).
pub fn build<R: rand::RngCore + rand::CryptoRng>(
    base: &ChainSpec,
    opts: &BuildOptions,
    rng: &mut R,
) -> Result<Built, BuildError> {
    base.genesis().map_err(BuildError::Base)?;
    let max = base.consensus.max_validators;
    if opts.validators == 0 {
        return Err(input("--validators must be at least 1"));
    }
    if opts.validators > max {
        return Err(input(format!(
            "--validators {} is over the base spec's consensus.max_validators ({max})",
            opts.validators
        )));
    }
    if opts.accounts > MAX_ACCOUNTS {
        return Err(input(format!("--accounts {} is over {MAX_ACCOUNTS}", opts.accounts)));
    }
    let min_stake = base.economy.min_stake;
    let stake = opts.stake.or_else(|| base.validators.first().map(|v| v.stake)).unwrap_or(min_stake);
    if stake == 0 || stake < min_stake {
        return Err(input(format!("--stake {stake} is below the chain's economy.min_stake ({min_stake} base units)")));
    }
    let balance = opts.balance.or_else(|| base.accounts.first().map(|a| a.balance)).unwrap_or(0);
    if balance == 0 {
        return Err(input("--balance must be positive"));
    }
    let chain_id = opts.chain_id.clone().unwrap_or_else(|| "ergon-testnet".into());
    // The chain id names the node's database directory (<base-path>/chains/<chain id>).
    if chain_id.is_empty()
        || chain_id.len() > 64
        || !chain_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        || chain_id.starts_with('.')
    {
        return Err(input(format!(
            "--chain-id {chain_id:?}: 1 to 64 characters from A-Z a-z 0-9 - _ . (not starting with .)"
        )));
    }
    let name = opts.name.clone().unwrap_or_else(|| "Ergon Testnet".into());
    if name.trim().is_empty() {
        return Err(input("--name must not be empty"));
    }

    let hrp = base.hrp().to_string();
    let validators: Vec<Keypair> = (0..opts.validators).map(|_| Keypair::generate(rng)).collect();
    let accounts: Vec<Keypair> = (0..opts.accounts).map(|_| Keypair::generate(rng)).collect();
    let address = |k: &Keypair| Address::from_public_key(&k.public()).to_bech32(&hrp);
    let mut spec = base.clone();
    spec.name = name;
    spec.chain_id = chain_id;
    spec.dev_keys = false;
    spec.faucet = None;
    spec.authority = None;
    spec.network.bootnodes.clear();
    // Validators get a funded account too, so they can pay for UNSTAKE, UNJAIL and the like.
    spec.accounts =
        validators.iter().chain(accounts.iter()).map(|k| GenesisAccount { address: address(k), balance }).collect();
    spec.validators = validators
        .iter()
        .enumerate()
        .map(|(i, k)| GenesisValidator {
            name: format!("validator-{}", i + 1),
            address: address(k),
            consensus_key: k.public(),
            stake,
        })
        .collect();
    spec.genesis().map_err(BuildError::Spec)?;
    Ok(Built { spec, validators, accounts })
}

/// `dir/keys/validator-<i>.key` (1-based).
pub fn validator_key_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(KEYS_DIR).join(format!("validator-{}.key", i + 1))
}

/// `dir/keys/account-<i>.key` (1-based).
pub fn account_key_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(KEYS_DIR).join(format!("account-{}.key", i + 1))
}

/// Writes `dir/chainspec.json` and the key files (hex secrets, as `ergon key generate
/// --output` writes them, mode 0600 in a 0700 directory). Without `force` it refuses if the
/// spec or any key file exists; with it, it replaces them and removes stale
/// `validator-*.key` / `account-*.key` files of an earlier build. The spec is written last,
/// through a rename, so a failed build never leaves a spec whose keys are missing.
pub fn write(dir: &Path, built: &Built, force: bool) -> Result<Written, BuildError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| BuildError::Io { path, source }
    };
    let spec_path = dir.join(SPEC_FILE);
    let keys_dir = dir.join(KEYS_DIR);
    let validator_keys: Vec<PathBuf> = (0..built.validators.len()).map(|i| validator_key_path(dir, i)).collect();
    let account_keys: Vec<PathBuf> = (0..built.accounts.len()).map(|i| account_key_path(dir, i)).collect();
    if !force {
        for p in std::iter::once(&spec_path).chain(&validator_keys).chain(&account_keys) {
            if p.exists() {
                return Err(BuildError::Exists { path: p.display().to_string() });
            }
        }
    }
    std::fs::create_dir_all(&keys_dir).map_err(io(&keys_dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&keys_dir, std::fs::Permissions::from_mode(0o700)).map_err(io(&keys_dir))?;
    }
    if force {
        for entry in std::fs::read_dir(&keys_dir).map_err(io(&keys_dir))? {
            let path = entry.map_err(io(&keys_dir))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if (name.starts_with("validator-") || name.starts_with("account-")) && name.ends_with(".key") {
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
        }
    }
    for (path, key) in validator_keys.iter().zip(&built.validators).chain(account_keys.iter().zip(&built.accounts)) {
        write_private(path, format!("0x{}\n", hex::encode(key.secret_bytes())).as_bytes()).map_err(io(path))?;
    }
    let json = serde_json::to_vec_pretty(&built.spec).map_err(|e| BuildError::Spec(e.into()))?;
    let tmp = dir.join(format!(".{SPEC_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    std::fs::write(&tmp, [json.as_slice(), b"\n"].concat()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &spec_path).map_err(io(&spec_path))?;
    Ok(Written { spec: spec_path, validator_keys, account_keys })
}

/// Creates `path` (never replacing a file) readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Parses an amount option against the base spec's token: base units (`1500`) or tokens
/// (`1.5AIT`).
pub fn parse_amount(flag: &str, s: &str, base: &ChainSpec) -> Result<u128, BuildError> {
    serde_amount::parse_tokens(s, &base.token.symbol, base.token.decimals).map_err(|e| input(format!("{flag}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::DEV_KEY_NAMES;

    fn opts(validators: u32, accounts: u32) -> BuildOptions {
        BuildOptions { validators, accounts, ..Default::default() }
    }

    #[test]
    fn chainspec_build_writes_a_loadable_spec_and_its_keys() {
        let base = ChainSpec::load("local").unwrap();
        let built = build(&base, &opts(4, 2), &mut rand::rngs::OsRng).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("testnet");
        let written = write(&out, &built, false).unwrap();
        assert_eq!(written.spec, out.join("chainspec.json"));

        let spec = ChainSpec::load(written.spec.to_str().unwrap()).unwrap();
        let genesis = spec.genesis().unwrap();
        assert_eq!(spec, built.spec);
        assert_eq!(spec.chain_id, "ergon-testnet");
        assert_eq!(spec.validators.len(), 4);
        assert_eq!(genesis.validators.len(), 4);
        assert_eq!(spec.accounts.len(), 6, "4 validator accounts + 2 accounts");
        assert!(!spec.dev_keys && spec.faucet.is_none() && spec.authority.is_none());
        // The base spec's parameters are kept; its genesis is not.
        assert_eq!(spec.economy, base.economy);
        assert_eq!(spec.consensus, base.consensus);
        assert_eq!(spec.limits, base.limits);
        assert_ne!(spec.hash(), base.hash());
        let dev: Vec<_> = DEV_KEY_NAMES.iter().map(|n| Keypair::dev(n).public()).collect();

        #[cfg(unix)]
        use std::os::unix::fs::PermissionsExt;
        for (i, v) in spec.validators.iter().enumerate() {
            let path = out.join(format!("keys/validator-{}.key", i + 1));
            assert_eq!(written.validator_keys[i], path);
            let key = Keypair::parse_secret_hex(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(key.public(), v.consensus_key, "{}", path.display());
            assert_eq!(spec.parse_address(&v.address).unwrap(), Address::from_public_key(&key.public()));
            assert_eq!(v.stake, base.validators[0].stake);
            assert!(!dev.contains(&v.consensus_key), "no dev key is a validator");
            #[cfg(unix)]
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        for (i, a) in spec.accounts[4..].iter().enumerate() {
            let path = out.join(format!("keys/account-{}.key", i + 1));
            let key = Keypair::parse_secret_hex(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(spec.parse_address(&a.address).unwrap(), Address::from_public_key(&key.public()));
            assert_eq!(a.balance, base.accounts[0].balance);
            #[cfg(unix)]
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }

        // A second build into the same directory is refused, and changes nothing.
        let again = build(&base, &opts(1, 0), &mut rand::rngs::OsRng).unwrap();
        let err = write(&out, &again, false).unwrap_err().to_string();
        assert!(err.contains("already exists") && err.contains("--force"), "{err}");
        assert_eq!(ChainSpec::load(written.spec.to_str().unwrap()).unwrap(), built.spec);
        // --force replaces the spec and the keys, stale ones included.
        write(&out, &again, true).unwrap();
        assert_eq!(ChainSpec::load(written.spec.to_str().unwrap()).unwrap(), again.spec);
        assert!(!out.join("keys/validator-2.key").exists() && !out.join("keys/account-1.key").exists());
    }

    #[test]
    fn chainspec_build_rejects_bad_input() {
        let base = ChainSpec::load("local").unwrap();
        let err = |o: BuildOptions| build(&base, &o, &mut rand::rngs::OsRng).err().unwrap().to_string();
        assert!(err(opts(0, 0)).contains("at least 1"));
        assert!(err(opts(base.consensus.max_validators + 1, 0)).contains("max_validators"));
        assert!(err(BuildOptions { stake: Some(1), ..opts(1, 0) }).contains("min_stake"));
        assert!(err(BuildOptions { balance: Some(0), ..opts(1, 0) }).contains("--balance"));
        assert!(err(BuildOptions { chain_id: Some("../x".into()), ..opts(1, 0) }).contains("--chain-id"));
        assert!(err(BuildOptions { balance: Some(u128::MAX), ..opts(2, 0) }).contains("overflows"));
        assert!(parse_amount("--stake", "-5", &base).unwrap_err().to_string().contains("--stake"));
        assert_eq!(parse_amount("--stake", "2AIT", &base).unwrap(), 2_000_000_000);

        // An output path under a file cannot be created.
        let built = build(&base, &opts(1, 0), &mut rand::rngs::OsRng).unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = write(&file.path().join("out"), &built, false).unwrap_err().to_string();
        assert!(err.contains("cannot write"), "{err}");
    }
}
