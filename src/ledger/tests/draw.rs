//! The chain's miner draw: who may claim a job in each window, weighted by stake and
//! reputation, and only among miners that still hold the minimum stake.

use super::economy::{assert_supply, claim, next_nonce, post, receipt_for, stake};
use super::*;
use crate::ledger::draw::{self, Draw};

fn drawn(c: &Chain, job_id: Hash, height: u64) -> Draw {
    draw::assigned(&c.state, &c.spec, &job_id, height).unwrap()
}

fn name_of(a: &Address) -> &'static str {
    DEV_ACCOUNTS.into_iter().find(|n| addr(n) == *a).expect("a dev account")
}

/// Eve and ferdie staked equally on dev; bob posts jobs that dave coordinates.
fn two_miners() -> (Chain, u128) {
    let mut c = Chain::dev();
    let total = c.state.supply.total;
    let min = c.spec.economy.miner_min_stake;
    let (out, _) = c.block(addr("alice"), &[stake(&c, &key("eve"), min), stake(&c, &key("ferdie"), min)]);
    assert!(out.iter().all(|o| o.result.is_ok()));
    (c, total)
}

#[test]
fn only_the_drawn_miner_claims_in_its_window() {
    let (mut c, total) = two_miners();
    let w = c.spec.economy.miner_draw_blocks;
    let tx = post(&c, &key("bob"), 1_000_000, 1_000, addr("dave"), c.height + 5 * w);
    let job_id = tx.hash();
    c.block(addr("alice"), &[tx]);
    let posted = c.height;
    assert_eq!(drawn(&c, job_id, posted), Draw::Nobody);
    assert_eq!(drawn(&c, job_id, posted + 1), Draw::Nobody, "the seed is the next block's beacon");
    c.block(addr("alice"), &[]);
    let Draw::Miner { miner, window: 0, until } = drawn(&c, job_id, posted + 2) else { panic!() };
    assert_eq!(until, posted + 1 + w);
    for _ in 1..w {
        assert_eq!(drawn(&c, job_id, c.height + 1), Draw::Miner { miner, window: 0, until }, "one miner per window");
        c.block(addr("alice"), &[]);
    }
    assert_eq!(c.height + 1, until, "the window's last block");
    let other = if name_of(&miner) == "eve" { "ferdie" } else { "eve" };
    let (lucky, unlucky) = (key(name_of(&miner)), key(other));
    // The other miner's claim fails with the drawn miner's name (and pays its fee); the drawn
    // miner's, in the same block, lands.
    let r = receipt_for(&c, job_id, &unlucky, 10, 1);
    let bad = claim(&c, r, &unlucky, &key("dave"), next_nonce(&c, &unlucky));
    let r = receipt_for(&c, job_id, &lucky, 10, 2);
    let good = claim(&c, r, &lucky, &key("dave"), next_nonce(&c, &lucky));
    let (out, diff) = c.block(addr("alice"), &[bad, good]);
    assert_eq!(out[0].result, Err(TxFailure::NotDrawn { drawn: Some(miner.to_bech32("ait")), until }));
    assert_eq!(out[1].result, Ok(()));
    // The window's draw lived in the job's record, which the claim rewrote: the claim deletes
    // no record (each delete costs the state tree a walk from its root). What the block
    // deletes is the draw queue at this height, taken as the window turns over.
    let h = c.height;
    let deleted: Vec<_> = diff.records.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k).collect();
    assert!(
        deleted.iter().all(|k| matches!(k, StateKey::Draws(at) | StateKey::QueueEntry(_, at, _) if *at == h)),
        "{deleted:?}"
    );
    assert_eq!(drawn(&c, job_id, c.height + 1), Draw::Nobody, "a claimed job has no draw");
    assert_supply(&c, total);
}

