//! Admission as clients see it: `submit_many` runs economy payloads against the head on its
//! signature threads, where `submit` leaves them to the driver, and both must give a tx the
//! same verdict; a tx in a block announced as committed is no longer pending.

use super::service::{Service, ServiceConfig};
use super::{ChainEvent, NodeConfig, SubmitError};
use crate::chainspec::{ChainSpec, GenesisAccount};
use crate::mempool::MempoolConfig;
use crate::primitives::{Address, Hash, JobCancel, Keypair, Payload, SealedTx, StakeAmount, Transfer};

/// The dev chain with `keys` funded, on a node with a temporary store.
async fn start(spec: &mut ChainSpec, keys: &[Keypair], dir: &std::path::Path) -> Service {
    let hrp = spec.token.hrp.clone();
    spec.accounts.extend(keys.iter().map(|k| GenesisAccount {
        address: Address::from_public_key(&k.public()).to_bech32(&hrp),
        balance: 1_000_000_000_000_000,
    }));
    let config = ServiceConfig {
        node: NodeConfig {
            spec: spec.clone(),
            validator_key: Some(Keypair::dev("alice")),
            mempool: MempoolConfig::default(),
            network: None,
        },
        db_path: dir.join("db"),
        rpc: None,
        state_retention: None,
        blob_retention: None,
        sign_state_path: dir.join(crate::storage::sign_guard::FILE_NAME),
        reset_sign_state: false,
        min_free_disk: None,
    };
    Service::start(config).await.expect("start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_many_refuses_what_submit_refuses_and_admits_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = ChainSpec::load("dev").expect("dev spec");
    let keys: Vec<Keypair> = (1u8..=3).map(|i| Keypair::from_secret([i; 32])).collect();
    let service = start(&mut spec, &keys, dir.path()).await;
    let signed = |k: &Keypair, p| crate::ledger::fees::signed(&spec, k, 1, p).expect("fee fits");
    // Payloads that would only pay their fee: a job that does not exist, a stake never made.
    let bad = [
        signed(&keys[0], Payload::JobCancel(JobCancel { job_id: Hash([7; 32]) })),
        signed(&keys[1], Payload::Unstake(StakeAmount { amount: 1 })),
    ];
    let good = signed(&keys[2], Payload::Stake(StakeAmount { amount: spec.economy.miner_min_stake }));
    let good_hash = SealedTx::seal(good.clone()).hash();
    let node = &service.handle;

    let mut single = Vec::new();
    for tx in &bad {
        single.push(node.submit(tx.clone()).await.expect_err("refused on the driver"));
    }
    assert!(single.iter().all(|e| matches!(e, SubmitError::Rejected(_))), "{single:?}");
    let many = node.submit_many(bad.iter().cloned().chain([good]).collect()).await;
    let want: Vec<Result<Hash, SubmitError>> = single.into_iter().map(Err).chain([Ok(good_hash)]).collect();
    assert_eq!(many, want, "the same verdicts on the signature threads");
    assert!(node.is_pending(good_hash));
    service.stop().await;
}

/// The node announces a block before it tidies its mempool: a subscriber told of the block
/// finds each of its txs in the store and none of them pending, however fast it asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_announced_as_committed_has_no_tx_pending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = ChainSpec::load("dev").expect("dev spec");
    let keys: Vec<Keypair> = (0u8..50).map(|i| Keypair::from_secret([i + 10; 32])).collect();
    let service = start(&mut spec, &keys, dir.path()).await;
    let node = &service.handle;
    let to = Address::from_public_key(&Keypair::dev("bob").public());
    let txs: Vec<_> = keys
        .iter()
        .flat_map(|k| (1..=20).map(move |n| (k, n)))
        .map(|(k, n)| {
            let p = Payload::Transfer(Transfer { to, amount: 1 });
            crate::ledger::fees::signed(&spec, k, n, p).expect("fee fits")
        })
        .collect();
    let total = txs.len() as u64;
    let all: Vec<Hash> = txs.iter().map(|t| SealedTx::seal(t.clone()).hash()).collect();
    let mut events = node.subscribe();
    let admitted = node.submit_many(txs).await;
    assert!(admitted.iter().all(Result::is_ok), "{:?}", admitted.iter().find(|r| r.is_err()));
    let mut committed = 0u64;
    while committed < total {
        let event = tokio::time::timeout(std::time::Duration::from_secs(120), events.recv()).await;
        let Ok(Ok(ChainEvent::Finalized(head))) = event else {
            assert!(matches!(event, Ok(Ok(_))), "no block within 120 s: {event:?}");
            continue;
        };
        // Asked at once, before anything else.
        let still: std::collections::HashSet<Hash> = all.iter().copied().filter(|h| node.is_pending(*h)).collect();
        let block = node.store().block(head.height).expect("read").expect("the block is stored");
        let hashes: Vec<Hash> = block.txs.iter().map(SealedTx::hash).collect();
        let pending = hashes.iter().filter(|h| still.contains(*h)).count();
        assert_eq!(pending, 0, "{pending} of block {}'s {} txs still pending", head.height, hashes.len());
        for h in &hashes {
            assert!(node.store().tx_record(h).expect("read").is_some(), "{h} not indexed");
        }
        committed += u64::from(head.tx_count);
    }
    service.stop().await;
}
