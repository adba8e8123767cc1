//! A sweep directory's frozen sweep, read and expanded once for the commands that read
//! its runs (`aggregate`, `verify`, `landscape`).

use crate::config::RunConfig;
use crate::store::SweepDir;
use crate::sweep::SweepSpec;
use anyhow::Context as _;

/// The frozen `sweep.toml` of a sweep directory, its runs, and the axes runs are grouped
/// by (every axis but `seed`).
pub(crate) struct Frozen {
    /// The frozen sweep.
    pub spec: SweepSpec,
    /// Its runs, in sweep order.
    pub configs: Vec<RunConfig>,
    /// Every axis but `seed`, in sweep order.
    pub group_by: Vec<String>,
}

impl Frozen {
    /// Reads and expands `dir`'s frozen sweep.
    pub fn read(dir: &SweepDir) -> anyhow::Result<Frozen> {
        let spec = SweepSpec::from_file(&dir.frozen_sweep())
            .with_context(|| format!("cannot read the frozen sweep of {}", dir.root().display()))?;
        let configs = spec.expand().with_context(|| {
            format!("cannot expand the frozen sweep of {}", dir.root().display())
        })?;
        let group_by = spec
            .axis_names()
            .into_iter()
            .filter(|a| a != "seed")
            .collect();
        Ok(Frozen {
            spec,
            configs,
            group_by,
        })
    }
}
