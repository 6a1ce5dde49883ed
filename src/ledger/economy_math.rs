//! Fixed-point integer math for the economy: the early-contributor reward multiplier
//! (`1 + 9·e^(−hours/decay)`), reputation scores (`accuracy² × uptime × stake weight`) and
//! the proof-of-work difficulty a reputation buys.
//!
//! These numbers decide how much is minted and which blocks are valid, so every node must
//! compute them bit-identically, whatever its CPU, compiler or libm. Floats cannot promise
//! that, so everything is integer arithmetic with explicit rounding. Fractions are WAD
//! fixed point (1.0 == [`WAD`]); `exp` and `log` work internally with 96 or 124 binary
//! fraction bits so that their error stays well below one WAD unit.

/// One whole unit (1.0) in WAD fixed point.
pub const WAD: u128 = 1_000_000_000_000_000_000;
/// Reputation reported for an account with no history, before it has earned its own.
pub const NEW_ACCOUNT_REPUTATION_WAD: u128 = WAD / 2;

const MAX_MULTIPLIER_WAD: u128 = 10 * WAD;
const BONUS_WAD: u128 = 9 * WAD;

/// 2^96, the unit of the internal exponent fixed point.
const ONE: u128 = 1 << 96;
/// floor(ln 2 · 2^96). Rounding down is what keeps the range reduction monotone (see
/// [`exp_neg_fixed`]).
const LN2: u128 = 54_916_777_467_707_473_351_141_471_128;
/// Past x = 128, 9·e^(−x) is below 1e-54, so the multiplier is exactly 1.0 after rounding.
const EXP_CUTOFF: u128 = 128 * ONE;
/// ln(2)^26 / 26! < 2^-96: more terms would not change the result.
const EXP_TERMS: u128 = 26;
/// floor(log10(2) · 10^36).
const LOG10_2_E36: u128 = 301_029_995_663_981_195_213_738_894_724_493_026;

// Tier thresholds in whole network hours. The ruvector reference
// (`get_tier_name` in crates/ruvector-economy-wasm/src/curve.rs, read from the
// FlexNetOS/meta-ruvector copy of ruvector) uses 100k / 500k / 1M / 5M hours with a 1,000,000 hour
// decay constant, i.e. 0.1 / 0.5 / 1 / 5 decay constants. Ergon's curve decays over 100,000
// hours (the seed README's table: 100,000 h ≈ 4.3×), so the same fractions give these; the
// README's Pioneer at 25,000 h falls inside [10,000, 50,000).
const PIONEER_FROM_HOURS: u128 = 10_000;
const EARLY_ADOPTER_FROM_HOURS: u128 = 50_000;
const ESTABLISHED_FROM_HOURS: u128 = 100_000;
const BASELINE_FROM_HOURS: u128 = 500_000;

const ELITE_FROM_WAD: u128 = 950_000_000_000_000_000;
const TRUSTED_FROM_WAD: u128 = 850_000_000_000_000_000;
const STANDARD_FROM_WAD: u128 = 700_000_000_000_000_000;
const PROBATION_FROM_WAD: u128 = 500_000_000_000_000_000;

/// A 256-bit intermediate, so products of two u128s never overflow before they are divided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct U256 {
    hi: u128,
    lo: u128,
}

impl U256 {
    fn mul(a: u128, b: u128) -> U256 {
        let (a0, a1) = (u128::from(a as u64), a.wrapping_shr(64));
        let (b0, b1) = (u128::from(b as u64), b.wrapping_shr(64));
        // Each 64×64 partial product fits in u128; only their sums can carry.
        let p00 = a0.wrapping_mul(b0);
        let (mid, c1) = a0.wrapping_mul(b1).overflowing_add(a1.wrapping_mul(b0));
        let (mid, c2) = mid.overflowing_add(p00.wrapping_shr(64));
        let carry = u128::from(c1).wrapping_add(u128::from(c2)).wrapping_shl(64);
        let lo = mid.wrapping_shl(64) | u128::from(p00 as u64);
        let hi = a1.wrapping_mul(b1).wrapping_add(mid.wrapping_shr(64)).wrapping_add(carry);
        U256 { hi, lo }
    }

