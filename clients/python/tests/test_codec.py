"""The client's bytes against the node's golden vectors (src/primitives/golden.rs): the SCALE
encoding of a transfer and a batch, their hashes and signatures, the dev keys' addresses.
No node needed."""

from __future__ import annotations

import pytest

from ergon_client import (
    AddressError,
    Keypair,
    SignedTx,
    Transfer,
    Tx,
    address_of,
    blake3,
    digest,
    format_amount,
    parse_address,
    parse_amount,
)
from ergon_client import bech32, scale

# golden.rs: `Keypair::from_secret([1u8; 32])` and its public key.
SECRET = bytes([1] * 32)
PK = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"


def key() -> Keypair:
    return Keypair(SECRET)


def transfer_tx() -> Tx:
    return Tx("ergon-dev", key().public_key, 1, 0, Transfer(bytes([0x33] * 20), 5), "normal")


def batch_tx() -> Tx:
    transfers = [Transfer(bytes([0x11] * 20), 1), Transfer(bytes([0x22] * 20), 1_000_000_000_000)]
    return Tx("ergon-dev", key().public_key, 7, 3295, transfers, "high")


def test_blake3_reference_vectors():
    # The official vectors (input: byte i is i % 251), across one, three and nine chunks.
    assert blake3(b"").hex() == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    want = {
        1025: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
        3073: "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3",
        8193: "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b",
    }
    for n, h in want.items():
        assert blake3(bytes(i % 251 for i in range(n))).hex() == h, n


def test_hash_domain_tag():
    # golden.rs hash_domain_tags: BLAKE3("ergon/tx/v1" || 0x00).
    assert digest(b"ergon/tx/v1", b"").hex() == "4b57e35071ff2b99ab44e788f82aad4fe7c627f0f64b9717009feb532e3e7564"


def test_fixed_key():
    assert key().public_key.hex() == PK
    assert key().secret == SECRET
    assert "01" * 32 not in repr(key()), "repr never shows the secret"


def test_transfer_vector():
    tx_hex = "".join(
        [
            "24",
            "6572676f6e2d646576",
            PK,
            "0100000000000000",
            "00000000000000000000000000000000",
            "01",
            "00",
            "3333333333333333333333333333333333333333",
            "14",
        ]
    )
    sig = (
        "f77ca839ca9ec0fb48a6ad468d5714b8e2c34be3df241c0c7d92a494d8cda7ba"
        "cb35c7d0f0faf22f86bebb9bc19a2615b8af24463303d13d3179037609224301"
    )
    assert transfer_tx().encode().hex() == tx_hex
    signed = transfer_tx().sign(key())
    assert signed.signature.hex() == sig
    assert signed.encode().hex() == tx_hex + sig
    assert signed.hash_hex() == "0xe196cda9b2ffd5f4b3927a6944380bf60409bd7fdf750e7c9e852f134d012a41"
    signed.verify()


def test_batch_vector():
    tx_hex = "".join(
        [
            "24",
            "6572676f6e2d646576",
            PK,
            "0700000000000000",
            "df0c0000000000000000000000000000",
            "02",
            "01",
            "08",
            "1111111111111111111111111111111111111111",
            "04",
            "2222222222222222222222222222222222222222",
            "070010a5d4e8",
        ]
    )
    sig = (
        "61b482a9c9402f915e6aa951758204f2ca1744690cc9df7d32fe3bf6ad88af2f"
        "73cb36d8953f6bd391e0c7e655f4fde1fe9050b0970174120deff53a31908400"
    )
    tx = batch_tx()
    assert tx.encode().hex() == tx_hex
    assert tx.hash_hex() == "0x66cf7ef6ede5865395b3e1dabae31c01633583b8b7f166cd7304e5a1ccfa5f60"
    signed = tx.sign(key())
    assert signed.signature.hex() == sig
    assert signed.encode().hex() == tx_hex + sig
    assert signed.size() == len(tx_hex) // 2 + 64
    assert signed.leaf_hash().hex() == "6dafa91302d3c7888b669b1ab4fd8183edcc2047a33effe714eaf88c410f074e"


def test_tampered_signature_does_not_verify():
    from nacl.exceptions import BadSignatureError

    signed = transfer_tx().sign(key())
    bad = SignedTx(signed.tx, bytes([signed.signature[0] ^ 1]) + signed.signature[1:])
    with pytest.raises(BadSignatureError):
        bad.verify()
    with pytest.raises(ValueError, match="sender"):
        transfer_tx().sign(Keypair.dev("bob"))