#[test]
fn each_window_draws_again_and_stake_weighs_the_draw() {
    let (mut c, _) = two_miners();
    let w = c.spec.economy.miner_draw_blocks;
    let txs: Vec<SealedTx> = (0..40u64)
        .map(|i| {
            let p = crate::primitives::JobPost {
                program: Hash([1; 32]),
                input: Hash([2; 32]),
                max_units: 1_000,
                price: 1_000 + u128::from(i),
                coordinator: addr("dave"),
                deadline: c.height + 10 * w,
                verifiers: 0,
            };
            let k = key("bob");
            let tx = unsigned(&c.spec, &k, next_nonce(&c, &k) + i, Payload::JobPost(p));
            super::fees::with_required_fee(&c.spec, tx).unwrap().sign(&k).into()
        })
        .collect();
    let ids: Vec<Hash> = txs.iter().map(SealedTx::hash).collect();
    c.block(addr("alice"), &txs);
    // Window 0 is drawn in the next block; window 1 w blocks later, each with its own seed.
    c.block(addr("alice"), &[]);
    let window0: Vec<Draw> = ids.iter().map(|id| drawn(&c, *id, c.height + 1)).collect();
    for _ in 0..w {
        c.block(addr("alice"), &[]);
    }
    let window1: Vec<Draw> = ids.iter().map(|id| drawn(&c, *id, c.height + 1)).collect();
    let count = |draws: &[Draw], window: u64, who: &str| {
        draws
            .iter()
            .filter(|d| matches!(d, Draw::Miner { miner, window: got, .. } if *got == window && *miner == addr(who)))
            .count()
    };
    let (eve0, ferdie0) = (count(&window0, 0, "eve"), count(&window0, 0, "ferdie"));
    assert_eq!(eve0 + ferdie0, 40);
    assert!(eve0 >= 8 && ferdie0 >= 8, "equal stakes, both drawn: eve {eve0}, ferdie {ferdie0}");
    assert_eq!(count(&window1, 1, "eve") + count(&window1, 1, "ferdie"), 40);
    let changed = window0
        .iter()
        .zip(&window1)
        .filter(|(a, b)| matches!((a, b), (Draw::Miner { miner: x, .. }, Draw::Miner { miner: y, .. }) if x != y))
        .count();
    assert!(changed >= 4, "window 1 draws anew ({changed} of 40 changed)");
    // Ferdie unstakes below the minimum: from then on every draw is eve's.
    let ferdie = key("ferdie");
    let all = c.state.acc(&addr("ferdie")).staked;
    let unstake = super::economy::signed(
        &c.spec,
        &ferdie,
        next_nonce(&c, &ferdie),
        Payload::Unstake(crate::primitives::StakeAmount { amount: all }),
    );
    c.block(addr("alice"), &[unstake]);
    // A window keeps the miner it was drawn with; from the next one on, every draw is eve's.
    assert_eq!(ids.iter().map(|id| drawn(&c, *id, c.height + 1)).collect::<Vec<_>>(), window1);
    for _ in 0..w {
        c.block(addr("alice"), &[]);
    }
    for id in &ids {
        let d = drawn(&c, *id, c.height + 1);
        assert!(matches!(d, Draw::Miner { miner, window: 2, .. } if miner == addr("eve")), "{d:?}");
    }
}