    /// `self >> s` for `0 < s < 128`.
    fn shr(self, s: u32) -> U256 {
        let lo = self.lo.wrapping_shr(s) | self.hi.wrapping_shl(128u32.wrapping_sub(s));
        U256 { hi: self.hi.wrapping_shr(s), lo }
    }

    fn to_u128(self) -> Option<u128> {
        (self.hi == 0).then_some(self.lo)
    }

    /// Quotient and remainder, or `None` for a zero divisor.
    fn div_rem(self, d: u128) -> Option<(U256, u128)> {
        let hi = self.hi.checked_div(d)?;
        let mut rem = self.hi.checked_rem(d)?;
        if rem == 0 {
            return Some((U256 { hi, lo: self.lo.checked_div(d)? }, self.lo.checked_rem(d)?));
        }
        // Schoolbook binary long division; `rem < d` holds at the top of every step, so the
        // quotient's low half fits in u128 and `rem·2 + bit < 2d` needs one carry bit only.
        let mut lo = 0u128;
        for i in (0..128u32).rev() {
            let carry = rem.wrapping_shr(127) == 1;
            rem = rem.wrapping_shl(1) | (self.lo.wrapping_shr(i) & 1);
            lo = lo.wrapping_shl(1);
            if carry || rem >= d {
                rem = rem.wrapping_sub(d);
                lo |= 1;
            }
        }
        Some((U256 { hi, lo }, rem))
    }
}

/// floor(a × b / d), or `None` if `d` is 0 or the result does not fit in u128.
fn mul_div(a: u128, b: u128, d: u128) -> Option<u128> {
    U256::mul(a, b).div_rem(d)?.0.to_u128()
}

/// floor(amount × wad / WAD), exact for any inputs; `None` if the result overflows u128.
pub fn apply_wad(amount: u128, wad: u128) -> Option<u128> {
    mul_div(amount, wad, WAD)
}

/// e^(s / 2^96) · 2^96 for `0 <= s <= LN2`, rounded down.
///
/// The Taylor series of e^s has only positive terms, so the Horner evaluation below is a
/// chain of non-decreasing integer steps: the result is monotone in `s` despite rounding,
/// and never above the true value.
fn exp_pos_series(s: u128) -> u128 {
    let mut h = ONE;
    for n in (1..=EXP_TERMS).rev() {
        let term = U256::mul(h, s).shr(96).lo.checked_div(n).unwrap_or(0);
        h = ONE.saturating_add(term);
    }
    h
}

/// e^(−x / 2^96) · 2^96 for `x < EXP_CUTOFF`, monotone non-increasing in `x`.
///
/// Writing x = k·LN2 + r, e^(−x) ≈ 2^−(k+1) · e^(LN2 − r): the series then runs on a
/// positive argument (see [`exp_pos_series`]). Within a segment the result falls as r grows;
/// at a seam the first value of segment k+1 is e^(LN2)/2^(k+2) ≤ 2/2^(k+2), which cannot
/// exceed the last value of segment k, e^(1/2^96)/2^(k+1), because LN2 is rounded down.
fn exp_neg_fixed(x: u128) -> u128 {
    let k = x.checked_div(LN2).unwrap_or(0);
    let r = x.checked_rem(LN2).unwrap_or(0);
    let e = exp_pos_series(LN2.saturating_sub(r));
    match u32::try_from(k.saturating_add(1)) {
        Ok(shift) if shift < 128 => e.wrapping_shr(shift),
        _ => 0,
    }
}

