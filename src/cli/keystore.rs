//! An encrypted keystore: one JSON file per key under `<base-path>/keystore/`, the secret
//! sealed with ChaCha20-Poly1305 under a key derived from the password by Argon2id.

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
    salt: String,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

pub struct Keystore {
    dir: PathBuf,
}

fn derive(password: &str, salt: &[u8]) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    argon2::Argon2::default()
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .map_err(|e| anyhow::anyhow!("key derivation failed: {e}"))?;
    Ok(out)
}

pub fn password(confirm: bool) -> Result<String> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    let p = rpassword::prompt_password("Keystore password: ")
        .with_context(|| format!("cannot read a password; set {PASSWORD_ENV} when not on a terminal"))?;
    if confirm {
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
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        let address = Address::from_public_key(&key.public()).to_bech32(hrp);
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = ChaCha20Poly1305::new(&derive(password, &salt)?.into());
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), key.secret_bytes().as_slice())
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let file = KeyFile {
            version: 1,
            address: address.clone(),
            public_key: key.public().to_hex(),
            kdf: "argon2id".into(),
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
        let cipher = ChaCha20Poly1305::new(&derive(password, &salt)?.into());
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
}
