//! Golden vectors: the canonical SCALE bytes and BLAKE3 hashes of fixed values, pinned as
//! literals. If one of these fails, the wire format or a hash changed: every node on the old
//! format would fork away. Update a vector only for a deliberate, versioned format change.
//!
//! Keys come from fixed secrets; ed25519 signatures are deterministic, so signed values pin too.

use super::economy::{ComputeReceipt, JobCancel, JobPost, ReceiptClaim, StakeAmount};
use super::*;
use crate::chainspec::ChainSpec;
use crate::ledger::{tree as state_tree, Account, StateDiff};
use parity_scale_codec::{Decode, Encode};

const SECRET: [u8; 32] = [1u8; 32];
const PK: &str = "0x8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

fn key() -> Keypair {
    Keypair::from_secret(SECRET)
}

/// A batch with a small and a big-integer compact amount, at high priority.
fn batch_tx() -> Tx {
    Tx {
        chain_id: "ergon-dev".into(),
        sender: key().public(),
        nonce: 7,
        fee: 3295,
        priority: Priority::High,
        payload: Payload::Batch(vec![
            Transfer { to: Address([0x11; 20]), amount: 1 },
            Transfer { to: Address([0x22; 20]), amount: 1_000_000_000_000 },
        ]),
    }
}

fn transfer_tx() -> Tx {
    Tx {
        chain_id: "ergon-dev".into(),
        sender: key().public(),
        nonce: 1,
        fee: 0,
        priority: Priority::Normal,
        payload: Payload::Transfer(Transfer { to: Address([0x33; 20]), amount: 5 }),
    }
}

fn header() -> Header {
    let txs: [SealedTx; 2] = [batch_tx().sign(&key()).into(), transfer_tx().sign(&key()).into()];
    Header {
        parent: Hash([0xAB; 32]),
        height: 42,
        timestamp_ms: 1_767_225_600_000,
        proposer: key().public(),
        tx_root: Block::tx_root(&txs),
        state_root: Hash([0xCD; 32]),
        tx_count: 2,
        evidence_root: Hash([0xEF; 32]),
        receipts_root: Hash([0x12; 32]),
        last_commit_hash: Hash([0x34; 32]),
        reveal: Hash([0x56; 32]),
    }
}

/// Checks `value` encodes to `want_hex` and decodes back to itself.
fn assert_scale<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T, want_hex: &str) {
    let bytes = value.encode();
    assert_eq!(hex::encode(&bytes), want_hex, "SCALE encoding of {value:?} changed");
    assert_eq!(&T::decode(&mut bytes.as_slice()).unwrap(), value);
}

fn h(s: &str) -> Hash {
    s.parse().unwrap()
}

#[test]
fn fixed_key() {
    assert_eq!(key().public().to_hex(), PK);
    assert_eq!(key().secret_bytes(), SECRET);
}

#[test]
fn hash_domain_tags() {
    assert_eq!(tag::TX, b"ergon/tx/v1");
    assert_eq!(tag::TX_LEAF, b"ergon/tx-leaf/v1");
    assert_eq!(tag::TX_NODE, b"ergon/tx-node/v1");
    assert_eq!(tag::HEADER, b"ergon/header/v1");
    assert_eq!(tag::VOTE, b"ergon/vote/v1");
    assert_eq!(tag::GENESIS, b"ergon/genesis/v1");
    assert_eq!(tag::TX_OUTCOME, b"ergon/tx-outcome/v1");
    assert_eq!(tag::STATE_KEY, b"ergon/state-key/v1");
    assert_eq!(tag::DEV_KEY, b"ergon/dev-key/v1");
    // BLAKE3("ergon/tx/v1" || 0x00).
    assert_eq!(Hash::digest(tag::TX, b""), h("0x4b57e35071ff2b99ab44e788f82aad4fe7c627f0f64b9717009feb532e3e7564"));
}

