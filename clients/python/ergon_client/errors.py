"""What the client raises."""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["ErgonError", "RpcError", "NodeUnavailable", "HttpError"]


class ErgonError(Exception):
    """Base class of every error this package raises about a node."""


class RpcError(ErgonError):
    """A JSON-RPC error the node answered with: its code and its own wording.

    Codes are the node's stable ones (README "JSON-RPC"): 1004 fee too low, 1005 nonce too
    low, -32602 invalid params, -32601 method not found, ...
    """

    def __init__(self, code: int, message: str, data: Optional[Any] = None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.data = data

    def __str__(self) -> str:
        extra = f" ({self.data})" if self.data is not None else ""
        return f"{self.message}{extra} [code {self.code}]"


class NodeUnavailable(ErgonError, ConnectionError):
    """No node answers at the URL (not running, wrong port, or it did not reply in time)."""


class HttpError(ErgonError):
    """An HTTP answer that is not JSON-RPC (403 from an origin/host check, 429, 503, ...)."""

    def __init__(self, status: int, body: str, url: str):
        super().__init__(f"HTTP {status} from {url}: {body.strip()[:500]}")
        self.status = status
        self.body = body
        self.url = url
