//! `ergon key generate|inspect` and `ergon createwallet`.

use super::keystore::{self, Keystore};
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use ergon::primitives::{Address, Keypair, DEV_KEY_NAMES};
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Generate a key and seal it in the keystore (or write a plain key file with --output).
    Generate(GenerateArgs),
    /// Show the address and public key of a key: a dev key name, a keystore address, a key
    /// file or a hex secret.
    Inspect {
        /// A dev key name, a keystore address, a key file or a 0x-hex secret.
        key: String,
        /// Keystore location: <base-path>/keystore [default: ~/.ergon].
        #[arg(long)]
        base_path: Option<PathBuf>,
        /// Address prefix.
        #[arg(long, default_value = "ait")]
        hrp: String,
        /// Print `{"address", "publicKey"}`.
        #[arg(long)]
        json: bool,
    },
    /// Write a new pre-shared key for a private swarm (`ergon node --swarm-key FILE`).
    GenerateSwarmKey {
        /// The file to write (readable by its owner only).
        #[arg(long)]
        output: PathBuf,
        /// Print `{"file", "fingerprint"}`.
        #[arg(long)]
        json: bool,
    },
    /// List the keystore's addresses.
    List {
        /// Keystore location: <base-path>/keystore [default: ~/.ergon].
        #[arg(long)]
        base_path: Option<PathBuf>,
        /// Print `{"addresses": [...], "keystore": DIR}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct GenerateArgs {
    /// Keystore location: <base-path>/keystore [default: ~/.ergon].
    #[arg(long)]
    base_path: Option<PathBuf>,
    /// Write the secret, hex-encoded and unencrypted, to this file instead (for validator keys).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Address prefix.
    #[arg(long, default_value = "ait")]
    hrp: String,
    /// Print `{"address", "publicKey", "file"}`.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: KeyCommand) -> Result<()> {
    match cmd {
        KeyCommand::Generate(args) => generate(args),
        KeyCommand::Inspect { key, base_path, hrp, json } => {
            let ks = Keystore::new(&base_path.unwrap_or_else(super::default_base_path));
            let k = resolve_offline(&key, &ks)?;
            print_key(&k, &hrp, json, None);
            Ok(())
        }
        KeyCommand::GenerateSwarmKey { output, json } => {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let psk = ergon::network::PreSharedKey::new(bytes);
            keystore::write_private(&output, psk.to_key_file().as_bytes())?;
            if json {
                println!("{}", json!({"file": output, "fingerprint": psk.fingerprint().to_string()}));
            } else {
                println!("Swarm key written to {} (fingerprint {})", output.display(), psk.fingerprint());
            }
            Ok(())
        }
        KeyCommand::List { base_path, json } => {
            let ks = Keystore::new(&base_path.unwrap_or_else(super::default_base_path));
            if json {
                let v = serde_json::json!({"addresses": ks.list(), "keystore": ks.dir().display().to_string()});
                println!("{v}");
                return Ok(());
            }
            for a in ks.list() {
                println!("{a}");
            }
            Ok(())
        }
    }
}

/// A key without a chain to ask: dev key name, keystore address, key file, or hex secret.
fn resolve_offline(key: &str, ks: &Keystore) -> Result<Keypair> {
    if DEV_KEY_NAMES.contains(&key) {
        return Ok(Keypair::dev(key));
    }
    if ks.contains(key) {
        return ks.load(key, &keystore::password(false)?);
    }
    if let Ok(text) = std::fs::read_to_string(key) {
        return Ok(Keypair::parse_secret_hex(&text)?);
    }
    match Keypair::parse_secret_hex(key) {
        Ok(k) => Ok(k),
        Err(_) => bail!("{key:?} is not a dev key name, a keystore address, a key file or a 32-byte hex secret"),
    }
}

fn print_key(k: &Keypair, hrp: &str, as_json: bool, stored: Option<&std::path::Path>) {
    let address = Address::from_public_key(&k.public()).to_bech32(hrp);
    if as_json {
        println!("{}", json!({"address": address, "publicKey": k.public().to_hex(), "file": stored}));
    } else {
        println!("Address:    {address}");
        println!("Public key: {}", k.public().to_hex());
        if let Some(p) = stored {
            println!("Stored in:  {}", p.display());
        }
    }
}

pub fn generate(args: GenerateArgs) -> Result<()> {
    ergon::primitives::Address::validate_hrp(&args.hrp)?;
    let key = Keypair::generate(&mut rand::rngs::OsRng);
    let path = match &args.output {
        Some(p) => {
            keystore::write_private(p, format!("0x{}\n", hex::encode(key.secret_bytes())).as_bytes())?;
            p.clone()
        }
        None => {
            let ks = Keystore::new(&args.base_path.unwrap_or_else(super::default_base_path));
            ks.store(&key, &args.hrp, &keystore::password(true)?)?
        }
    };
    print_key(&key, &args.hrp, args.json, Some(&path));
    Ok(())
}
