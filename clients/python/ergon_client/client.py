"""A JSON-RPC client for an ``ergon`` node: HTTP calls (requests) and WebSocket subscriptions
(websockets). Nothing touches the network until a method is called."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any, Iterator, List, Optional, Union

import requests

from .amount import parse_amount
from .errors import ErgonError, HttpError, NodeUnavailable, RpcError
from .keys import Keypair
from .tx import SignedTx, Transfer, Tx

__all__ = ["Client", "Subscription", "AsyncSubscription"]

TxLike = Union[SignedTx, Tx, dict, str, bytes]


def _ws_url(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def _http_url(url: str) -> str:
    if url.startswith("wss://"):
        return "https://" + url[len("wss://") :]
    if url.startswith("ws://"):
        return "http://" + url[len("ws://") :]
    return url


def _tx_param(tx: TxLike) -> Any:
    if isinstance(tx, (SignedTx, Tx)):
        return tx.to_json()
    if isinstance(tx, (bytes, bytearray)):
        return bytes(tx).hex()  # a protobuf SignedTx
    return tx  # the JSON form as a dict, or hex of a protobuf SignedTx


def _unwrap(reply: Any, what: str) -> Any:
    if not isinstance(reply, dict) or ("result" not in reply and "error" not in reply):
        raise ErgonError(f"{what}: not a JSON-RPC reply: {reply!r}"[:500])
    if reply.get("error") is not None:
        e = reply["error"]
        raise RpcError(int(e.get("code", 0)), str(e.get("message", "")), e.get("data"))
    return reply["result"]


class Client:
    """``Client("http://127.0.0.1:8080")``: typed methods for the common calls, ``call`` for any.

    Errors: ``RpcError(code, message)`` with the node's wording, ``NodeUnavailable`` when no
    node answers, ``HttpError`` for an HTTP refusal that is not JSON-RPC (e.g. 403).
    """

    def __init__(self, url: str = "http://127.0.0.1:8080", timeout: float = 30.0):
        self.url = _http_url(url.rstrip("/"))
        self.ws_url = _ws_url(self.url)
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._session = requests.Session()
        self._spec: Optional[dict] = None

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- generic -------------------------------------------------------------------------------

    def call(self, method: str, *params: Any, **named: Any) -> Any:
        """Calls ``method`` with positional or named params; returns its ``result``."""
        if params and named:
            raise TypeError("JSON-RPC params are positional or named, not both")
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": named or list(params)}
        try:
            resp = self._session.post(self.url, json=body, timeout=self.timeout)
        except requests.Timeout as e:
            raise NodeUnavailable(f"the node at {self.url} did not answer {method} within {self.timeout} s") from e
        except requests.ConnectionError as e:
            raise NodeUnavailable(
                f"no ergon node answers at {self.url} ({_reason(e)}); start one with `ergon node --dev`"
            ) from e
        try:
            reply = resp.json()
        except ValueError:
            raise HttpError(resp.status_code, resp.text, self.url) from None
        if resp.status_code != 200 and not (isinstance(reply, dict) and "error" in reply):
            raise HttpError(resp.status_code, resp.text, self.url)
        return _unwrap(reply, method)

    # -- chain ---------------------------------------------------------------------------------

    def chain_getHead(self) -> dict:
        """``{height, hash, finalizedHeight, finalizedHash}``."""
        return self.call("chain_getHead")

    def head_height(self) -> int:
        return int(self.chain_getHead()["height"])

    def chain_getBlock(self, height_or_hash: Union[int, str]) -> Optional[dict]:
        """The block (header, tx hashes, commit), or ``None`` if the node has none."""
        return self.call("chain_getBlock", height_or_hash)

    def rpc_methods(self) -> List[str]:
        return list(self.call("rpc_methods")["methods"])

    def system_health(self) -> dict:
        return self.call("system_health")

    def system_chainSpec(self) -> dict:
        """``{chainSpec, genesisHash}`` (cached: a node's spec does not change while it runs)."""
        if self._spec is None:
            self._spec = self.call("system_chainSpec")
        return self._spec

    def chain_id(self) -> str:
        return self.system_chainSpec()["chainSpec"]["chain_id"]

    def hrp(self) -> str:
        return self.system_chainSpec()["chainSpec"]["token"]["hrp"]

    def economy_supply(self) -> dict:
        """``{total, minted: {reward, compute, trial, total}, burned, treasury, ...}`` (strings)."""
        return self.call("economy_supply")

    # -- accounts ------------------------------------------------------------------------------

    def account_get(self, address: str) -> dict:
        """``{address, balance, nonce, reserved, pending, staked, unbonding, ...}``."""
        return self.call("account_get", address)

    def balance(self, address: str) -> int:
        """The account's balance in base units."""
        return int(self.account_get(address)["balance"])

    def account_nextNonce(self, address: str) -> int:
        """The nonce the account's next tx should carry (after its pending ones)."""
        return int(self.call("account_nextNonce", address)["nonce"])

    # -- transactions --------------------------------------------------------------------------

    def tx_send(self, tx: TxLike) -> str:
        """Submits a signed tx (a ``SignedTx``, its JSON form, or hex of a protobuf SignedTx);
        returns its hash. For a ``SignedTx`` the node's hash must be the one signed here."""
        h = self.call("tx_send", _tx_param(tx))["txHash"]
        if isinstance(tx, SignedTx) and h != tx.hash_hex():
            raise ErgonError(f"the node hashed the tx as {h}, this client as {tx.hash_hex()}")
        return h

    def tx_get(self, tx_hash: str) -> dict:
        """``{status: pending|included|failed|unknown, blockHeight, blockHash, index, error, tx}``."""
        return self.call("tx_get", tx_hash)

    def fee_estimate(self, tx: TxLike) -> dict:
        """``{fee, breakdown}`` for a tx; the fee, nonce and signature need not be set."""
        return self.call("fee_estimate", _tx_param(tx))

    def wait_for_tx(self, tx_hash: str, timeout: float = 60.0, poll: float = 0.2) -> dict:
        """Polls ``tx_get`` until the tx is in a block (``included`` or ``failed``)."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.tx_get(tx_hash)
            if st.get("status") in ("included", "failed"):
                return st
            if time.monotonic() >= deadline:
                raise TimeoutError(f"tx {tx_hash} is not in a block after {timeout} s: {st}")
            time.sleep(poll)

    def build_transfer(
        self,
        key: Keypair,
        to: str,
        amount: Union[int, str],
        *,
        fee: Union[int, str, None] = None,
        nonce: Optional[int] = None,
        priority: str = "normal",
    ) -> SignedTx:
        """A TRANSFER signed here with ``key``: the nonce from ``account_nextNonce`` and the fee
        from ``fee_estimate`` unless given; ``amount`` as ``parse_amount`` reads it."""
        hrp = self.hrp()
        if nonce is None:
            nonce = self.account_nextNonce(key.address(hrp))
        tx = Tx(self.chain_id(), key.public_key, nonce, 0, Transfer(to, parse_amount(amount)), priority, hrp)
        if fee is None:
            fee = int(self.fee_estimate(tx)["fee"])
        return tx.with_fee(fee).sign(key)

    def transfer(self, key: Keypair, to: str, amount: Union[int, str], *, wait: bool = False, **kw: Any) -> SignedTx:
        """``build_transfer`` then ``tx_send``; with ``wait``, also waits for its block (and
        raises ``ErgonError`` if it failed there)."""
        signed = self.build_transfer(key, to, amount, **kw)
        self.tx_send(signed)
        if wait:
            st = self.wait_for_tx(signed.hash_hex())
            if st["status"] != "included":
                raise ErgonError(f"tx {signed.hash_hex()} failed in block {st.get('blockHeight')}: {st.get('error')}")
        return signed

    # -- jobs ----------------------------------------------------------------------------------

    def job_get(self, job_id: str) -> Optional[dict]:
        """The job, or ``None`` if there is none with this id."""
        return self.call("job_get", job_id)

    def job_list(
        self,
        status: Optional[str] = None,
        client: Optional[str] = None,
        coordinator: Optional[str] = None,
        from_height: Optional[int] = None,
        limit: Optional[int] = None,
    ) -> List[dict]:
        """Jobs, filtered by status (open, completed, settled, ...), client or coordinator."""
        f = {"status": status, "client": client, "coordinator": coordinator, "fromHeight": from_height, "limit": limit}
        return self.call("job_list", {k: v for k, v in f.items() if v is not None})

    # -- subscriptions (WebSocket) -------------------------------------------------------------

    def new_heads(self, timeout: Optional[float] = None) -> "Subscription":
        """New heads as they are committed: a sync iterator (and context manager) of
        ``{height, hash, parentHash, timestamp, stateRoot, txCount}``. ``timeout``: seconds
        to wait for each head before ``TimeoutError``."""
        return self.subscribe("chain_subscribeNewHeads", timeout=timeout)

    def finalized_heads(self, timeout: Optional[float] = None) -> "Subscription":
        return self.subscribe("chain_subscribeFinalizedHeads", timeout=timeout)

    def subscribe(self, method: str, *params: Any, timeout: Optional[float] = None) -> "Subscription":
        return Subscription(self.ws_url, method, list(params), timeout, self.timeout)

    def subscribe_new_heads(self, timeout: Optional[float] = None) -> "AsyncSubscription":
        """``async for head in client.subscribe_new_heads(): ...`` (``chain_subscribeNewHeads``);
        also an async context manager that closes the WebSocket."""
        return AsyncSubscription(self.ws_url, "chain_subscribeNewHeads", [], timeout, self.timeout)

    def subscribe_finalized_heads(self, timeout: Optional[float] = None) -> "AsyncSubscription":
        return AsyncSubscription(self.ws_url, "chain_subscribeFinalizedHeads", [], timeout, self.timeout)


def _reason(e: BaseException) -> str:
    """Why a connection failed, in a few words ("connection refused")."""
    text = str(e)
    if isinstance(e, ConnectionRefusedError) or "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return text or type(e).__name__


def _handshake_error(url: str, e: BaseException) -> Exception:
    status = getattr(getattr(e, "response", None), "status_code", None)
    if status is not None:
        body = getattr(e.response, "body", b"") or b""
        return HttpError(status, body.decode("utf-8", "replace"), url)
    return NodeUnavailable(f"no ergon node answers at {url} ({_reason(e)}); start one with `ergon node --dev`")


class _Matcher:
    """Reads the subscribe reply, then keeps only this subscription's notifications."""

    def __init__(self, method: str, params: list):
        self.request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        self.method = method
        self.sub_id: Any = None

    def feed(self, raw: Union[str, bytes]) -> tuple:
        """(True, item) for a notification, (False, None) for anything else."""
        msg = json.loads(raw)
        if self.sub_id is None:
            if msg.get("id") == 1:
                self.sub_id = _unwrap(msg, self.method)
            return False, None
        p = msg.get("params")
        if isinstance(p, dict) and p.get("subscription") == self.sub_id:
            return True, p.get("result")
        return False, None


class Subscription:
    """A WebSocket subscription, read synchronously: iterate it, then ``close()`` it (or use
    ``with``). Connects when created, so a down node or a refused method raises here."""

    def __init__(self, url: str, method: str, params: list, timeout: Optional[float], open_timeout: float):
        from websockets.sync.client import connect

        self.url = url
        self.timeout = timeout
        self._m = _Matcher(method, params)
        try:
            self._ws = connect(url, open_timeout=open_timeout, max_size=None)
        except Exception as e:  # refused TCP connection, HTTP refusal of the upgrade, ...
            raise _handshake_error(url, e) from e
        try:
            self._ws.send(self._m.request)
            while self._m.sub_id is None:
                self._m.feed(self._recv(open_timeout))
        except BaseException:
            self._ws.close()
            raise

    def _recv(self, timeout: Optional[float]) -> Union[str, bytes]:
        try:
            return self._ws.recv(timeout=timeout)
        except TimeoutError:
            raise TimeoutError(f"nothing from {self.url} for {self._m.method} within {timeout} s") from None

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                ok, item = self._m.feed(self._recv(self.timeout))
                if ok:
                    return item
        except ConnectionClosed as e:
            raise NodeUnavailable(f"the node at {self.url} closed the subscription ({e})") from e

    def close(self) -> None:
        self._ws.close()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncSubscription:
    """A WebSocket subscription for asyncio: ``async for item in sub`` (connects on first use),
    and ``async with`` / ``await sub.aclose()`` to close it."""

    def __init__(self, url: str, method: str, params: list, timeout: Optional[float], open_timeout: float):
        self.url = url
        self.timeout = timeout
        self.open_timeout = open_timeout
        self._m = _Matcher(method, params)
        self._ws: Any = None

    async def _open(self) -> None:
        from websockets.asyncio.client import connect

        try:
            self._ws = await connect(self.url, open_timeout=self.open_timeout, max_size=None)
        except Exception as e:
            raise _handshake_error(self.url, e) from e
        try:
            await self._ws.send(self._m.request)
            while self._m.sub_id is None:
                self._m.feed(await self._recv(self.open_timeout))
        except BaseException:
            await self._ws.close()
            raise

    async def _recv(self, timeout: Optional[float]) -> Union[str, bytes]:
        try:
            return await asyncio.wait_for(self._ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"nothing from {self.url} for {self._m.method} within {timeout} s") from None

    def __aiter__(self) -> "AsyncSubscription":
        return self

    async def __anext__(self) -> Any:
        from websockets.exceptions import ConnectionClosed

        if self._ws is None:
            await self._open()
        try:
            while True:
                ok, item = self._m.feed(await self._recv(self.timeout))
                if ok:
                    return item
        except ConnectionClosed as e:
            raise NodeUnavailable(f"the node at {self.url} closed the subscription ({e})") from e

    async def aclose(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def __aenter__(self) -> "AsyncSubscription":
        if self._ws is None:
            await self._open()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
