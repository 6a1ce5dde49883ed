"""Bech32 (BIP-173) for ergon addresses: ``bech32("ait", sha256(public key)[0..20])``."""

from __future__ import annotations

__all__ = ["encode", "decode", "AddressError"]

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


class AddressError(ValueError):
    """An address that is not bech32, has another prefix or is not 20 bytes."""


def _polymod(values) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= _GEN[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert(data, frm: int, to: int, pad: bool) -> list | None:
    acc = bits = 0
    out = []
    maxv = (1 << to) - 1
    for value in data:
        acc = (acc << frm) | value
        bits += frm
        while bits >= to:
            bits -= to
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to - bits)) & maxv)
    elif bits >= frm or (acc << (to - bits)) & maxv:
        return None
    return out


def encode(hrp: str, data: bytes) -> str:
    """``data`` as bech32 with the human-readable prefix ``hrp``."""
    words = _convert(data, 8, 5, True) or []
    values = _hrp_expand(hrp) + words
    poly = _polymod(values + [0] * 6) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words + checksum)


def decode(addr: str, hrp: str = "ait", length: int = 20) -> bytes:
    """The ``length`` bytes of a bech32 address whose prefix is ``hrp``; checks the checksum."""
    s = addr.strip()
    bad = AddressError(f"invalid address {addr!r}: not bech32")
    if s.lower() != s and s.upper() != s:
        raise bad
    s = s.lower()
    sep = s.rfind("1")
    if sep < 1 or sep + 7 > len(s) or any(c not in _CHARSET for c in s[sep + 1 :]):
        raise bad
    got, words = s[:sep], [_CHARSET.index(c) for c in s[sep + 1 :]]
    if any(ord(c) < 33 or ord(c) > 126 for c in got) or _polymod(_hrp_expand(got) + words) != 1:
        raise bad
    if got != hrp:
        raise AddressError(f"invalid address {addr!r}: prefix {got!r}, this chain uses {hrp!r}")
    data = _convert(words[:-6], 5, 8, False)
    if data is None or len(data) != length:
        raise AddressError(f"invalid address {addr!r}: payload must be {length} bytes")
    return bytes(data)
