//! An encrypted keystore: one JSON file per key under `<base-path>/keystore/`, the secret
//! sealed with ChaCha20-Poly1305 under a key derived from the password by Argon2id. Each file
//! (version 2) names the Argon2 parameters it was sealed with, so that raising them later
//! leaves every existing file readable; a version-1 file, which has none, was sealed with
//! `KdfParams::V1`.

use anyhow::{bail, Context, Result};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use ergon::primitives::{Address, Keypair};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Password from this variable, else a prompt.
pub const PASSWORD_ENV: &str = "ERGON_PASSWORD";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    version: u32,
    address: String,
    public_key: String,
    kdf: String,
    /// Absent in version-1 files: those used `KdfParams::V1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kdf_params: Option<KdfParams>,
    salt: String,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

pub struct Keystore {
    dir: PathBuf,
}

/// Argon2id's cost: memory `m` in KiB, `t` passes, `p` lanes, and the Argon2 `version`
/// (0x13 = 19).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub m: u32,
    pub t: u32,
    pub p: u32,
    pub version: u32,
}

impl KdfParams {
    /// What version-1 files (without `kdfParams`) were sealed with: the argon2 crate 0.5's
    /// defaults, written out here so that a new default in the crate cannot lock them out.
    pub const V1: KdfParams = KdfParams { m: 19 * 1024, t: 2, p: 1, version: 0x13 };
    /// What new files are sealed with (OWASP's minimum for Argon2id, as the crate's default).
    pub const CURRENT: KdfParams = KdfParams::V1;
    /// Costs a file may ask for: 1 GiB and 64 passes; more than that is a damaged or hostile
    /// file that would hang the CLI, not a key anyone made.
    const MAX_M: u32 = 1024 * 1024;
    const MAX_T: u32 = 64;
    const MAX_P: u32 = 16;

    fn argon2(&self) -> Result<argon2::Argon2<'static>> {
        if self.m > Self::MAX_M || self.t > Self::MAX_T || self.p > Self::MAX_P {
            bail!(
                "Argon2 parameters m={} KiB t={} p={} are beyond what this keystore accepts (m <= {}, t <= {}, p <= {})",
                self.m,
                self.t,
                self.p,
                Self::MAX_M,
                Self::MAX_T,
                Self::MAX_P
            );
        }
        let version = argon2::Version::try_from(self.version)
            .map_err(|_| anyhow::anyhow!("unknown Argon2 version {:#x} (known: 0x10, 0x13)", self.version))?;
        let params = argon2::Params::new(self.m, self.t, self.p, Some(32))
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters {self:?}: {e}"))?;
        Ok(argon2::Argon2::new(argon2::Algorithm::Argon2id, version, params))
    }
}

fn derive(password: &str, salt: &[u8], params: &KdfParams) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    params
        .argon2()?
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .map_err(|e| anyhow::anyhow!("key derivation failed: {e}"))?;
    Ok(out)
}

const EMPTY_PASSWORD: &str = "an empty password does not protect the key: choose one (or set ERGON_PASSWORD)";

pub fn password(confirm: bool) -> Result<String> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    let p = rpassword::prompt_password("Keystore password: ")
        .with_context(|| format!("cannot read a password; set {PASSWORD_ENV} when not on a terminal"))?;
    if confirm {
        // A new key: refused before asking to repeat it (store refuses it too).
        if p.is_empty() {
            bail!(EMPTY_PASSWORD);
        }
        let again = rpassword::prompt_password("Repeat password: ")?;
        if again != p {
            bail!("passwords do not match");
        }
    }
    Ok(p)
}

impl Keystore {
    pub fn new(base: &Path) -> Keystore {
        Keystore { dir: base.join("keystore") }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, address: &str) -> PathBuf {
        self.dir.join(format!("{address}.json"))
    }

    pub fn store(&self, key: &Keypair, hrp: &str, password: &str) -> Result<PathBuf> {
        self.store_with(key, hrp, password, KdfParams::CURRENT)
    }