#[test]
fn batch_tx_vector() {
    let tx = batch_tx();
    // compact len 9 | "ergon-dev" | sender | nonce u64 LE | fee u128 LE | priority 2 |
    // payload 1 (batch) | compact 2 | to | compact 1 | to | compact 10^12 (big-integer mode).
    let tx_hex = concat!(
        "24",
        "6572676f6e2d646576",
        "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
        "0700000000000000",
        "df0c0000000000000000000000000000",
        "02",
        "01",
        "08",
        "1111111111111111111111111111111111111111",
        "04",
        "2222222222222222222222222222222222222222",
        "070010a5d4e8",
    );
    assert_scale(&tx, tx_hex);
    assert_eq!(tx.signing_hash(), h("0x66cf7ef6ede5865395b3e1dabae31c01633583b8b7f166cd7304e5a1ccfa5f60"));

    let signed = tx.sign(&key());
    let sig = "61b482a9c9402f915e6aa951758204f2ca1744690cc9df7d32fe3bf6ad88af2f\
               73cb36d8953f6bd391e0c7e655f4fde1fe9050b0970174120deff53a31908400";
    assert_eq!(hex::encode(signed.signature.0), sig);
    assert_scale(&signed, &format!("{tx_hex}{sig}"));
    assert_eq!(signed.size(), tx_hex.len() / 2 + 64);
    assert_eq!(signed.hash(), signed.tx.signing_hash(), "a signed tx is identified by its signing hash");
    assert_eq!(signed.leaf_hash(), h("0x6dafa91302d3c7888b669b1ab4fd8183edcc2047a33effe714eaf88c410f074e"));
    signed.verify_signature().unwrap();

    // Sealing computes the same hashes and size once, and encodes as the signed tx.
    let sealed = crate::primitives::SealedTx::seal(signed.clone());
    assert_eq!((sealed.hash(), sealed.leaf_hash(), sealed.size()), (signed.hash(), signed.leaf_hash(), signed.size()));
    assert_scale(&sealed, &format!("{tx_hex}{sig}"));
    let decoded: crate::primitives::SealedTx = Decode::decode(&mut &sealed.encode()[..]).unwrap();
    assert_eq!(decoded, sealed);
}

#[test]
fn transfer_tx_vector() {
    let tx_hex = concat!(
        "24",
        "6572676f6e2d646576",
        "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
        "0100000000000000",
        "00000000000000000000000000000000",
        "01",
        "00",
        "3333333333333333333333333333333333333333",
        "14",
    );
    assert_scale(&transfer_tx(), tx_hex);
    let signed = transfer_tx().sign(&key());
    let sig = "f77ca839ca9ec0fb48a6ad468d5714b8e2c34be3df241c0c7d92a494d8cda7ba\
               cb35c7d0f0faf22f86bebb9bc19a2615b8af24463303d13d3179037609224301";
    assert_scale(&signed, &format!("{tx_hex}{sig}"));
    assert_eq!(signed.hash(), h("0xe196cda9b2ffd5f4b3927a6944380bf60409bd7fdf750e7c9e852f134d012a41"));
}

#[test]
fn tx_root_vector() {
    let txs: [SealedTx; 2] = [batch_tx().sign(&key()).into(), transfer_tx().sign(&key()).into()];
    assert_eq!(Block::tx_root(&txs), h("0x1e3e069628c8d2fe56f119707b4c6a6e4fef118cb7de4b42e215a248f56424ab"));
    assert_eq!(Block::tx_root(&txs[..1]), txs[0].leaf_hash(), "one leaf is its own root");
    assert_eq!(Block::tx_root(&[]), Hash::ZERO);
}

#[test]
fn header_vector() {
    let hdr = header();
    let want = concat!(
        "abababababababababababababababababababababababababababababababab",
        "2a00000000000000",
        "00a8da769b010000",
        "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
        "1e3e069628c8d2fe56f119707b4c6a6e4fef118cb7de4b42e215a248f56424ab",
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
        "02000000",
        "efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef",
        "1212121212121212121212121212121212121212121212121212121212121212",
        "3434343434343434343434343434343434343434343434343434343434343434",
        "5656565656565656565656565656565656565656565656565656565656565656",
    );
    assert_scale(&hdr, want);
    let hash = h("0x5a8518af1654f3f18b4c7bbebc74187eaffa8912a2f4f4f9b09bdfdbd715a500");
    assert_eq!(hdr.hash(), hash);
    let block = Block {
        header: hdr,
        txs: vec![batch_tx().sign(&key()).into(), transfer_tx().sign(&key()).into()],
        evidence: vec![],
        last_commit: None,
    };
    assert_eq!(block.hash(), hash, "a block's hash is its header's");
}

