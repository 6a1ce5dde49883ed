//! Account addresses: `bech32(hrp, sha256(pubkey)[0..20])`, hrp from the chain spec (`ait`).

use super::keys::PublicKey;
use bech32::{Bech32, Hrp};
use parity_scale_codec::{Decode, Encode};
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode)]
pub struct Address(pub [u8; 20]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("invalid address {0:?}: not bech32")]
    NotBech32(String),
    #[error("invalid address {addr:?}: prefix {got:?}, this chain uses {want:?}")]
    WrongHrp { addr: String, got: String, want: String },
    #[error("invalid address {0:?}: payload must be 20 bytes")]
    WrongLength(String),
    #[error("invalid address prefix {0:?}")]
    BadHrp(String),
}

impl Address {
    pub fn from_public_key(pk: &PublicKey) -> Address {
        let digest = Sha256::digest(pk.0);
        let mut a = [0u8; 20];
        a.copy_from_slice(&digest[..20]);
        Address(a)
    }

    pub fn to_bech32(&self, hrp: &str) -> String {
        match Hrp::parse(hrp) {
            Ok(h) => bech32::encode::<Bech32>(h, &self.0).unwrap_or_else(|_| format!("0x{}", hex::encode(self.0))),
            Err(_) => format!("0x{}", hex::encode(self.0)),
        }
    }

    /// Parses `s` and checks its human-readable prefix is `hrp`.
    pub fn parse(s: &str, hrp: &str) -> Result<Address, AddressError> {
        let (got, data) = bech32::decode(s).map_err(|_| AddressError::NotBech32(s.to_string()))?;
        if got.as_str() != hrp {
            return Err(AddressError::WrongHrp { addr: s.into(), got: got.to_string(), want: hrp.into() });
        }
        let bytes: [u8; 20] = data.try_into().map_err(|_| AddressError::WrongLength(s.to_string()))?;
        Ok(Address(bytes))
    }

    pub fn validate_hrp(hrp: &str) -> Result<(), AddressError> {
        Hrp::parse(hrp).map(|_| ()).map_err(|_| AddressError::BadHrp(hrp.to_string()))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address(0x{})", hex::encode(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::Keypair;

    #[test]
    fn bech32_roundtrip_and_hrp_check() {
        let a = Address::from_public_key(&Keypair::dev("alice").public());
        let s = a.to_bech32("ait");
        assert!(s.starts_with("ait1"));
        assert_eq!(Address::parse(&s, "ait").unwrap(), a);
        assert!(matches!(Address::parse(&s, "tait"), Err(AddressError::WrongHrp { .. })));
        assert!(Address::parse("ait1qqqq", "ait").is_err());
        let mut broken = s.clone();
        broken.pop();
        broken.push(if s.ends_with('q') { 'p' } else { 'q' });
        assert!(Address::parse(&broken, "ait").is_err(), "checksum must be checked");
    }
}
