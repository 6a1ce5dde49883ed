"""Transactions as the node encodes them (src/primitives/tx.rs), signed locally.

A tx is SCALE-encoded as ``chain_id (string) | sender (32 bytes) | nonce (u64 LE) | fee (u128 LE)
| priority (u8) | payload (enum)``; ``TRANSFER`` is payload 0 with ``to (20 bytes) | amount
(compact)``, ``BATCH`` payload 1 with a vector of those. Its hash, which the sender signs and
which identifies it, is ``BLAKE3("ergon/tx/v1" || 0x00 || tx bytes)``; a signed tx is the tx
bytes followed by the 64-byte signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

from . import bech32, scale
from .amount import parse_amount
from .blake3 import digest
from .keys import HRP, Keypair, address_of, parse_address

__all__ = ["Transfer", "Tx", "SignedTx", "PRIORITIES", "TX_TAG", "TX_LEAF_TAG"]

TX_TAG = b"ergon/tx/v1"
TX_LEAF_TAG = b"ergon/tx-leaf/v1"
PRIORITIES = ("low", "normal", "high", "urgent")  # codec indexes 0..3
_TRANSFER, _BATCH = 0, 1


@dataclass(frozen=True)
class Transfer:
    """``amount`` base units to ``to`` (an ``ait1...`` address or its 20 bytes)."""

    to: "str | bytes"
    amount: "int | str"

    def _to_raw(self, hrp: str) -> bytes:
        return parse_address(self.to, hrp) if isinstance(self.to, str) else bytes(self.to)

    def encode(self, hrp: str = HRP) -> bytes:
        to = self._to_raw(hrp)
        if len(to) != 20:
            raise ValueError(f"a recipient address is 20 bytes, got {len(to)}")
        return to + scale.compact(parse_amount(self.amount))

    def to_json(self, hrp: str = HRP) -> dict:
        to = self.to if isinstance(self.to, str) else bech32.encode(hrp, bytes(self.to))
        return {"to": to, "amount": str(parse_amount(self.amount))}


@dataclass(frozen=True)
class Tx:
    """An unsigned TRANSFER (one ``Transfer``) or BATCH (a list of them)."""

    chain_id: str
    sender: bytes  # 32-byte ed25519 public key
    nonce: int
    fee: int
    payload: "Transfer | Sequence[Transfer]"
    priority: str = "normal"
    hrp: str = field(default=HRP, compare=False)

    @property
    def kind(self) -> str:
        return "TRANSFER" if isinstance(self.payload, Transfer) else "BATCH"

    def encode(self) -> bytes:
        """The canonical SCALE bytes (what is hashed and signed)."""
        if len(self.sender) != 32:
            raise ValueError(f"the sender is a 32-byte public key, got {len(self.sender)} bytes")
        if self.priority not in PRIORITIES:
            raise ValueError(f"unknown priority {self.priority!r}: expected low, normal, high or urgent")
        if isinstance(self.payload, Transfer):
            payload = scale.u8(_TRANSFER) + self.payload.encode(self.hrp)
        else:
            payload = scale.u8(_BATCH) + scale.vec(t.encode(self.hrp) for t in self.payload)
        return (
            scale.string(self.chain_id)
            + bytes(self.sender)
            + scale.u64(self.nonce)
            + scale.u128(parse_amount(self.fee))
            + scale.u8(PRIORITIES.index(self.priority))
            + payload
        )

    def hash(self) -> bytes:
        """The signing hash, which is also the tx's identity (``txHash``)."""
        return digest(TX_TAG, self.encode())

    def hash_hex(self) -> str:
        return "0x" + self.hash().hex()

    def with_fee(self, fee: "int | str") -> "Tx":
        return replace(self, fee=parse_amount(fee))

    def sign(self, key: Keypair) -> "SignedTx":
        if key.public_key != bytes(self.sender):
            raise ValueError("the key does not match the tx's sender")
        return SignedTx(self, key.sign(self.hash()))

    def to_json(self, signature: Optional[bytes] = None) -> dict:
        """The JSON form ``tx_send`` and ``fee_estimate`` take (src/rpc/types.rs ``tx_to_json``)."""
        if isinstance(self.payload, Transfer):
            payload = self.payload.to_json(self.hrp)
        else:
            payload = {"transfers": [t.to_json(self.hrp) for t in self.payload]}
        out = {
            "type": self.kind,
            "chainId": self.chain_id,
            "sender": address_of(bytes(self.sender), self.hrp),
            "publicKey": "0x" + bytes(self.sender).hex(),
            "nonce": self.nonce,
            "fee": str(parse_amount(self.fee)),
            "priority": self.priority,
            "payload": payload,
        }
        if signature is not None:
            out["sig"] = "0x" + bytes(signature).hex()
        return out


@dataclass(frozen=True)
class SignedTx:
    tx: Tx
    signature: bytes

    def encode(self) -> bytes:
        """The signed tx's canonical bytes: the tx's, then the 64-byte signature."""
        return self.tx.encode() + bytes(self.signature)

    def hash(self) -> bytes:
        return self.tx.hash()

    def hash_hex(self) -> str:
        return self.tx.hash_hex()

    def leaf_hash(self) -> bytes:
        """What the tx contributes to a block's tx root (commits to the signature too)."""
        return digest(TX_LEAF_TAG, self.encode())

    def size(self) -> int:
        """Size in canonical bytes: what the fee schedule charges per byte of."""
        return len(self.encode())

    def verify(self) -> None:
        """Raises ``nacl.exceptions.BadSignatureError`` if the signature does not verify."""
        from nacl.signing import VerifyKey

        VerifyKey(bytes(self.tx.sender)).verify(self.tx.hash(), bytes(self.signature))

    def to_json(self) -> dict:
        return self.tx.to_json(self.signature)