    fn store_with(&self, key: &Keypair, hrp: &str, password: &str, params: KdfParams) -> Result<PathBuf> {
        // Only new keys: a file sealed under an empty password before this check still opens.
        if password.is_empty() {
            bail!(EMPTY_PASSWORD);
        }
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        let address = Address::from_public_key(&key.public()).to_bech32(hrp);
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = ChaCha20Poly1305::new(&derive(password, &salt, &params)?.into());
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), key.secret_bytes().as_slice())
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let file = KeyFile {
            version: 2,
            address: address.clone(),
            public_key: key.public().to_hex(),
            kdf: "argon2id".into(),
            kdf_params: Some(params),
            salt: hex::encode(salt),
            cipher: "chacha20poly1305".into(),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
        };
        let path = self.file(&address);
        if path.exists() {
            bail!("{} already exists", path.display());
        }
        write_private(&path, serde_json::to_string_pretty(&file)?.as_bytes())?;
        Ok(path)
    }

    pub fn contains(&self, address: &str) -> bool {
        self.file(address).exists()
    }

    pub fn load(&self, address: &str, password: &str) -> Result<Keypair> {
        let path = self.file(address);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("no key for {address} in {}", self.dir.display()))?;
        let f: KeyFile =
            serde_json::from_str(&text).with_context(|| format!("{} is not a keystore file", path.display()))?;
        if f.kdf != "argon2id" || f.cipher != "chacha20poly1305" {
            bail!("{}: unsupported kdf {:?} or cipher {:?}", path.display(), f.kdf, f.cipher);
        }
        let salt = hex::decode(&f.salt).context("keystore salt")?;
        let nonce: [u8; 12] = hex::decode(&f.nonce).ok().and_then(|n| n.try_into().ok()).context("keystore nonce")?;
        let ciphertext = hex::decode(&f.ciphertext).context("keystore ciphertext")?;
        let params = f.kdf_params.unwrap_or(KdfParams::V1);
        let cipher = ChaCha20Poly1305::new(
            &derive(password, &salt, &params).with_context(|| format!("{}", path.display()))?.into(),
        );
        let secret = cipher
            .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| anyhow::anyhow!("wrong password for {address}"))?;
        let secret: [u8; 32] =
            secret.try_into().map_err(|_| anyhow::anyhow!("{}: secret is not 32 bytes", path.display()))?;
        let key = Keypair::from_secret(secret);
        if key.public().to_hex() != f.public_key {
            bail!("{}: decrypted key does not match its public key", path.display());
        }
        Ok(key)
    }

    pub fn list(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return vec![] };
        let mut out: Vec<String> =
            entries.filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_string)).collect();
        out.sort();
        out
    }
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_load_and_wrong_password() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::new(dir.path());
        let key = Keypair::generate(&mut rand::rngs::OsRng);
        ks.store(&key, "ait", "hunter2").unwrap();
        let addr = Address::from_public_key(&key.public()).to_bech32("ait");
        assert_eq!(ks.list(), vec![addr.clone()]);
        assert_eq!(ks.load(&addr, "hunter2").unwrap().public(), key.public());
        let e = ks.load(&addr, "hunter3").unwrap_err().to_string();
        assert!(e.contains("wrong password"), "{e}");
        let text = std::fs::read_to_string(ks.dir().join(format!("{addr}.json"))).unwrap();
        assert!(!text.contains(&hex::encode(key.secret_bytes())), "secret must not be stored in clear");
    }

    #[test]
    fn an_empty_password_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::new(dir.path());
        let key = Keypair::generate(&mut rand::rngs::OsRng);
        let e = ks.store(&key, "ait", "").unwrap_err().to_string();
        assert!(e.contains("empty password"), "{e}");
        assert!(ks.list().is_empty(), "nothing was written");
    }

    /// A file names its Argon2 parameters and is opened with them, not with today's; a file
    /// without them (version 1) opens with the parameters version 1 used.
    #[test]
    fn the_file_carries_its_argon2_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::new(dir.path());
        let key = Keypair::generate(&mut rand::rngs::OsRng);
        let cheap = KdfParams { m: 8 * 1024, t: 1, p: 1, version: 0x13 };
        assert_ne!(cheap, KdfParams::CURRENT);
        ks.store_with(&key, "ait", "hunter2", cheap).unwrap();
        let addr = Address::from_public_key(&key.public()).to_bech32("ait");
        let path = ks.dir().join(format!("{addr}.json"));
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["version"], 2);
        assert_eq!(v["kdfParams"], serde_json::json!({"m": 8192, "t": 1, "p": 1, "version": 19}));
        assert_eq!(ks.load(&addr, "hunter2").unwrap().public(), key.public());
        // Other parameters derive another key: the file's are the ones used.
        v["kdfParams"]["t"] = serde_json::json!(2);
        std::fs::write(&path, v.to_string()).unwrap();
        assert!(ks.load(&addr, "hunter2").unwrap_err().to_string().contains("wrong password"));
        // A hostile cost is refused before any work.
        v["kdfParams"]["m"] = serde_json::json!(u32::MAX);
        std::fs::write(&path, v.to_string()).unwrap();
        let e = format!("{:#}", ks.load(&addr, "hunter2").unwrap_err());
        assert!(e.contains("beyond what this keystore accepts"), "{e}");

        // A version-1 file: no kdfParams, sealed with V1's.
        let old = Keypair::generate(&mut rand::rngs::OsRng);
        ks.store_with(&old, "ait", "hunter2", KdfParams::V1).unwrap();
        let old_addr = Address::from_public_key(&old.public()).to_bech32("ait");
        let old_path = ks.dir().join(format!("{old_addr}.json"));
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&old_path).unwrap()).unwrap();
        let m = v.as_object_mut().unwrap();
        m.remove("kdfParams");
        m.insert("version".into(), serde_json::json!(1));
        std::fs::write(&old_path, v.to_string()).unwrap();
        assert_eq!(ks.load(&old_addr, "hunter2").unwrap().public(), old.public());
    }
}
