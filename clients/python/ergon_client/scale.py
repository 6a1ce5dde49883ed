"""The SCALE encodings a transaction uses (parity-scale-codec, as the node's src/primitives)."""

from __future__ import annotations

__all__ = ["compact", "u8", "u64", "u128", "string", "vec"]

U64_MAX = (1 << 64) - 1
U128_MAX = (1 << 128) - 1


def _check(n: int, top: int, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be an int, got {type(n).__name__}")
    if not 0 <= n <= top:
        raise ValueError(f"{what} {n} is out of range 0..{top}")
    return n


def u8(n: int) -> bytes:
    return _check(n, 0xFF, "u8").to_bytes(1, "little")


def u64(n: int) -> bytes:
    return _check(n, U64_MAX, "u64").to_bytes(8, "little")


def u128(n: int) -> bytes:
    return _check(n, U128_MAX, "u128").to_bytes(16, "little")


def compact(n: int) -> bytes:
    """SCALE compact integer: 1, 2 or 4 bytes with a 2-bit mode, or big-integer mode."""
    _check(n, U128_MAX, "compact integer")
    if n < 1 << 6:
        return (n << 2).to_bytes(1, "little")
    if n < 1 << 14:
        return ((n << 2) | 1).to_bytes(2, "little")
    if n < 1 << 30:
        return ((n << 2) | 2).to_bytes(4, "little")
    body = n.to_bytes((n.bit_length() + 7) // 8, "little")
    return bytes([((len(body) - 4) << 2) | 3]) + body


def string(s: str) -> bytes:
    b = s.encode("utf-8")
    return compact(len(b)) + b


def vec(items) -> bytes:
    items = list(items)
    return compact(len(items)) + b"".join(items)