/// Early-contributor multiplier `1 + 9·e^(−h/D)` in WAD, h = verified_units / units_per_hour.
///
/// h is used as an exact rational, not floored to whole hours. A zero `units_per_hour` or
/// `decay_hours` defines no decay, so it is treated like zero work: the genesis 10×.
/// The result lies in `[WAD, 10·WAD]`, is exactly `10·WAD` at zero units, and is monotone
/// non-increasing in `verified_units`.
pub fn contribution_multiplier_wad(verified_units: u128, units_per_hour: u128, decay_hours: u128) -> u128 {
    // x = units / (units_per_hour · decay_hours) in 2^96 fixed point. Two floored divisions
    // equal one by the product, and avoid overflowing it.
    let scaled = U256 { hi: verified_units.wrapping_shr(32), lo: verified_units.wrapping_shl(96) };
    let x = scaled.div_rem(units_per_hour).and_then(|(q, _)| q.div_rem(decay_hours));
    let x = match x {
        None => return MAX_MULTIPLIER_WAD,
        Some((q, _)) => match q.to_u128() {
            Some(0) => return MAX_MULTIPLIER_WAD,
            Some(x) if x < EXP_CUTOFF => x,
            _ => return WAD,
        },
    };
    // Round 9·e^(−x) to the nearest WAD unit: floor((floor(v / 2^95) + 1) / 2).
    let half_units = U256::mul(exp_neg_fixed(x), BONUS_WAD).shr(95).lo;
    WAD.saturating_add(half_units.saturating_add(1).wrapping_shr(1))
}

/// Stage of the network's growth, named after who is contributing at that stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContributionTier {
    Genesis,
    Pioneer,
    EarlyAdopter,
    Established,
    Baseline,
}

impl ContributionTier {
    /// Display name, as the reference implementation spells it.
    pub fn name(self) -> &'static str {
        match self {
            ContributionTier::Genesis => "Genesis",
            ContributionTier::Pioneer => "Pioneer",
            ContributionTier::EarlyAdopter => "Early Adopter",
            ContributionTier::Established => "Established",
            ContributionTier::Baseline => "Baseline",
        }
    }
}

/// Tier for the network's total verified work, counted in whole hours (Genesis if `units_per_hour` is 0).
pub fn contribution_tier(verified_units: u128, units_per_hour: u128) -> ContributionTier {
    let hours = verified_units.checked_div(units_per_hour).unwrap_or(0);
    if hours < PIONEER_FROM_HOURS {
        ContributionTier::Genesis
    } else if hours < EARLY_ADOPTER_FROM_HOURS {
        ContributionTier::Pioneer
    } else if hours < ESTABLISHED_FROM_HOURS {
        ContributionTier::EarlyAdopter
    } else if hours < BASELINE_FROM_HOURS {
        ContributionTier::Established
    } else {
        ContributionTier::Baseline
    }
}

/// log10(x) in WAD, rounded down (0 for x <= 1); exact at powers of ten, monotone in x.
pub fn log10_wad(x: u128) -> u128 {
    if x <= 1 {
        return 0;
    }
    let (mut digits, mut pow10) = (0u128, 1u128);
    while let Some(next) = pow10.checked_mul(10).filter(|&p| p <= x) {
        (digits, pow10) = (digits.saturating_add(1), next);
    }
    // y = x / 10^digits in [1, 10), 124 fraction bits (10·2^124 < 2^128).
    let scaled = U256 { hi: x.wrapping_shr(4), lo: x.wrapping_shl(124) };
    let y = scaled.div_rem(pow10).map_or(0, |(q, _)| q.lo);
    let int_log2 = y.wrapping_shr(124).checked_ilog2().unwrap_or(0);
    // Fraction bits of log2 by repeated squaring: z in [1, 2) and each squaring yields one
    // bit. Each step's rounding is scaled by 2^−step in the result, so 124 working bits give
    // all 64 output bits; squaring and halving are monotone, so the bit string is too.
    let mut z = y.wrapping_shr(int_log2);
    let mut log2 = u128::from(int_log2);
    for _ in 0..64 {
        z = U256::mul(z, z).shr(124).lo;
        log2 = log2.wrapping_shl(1);
        if z >= 1 << 125 {
            z = z.wrapping_shr(1);
            log2 |= 1;
        }
    }
    // log2 has 64 fraction bits; × log10(2)·10^36, then drop to 18 decimals.
    let frac_e36 = U256::mul(log2, LOG10_2_E36).shr(64).lo;
    let frac = frac_e36.checked_div(WAD).unwrap_or(0);
    digits.saturating_mul(WAD).saturating_add(frac)
}

