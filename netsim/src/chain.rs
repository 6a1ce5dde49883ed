//! The simulated chain: a dev-like chain spec with the run's validators and load accounts,
//! and the keys behind them. Keys depend only on an index, so every run (any seed) has the
//! same validators, accounts, peer ids and genesis.

use ergon::chainspec::{ChainSpec, GenesisAccount, GenesisValidator};
use ergon::primitives::{Address, Keypair, Payload, SignedTx, Transfer};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("chain spec: {0}")]
    Spec(#[from] ergon::chainspec::SpecError),
    #[error("node identity: {0}")]
    Identity(#[from] ergon::network::NetworkError),
    #[error("fee overflows")]
    Fee,
}

const VALIDATOR_STAKE: u128 = 10_000_000_000_000;
const ACCOUNT_BALANCE: u128 = 1_000_000_000_000_000;

fn secret(label: &str, index: usize) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"ergon-netsim/key/");
    h.update(label.as_bytes());
    h.update(&(index as u64).to_le_bytes());
    *h.finalize().as_bytes()
}

pub fn validator_key(index: usize) -> Keypair {
    Keypair::from_secret(secret("validator", index))
}

/// A funded account that sends or receives the load's transfers.
pub fn account_key(index: usize) -> Keypair {
    Keypair::from_secret(secret("account", index))
}

/// The libp2p identity of node `index`.
pub fn node_identity(index: usize) -> Result<libp2p::identity::Keypair, ChainError> {
    Ok(ergon::network::keypair_from_secret(secret("node", index))?)
}

/// The dev chain with `validators` equal-stake validators, `accounts` funded load accounts
/// and blocks every `block_time`.
pub fn spec(validators: usize, accounts: usize, block_time: Duration) -> Result<ChainSpec, ChainError> {
    let mut spec = ChainSpec::load("dev")?;
    spec.name = "ergon netsim".into();
    spec.chain_id = "ergon-netsim".into();
    let hrp = spec.token.hrp.clone();
    spec.validators = (0..validators)
        .map(|i| {
            let key = validator_key(i).public();
            GenesisValidator {
                name: format!("v{i}"),
                address: Address::from_public_key(&key).to_bech32(&hrp),
                consensus_key: key,
                stake: VALIDATOR_STAKE,
            }
        })
        .collect();
    spec.accounts.extend((0..accounts).map(|i| GenesisAccount {
        address: Address::from_public_key(&account_key(i).public()).to_bech32(&hrp),
        balance: ACCOUNT_BALANCE,
    }));
    let ms = u64::try_from(block_time.as_millis()).unwrap_or(u64::MAX).max(1);
    spec.consensus.block_time_ms = ms;
    // Rounds scale with the block time, so a short block time still tolerates slow links.
    spec.consensus.propose_timeout_ms = (ms * 3).max(1000);
    spec.consensus.vote_timeout_ms = ms.max(500);
    spec.consensus.timeout_delta_ms = (ms / 2).max(250);
    spec.network.bootnodes.clear();
    spec.network.mdns = false;
    spec.genesis()?;
    Ok(spec)
}

/// A signed transfer paying the required fee.
pub fn transfer(
    spec: &ChainSpec,
    from: &Keypair,
    nonce: u64,
    to: Address,
    amount: u128,
) -> Result<SignedTx, ChainError> {
    let payload = Payload::Transfer(Transfer { to, amount });
    ergon::ledger::fees::signed(spec, from, nonce, payload).ok_or(ChainError::Fee)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_is_valid_and_its_accounts_can_pay() {
        let s = spec(4, 3, Duration::from_millis(300)).unwrap();
        let g = s.genesis().unwrap();
        assert_eq!(g.validators.len(), 4);
        assert_eq!(g.validators[0].0, validator_key(0).public());
        let tx = transfer(&s, &account_key(0), 1, Address::from_public_key(&account_key(1).public()), 5).unwrap();
        ergon::ledger::check_stateless(&s, &tx.clone().into()).unwrap();
        tx.verify_signature().unwrap();
    }
}
