"""Amounts: integers in base units; AIT has 9 decimals (1 AIT = 10**9 base units)."""

from __future__ import annotations

__all__ = ["DECIMALS", "SYMBOL", "parse_amount", "format_amount"]

DECIMALS = 9
SYMBOL = "AIT"
_U128_MAX = (1 << 128) - 1
_DIGITS = frozenset("0123456789")


def _digits(s: str) -> bool:
    return all(c in _DIGITS for c in s)


def parse_amount(value: "str | int", symbol: str = SYMBOL, decimals: int = DECIMALS) -> int:
    """An amount as a person types it, in base units, as the ``ergon`` CLI reads one.

    An integer is base units (``1500``, ``"1500"``); a number followed by the symbol is whole
    tokens (``"1.5AIT"``, ``"2 AIT"``, ``"0.000000001AIT"``), with at most ``decimals`` digits
    after the point. A bare decimal (``"1.5"``) is refused with a hint, as the CLI does: it could
    mean either. Raises ``ValueError`` otherwise.
    """
    if isinstance(value, bool):
        raise TypeError("an amount is an int or a str, not a bool")
    if isinstance(value, int):
        if not 0 <= value <= _U128_MAX:
            raise ValueError(f"invalid amount {value}: must be from 0 to 2^128 - 1")
        return value
    if not isinstance(value, str):
        raise TypeError(f"an amount is an int or a str, not {type(value).__name__}")
    t = value.strip()
    if t.endswith(symbol) or t.endswith(symbol.lower()):
        number, tokens = t[: -len(symbol)].rstrip(), True
    else:
        number, tokens = t, False
        if "." in t:
            raise ValueError(f"invalid amount {value!r}: a bare number is base units; write {t}{symbol} for tokens")
    if not tokens:
        if not number or not _digits(number):
            raise ValueError(f"invalid amount {value!r}: expected a non-negative integer in base units")
        n = int(number)
        if n > _U128_MAX:
            raise ValueError(f"invalid amount {value!r}: larger than 2^128 - 1")
        return n
    whole, _, frac = number.partition(".")
    if (not whole and not frac) or not _digits(whole) or not _digits(frac) or len(frac) > decimals:
        raise ValueError(
            f"invalid amount {value!r}: expected base units (1500) or {symbol} with up to "
            f"{decimals} decimals (1.5{symbol})"
        )
    n = int(whole or "0") * 10**decimals + int(frac.ljust(decimals, "0") or "0")
    if n > _U128_MAX:
        raise ValueError(f"invalid amount {value!r}: too large")
    return n


def format_amount(base_units: "int | str", symbol: str = SYMBOL, decimals: int = DECIMALS) -> str:
    """Base units as tokens, without trailing zeros: ``1500000000`` -> ``"1.5 AIT"``."""
    n = int(base_units)
    whole, frac = divmod(n, 10**decimals)
    text = str(whole) if not frac else f"{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"
    return f"{text} {symbol}"