/// Stake weight `min(1, log10(stake + 1) / 6)` in WAD, for a stake in whole tokens.
pub fn stake_weight_wad(stake_whole_tokens: u128) -> u128 {
    let log = log10_wad(stake_whole_tokens.saturating_add(1));
    log.checked_div(6).unwrap_or(0).min(WAD)
}

/// Reputation `accuracy² × uptime × stake weight` in WAD, rounded down, in `[0, WAD]`.
///
/// accuracy = accepted / (accepted + failed), 1 with no results yet; uptime =
/// signed / expected, capped at 1, and 1 when nothing was expected. A brand-new account
/// scores by stake alone here; callers show it as 0.5 instead (see [`reputation_or_new`]).
pub fn reputation_wad(accepted: u64, failed: u64, signed: u64, expected: u64, stake_whole_tokens: u128) -> u128 {
    let ratio = |num: u64, den: u128| {
        // num ≤ den < 2^65, so num·WAD < 2^125 cannot overflow.
        u128::from(num).saturating_mul(WAD).checked_div(den).unwrap_or(WAD).min(WAD)
    };
    let accuracy = ratio(accepted, u128::from(accepted).saturating_add(u128::from(failed)));
    let uptime = ratio(signed.min(expected), u128::from(expected));
    // Every factor is at most WAD, so each product is below 2^120.
    let wad_mul = |a: u128, b: u128| a.saturating_mul(b).checked_div(WAD).unwrap_or(0);
    let score = wad_mul(wad_mul(accuracy, accuracy), uptime);
    wad_mul(score, stake_weight_wad(stake_whole_tokens))
}

/// [`reputation_wad`], or [`NEW_ACCOUNT_REPUTATION_WAD`] for an account with no counters at all.
pub fn reputation_or_new(accepted: u64, failed: u64, signed: u64, expected: u64, stake_whole_tokens: u128) -> u128 {
    if accepted == 0 && failed == 0 && expected == 0 {
        NEW_ACCOUNT_REPUTATION_WAD
    } else {
        reputation_wad(accepted, failed, signed, expected, stake_whole_tokens)
    }
}

/// How much the network trusts an account, by its reputation score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReputationTier {
    Elite,
    Trusted,
    Standard,
    Probation,
    Restricted,
}

impl ReputationTier {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            ReputationTier::Elite => "Elite",
            ReputationTier::Trusted => "Trusted",
            ReputationTier::Standard => "Standard",
            ReputationTier::Probation => "Probation",
            ReputationTier::Restricted => "Restricted",
        }
    }
}

/// Tier for a WAD score: Elite ≥ 0.95, Trusted ≥ 0.85, Standard ≥ 0.70, Probation ≥ 0.50.
pub fn reputation_tier(score_wad: u128) -> ReputationTier {
    if score_wad >= ELITE_FROM_WAD {
        ReputationTier::Elite
    } else if score_wad >= TRUSTED_FROM_WAD {
        ReputationTier::Trusted
    } else if score_wad >= STANDARD_FROM_WAD {
        ReputationTier::Standard
    } else if score_wad >= PROBATION_FROM_WAD {
        ReputationTier::Probation
    } else {
        ReputationTier::Restricted
    }
}

/// PoW difficulty in bits: `max_bits` at reputation 0 down to `min_bits` at 1, rounded up.
///
/// Rounding up keeps the work demanded of any account at least the linear share, so no
/// score buys a cheaper proof than its position on the line. If `min_bits > max_bits`,
/// `max_bits` is returned.
pub fn pow_difficulty_bits(score_wad: u128, min_bits: u8, max_bits: u8) -> u8 {
    if min_bits > max_bits {
        return max_bits;
    }
    let span = u128::from(max_bits.saturating_sub(min_bits));
    let distrust = WAD.saturating_sub(score_wad.min(WAD));
    let extra = span.saturating_mul(distrust).div_ceil(WAD);
    min_bits.saturating_add(u8::try_from(extra).unwrap_or(u8::MAX)).min(max_bits)
}