def test_compact_integers():
    cases = {
        0: "00",
        1: "04",
        5: "14",
        63: "fc",
        64: "0101",
        1000: "a10f",  # golden.rs: Delegation amount
        16383: "fdff",
        16384: "02000100",
        (1 << 30) - 1: "feffffff",
        1_000_000_000: "02286bee",  # golden.rs: fraud proof bond
        1 << 30: "0300000040",
        100_000_000_000: "0700e8764817",  # golden.rs: STAKE amount
        1_000_000_000_000: "070010a5d4e8",
        (1 << 64) - 1: "13" + "ff" * 8,
        (1 << 128) - 1: "33" + "ff" * 16,
    }
    for n, want in cases.items():
        assert scale.compact(n).hex() == want, n
    with pytest.raises(ValueError):
        scale.compact(1 << 128)
    with pytest.raises(ValueError):
        scale.compact(-1)


def test_dev_keys_and_addresses():
    want = {
        "alice": "ait1l3n0wflqm95ql4lg3j8ynvd27vekpx282hdy38",
        "bob": "ait1cph76aptxk4zv5qcm7fxvqwczj6eqefsdpnunu",
        "charlie": "ait136j5lm4xqfdyzygu0pw7x9j5egxhghs8fydzyx",
        "dave": "ait15qqpaw35vkg9n5726eulx9fk207arupna5l55e",
        "eve": "ait1tsyrg0w6pmlzdtasg3kphwmh9cmlckernnh0em",
        "ferdie": "ait12dlp5dx5yy7vh2038sdu50m6pvmgc9cse3jchx",
        "faucet": "ait1qfe2a9f647xfylj265wzns43tk2e9t39qrg5us",
    }
    for name, addr in want.items():
        assert Keypair.dev(name).address() == addr, name
    alice = Keypair.dev("alice")
    assert alice.public_key_hex == "0xe85841aeb6ac2f9fe8ec6d4cd8edbadffe85226e8a7d22efadbd098a201f207b"
    assert address_of(alice.public_key) == want["alice"]


def test_addresses_parse_and_check():
    bob = "ait1cph76aptxk4zv5qcm7fxvqwczj6eqefsdpnunu"
    raw = parse_address(bob)
    assert len(raw) == 20 and address_of(Keypair.dev("bob").public_key) == bob
    assert parse_address(bob.upper()) == raw, "bech32 is case-insensitive, but not mixed"
    with pytest.raises(AddressError, match="not bech32"):
        parse_address(bob[:-1] + ("q" if bob[-1] != "q" else "p"))  # checksum
    with pytest.raises(AddressError, match="not bech32"):
        parse_address("ait1notanaddress")
    with pytest.raises(AddressError, match="prefix 'ait', this chain uses 'tait'"):
        parse_address(bob, hrp="tait")
    with pytest.raises(AddressError, match="20 bytes"):
        parse_address(bech32.encode("ait", bytes(19)))


def test_amounts_as_the_cli_reads_them():
    # src/primitives/serde_amount.rs tokens_or_base_units.
    assert parse_amount("1500") == 1500
    assert parse_amount(1500) == 1500
    with pytest.raises(ValueError, match="write 1.5AIT for tokens"):
        parse_amount("1.5")
    assert parse_amount("1.5AIT") == 1_500_000_000
    assert parse_amount("2 AIT") == 2_000_000_000
    assert parse_amount("2ait") == 2_000_000_000
    assert parse_amount("0.000000001AIT") == 1
    assert parse_amount(".5AIT") == 500_000_000
    for bad in ["1.0000000001", "1.5.5", "-1", "AIT", "1,5", "", "1e9", "x AIT", "١٢"]:
        with pytest.raises(ValueError):
            parse_amount(bad)
    with pytest.raises(ValueError, match="too large"):
        parse_amount("340282366920938463463.374607431768211456AIT", decimals=18)
    with pytest.raises(ValueError):
        parse_amount(-1)
    assert format_amount(1_500_000_000) == "1.5 AIT"
    assert format_amount("2000000000") == "2 AIT"
    assert format_amount(1) == "0.000000001 AIT"


def test_json_form_is_what_tx_send_takes():
    signed = transfer_tx().sign(key())
    j = signed.to_json()
    assert j == {
        "type": "TRANSFER",
        "chainId": "ergon-dev",
        "sender": address_of(bytes.fromhex(PK)),
        "publicKey": "0x" + PK,
        "nonce": 1,
        "fee": "0",
        "priority": "normal",
        "payload": {"to": bech32.encode("ait", bytes([0x33] * 20)), "amount": "5"},
        "sig": "0x" + signed.signature.hex(),
    }
    batch = batch_tx().to_json()
    assert batch["type"] == "BATCH" and batch["priority"] == "high" and "sig" not in batch
    assert [t["amount"] for t in batch["payload"]["transfers"]] == ["1", "1000000000000"]
