"""What the client says when no node answers; that importing it touches no network."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest

from ergon_client import Client, NodeUnavailable


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_down_node_is_a_clear_error():
    url = f"http://127.0.0.1:{closed_port()}"
    c = Client(url, timeout=5)
    with pytest.raises(NodeUnavailable) as e:
        c.chain_getHead()
    assert url in str(e.value) and "connection refused" in str(e.value)
    assert isinstance(e.value, ConnectionError)
    with pytest.raises(NodeUnavailable, match="connection refused"):
        c.new_heads()

    async def first_head():
        async for head in c.subscribe_new_heads():
            return head

    with pytest.raises(NodeUnavailable, match="ws://127.0.0.1"):
        asyncio.run(first_head())


def test_import_and_client_creation_open_no_socket():
    code = (
        "import socket\n"
        "def no(*a, **k): raise AssertionError('network at import')\n"
        "socket.socket.connect = no\n"
        "socket.create_connection = no\n"
        "import ergon_client\n"
        "ergon_client.Client('http://127.0.0.1:9')\n"
    )
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