#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UPH: u128 = 3_600_000;
    const DECAY: u128 = 100_000;

    fn to_f64(wad: u128) -> f64 {
        wad as f64 / WAD as f64
    }

    fn rel_err(units: u128, uph: u128, decay: u128) -> f64 {
        let want = 1.0 + 9.0 * (-((units as f64 / uph as f64) / decay as f64)).exp();
        (to_f64(contribution_multiplier_wad(units, uph, decay)) - want).abs() / want
    }

    fn f64_reputation(a: u64, f: u64, s: u64, e: u64, stake: u128) -> f64 {
        let acc = if a == 0 && f == 0 { 1.0 } else { a as f64 / (a as f64 + f as f64) };
        let up = if e == 0 { 1.0 } else { s.min(e) as f64 / e as f64 };
        acc * acc * up * ((stake as f64 + 1.0).log10() / 6.0).min(1.0)
    }

    #[test]
    fn constants_and_wide_arithmetic() {
        assert_eq!((ONE, EXP_CUTOFF), (1 << 96, 1 << 103));
        assert!((LN2 as f64 / ONE as f64 - std::f64::consts::LN_2).abs() < 1e-16);
        assert!((LOG10_2_E36 as f64 / 1e36 - std::f64::consts::LOG10_2).abs() < 1e-16);
        for (a, b, d) in [(u128::MAX, u128::MAX, u128::MAX), (u128::MAX, 7, 3), (1 << 127, 1 << 127, 5), (12, 10, 4)] {
            let (q, r) = U256::mul(a, b).div_rem(d).unwrap();
            let qd = U256::mul(q.lo, d);
            let (lo, carry) = qd.lo.overflowing_add(r);
            let hi = qd.hi + q.hi * d + u128::from(carry);
            assert!(r < d && U256 { hi, lo } == U256::mul(a, b), "{a} {b} {d}");
        }
        assert_eq!(mul_div(1, 1, 0), None);
        assert_eq!(apply_wad(u128::MAX / 10, 10 * WAD), Some(u128::MAX / 10 * 10));
        assert_eq!(apply_wad(u128::MAX, 2 * WAD), None);
        assert_eq!(apply_wad(1000, contribution_multiplier_wad(0, UPH, DECAY)), Some(10_000));
    }

    #[test]
    fn multiplier_endpoints() {
        for (u, p, d) in [(0, UPH, DECAY), (0, 1, 1), (5, 0, DECAY), (5, UPH, 0), (u128::MAX, 0, 0)] {
            assert_eq!(contribution_multiplier_wad(u, p, d), 10 * WAD);
        }
        assert_eq!(contribution_multiplier_wad(u128::MAX, 1, 1), WAD);
        let at_decay = to_f64(contribution_multiplier_wad(DECAY * UPH, UPH, DECAY));
        assert!((at_decay - (1.0 + 9.0 / std::f64::consts::E)).abs() < 1e-15);
    }

    #[test]
    fn multiplier_dense_sweep() {
        let mut worst = 0f64;
        for (uph, decay, hours) in
            [(UPH, DECAY, 10_000_000), (1, 1, 100), (1000, 1_000_000, 100_000_000), (7, 13, 1300)]
        {
            let (steps, mut prev) = (200_000u128, u128::MAX);
            for i in 0..=steps {
                let units = hours * uph * i / steps;
                let m = contribution_multiplier_wad(units, uph, decay);
                assert!(m <= prev && m >= WAD, "non-monotone at {units}");
                prev = m;
                worst = worst.max(rel_err(units, uph, decay));
            }
        }
        println!("multiplier max relative error over sweep: {worst:e}");
        assert!(worst < 1e-9);
    }

    #[test]
    fn exp_monotone_across_range_reduction_seams() {
        for j in 1..=EXP_CUTOFF / LN2 {
            let vals: Vec<u128> = (j * LN2 - 3..=j * LN2 + 3).map(exp_neg_fixed).collect();
            assert!(vals.windows(2).all(|w| w[0] >= w[1]), "seam {j}: {vals:?}");
            // The same seam reached through unit counts, with fine and coarse units.
            for (uph, decay) in [(UPH, DECAY), (1, 1), (3, 1)] {
                let u = mul_div(j * LN2, uph * decay, ONE).unwrap();
                let ms: Vec<u128> =
                    (u.saturating_sub(3)..=u + 3).map(|v| contribution_multiplier_wad(v, uph, decay)).collect();
                assert!(ms.windows(2).all(|w| w[0] >= w[1]), "seam {j}: {ms:?}");
            }
        }
        for i in 0..10_000u128 {
            let x = i * (40 * ONE / 10_000) + i;
            let want = (-(x as f64 / ONE as f64)).exp();
            assert!((exp_neg_fixed(x) as f64 / ONE as f64 - want).abs() <= want * 1e-14 + 1e-27, "x {x}");
        }
    }

    #[test]
    fn tiers_and_names() {
        let t = |hours: u128| contribution_tier(hours * UPH, UPH).name();
        let got = [t(0), t(9_999), t(10_000), t(25_000), t(50_000), t(100_000), t(499_999), t(500_000)];
        let want =
            ["Genesis", "Genesis", "Pioneer", "Pioneer", "Early Adopter", "Established", "Established", "Baseline"];
        assert_eq!(got, want);
        assert_eq!(contribution_tier(10_000 * UPH - 1, UPH), ContributionTier::Genesis);
        assert_eq!(contribution_tier(u128::MAX, 0), ContributionTier::Genesis);
        let r = |s: u128| reputation_tier(s).name();
        let got = [r(WAD), r(ELITE_FROM_WAD), r(ELITE_FROM_WAD - 1), r(STANDARD_FROM_WAD), r(WAD / 2), r(WAD / 2 - 1)];
        assert_eq!(got, ["Elite", "Elite", "Trusted", "Standard", "Probation", "Restricted"]);
        assert_eq!(reputation_tier(TRUSTED_FROM_WAD), ReputationTier::Trusted);
    }

    #[test]
    fn log10_points() {
        assert_eq!((log10_wad(0), log10_wad(1)), (0, 0));
        for k in 1..=38u32 {
            let (p, exact) = (10u128.pow(k), u128::from(k) * WAD);
            assert!(log10_wad(p) == exact && log10_wad(p - 1) < exact && log10_wad(p + 1) >= exact);
        }
        let worst = (2..20_000u128)
            .chain([u128::MAX, u128::MAX - 1, 1 << 127])
            .fold(0f64, |w, x| w.max((to_f64(log10_wad(x)) - (x as f64).log10()).abs()));
        println!("log10 max absolute error vs f64: {worst:e}");
        assert!(worst < 1e-12);
        assert_eq!([stake_weight_wad(0), stake_weight_wad(9), stake_weight_wad(999_999)], [0, WAD / 6, WAD]);
        assert_eq!(stake_weight_wad(u128::MAX), WAD);
    }

    #[test]
    fn reputation_and_difficulty_points() {
        let full = 999_999;
        assert_eq!(reputation_wad(0, 0, 0, 0, full), WAD);
        assert_eq!(reputation_or_new(0, 0, 0, 0, 0), NEW_ACCOUNT_REPUTATION_WAD);
        assert_eq!(reputation_or_new(0, 0, 5, 0, full), NEW_ACCOUNT_REPUTATION_WAD);
        assert_eq!(reputation_or_new(1, 1, 10, 10, full), WAD / 4);
        assert_eq!(reputation_wad(3, 1, 20, 10, full), 9 * WAD / 16);
        assert_eq!(reputation_wad(u64::MAX, 0, u64::MAX, u64::MAX, u128::MAX), WAD);
        let bits = |s: u128, lo: u8, hi: u8| pow_difficulty_bits(s, lo, hi);
        assert_eq!([bits(WAD / 2, 8, 24), bits(WAD, 8, 24), bits(u128::MAX, 8, 24), bits(0, 8, 24)], [16, 8, 8, 24]);
        assert_eq!([bits(WAD - 1, 8, 24), bits(WAD / 2, 24, 8), bits(0, 0, 255)], [9, 8, 255]);
    }

    proptest! {
        #[test]
        fn multiplier_total_bounded_monotone(
            a in any::<u128>(), b in any::<u128>(), p in any::<u128>(), d in any::<u128>()
        ) {
            let (lo, hi) = (a.min(b), a.max(b));
            let (m_lo, m_hi) = (contribution_multiplier_wad(lo, p, d), contribution_multiplier_wad(hi, p, d));
            prop_assert!(m_lo >= m_hi && m_hi >= WAD && m_lo <= 10 * WAD);
        }

        #[test]
        fn multiplier_monotone_in_live_range(
            p in 1u128..10_000_000, d in 1u128..10_000_000,
            f in 0u128..1_000_000, g in 0u128..1_000_000, step in 1u128..3
        ) {
            // Unit counts where 0 <= x <= 60, so the curve is not yet flat at 1.0.
            let (a, b) = (p * d * 60 * f.min(g) / 1_000_000, p * d * 60 * f.max(g) / 1_000_000);
            let m = |u| contribution_multiplier_wad(u, p, d);
            prop_assert!(m(a) >= m(b) && m(a) >= m(a + step));
        }

        #[test]
        fn multiplier_accuracy(
            units in 0u128..=10_000_000 * UPH, p in 1u128..1_000_000_000, d in 1u128..10_000_000, f in 0u128..=1_000_000
        ) {
            prop_assert!(rel_err(units, UPH, DECAY) < 1e-9);
            prop_assert!(rel_err(p * d * 100 * f / 1_000_000, p, d) < 1e-9);
        }

        #[test]
        fn apply_wad_exact(
            amount in 0..=u128::MAX / 10, wad in 0..=10 * WAD, small in any::<u64>(), w in any::<u64>()
        ) {
            prop_assert!(apply_wad(amount, wad).unwrap() <= amount * 10);
            prop_assert_eq!(apply_wad(amount, WAD), Some(amount));
            let (small, w) = (u128::from(small), u128::from(w));
            prop_assert_eq!(apply_wad(small, w), Some(small * w / WAD));
        }

        #[test]
        fn log10_close_to_f64_and_monotone(x in any::<u128>(), y in any::<u128>(), shift in 0u32..128) {
            let v = x >> shift;
            prop_assert!((to_f64(log10_wad(v)) - (v.max(1) as f64).log10()).abs() < 1e-12, "x {}", v);
            prop_assert!(log10_wad(x.min(y)) <= log10_wad(x.max(y)));
            prop_assert!(log10_wad(v) <= log10_wad(v.saturating_add(1)));
        }

        #[test]
        fn reputation_bounded_and_accurate(
            a in any::<u64>(), f in any::<u64>(), s in any::<u64>(), e in any::<u64>(),
            stake in any::<u128>(), small in 0u128..10_000_000
        ) {
            for st in [stake, small] {
                let r = reputation_wad(a, f, s, e, st);
                prop_assert!(r <= WAD && (to_f64(r) - f64_reputation(a, f, s, e, st)).abs() < 1e-9);
            }
        }

        #[test]
        fn reputation_monotone(
            a in 0u64..1 << 40, f in 0u64..1 << 40, s in 0u64..1 << 40, e in 0u64..1 << 40, stake in 0u128..1 << 80,
            da in 0u64..1000, ds in 0u64..1000, dst in 0u128..1 << 40
        ) {
            let base = reputation_wad(a, f, s, e, stake);
            prop_assert!(reputation_wad(a + da, f, s, e, stake) >= base);
            prop_assert!(reputation_wad(a, f, s + ds, e, stake) >= base);
            prop_assert!(reputation_wad(a, f, s, e, stake + dst) >= base);
        }

        #[test]
        fn pow_difficulty_in_range_and_monotone(a in 0..=WAD, b in 0..=WAD, lo in any::<u8>(), hi in any::<u8>()) {
            let bits = pow_difficulty_bits(a, lo, hi);
            prop_assert!(bits <= hi && (lo > hi || bits >= lo));
            prop_assert!(pow_difficulty_bits(a.min(b), lo, hi) >= pow_difficulty_bits(a.max(b), lo, hi));
        }
    }
}
