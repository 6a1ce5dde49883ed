//! Chain specifications: `chainspec/*.json`, the built-in `dev` and `local` specs, and the
//! genesis they define. The genesis hash commits to the genesis state and to every consensus,
//! economy and limit parameter, so two nodes agree on it only if they agree on all of them; it
//! commits to nothing operational (the spec's display name, bootnodes, mDNS), so adding a
//! bootnode never turns a node into a stranger.

use crate::primitives::{serde_amount, tag, Address, Hash, Keypair, PublicKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub mod build;

const DEV_JSON: &str = include_str!("../chainspec/dev.json");
const LOCAL_JSON: &str = include_str!("../chainspec/local.json");

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read chain spec {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("chain spec is not valid JSON for a spec: {0}")]
    Json(#[from] serde_json::Error),
    #[error("chain spec field `{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
}

pub type Result<T> = std::result::Result<T, SpecError>;

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid { field: field.into(), reason: reason.into() }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    pub name: String,
    pub chain_id: String,
    /// Chains whose dev keys (alice, bob, ...) may be named on the command line.
    pub dev_keys: bool,
    pub genesis_timestamp_ms: u64,
    pub token: Token,
    pub accounts: Vec<GenesisAccount>,
    pub validators: Vec<GenesisValidator>,
    pub faucet: Option<Faucet>,
    /// The address whose PARAM_UPDATE txs change economy parameters (dev and PoA chains);
    /// none on chains whose parameters are fixed at genesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    pub consensus: ConsensusParams,
    pub economy: EconomyParams,
    pub limits: Limits,
    pub network: NetworkParams,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub symbol: String,
    pub decimals: u8,
    pub hrp: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    pub address: String,
    #[serde(with = "serde_amount")]
    pub balance: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    pub name: String,
    pub address: String,
    pub consensus_key: PublicKey,
    #[serde(with = "serde_amount")]
    pub stake: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faucet {
    pub address: String,
    #[serde(with = "serde_amount")]
    pub balance: u128,
    /// Largest amount one `admin_mintFaucet` call may send.
    #[serde(with = "serde_amount")]
    pub max_drip: u128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProposerSelection {
    RoundRobin,
    Lottery,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusParams {
    pub block_time_ms: u64,
    pub propose_timeout_ms: u64,
    pub vote_timeout_ms: u64,
    /// Added to each timeout per round, so rounds lengthen until the network catches up.
    pub timeout_delta_ms: u64,
    pub epoch_length: u64,
    pub max_validators: u32,
    pub proposer_selection: ProposerSelection,
    /// Blocks over which a validator's precommits are counted for downtime (Cosmos: 100).
    #[serde(default = "default_signed_blocks_window")]
    pub signed_blocks_window: u64,
    /// Share of the window a validator must have signed; below it, it is slashed
    /// `slash_downtime_bps` and jailed (Cosmos: 50%).
    #[serde(default = "default_min_signed_bps")]
    pub min_signed_bps: u32,
    /// Blocks a validator jailed for downtime stays out before an UNJAIL may return it.
    #[serde(default = "default_downtime_jail_blocks")]
    pub downtime_jail_blocks: u64,
}

fn default_signed_blocks_window() -> u64 {
    100
}

fn default_min_signed_bps() -> u32 {
    5_000
}

fn default_downtime_jail_blocks() -> u64 {
    600
}

fn default_slash_downtime_bps() -> u32 {
    100
}

fn default_work_epochs() -> u32 {
    4
}

fn default_work_bonus_cap_bps() -> u32 {
    5_000
}

fn default_work_units_for_cap() -> u128 {
    1_000_000_000
}

fn default_miner_draw_blocks() -> u64 {
    10
}

fn default_verifier_share_bps() -> u32 {
    5_000
}

/// Multipliers and ratios are in basis points (1/10,000) so that no float touches consensus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EconomyParams {
    #[serde(with = "serde_amount")]
    pub mint_per_unit: u128,
    pub coordinator_ratio_bps: u32,
    pub treasury_ratio_bps: u32,
    pub treasury: String,
    #[serde(with = "serde_amount")]
    pub block_reward: u128,
    pub halving_interval: u64,
    pub fees: FeeSchedule,
    #[serde(with = "serde_amount")]
    pub trial_credits: u128,
    /// PoW difficulty in leading zero bits for the most and the least reputable account; a
    /// trial claimant is new (reputation 0.5), so it pays the midpoint. Public chains want 28
    /// or more there (24 bits is about 2 s on one core).
    pub pow_difficulty_min: u8,
    pub pow_difficulty_max: u8,
    /// Blocks a trial claim's anchor block may lie below the block that includes it.
    pub pow_max_age: u64,
    /// Trial grants one block may carry: the share of block space fee-less txs may take.
    pub trial_max_per_block: u32,
    /// Trial grants one epoch may carry.
    pub trial_max_per_epoch: u32,
    #[serde(with = "serde_amount")]
    pub min_stake: u128,
    pub unbonding_period: u64,
    /// Share of every job price that is burned when its receipt lands.
    pub burn_bps: u32,
    /// A miner's compute mint per epoch is at most this share of its stake.
    pub mint_cap_bps: u32,
    /// Blocks a receipt's payment and mint stay pending before they mature.
    pub challenge_blocks: u64,
    /// Stake a miner needs for its receipts to be accepted.
    #[serde(with = "serde_amount")]
    pub miner_min_stake: u128,
    /// Compute units that count as one network compute hour for the contribution curve.
    #[serde(with = "serde_amount")]
    pub units_per_hour: u128,
    /// D in the contribution multiplier 1 + 9 e^(-h/D), in hours (seed 002: 100,000).
    #[serde(with = "serde_amount")]
    pub contribution_decay_hours: u128,
    /// The VM metering receipts must be counted with.
    pub metering_version: u32,
    /// Smallest bond a FRAUD_PROOF must put up.
    #[serde(with = "serde_amount")]
    pub challenge_bond: u128,
    /// Largest job (max units) validators re-execute inside block validation; larger jobs
    /// need 3 or more verifiers.
    pub max_dispute_units: u64,
    /// Share of its stake a miner (and the coordinator that attested) loses for a receipt a
    /// fraud proof shows wrong; the miner loses at least what the receipt would have paid it.
    pub slash_invalid_result_bps: u32,
    /// Share of its bond a challenger loses for challenging a correct receipt.
    pub slash_false_challenge_bps: u32,
    /// Share of its stake a validator loses for double signing.
    pub slash_double_sign_bps: u32,
    /// Share of every slash paid to whoever put the evidence on chain (the block's proposer);
    /// the rest is burned.
    pub reporter_bps: u32,
    /// Share of its stake a validator loses for signing too few precommits over
    /// `signed_blocks_window` (Cosmos: 1%).
    #[serde(default = "default_slash_downtime_bps")]
    pub slash_downtime_bps: u32,
    /// Epochs of verified compute that count toward a validator's work bonus.
    #[serde(default = "default_work_epochs")]
    pub work_epochs: u32,
    /// Largest work bonus on voting power (seed 004 §6.2, compute-backed proposer).
    #[serde(default = "default_work_bonus_cap_bps")]
    pub work_bonus_cap_bps: u32,
    /// Verified compute units over `work_epochs` that earn the whole bonus; less earns a
    /// proportional share.
    #[serde(default = "default_work_units_for_cap", with = "serde_amount")]
    pub work_units_for_cap: u128,
    /// Blocks in each window of a job's miner draw (`ledger::draw`): only the drawn miner may
    /// claim in a window. 0: no draw, any staked miner may claim.
    #[serde(default = "default_miner_draw_blocks")]
    pub miner_draw_blocks: u64,
    /// Share of a receipt's treasury cut paid at maturity to the drawn verifiers that
    /// confirmed it, split equally.
    #[serde(default = "default_verifier_share_bps")]
    pub verifier_share_bps: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSchedule {
    /// Computation cost of one transfer.
    #[serde(with = "serde_amount")]
    pub transfer_base: u128,
    /// Computation cost of each transfer inside a batch, before the batch discount.
    #[serde(with = "serde_amount")]
    pub batch_per_transfer: u128,
    pub batch_discount_bps: u32,
    #[serde(with = "serde_amount")]
    pub storage_per_byte: u128,
    #[serde(with = "serde_amount")]
    pub network_per_byte: u128,
    pub priority_low_bps: u32,
    pub priority_normal_bps: u32,
    pub priority_high_bps: u32,
    pub priority_urgent_bps: u32,
    /// Share of every fee that goes to the treasury; the proposer gets the rest.
    pub treasury_share_bps: u32,
    /// Computation cost of a JOB_POST or JOB_CANCEL.
    #[serde(with = "serde_amount")]
    pub job_base: u128,
    /// Computation cost of a RECEIPT_CLAIM (two extra signatures, the mint).
    #[serde(with = "serde_amount")]
    pub receipt_base: u128,
    /// Computation cost of STAKE and UNSTAKE.
    #[serde(with = "serde_amount")]
    pub staking_base: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_tx_bytes: u32,
    pub max_batch_transfers: u32,
    pub max_block_txs: u32,
    pub max_block_bytes: u32,
    /// Largest gossip message and request-response message (1 MiB by default, what every
    /// libp2p implementation accepts). Blocks travel compact (tx hashes, not txs), so a block
    /// of `max_block_txs` txs must fit in one: see [`Limits::compact_block_bytes`].
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u32,
}

fn default_max_message_bytes() -> u32 {
    1 << 20
}

impl Limits {
    /// The most a compact block (header, evidence, last commit, a 32-byte hash per tx) with
    /// its commit certificate can take for `validators` validators.
    pub fn compact_block_bytes(&self, validators: u32) -> u64 {
        u64::from(self.max_block_txs) * 32 + u64::from(validators) * 2 * 128 + (32 << 10)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkParams {
    pub bootnodes: Vec<String>,
    pub mdns: bool,
}

/// Fully checked genesis values, derived from a spec.
#[derive(Debug, Clone)]
pub struct Genesis {
    pub balances: Vec<(Address, u128)>,
    pub stakes: Vec<(Address, u128)>,
    pub validators: Vec<(PublicKey, u128)>,
    pub treasury: Address,
    pub faucet: Option<Address>,
}

impl ChainSpec {
    /// `dev`, `local`, or a path to a JSON file.
    pub fn load(name_or_path: &str) -> Result<ChainSpec> {
        let spec: ChainSpec = match name_or_path {
            "dev" => serde_json::from_str(DEV_JSON)?,
            "local" => serde_json::from_str(LOCAL_JSON)?,
            path => {
                let text = std::fs::read_to_string(Path::new(path))
                    .map_err(|source| SpecError::Read { path: path.to_string(), source })?;
                serde_json::from_str(&text)?
            }
        };
        spec.genesis()?;
        Ok(spec)
    }

    /// Environment overrides accepted on dev chains (seed 004 §17): CHAIN_ID, MINT_PER_UNIT,
    /// COORDINATOR_RATIO (a decimal fraction such as 0.05).
    pub fn apply_dev_overrides(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        if let Some(id) = get("CHAIN_ID") {
            if id.trim().is_empty() {
                return Err(invalid("CHAIN_ID", "must not be empty"));
            }
            self.chain_id = id;
        }
        if let Some(m) = get("MINT_PER_UNIT") {
            self.economy.mint_per_unit = serde_amount::parse(&m).map_err(|e| invalid("MINT_PER_UNIT", e))?;
        }
        if let Some(r) = get("COORDINATOR_RATIO") {
            self.economy.coordinator_ratio_bps = parse_ratio_bps(&r).map_err(|e| invalid("COORDINATOR_RATIO", e))?;
        }
        self.genesis().map(|_| ())
    }

    /// What the genesis block commits to (its parent hash): the spec without its operational
    /// parts (name, network).
    pub fn hash(&self) -> Hash {
        let committed = ChainSpec {
            name: String::new(),
            network: NetworkParams { bootnodes: Vec::new(), mdns: false },
            ..self.clone()
        };
        // Struct fields serialize in declaration order, so this JSON is canonical.
        let bytes = serde_json::to_vec(&committed).unwrap_or_default();
        Hash::digest(tag::GENESIS, &bytes)
    }

    pub fn hrp(&self) -> &str {
        &self.token.hrp
    }

    pub fn parse_address(&self, s: &str) -> std::result::Result<Address, crate::primitives::AddressError> {
        Address::parse(s, self.hrp())
    }

    /// The key behind a dev key name, if this chain accepts dev keys.
    pub fn dev_key(&self, name: &str) -> Option<Keypair> {
        if self.dev_keys {
            Keypair::dev_by_name(name)
        } else {
            None
        }
    }

    /// Checks every field and returns the genesis allocation.
    pub fn genesis(&self) -> Result<Genesis> {
        Address::validate_hrp(&self.token.hrp).map_err(|e| invalid("token.hrp", e.to_string()))?;
        if self.chain_id.is_empty() || self.chain_id.len() > 64 {
            return Err(invalid("chain_id", "must be 1 to 64 characters"));
        }
        let addr = |field: String, s: &str| self.parse_address(s).map_err(|e| invalid(field, e.to_string()));
        let mut balances = Vec::new();
        for (i, a) in self.accounts.iter().enumerate() {
            balances.push((addr(format!("accounts[{i}].address"), &a.address)?, a.balance));
        }
        let faucet = match &self.faucet {
            Some(f) => {
                let a = addr("faucet.address".into(), &f.address)?;
                balances.push((a, f.balance));
                Some(a)
            }
            None => None,
        };
        if self.validators.is_empty() {
            return Err(invalid("validators", "at least one validator is required"));
        }
        let mut stakes = Vec::new();
        let mut validators = Vec::new();
        for (i, v) in self.validators.iter().enumerate() {
            let a = addr(format!("validators[{i}].address"), &v.address)?;
            if Address::from_public_key(&v.consensus_key) != a {
                return Err(invalid(format!("validators[{i}]"), "address is not the consensus key's address"));
            }
            if v.stake == 0 {
                return Err(invalid(format!("validators[{i}].stake"), "must be positive"));
            }
            stakes.push((a, v.stake));
            validators.push((v.consensus_key, v.stake));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (a, _) in balances.iter() {
            if !seen.insert(*a) {
                return Err(invalid("accounts", format!("address {} appears twice", a.to_bech32(self.hrp()))));
            }
        }
        let total = balances
            .iter()
            .chain(stakes.iter())
            .try_fold(0u128, |acc, (_, v)| acc.checked_add(*v))
            .ok_or_else(|| invalid("accounts", "total supply overflows u128"))?;
        let _ = total;
        let treasury = addr("economy.treasury".into(), &self.economy.treasury)?;
        let c = &self.consensus;
        if c.block_time_ms == 0 || c.propose_timeout_ms == 0 || c.vote_timeout_ms == 0 {
            return Err(invalid("consensus", "block time and timeouts must be positive"));
        }
        if c.signed_blocks_window == 0 || c.signed_blocks_window > 100_000 {
            return Err(invalid("consensus.signed_blocks_window", "must be 1 to 100000 blocks"));
        }
        if c.min_signed_bps > 10_000 {
            return Err(invalid("consensus.min_signed_bps", format!("{} is over 10000 (100%)", c.min_signed_bps)));
        }
        if c.epoch_length == 0 || c.max_validators == 0 {
            return Err(invalid("consensus", "epoch_length and max_validators must be positive"));
        }
        check_economy(&self.economy)?;
        let l = &self.limits;
        if l.max_tx_bytes < 256 || l.max_block_txs == 0 || l.max_block_bytes < l.max_tx_bytes {
            return Err(invalid("limits", "max_tx_bytes >= 256, max_block_txs > 0, max_block_bytes >= max_tx_bytes"));
        }
        if u64::from(l.max_message_bytes) < u64::from(l.max_tx_bytes) + (4 << 10)
            || l.compact_block_bytes(c.max_validators) > u64::from(l.max_message_bytes)
        {
            return Err(invalid(
                "limits.max_message_bytes",
                format!(
                    "{} cannot carry a tx of max_tx_bytes ({}) or a compact block of max_block_txs ({}, 32 bytes each) \
                     with the certificates of max_validators ({}): at least {} bytes",
                    l.max_message_bytes,
                    l.max_tx_bytes,
                    l.max_block_txs,
                    c.max_validators,
                    l.compact_block_bytes(c.max_validators).max(u64::from(l.max_tx_bytes) + (4 << 10))
                ),
            ));
        }
        if let Some(a) = &self.authority {
            addr("authority".into(), a)?;
        }
        Ok(Genesis { balances, stakes, validators, treasury, faucet })
    }
}

/// The economy parameters a PARAM_UPDATE may set. Not the fee schedule (the mempool and
/// clients size fees from the spec), the metering version, the halving or the curve.
pub const UPDATABLE_PARAMS: [&str; 22] = [
    "mint_per_unit",
    "coordinator_ratio_bps",
    "treasury_ratio_bps",
    "trial_credits",
    "pow_difficulty_min",
    "pow_difficulty_max",
    "pow_max_age",
    "trial_max_per_block",
    "trial_max_per_epoch",
    "burn_bps",
    "mint_cap_bps",
    "challenge_blocks",
    "miner_min_stake",
    "challenge_bond",
    "max_dispute_units",
    "slash_invalid_result_bps",
    "slash_false_challenge_bps",
    "slash_double_sign_bps",
    "reporter_bps",
    "slash_downtime_bps",
    "work_bonus_cap_bps",
    "work_units_for_cap",
];

impl EconomyParams {
    /// Sets the parameter `name` to `value`, which must fit its type; the result still has to
    /// pass [`check_economy`].
    pub fn set(&mut self, name: &str, value: u128) -> std::result::Result<(), String> {
        fn fit<T: TryFrom<u128>>(name: &str, value: u128) -> std::result::Result<T, String> {
            T::try_from(value).map_err(|_| format!("{name}: {value} does not fit its type"))
        }
        match name {
            "mint_per_unit" => self.mint_per_unit = value,
            "coordinator_ratio_bps" => self.coordinator_ratio_bps = fit(name, value)?,
            "treasury_ratio_bps" => self.treasury_ratio_bps = fit(name, value)?,
            "trial_credits" => self.trial_credits = value,
            "pow_difficulty_min" => self.pow_difficulty_min = fit(name, value)?,
            "pow_difficulty_max" => self.pow_difficulty_max = fit(name, value)?,
            "pow_max_age" => self.pow_max_age = fit(name, value)?,
            "trial_max_per_block" => self.trial_max_per_block = fit(name, value)?,
            "trial_max_per_epoch" => self.trial_max_per_epoch = fit(name, value)?,
            "burn_bps" => self.burn_bps = fit(name, value)?,
            "mint_cap_bps" => self.mint_cap_bps = fit(name, value)?,
            "challenge_blocks" => self.challenge_blocks = fit(name, value)?,
            "miner_min_stake" => self.miner_min_stake = value,
            "challenge_bond" => self.challenge_bond = value,
            "max_dispute_units" => self.max_dispute_units = fit(name, value)?,
            "slash_invalid_result_bps" => self.slash_invalid_result_bps = fit(name, value)?,
            "slash_false_challenge_bps" => self.slash_false_challenge_bps = fit(name, value)?,
            "slash_double_sign_bps" => self.slash_double_sign_bps = fit(name, value)?,
            "reporter_bps" => self.reporter_bps = fit(name, value)?,
            "slash_downtime_bps" => self.slash_downtime_bps = fit(name, value)?,
            "work_bonus_cap_bps" => self.work_bonus_cap_bps = fit(name, value)?,
            "work_units_for_cap" => self.work_units_for_cap = value,
            _ => {
                return Err(format!(
                    "{name:?} is not a parameter PARAM_UPDATE can set; one of: {}",
                    UPDATABLE_PARAMS.join(", ")
                ))
            }
        }
        Ok(())
    }
}

/// The rules economy parameters obey, at genesis and after every PARAM_UPDATE.
pub fn check_economy(e: &EconomyParams) -> Result<()> {
    {
        for (name, bps) in [
            ("economy.coordinator_ratio_bps", e.coordinator_ratio_bps),
            ("economy.treasury_ratio_bps", e.treasury_ratio_bps),
            ("economy.fees.batch_discount_bps", e.fees.batch_discount_bps),
            ("economy.fees.treasury_share_bps", e.fees.treasury_share_bps),
            ("economy.burn_bps", e.burn_bps),
            ("economy.mint_cap_bps", e.mint_cap_bps),
            ("economy.slash_double_sign_bps", e.slash_double_sign_bps),
            ("economy.reporter_bps", e.reporter_bps),
            ("economy.slash_downtime_bps", e.slash_downtime_bps),
            ("economy.verifier_share_bps", e.verifier_share_bps),
            ("economy.slash_invalid_result_bps", e.slash_invalid_result_bps),
            ("economy.slash_false_challenge_bps", e.slash_false_challenge_bps),
        ] {
            if bps > 10_000 {
                return Err(invalid(name, format!("{bps} is over 10000 (100%)")));
            }
        }
        if u64::from(e.coordinator_ratio_bps) + u64::from(e.treasury_ratio_bps) > 10_000 {
            return Err(invalid("economy.coordinator_ratio_bps", "coordinator and treasury ratios sum over 10000"));
        }
        if e.challenge_blocks == 0 || e.unbonding_period == 0 {
            return Err(invalid("economy.challenge_blocks", "challenge_blocks and unbonding_period must be positive"));
        }
        if e.halving_interval == 0 {
            return Err(invalid("economy.halving_interval", "must be positive"));
        }
        if e.pow_difficulty_min > e.pow_difficulty_max {
            return Err(invalid("economy.pow_difficulty_min", "must not exceed pow_difficulty_max"));
        }
        if e.pow_difficulty_max > 64 {
            return Err(invalid("economy.pow_difficulty_max", "must be at most 64 bits"));
        }
        if e.pow_max_age == 0 {
            return Err(invalid("economy.pow_max_age", "must be at least 1 block"));
        }
        if e.miner_draw_blocks > 10_000 {
            return Err(invalid("economy.miner_draw_blocks", "must be at most 10000 blocks"));
        }
        if e.work_units_for_cap == 0 {
            return Err(invalid("economy.work_units_for_cap", "must be positive"));
        }
    }
    Ok(())
}

/// "0.05" -> 500 basis points. Accepts 0..=1 with at most four decimals.
pub fn parse_ratio_bps(s: &str) -> std::result::Result<u32, String> {
    let t = s.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let ok = !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit());
    if !ok || frac.len() > 4 {
        return Err(format!("{s:?} is not a ratio like 0.05 (at most 4 decimals)"));
    }
    let int: u32 = int.parse().map_err(|_| format!("{s:?} is not a ratio"))?;
    let frac_bps: u32 = format!("{frac:0<4}").parse().map_err(|_| format!("{s:?} is not a ratio"))?;
    let bps = int.saturating_mul(10_000).saturating_add(frac_bps);
    if bps > 10_000 {
        return Err(format!("{s:?} is over 1"));
    }
    Ok(bps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `chainspec/testnet.json` (made by `ergon chainspec build --validators 4`, README
    /// "Building a chain spec") loads, holds no dev key, and names its bootnodes on `.invalid`
    /// hosts, which never resolve (RFC 6761): placeholders for the operators' own. Its
    /// genesis hash is the one the README prints.
    #[test]
    fn the_testnet_template_loads_and_its_bootnodes_are_placeholders() {
        let spec = ChainSpec::load(concat!(env!("CARGO_MANIFEST_DIR"), "/chainspec/testnet.json")).unwrap();
        assert_eq!(spec.chain_id, "ergon-testnet");
        assert_eq!(spec.validators.len(), 4);
        assert!(!spec.dev_keys && spec.faucet.is_none() && spec.authority.is_none());
        assert_eq!(spec.network.bootnodes.len(), 2);
        for b in &spec.network.bootnodes {
            let addr: libp2p::Multiaddr = b.parse().unwrap_or_else(|e| panic!("{b}: {e}"));
            assert!(addr.iter().any(|p| matches!(p, libp2p::multiaddr::Protocol::P2p(_))), "{b} names no peer");
            assert!(b.contains(".invalid/"), "{b} is not a placeholder");
        }
        let genesis = crate::storage::genesis_hash(&spec).unwrap();
        assert_eq!(genesis.to_string(), "0x1e3666929d4e139d2d4fc4acd7a56bafc56004a7240cbc0b35dae4174f236a00");
    }

    #[test]
    fn builtin_specs_are_valid_and_distinct() {
        let dev = ChainSpec::load("dev").unwrap();
        let local = ChainSpec::load("local").unwrap();
        assert_eq!(dev.validators.len(), 1);
        assert_eq!(local.validators.len(), 4);
        assert_ne!(dev.hash(), local.hash());
    }

    /// A block of `max_block_txs` must fit one message compact; older spec files without the
    /// field get the 1 MiB default.
    #[test]
    fn the_message_limit_must_carry_a_compact_block() {
        let spec = ChainSpec::load("dev").unwrap();
        assert_eq!(spec.limits.max_message_bytes, 1 << 20);
        assert!(spec.limits.compact_block_bytes(spec.consensus.max_validators) <= 1 << 20);
        let mut big = spec.clone();
        big.limits.max_block_txs = 50_000;
        let err = big.genesis().unwrap_err().to_string();
        assert!(err.contains("limits.max_message_bytes") && err.contains("50000"), "{err}");
        big.limits.max_message_bytes = 2 << 20;
        assert!(big.genesis().is_ok());
        let mut json = serde_json::to_value(&spec).unwrap();
        json["limits"].as_object_mut().unwrap().remove("max_message_bytes");
        let old: ChainSpec = serde_json::from_value(json).unwrap();
        assert_eq!(old.limits.max_message_bytes, 1 << 20);
    }

    #[test]
    fn builtin_specs_use_the_dev_keys_they_name() {
        for name in ["dev", "local"] {
            let spec = ChainSpec::load(name).unwrap();
            for v in &spec.validators {
                assert_eq!(Keypair::dev(&v.name).public(), v.consensus_key, "{name}: {}", v.name);
            }
            let faucet = spec.faucet.as_ref().unwrap();
            let want = Address::from_public_key(&Keypair::dev("faucet").public());
            assert_eq!(spec.parse_address(&faucet.address).unwrap(), want);
        }
    }

    #[test]
    fn overrides_change_the_genesis_hash() {
        let mut spec = ChainSpec::load("dev").unwrap();
        let before = spec.hash();
        spec.apply_dev_overrides(|k| match k {
            "CHAIN_ID" => Some("ait-devnet".into()),
            "COORDINATOR_RATIO" => Some("0.05".into()),
            "MINT_PER_UNIT" => Some("1000".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(spec.chain_id, "ait-devnet");
        assert_eq!(spec.economy.coordinator_ratio_bps, 500);
        assert_ne!(spec.hash(), before);
        assert!(spec.apply_dev_overrides(|k| (k == "COORDINATOR_RATIO").then(|| "1.5".into())).is_err());
        assert!(spec.apply_dev_overrides(|k| (k == "MINT_PER_UNIT").then(|| "-3".into())).is_err());
    }

    #[test]
    fn genesis_hash_ignores_what_is_operational() {
        let spec = ChainSpec::load("local").unwrap();
        let mut ops = spec.clone();
        ops.name = "my local testnet".into();
        ops.network
            .bootnodes
            .push("/ip4/127.0.0.1/tcp/7070/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN".into());
        ops.network.mdns = !ops.network.mdns;
        assert_eq!(ops.hash(), spec.hash(), "bootnodes, mDNS and the name are not part of the chain");
        for change in [
            |s: &mut ChainSpec| s.economy.mint_per_unit += 1,
            |s: &mut ChainSpec| s.consensus.epoch_length += 1,
            |s: &mut ChainSpec| s.limits.max_block_txs += 1,
            |s: &mut ChainSpec| s.validators[0].stake += 1,
            |s: &mut ChainSpec| s.accounts[0].balance += 1,
            |s: &mut ChainSpec| s.chain_id.push('x'),
        ] {
            let mut other = spec.clone();
            change(&mut other);
            assert_ne!(other.hash(), spec.hash());
        }
    }

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio_bps("0.05"), Ok(500));
        assert_eq!(parse_ratio_bps("1"), Ok(10_000));
        assert!(parse_ratio_bps("0.12345").is_err());
        assert!(parse_ratio_bps("abc").is_err());
    }

    #[test]
    fn bad_spec_is_a_clear_error() {
        let mut spec = ChainSpec::load("dev").unwrap();
        spec.accounts[0].address = "ait1bogus".into();
        let err = spec.genesis().unwrap_err().to_string();
        assert!(err.contains("accounts[0].address"), "{err}");
    }
}
