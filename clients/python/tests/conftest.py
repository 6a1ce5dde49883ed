"""A real `ergon node --dev` for the integration tests: ERGON_BIN (or target/debug/ergon),
a temporary base path, RPC on a free loopback port (the node binds port 0 and prints the port
it got), P2P on loopback without mDNS; killed when the session ends."""

from __future__ import annotations

import os
import queue
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
STARTUP_SECS = 90  # the first start creates RocksDB; CI can be slow

# Variables the binary reads: cleared so the caller's shell cannot change a test.
ERGON_ENV = (
    "CHAIN_ID", "MINT_PER_UNIT", "COORDINATOR_RATIO", "DB_PATH", "RPC_BIND", "PROPOSER_KEY",
    "ERGON_RPC", "RUST_LOG", "ERGON_PASSWORD", "P2P_BIND", "BOOTSTRAP_PEERS",
)


def ergon_bin() -> Path:
    given = os.environ.get("ERGON_BIN")
    if given:
        path = Path(given)
        if not path.is_file():
            pytest.fail(f"ERGON_BIN={given} is not a file")
        return path
    path = REPO / "target" / "debug" / "ergon"
    if not path.is_file():
        pytest.skip(f"no node binary: set ERGON_BIN or run `cargo build` (looked for {path})")
    return path


class DevNode:
    def __init__(self, binary: Path):
        self.dir = tempfile.TemporaryDirectory(prefix="ergon-py-")
        base = Path(self.dir.name)
        self.log_path = base / "node.log"
        env = {k: v for k, v in os.environ.items() if k not in ERGON_ENV}
        env["NO_COLOR"] = "1"
        args = [
            str(binary), "node", "--dev", "--base-path", str(base / "data"),
            "--rpc-addr", "127.0.0.1:0", "--listen-addr", "/ip4/127.0.0.1/tcp/0", "--no-mdns",
        ]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, env=env
        )
        lines: "queue.Queue[str]" = queue.Queue()

        def read_stdout() -> None:
            for raw in self.proc.stdout:  # type: ignore[union-attr]
                lines.put(raw.decode("utf-8", "replace").strip())

        threading.Thread(target=read_stdout, daemon=True).start()
        deadline = time.monotonic() + STARTUP_SECS
        self.url = ""
        while not self.url:
            if self.proc.poll() is not None:
                time.sleep(0.2)
                self.stop()
                raise RuntimeError(f"the node exited ({self.proc.returncode}) before serving RPC:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the node printed no RPC address within {STARTUP_SECS} s:\n{self.log_tail()}")
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line.startswith("RPC listening on http://"):
                self.url = line[len("RPC listening on ") :]
        assert not self.url.endswith(":0"), f"the node must print the port it bound: {self.url}"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


@pytest.fixture(scope="session")
def dev_node(request):
    node = DevNode(ergon_bin())
    yield node
    failed = request.session.testsfailed
    if failed:
        print(f"\n--- node log (last 40 lines), {failed} test(s) failed ---\n{node.log_tail()}\n---")
    node.stop()
    node.dir.cleanup()


@pytest.fixture()
def client(dev_node):
    from ergon_client import Client

    with Client(dev_node.url, timeout=30) as c:
        yield c
