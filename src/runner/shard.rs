//! Deterministic partition of a sweep into `N` shards balanced by estimated work.
//!
//! Runs are taken largest first (estimated matrix-product FLOP, ties by run id) and each
//! goes to the shard with the least work so far (ties to the lowest index): the classic
//! longest-processing-time rule. The result depends only on the set of runs, so every
//! Slurm task computes the same partition independently, the shards are disjoint and
//! together cover the grid, and they stay the same while the grid is unchanged.

use crate::config::RunConfig;
use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (0-based), written `K/N` on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index, less than `count`.
    pub index: usize,
    /// Number of shards, at least 1.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s}: expected K/N with 0 <= K < N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard index of every run, in the order of `runs`.
pub fn assign(runs: &[RunConfig], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let ids: Vec<String> = runs.iter().map(RunConfig::run_id).collect();
    let mut order: Vec<usize> = (0..runs.len()).collect();
    let work: Vec<f64> = runs.iter().map(RunConfig::estimated_flops).collect();
    order.sort_by(|&a, &b| {
        work[b]
            .total_cmp(&work[a])
            .then_with(|| ids[a].cmp(&ids[b]))
    });
    let mut load = vec![0f64; count];
    let mut shard_of = vec![0usize; runs.len()];
    for i in order {
        let lightest = (0..count)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .expect("at least one shard");
        load[lightest] += work[i];
        shard_of[i] = lightest;
    }
    shard_of
}

/// The runs of one shard, in the order of `runs`.
pub fn select(runs: &[RunConfig], shard: Shard) -> Vec<RunConfig> {
    assign(runs, shard.count)
        .into_iter()
        .zip(runs)
        .filter(|(s, _)| *s == shard.index)
        .map(|(_, r)| r.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InitScale;
    use std::collections::BTreeSet;

    fn grid(depths: &[usize], seeds: u64) -> Vec<RunConfig> {
        let mut runs = Vec::new();
        for &depth in depths {
            for residual in [false, true] {
                for seed in 0..seeds {
                    runs.push(RunConfig {
                        depth,
                        residual,
                        seed,
                        init_scale: InitScale::Expr("1/sqrt(depth)".into()),
                        ..RunConfig::default()
                    });
                }
            }
        }
        runs
    }

    #[test]
    fn shards_are_disjoint_complete_and_stable() {
        for (depths, seeds) in [
            (vec![20], 10),
            (vec![2, 5, 10, 20, 50], 5),
            (vec![3], 1),
            (vec![1, 2, 3, 4, 5, 6, 7], 3),
        ] {
            let runs = grid(&depths, seeds);
            let all: BTreeSet<String> = runs.iter().map(RunConfig::run_id).collect();
            for n in [1, 2, 3, 4, 7, 16, 100] {
                let mut seen = BTreeSet::new();
                for k in 0..n {
                    let shard = select(&runs, Shard { index: k, count: n });
                    for r in shard {
                        assert!(seen.insert(r.run_id()), "run in two shards (n={n})");
                    }
                }
                assert_eq!(seen, all, "shards do not cover the grid (n={n})");
                // The same grid in another order gives the same partition.
                let mut reversed = runs.clone();
                reversed.reverse();
                let a: BTreeSet<String> = select(&runs, Shard { index: 0, count: n })
                    .iter()
                    .map(RunConfig::run_id)
                    .collect();
                let b: BTreeSet<String> = select(&reversed, Shard { index: 0, count: n })
                    .iter()
                    .map(RunConfig::run_id)
                    .collect();
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn shards_balance_estimated_work() {
        let runs = grid(&[2, 5, 10, 20, 30, 40, 50], 5);
        let n = 4;
        let load: Vec<f64> = (0..n)
            .map(|k| {
                select(&runs, Shard { index: k, count: n })
                    .iter()
                    .map(RunConfig::estimated_flops)
                    .sum()
            })
            .collect();
        let (min, max) = (
            load.iter().cloned().fold(f64::MAX, f64::min),
            load.iter().cloned().fold(0.0, f64::max),
        );
        let biggest = runs
            .iter()
            .map(RunConfig::estimated_flops)
            .fold(0.0, f64::max);
        assert!(max - min <= biggest, "loads {load:?}");
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(
            "2/5".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 5 }
        );
        for bad in ["5/5", "1/0", "a/2", "3", "-1/2"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("K/N"), "{bad}");
        }
    }
}
