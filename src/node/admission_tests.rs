//! `submit_many` runs economy payloads against the head on its signature threads, where
//! `submit` leaves them to the driver: both must give a tx the same verdict.

use super::service::{Service, ServiceConfig};
use super::{NodeConfig, SubmitError};
use crate::chainspec::{ChainSpec, GenesisAccount};
use crate::mempool::MempoolConfig;
use crate::primitives::{Address, Hash, JobCancel, Keypair, Payload, SealedTx, StakeAmount};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_many_refuses_what_submit_refuses_and_admits_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = ChainSpec::load("dev").expect("dev spec");
    let keys: Vec<Keypair> = (1u8..=3).map(|i| Keypair::from_secret([i; 32])).collect();
    let hrp = spec.token.hrp.clone();
    spec.accounts.extend(keys.iter().map(|k| GenesisAccount {
        address: Address::from_public_key(&k.public()).to_bech32(&hrp),
        balance: 1_000_000_000_000_000,
    }));
    let signed = |k: &Keypair, p| crate::ledger::fees::signed(&spec, k, 1, p).expect("fee fits");
    // Payloads that would only pay their fee: a job that does not exist, a stake never made.
    let bad = [
        signed(&keys[0], Payload::JobCancel(JobCancel { job_id: Hash([7; 32]) })),
        signed(&keys[1], Payload::Unstake(StakeAmount { amount: 1 })),
    ];
    let good = signed(&keys[2], Payload::Stake(StakeAmount { amount: spec.economy.miner_min_stake }));
    let good_hash = SealedTx::seal(good.clone()).hash();
    let config = ServiceConfig {
        node: NodeConfig {
            spec,
            validator_key: Some(Keypair::dev("alice")),
            mempool: MempoolConfig::default(),
            network: None,
        },
        db_path: dir.path().join("db"),
        rpc: None,
        state_retention: None,
        blob_retention: None,
        sign_state_path: dir.path().join(crate::storage::sign_guard::FILE_NAME),
        reset_sign_state: false,
        min_free_disk: None,
    };
    let service = Service::start(config).await.expect("start");
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