#[test]
fn vote_vectors() {
    let block_hash = header().hash();
    let precommit = Vote {
        chain_id: "ergon-dev".into(),
        height: 42,
        round: 3,
        kind: VoteKind::Precommit,
        block_hash: Some(block_hash),
    };
    assert_scale(
        &precommit,
        concat!(
            "246572676f6e2d646576",
            "2a00000000000000",
            "03000000",
            "01",
            "01",
            "5a8518af1654f3f18b4c7bbebc74187eaffa8912a2f4f4f9b09bdfdbd715a500",
        ),
    );
    assert_eq!(precommit.signing_hash(), h("0x6ef0f0f71e3f38cf02aaf267399787392c5f51a2174a1ff1e1c9a7d3277ea312"));

    // A block's last commit: the header commits to its hash.
    let cert = CommitCertificate {
        height: 42,
        round: 3,
        block_hash,
        signatures: vec![(key().public(), key().sign(&precommit.signing_hash()))],
    };
    assert_eq!(cert.vote("ergon-dev"), precommit);
    assert_eq!(
        Block::last_commit_hash(Some(&cert)),
        h("0x7547a48ad3b94c83b2d9aeb7e40daeced9569188d5e7507ff6db28475fe9ad95")
    );
    assert_eq!(Block::last_commit_hash(None), Hash::ZERO);

    let nil_prevote =
        Vote { chain_id: "ergon-dev".into(), height: 42, round: 0, kind: VoteKind::Prevote, block_hash: None };
    assert_scale(&nil_prevote, "246572676f6e2d6465762a00000000000000000000000000");
    assert_eq!(nil_prevote.signing_hash(), h("0x7764a1f12d01373469f24f6494c60ea945901c5191138dde2af544bdf1c2029f"));
}

#[test]
fn commit_certificate_vector() {
    let mut cert = CommitCertificate { height: 42, round: 3, block_hash: Hash([0xAB; 32]), signatures: vec![] };
    let vote = cert.vote("ergon-dev");
    assert_eq!(vote.kind, VoteKind::Precommit);
    let sig = key().sign(&vote.signing_hash());
    cert.signatures.push((key().public(), sig));
    assert_scale(
        &cert,
        concat!(
            "2a00000000000000",
            "03000000",
            "abababababababababababababababababababababababababababababababab",
            "04",
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
            "2f0b32fc116d0addc7a56b7b4c8f86a5b1f8b525dedef1924cbe559e3df09f31",
            "820b6b3c389f920836f16b1267d35432f69be2078f798400e9ba02cb39823a04",
        ),
    );
}

#[test]
fn dev_keys_and_addresses() {
    let want = [
        ("alice", "ait1l3n0wflqm95ql4lg3j8ynvd27vekpx282hdy38"),
        ("bob", "ait1cph76aptxk4zv5qcm7fxvqwczj6eqefsdpnunu"),
        ("charlie", "ait136j5lm4xqfdyzygu0pw7x9j5egxhghs8fydzyx"),
        ("dave", "ait15qqpaw35vkg9n5726eulx9fk207arupna5l55e"),
        ("eve", "ait1tsyrg0w6pmlzdtasg3kphwmh9cmlckernnh0em"),
        ("ferdie", "ait12dlp5dx5yy7vh2038sdu50m6pvmgc9cse3jchx"),
        ("faucet", "ait1qfe2a9f647xfylj265wzns43tk2e9t39qrg5us"),
    ];
    assert_eq!(want.map(|(n, _)| n), DEV_KEY_NAMES);
    for (name, addr) in want {
        let a = Address::from_public_key(&Keypair::dev(name).public());
        assert_eq!(a.to_bech32("ait"), addr, "{name}");
    }
    assert_eq!(
        Keypair::dev("alice").public().to_hex(),
        "0xe85841aeb6ac2f9fe8ec6d4cd8edbadffe85226e8a7d22efadbd098a201f207b"
    );
}

#[test]
fn state_encodings_and_keys() {
    let acc = Account {
        balance: 1_000_000_000_000_000,
        nonce: 3,
        staked: 10_000_000_000_000,
        pending: 5,
        ..Account::default()
    };
    assert_scale(&acc, "0f0080c6a47e8d030300000000000000000b00a0724e180914000000000000");
    assert_eq!(
        hex::encode(state_tree::account_key(&Address([0x11; 20])).0),
        "9c8e3c7caf48530a98d8d417f3d2a81a089a50ec082def0f172e52ff1745bc39"
    );
    assert_eq!(
        hex::encode(state_tree::supply_key().0),
        "4dbfa7f118a09e8e93657defb71036cf2353c216486498c7a7386011fe8541e0"
    );
}

