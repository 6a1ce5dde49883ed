"""ed25519 keys (PyNaCl), the dev keys and addresses, as the node derives them.

- A secret is a 32-byte ed25519 seed (ed25519-dalek's ``SigningKey::from_bytes``).
- Dev keys: ``secret = BLAKE3("ergon/dev-key/v1" || 0x00 || name)`` (src/primitives/keys.rs).
- Addresses: ``bech32("ait", sha256(public key)[0..20])`` (src/primitives/address.rs).
"""

from __future__ import annotations

import hashlib
import os

from . import bech32
from .blake3 import digest

__all__ = ["Keypair", "DEV_KEY_NAMES", "address_of", "parse_address", "DEV_KEY_TAG"]

DEV_KEY_NAMES = ("alice", "bob", "charlie", "dave", "eve", "ferdie", "faucet")
DEV_KEY_TAG = b"ergon/dev-key/v1"
HRP = "ait"


def address_of(public_key: bytes, hrp: str = HRP) -> str:
    """The bech32 address of a 32-byte ed25519 public key."""
    if len(public_key) != 32:
        raise ValueError(f"a public key is 32 bytes, got {len(public_key)}")
    return bech32.encode(hrp, hashlib.sha256(public_key).digest()[:20])


def parse_address(addr: str, hrp: str = HRP) -> bytes:
    """The 20 bytes of an address; raises ``AddressError`` (a ``ValueError``) saying why not."""
    return bech32.decode(addr, hrp)


class Keypair:
    """An ed25519 signing key. Its ``repr`` never shows the secret."""

    def __init__(self, secret: bytes):
        from nacl.signing import SigningKey  # PyNaCl

        secret = bytes(secret)
        if len(secret) != 32:
            raise ValueError(f"a secret key is 32 bytes, got {len(secret)}")
        self._key = SigningKey(secret)

    @classmethod
    def dev(cls, name: str) -> "Keypair":
        """The deterministic development key ``name`` (alice, bob, ...). Never on a real chain."""
        return cls(digest(DEV_KEY_TAG, name.encode("utf-8")))

    @classmethod
    def generate(cls) -> "Keypair":
        return cls(os.urandom(32))

    @classmethod
    def from_hex(cls, secret_hex: str) -> "Keypair":
        """A key from the hex secret ``ergon key generate`` writes (``0x`` optional)."""
        s = secret_hex.strip()
        return cls(bytes.fromhex(s[2:] if s.startswith("0x") else s))

    @property
    def secret(self) -> bytes:
        return bytes(self._key)

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.verify_key)

    @property
    def public_key_hex(self) -> str:
        return "0x" + self.public_key.hex()

    def address(self, hrp: str = HRP) -> str:
        return address_of(self.public_key, hrp)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte ed25519 signature of ``message`` (for a tx: its 32-byte hash)."""
        return self._key.sign(bytes(message)).signature

    def __repr__(self) -> str:
        return f"Keypair({self.address()})"
