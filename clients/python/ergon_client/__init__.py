"""A Python client for the ``ergon`` node's JSON-RPC, with local signing of transfers.

    from ergon_client import Client, Keypair
    node = Client("http://127.0.0.1:8080")
    print(node.chain_getHead()["height"])
    signed = node.transfer(Keypair.dev("bob"), "ait1...", "1.5AIT", wait=True)
"""

from .amount import DECIMALS, SYMBOL, format_amount, parse_amount
from .bech32 import AddressError
from .blake3 import blake3, digest
from .client import AsyncSubscription, Client, Subscription
from .errors import ErgonError, HttpError, NodeUnavailable, RpcError
from .keys import DEV_KEY_NAMES, Keypair, address_of, parse_address
from .tx import PRIORITIES, SignedTx, Transfer, Tx

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Subscription",
    "AsyncSubscription",
    "Keypair",
    "DEV_KEY_NAMES",
    "address_of",
    "parse_address",
    "AddressError",
    "Tx",
    "Transfer",
    "SignedTx",
    "PRIORITIES",
    "parse_amount",
    "format_amount",
    "DECIMALS",
    "SYMBOL",
    "blake3",
    "digest",
    "ErgonError",
    "RpcError",
    "NodeUnavailable",
    "HttpError",
]
