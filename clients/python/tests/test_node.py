"""Against a real `ergon node --dev` (tests/conftest.py): read the head and blocks, get new
heads over the WebSocket subscription, sign a transfer here and see it included with the
exact balance changes and fee, and read the node's own error text."""

from __future__ import annotations

import asyncio

import pytest

from ergon_client import Client, Keypair, RpcError, Transfer, Tx, parse_amount

GENESIS_BALANCE = 1_000_000_000_000_000  # every dev account's, 1,000,000 AIT


def test_head_blocks_and_read_methods(client: Client):
    head = client.chain_getHead()
    assert set(head) >= {"height", "hash", "finalizedHeight", "finalizedHash"}
    assert head["finalizedHeight"] <= head["height"]
    block = client.chain_getBlock(head["height"])
    assert block["hash"] == head["hash"] and block["header"]["height"] == head["height"]
    assert client.chain_getBlock(block["hash"]) == block, "by hash as by height"
    assert client.chain_getBlock(10**9) is None, "a future block is null"
    genesis = client.chain_getBlock(0)
    assert genesis["hash"] == client.system_chainSpec()["genesisHash"]

    methods = client.rpc_methods()
    for m in ["chain_getHead", "chain_getBlock", "account_get", "account_nextNonce", "tx_send", "tx_get",
              "fee_estimate", "system_health", "economy_supply", "job_get", "job_list", "chain_subscribeNewHeads"]:
        assert m in methods, m
    assert client.system_health()["status"] == "ok"
    assert client.chain_id() == "ergon-dev" and client.hrp() == "ait"
    supply = client.economy_supply()
    assert int(supply["total"]) >= 7 * GENESIS_BALANCE
    assert client.job_list() == [] and client.job_list(status="open", limit=5) == []
    assert client.job_get("0x" + "ab" * 32) is None
    eve = Keypair.dev("eve").address()
    assert client.account_get(eve)["balance"] == str(GENESIS_BALANCE)
    assert client.call("getBalance", eve) == client.call("account_get", address=eve), "alias, named params"


def test_new_heads_over_the_websocket(client: Client):
    h0 = client.head_height()
    with client.new_heads(timeout=30) as heads:
        first = next(heads)
        second = next(heads)
    assert first["height"] > h0, (h0, first)
    assert second["height"] == first["height"] + 1 and second["parentHash"] == first["hash"]
    assert client.chain_getBlock(second["height"])["hash"] == second["hash"]

    async def two_heads():
        async with client.subscribe_new_heads(timeout=30) as sub:
            got = []
            async for head in sub:
                got.append(head)
                if len(got) == 2:
                    return got

    a, b = asyncio.run(two_heads())
    assert b["height"] == a["height"] + 1 and b["parentHash"] == a["hash"]


def test_a_locally_signed_transfer_is_included_with_the_exact_amounts(client: Client):
    dave = Keypair.dev("dave")
    to = Keypair.generate().address()  # a fresh account
    amount = parse_amount("1.5AIT")
    before = client.account_get(dave.address())
    assert client.balance(to) == 0
    nonce = client.account_nextNonce(dave.address())
    assert nonce == before["nonce"] + 1

    signed = client.build_transfer(dave, to, "1.5AIT")
    assert signed.tx.nonce == nonce
    est = client.fee_estimate(Tx("ergon-dev", dave.public_key, nonce, 0, Transfer(to, amount)))
    assert int(est["fee"]) == signed.tx.fee > 0
    assert est["breakdown"]["sizeBytes"] == signed.size(), "the node counts the bytes encoded here"

    tx_hash = client.tx_send(signed)  # checks the node's hash is the one signed here
    assert tx_hash == signed.hash_hex()
    st = client.wait_for_tx(tx_hash)
    assert st["status"] == "included" and st["error"] is None, st
    assert st["tx"] == signed.to_json(), "the node stored the tx exactly as signed"
    block = client.chain_getBlock(st["blockHeight"])
    assert tx_hash in block["txs"] and block["hash"] == st["blockHash"]
    if block["header"]["txCount"] == 1:  # one leaf is its own tx root
        assert block["header"]["txRoot"] == "0x" + signed.leaf_hash().hex()

    after = client.account_get(dave.address())
    assert int(after["balance"]) == int(before["balance"]) - amount - signed.tx.fee
    assert after["nonce"] == before["nonce"] + 1
    assert client.balance(to) == amount

    # The same tx again: the node refuses it, in its own words.
    with pytest.raises(RpcError) as e:
        client.tx_send(signed)
    assert e.value.code == 1005 and "nonce" in e.value.message and "too low" in e.value.message, e.value


def test_the_nodes_error_text(client: Client):
    with pytest.raises(RpcError) as e:
        client.account_get("ait1nope")
    assert (e.value.code, e.value.message) == (-32602, 'param `address`: invalid address "ait1nope": not bech32')

    with pytest.raises(RpcError) as e:
        client.call("chain_noSuchMethod")
    assert e.value.code == -32601 and "method not found" in e.value.message.lower()

    with pytest.raises(RpcError) as e:
        client.call("chain_subscribeNewHeads")
    assert e.value.code == 1023 and "WebSocket" in e.value.message

    # A fee one below the minimum: the node names the fee it requires.
    ferdie = Keypair.dev("ferdie")
    good = client.build_transfer(ferdie, Keypair.dev("eve").address(), 10)
    cheap = good.tx.with_fee(good.tx.fee - 1).sign(ferdie)
    with pytest.raises(RpcError) as e:
        client.tx_send(cheap)
    assert e.value.code == 1004 and str(good.tx.fee) in e.value.message, e.value

    # A flipped signature bit.
    from ergon_client import SignedTx

    forged = SignedTx(good.tx, bytes([good.signature[0] ^ 1]) + good.signature[1:])
    with pytest.raises(RpcError) as e:
        client.tx_send(forged)
    assert e.value.code == 1001 and "signature" in e.value.message, e.value
    assert client.tx_get(good.hash_hex())["status"] == "unknown", "nothing was admitted"