#[test]
fn dev_chain_spec_and_genesis() {
    let spec = ChainSpec::load("dev").unwrap();
    assert_eq!(spec.hash(), h("0x3b8b7b7fb53775391337ce45588974f39699038defee1b3eb0c49557dc8d559d"));

    let diff = StateDiff::genesis(&spec, &spec.genesis().unwrap()).unwrap();
    assert_eq!(diff.supply.total, 1_006_010_000_000_000_000);
    assert_scale(
        &diff.supply,
        concat!(
            "00a07dd2c310f60d0000000000000000", // total
            "00000000000000000000000000000000", // minted
            "0000000000000000",                 // height
            "00000000000000000000000000000000", // minted_reward
            "00000000000000000000000000000000", // minted_compute
            "00000000000000000000000000000000", // burned
            "00000000000000000000000000000000", // verified_units
            "00000000000000000000000000000000", // minted_trial
        ),
    );
    let mock = jmt::mock::MockTreeStore::default();
    let (root, _) = state_tree::apply_diff(&mock, &diff, 0).unwrap();
    assert_eq!(root, h("0x7d5790bf2e18baab21edf534af61a55f22d8d7aef4adc4167f458c84aa1404ee"));

    let genesis = crate::storage::Store::genesis_block(&spec, root);
    assert_scale(
        &genesis.header,
        concat!(
            "3b8b7b7fb53775391337ce45588974f39699038defee1b3eb0c49557dc8d559d",
            "0000000000000000",
            "00a8da769b010000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "7d5790bf2e18baab21edf534af61a55f22d8d7aef4adc4167f458c84aa1404ee",
            "00000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ),
    );
    assert_eq!(genesis.hash(), h("0x7c6a2681f3a894c4d212dd0808b4d321865bed955af441ac110eec82fc0bc8db"));
}

#[test]
fn evidence_proves_equivocation_only() {
    use super::block::EvidenceError;
    use super::{Evidence, SignedVote};
    let vote = |round: u32, value: u8| {
        let v = Vote {
            chain_id: "ergon-dev".into(),
            height: 42,
            round,
            kind: VoteKind::Prevote,
            block_hash: Some(Hash([value; 32])),
        };
        let signature = key().sign(&v.signing_hash());
        SignedVote { vote: v, validator: key().public(), signature }
    };
    let e = Evidence { first: vote(3, 1), second: vote(3, 2) };
    assert_eq!(e.verify("ergon-dev"), Ok(()));
    assert_eq!(e.position(), (42, 3, VoteKind::Prevote, key().public()));
    assert!(matches!(e.verify("other"), Err(EvidenceError::WrongChain(_))));
    let same = Evidence { first: vote(3, 1), second: vote(3, 1) };
    assert_eq!(same.verify("ergon-dev"), Err(EvidenceError::SameValue));
    let rounds = Evidence { first: vote(3, 1), second: vote(4, 2) };
    assert_eq!(rounds.verify("ergon-dev"), Err(EvidenceError::Mismatch));
    let mut forged = e.clone();
    forged.second.vote.block_hash = Some(Hash([9; 32]));
    assert_eq!(forged.verify("ergon-dev"), Err(EvidenceError::BadSignature));
    // Pinned, as every hash that goes into a header is.
    assert_eq!(Block::evidence_root(&[]), Hash::ZERO);
    assert_eq!(Block::evidence_root(std::slice::from_ref(&e)), e.hash());
}

#[test]
fn tx_outcome_vectors() {
    use crate::ledger::{receipts_root, TxFailure, TxOutcome};
    let ok = TxOutcome { fee: 1500, result: Ok(()) };
    let failed = TxOutcome { fee: 1500, result: Err(TxFailure::InsufficientBalance { balance: 7, needed: 9 }) };
    assert_scale(&ok, "dc05000000000000000000000000000000");
    assert_scale(
        &failed,
        concat!(
            "dc050000000000000000000000000000",
            "01",
            "00",
            "07000000000000000000000000000000",
            "09000000000000000000000000000000"
        ),
    );
    assert_eq!(ok.leaf_hash(), h("0x23f04ea33db8b3eca64be09309808578ce2b41a69df687f08ac5e96669981db5"));
    assert_eq!(
        receipts_root(&[ok.clone(), failed]),
        h("0xb650f30e6ac3347ddcfcfb519c58c3abfb36b7cbf2645df6be867a69216f3437")
    );
    assert_eq!(receipts_root(&[]), Hash::ZERO);
    assert_eq!(receipts_root(std::slice::from_ref(&ok)), ok.leaf_hash());
}

fn sample_receipt() -> ComputeReceipt {
    ComputeReceipt {
        receipt_id: Hash([0x01; 32]),
        job_id: Hash([0x02; 32]),
        client: Address([0x03; 20]),
        miner: Address::from_public_key(&key().public()),
        compute_units: 500_000,
        price: 1_000_000,
        output_hash: Hash([0x04; 32]),
        metering_version: 1,
    }
}

#[test]
fn economy_payload_vectors() {
    let r = sample_receipt();
    let post = Payload::JobPost(JobPost {
        program: Hash([0x05; 32]),
        input: Hash([0x06; 32]),
        max_units: 1_000_000,
        price: 1_000_000,
        coordinator: Address([0x07; 20]),
        deadline: 120,
        verifiers: 3,
    });
    let claim = Payload::ReceiptClaim(Box::new(ReceiptClaim {
        miner_sig: key().sign(&r.signing_hash()),
        attestation: key().sign(&r.attestation_hash()),
        miner_key: key().public(),
        coordinator_key: key().public(),
        receipt: r.clone(),
    }));
    let tx = |payload| {
        Tx {
            chain_id: "ergon-dev".into(),
            sender: key().public(),
            nonce: 2,
            fee: 7000,
            priority: Priority::Normal,
            payload,
        }
        .sign(&key())
    };
    // Payload bytes (variant index first) and the hash of a tx carrying each.
    let vectors = [
        (
            post,
            concat!(
                "02",
                "0505050505050505050505050505050505050505050505050505050505050505",
                "0606060606060606060606060606060606060606060606060606060606060606",
                "40420f0000000000",
                "02093d00",
                "0707070707070707070707070707070707070707",
                "7800000000000000",
                "03",
            ),
            "0x03bf7c0db75f51a6d57d025601e4bcd2da5a1d66723bc10b9e0cb587e59b985a",
        ),
        (
            Payload::JobCancel(JobCancel { job_id: Hash([0x08; 32]) }),
            "030808080808080808080808080808080808080808080808080808080808080808",
            "0xd3356da8a1ac2ef2acb0507a823a133a0b417e3dc2fc5ab5208e1041abc06408",
        ),
        (
            claim,
            concat!(
                "04",
                "0101010101010101010101010101010101010101010101010101010101010101",
                "0202020202020202020202020202020202020202020202020202020202020202",
                "0303030303030303030303030303030303030303",
                "34750f98bd59fcfc946da45aaabe933be154a4b5",
                "20a1070000000000",
                "02093d00",
                "0404040404040404040404040404040404040404040404040404040404040404",
                "01000000",
                "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
                "e291ef7f5d547a5fcf434d7e728fe0a63c452b409eea3ec9cb4ab4c816a7586a",
                "78ca755039a788955eec2ba89ab8823f54df279712d3d0c1b559c54274df190f",
                "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
                "7a79ea8263261a8f4342caf5f0edcc86d734a7fa90447211d0fdd4e311598ac7",
                "3749e78fff5b7fd9f1fd7cac5e1810945c3e79ddb591cb38ea3418cfb274dd07",
            ),
            "0xc059b299e9765545b4912a754c3dafea54ba21d0498318d27a0775f632f9d712",
        ),
        (
            Payload::Stake(StakeAmount { amount: 100_000_000_000 }),
            "050700e8764817",
            "0x6f69ac4b20fef0e186a8096e8c6f8cf7a12b3701d46bf9c81279e1afa4dce14c",
        ),
        (
            Payload::Unstake(StakeAmount { amount: 5 }),
            "0614",
            "0x94e09f88a4cea5d1a63e17a538c83f69dbfdb83a10224a348ffc3c9e0cb8959e",
        ),
    ];
    assert_scale(
        &Payload::Delegate(super::economy::Delegation { validator: Address([0x09; 20]), amount: 1_000 }),
        "070909090909090909090909090909090909090909a10f",
    );
    for (p, bytes, tx_hash) in vectors {
        assert_scale(&p, bytes);
        assert_eq!(tx(p).hash(), h(tx_hash));
    }
    // What the miner signs and what the coordinator signs differ by domain only.
    assert_eq!(r.signing_hash(), h("0xc2577b4b38ad1c05d7f1d5e9715f04ead70282f6c64a90a33ff6a3bf5eed3a90"));
    assert_eq!(r.attestation_hash(), h("0xd473a146965beb632f7ed8e1be674d5110ddcee2e68e5480ed7c3ce57fb8f1e6"));
    assert_eq!(tag::RECEIPT, b"ergon/receipt/v1");
    assert_eq!(tag::ATTESTATION, b"ergon/attestation/v1");
}

#[test]
fn trial_claim_vector_and_work() {
    use super::economy::{PowSearch, TrialClaim};
    let claim = TrialClaim { anchor_height: 41, anchor_hash: Hash([0x0a; 32]), pow_nonce: 0x0102 };
    assert_scale(
        &Payload::TrialClaim(claim.clone()),
        concat!(
            "09",
            "2900000000000000",
            "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a",
            "0201000000000000",
        ),
    );
    // The work hash is pinned by the first nonces reaching 4 and 16 bits for one claimant.
    let claimant = Address::from_public_key(&key().public());
    let search = PowSearch::new("ergon-dev", &claimant, &claim.anchor_hash);
    let first = |bits| search.find(bits, 0..).unwrap();
    assert_eq!((first(4), first(16)), (0, 114_210));
    assert_eq!(tag::TRIAL_POW, b"ergon/trial-pow/v1");
}

#[test]
fn fraud_proof_vector() {
    use super::economy::FraudProof;
    let p = FraudProof { receipt_id: Hash([0x0b; 32]), output_hash: Hash([0x0c; 32]), units: 300, bond: 1_000_000_000 };
    assert_scale(
        &Payload::FraudProof(p),
        concat!(
            "0a",
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c",
            "2c01000000000000",
            "02286bee", // compact 1e9: (1e9 << 2) | 0b10, 4 bytes LE
        ),
    );
}

#[test]
fn param_update_vector() {
    use super::economy::ParamUpdate;
    let p = ParamUpdate { name: "challenge_blocks".into(), value: 5 };
    assert_scale(&Payload::ParamUpdate(p), concat!("0b", "40", "6368616c6c656e67655f626c6f636b73", "14"));
}

#[test]
fn unjail_vector() {
    // No fields: the sender's key is the validator that leaves jail.
    assert_scale(&Payload::Unjail, "0c");
    assert_eq!(Payload::Unjail.kind(), "UNJAIL");
}

/// A block carries its parent's precommits; the body's SCALE layout pins them after the
/// evidence.
#[test]
fn block_body_with_last_commit_vector() {
    let precommit = Vote {
        chain_id: "ergon-dev".into(),
        height: 41,
        round: 0,
        kind: VoteKind::Precommit,
        block_hash: Some(Hash([0xAB; 32])),
    };
    let cert = CommitCertificate {
        height: 41,
        round: 0,
        block_hash: Hash([0xAB; 32]),
        signatures: vec![(key().public(), key().sign(&precommit.signing_hash()))],
    };
    let body: (Vec<SignedTx>, Vec<Evidence>, Option<CommitCertificate>) = (vec![], vec![], Some(cert.clone()));
    let bytes = body.encode();
    assert_eq!(
        hex::encode(&bytes[..2 + 1 + 8 + 4 + 32 + 1]),
        concat!(
            "00",                                                               // no txs
            "00",                                                               // no evidence
            "01",                                                               // Some
            "2900000000000000",                                                 // height 41
            "00000000",                                                         // round 0
            "abababababababababababababababababababababababababababababababab", // block hash
            "04",                                                               // one signature
        )
    );
    assert_eq!(bytes.len(), 2 + 1 + 8 + 4 + 32 + 1 + 32 + 64);
}

#[test]
fn verdict_vector() {
    let v = super::economy::VerifierVerdict { receipt_id: Hash([0x0d; 32]), output_hash: Hash([0x0e; 32]), units: 7 };
    assert_scale(
        &Payload::Verdict(v),
        concat!(
            "0d",
            "0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d",
            "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e",
            "0700000000000000",
        ),
    );
    assert_eq!(
        Payload::Verdict(super::economy::VerifierVerdict { receipt_id: Hash::ZERO, output_hash: Hash::ZERO, units: 0 })
            .kind(),
        "VERDICT"
    );
}
