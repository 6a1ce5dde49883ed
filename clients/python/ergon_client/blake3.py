"""BLAKE3 (32-byte output, hash mode) in pure Python, after the reference implementation.

The node hashes everything with BLAKE3 over ``tag || 0x00 || bytes``; a transaction is a few
hundred bytes, so speed does not matter here and no native package is needed. Pinned by the
official empty-input vector and by the node's golden vectors (tests/test_codec.py).
"""

from __future__ import annotations

import struct

__all__ = ["blake3", "digest"]

_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
_PERM = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
_CHUNK_START, _CHUNK_END, _PARENT, _ROOT = 1, 2, 4, 8
_BLOCK_LEN, _CHUNK_LEN = 64, 1024
_M = 0xFFFFFFFF


def _g(s: list, a: int, b: int, c: int, d: int, x: int, y: int) -> None:
    s[a] = (s[a] + s[b] + x) & _M
    t = s[d] ^ s[a]
    s[d] = ((t >> 16) | (t << 16)) & _M
    s[c] = (s[c] + s[d]) & _M
    t = s[b] ^ s[c]
    s[b] = ((t >> 12) | (t << 20)) & _M
    s[a] = (s[a] + s[b] + y) & _M
    t = s[d] ^ s[a]
    s[d] = ((t >> 8) | (t << 24)) & _M
    s[c] = (s[c] + s[d]) & _M
    t = s[b] ^ s[c]
    s[b] = ((t >> 7) | (t << 25)) & _M


def _compress(cv, block: bytes, counter: int, block_len: int, flags: int) -> list:
    m = list(struct.unpack("<16I", block))
    s = list(cv) + list(_IV[:4]) + [counter & _M, (counter >> 32) & _M, block_len, flags]
    for r in range(7):
        _g(s, 0, 4, 8, 12, m[0], m[1])
        _g(s, 1, 5, 9, 13, m[2], m[3])
        _g(s, 2, 6, 10, 14, m[4], m[5])
        _g(s, 3, 7, 11, 15, m[6], m[7])
        _g(s, 0, 5, 10, 15, m[8], m[9])
        _g(s, 1, 6, 11, 12, m[10], m[11])
        _g(s, 2, 7, 8, 13, m[12], m[13])
        _g(s, 3, 4, 9, 14, m[14], m[15])
        if r < 6:
            m = [m[i] for i in _PERM]
    for i in range(8):
        s[i] ^= s[i + 8]
        s[i + 8] ^= cv[i]
    return s


class _Output:
    """The last compression of a node: its chaining value, or the root hash with ROOT set."""

    def __init__(self, cv, block: bytes, counter: int, block_len: int, flags: int):
        self.args = (cv, block, counter, block_len, flags)

    def cv(self) -> list:
        cv, block, counter, block_len, flags = self.args
        return _compress(cv, block, counter, block_len, flags)[:8]

    def root(self) -> bytes:
        cv, block, _, block_len, flags = self.args
        return struct.pack("<8I", *_compress(cv, block, 0, block_len, flags | _ROOT)[:8])


def _chunk(data: bytes, index: int) -> _Output:
    cv = list(_IV)
    blocks = [data[i : i + _BLOCK_LEN] for i in range(0, len(data), _BLOCK_LEN)] or [b""]
    for n, block in enumerate(blocks):
        flags = (_CHUNK_START if n == 0 else 0) | (_CHUNK_END if n == len(blocks) - 1 else 0)
        padded = block.ljust(_BLOCK_LEN, b"\0")
        if n == len(blocks) - 1:
            return _Output(cv, padded, index, len(block), flags)
        cv = _compress(cv, padded, index, _BLOCK_LEN, flags)[:8]
    raise AssertionError("unreachable")


def _subtree(data: bytes, first_chunk: int) -> _Output:
    chunks = max(1, -(-len(data) // _CHUNK_LEN))
    if chunks == 1:
        return _chunk(data, first_chunk)
    left = 1 << ((chunks - 1).bit_length() - 1)  # the largest power of two below `chunks`
    split = left * _CHUNK_LEN
    lcv = _subtree(data[:split], first_chunk).cv()
    rcv = _subtree(data[split:], first_chunk + left).cv()
    return _Output(list(_IV), struct.pack("<16I", *lcv, *rcv), 0, _BLOCK_LEN, _PARENT)


def blake3(data: bytes) -> bytes:
    """The 32-byte BLAKE3 hash of ``data``."""
    return _subtree(bytes(data), 0).root()


def digest(tag: bytes, data: bytes) -> bytes:
    """The node's domain-separated hash: ``BLAKE3(tag || 0x00 || data)`` (src/primitives/hash.rs)."""
    return blake3(bytes(tag) + b"\0" + bytes(data))