/// The bug this fixed: draws were recomputed from the current stakes and reputations at each
/// claim, so one claim landing (which raises its miner's reputation) could move other jobs'
/// windows to other miners mid-window, and their drawn miners' claims were refused.
#[test]
fn a_window_keeps_its_miner_while_other_claims_change_reputations() {
    let (mut c, _) = two_miners();
    let txs: Vec<SealedTx> = (0..40u64)
        .map(|i| post(&c, &key("bob"), 1_000 + u128::from(i), 1_000, addr("dave"), c.height + 100).into_inner())
        .enumerate()
        .map(|(i, t)| {
            let mut tx = t.tx;
            tx.nonce = next_nonce(&c, &key("bob")) + i as u64;
            tx.sign(&key("bob")).into()
        })
        .collect();
    let ids: Vec<Hash> = txs.iter().map(SealedTx::hash).collect();
    c.block(addr("alice"), &txs);
    c.block(addr("alice"), &[]);
    let before: Vec<Draw> = ids.iter().map(|id| drawn(&c, *id, c.height + 1)).collect();
    // Some jobs are claimed by their drawn miners, one block at a time, within the window.
    for (i, (id, d)) in ids.iter().zip(&before).take(5).enumerate() {
        let Draw::Miner { miner, .. } = d else { panic!("{d:?}") };
        let k = key(name_of(miner));
        let r = receipt_for(&c, *id, &k, 10, 100 + i as u8);
        let (out, _) = c.block(addr("alice"), &[claim(&c, r, &k, &key("dave"), next_nonce(&c, &k))]);
        assert_eq!(out[0].result, Ok(()));
    }
    let after: Vec<Draw> = ids.iter().skip(5).map(|id| drawn(&c, *id, c.height + 1)).collect();
    assert_eq!(after, before[5..], "the other jobs keep their window's miner");
}

#[test]
fn no_draw_lets_any_staked_miner_claim() {
    let (mut c, _) = two_miners();
    c.spec.economy.miner_draw_blocks = 0;
    let tx = post(&c, &key("bob"), 1_000_000, 1_000, addr("dave"), c.height + 50);
    let job_id = tx.hash();
    c.block(addr("alice"), &[tx]);
    assert_eq!(drawn(&c, job_id, c.height + 1), Draw::Anyone);
    let ferdie = key("ferdie");
    let r = receipt_for(&c, job_id, &ferdie, 10, 3);
    let (out, _) = c.block(addr("alice"), &[claim(&c, r, &ferdie, &key("dave"), next_nonce(&c, &ferdie))]);
    assert_eq!(out[0].result, Ok(()));
}

#[test]
fn a_drawn_miner_that_lets_its_window_pass_is_counted_missed_and_the_next_draw_takes_over() {
    let (mut c, _) = two_miners();
    let w = c.spec.economy.miner_draw_blocks;
    let tx = post(&c, &key("bob"), 1_000_000, 1_000, addr("dave"), c.height + 20 * w);
    let job_id = tx.hash();
    c.block(addr("alice"), &[tx]);
    c.block(addr("alice"), &[]);
    let Draw::Miner { miner: first, until, .. } = drawn(&c, job_id, c.height + 1) else { panic!() };
    while c.height < until {
        c.block(addr("alice"), &[]);
    }
    let rep = crate::ledger::reputation::read(&c.state, &first).unwrap();
    assert_eq!((rep.delivered, rep.missed), (0, 1), "the window passed unclaimed");
    // Later windows draw anew until one names a miner that claims.
    let mut missed = 1;
    loop {
        let Draw::Miner { miner, window, until } = drawn(&c, job_id, c.height + 1) else { panic!() };
        assert!(window >= 1);
        if window >= 6 {
            panic!("six windows and no claim");
        }
        let k = key(name_of(&miner));
        let r = receipt_for(&c, job_id, &k, 10, 9);
        let (out, _) = c.block(addr("alice"), &[claim(&c, r, &k, &key("dave"), next_nonce(&c, &k))]);
        if out[0].result.is_ok() {
            let rep = crate::ledger::reputation::read(&c.state, &miner).unwrap();
            assert_eq!(rep.delivered, 1);
            break;
        }
        assert!(matches!(out[0].result, Err(TxFailure::NotDrawn { .. })), "{:?}", out[0].result);
        while c.height < until {
            c.block(addr("alice"), &[]);
        }
        missed += 1;
    }
    let total_missed: u64 =
        ["eve", "ferdie"].iter().map(|n| crate::ledger::reputation::read(&c.state, &addr(n)).unwrap().missed).sum();
    assert_eq!(total_missed, missed);
}
