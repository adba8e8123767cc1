//! Sweep files: the TOML schema, its validation, and the expansion of a sweep into runs.
//!
//! A sweep file describes a set of training runs: settings fixed for every run, axes whose
//! values are crossed into a grid, and rules that drop or add points.
//! [`SweepSpec::parse`] reads and checks a file; [`SweepSpec::expand`] turns it into the
//! [`RunConfig`]s to train, each with its stable [`RunConfig::run_id`]. This module owns
//! the format; it reads no directory and writes no file.
//!
//! # The sweep file format
//!
//! ```toml
//! name = "distant_identity"   # required: the directory runs/<name>/
//! description = "PlainMLP vs ResMLP at depth 20"   # optional
//!
//! [model]                     # fixed settings (every run has them)
//! depth = 20
//! width = 64
//! init_scale = "1/sqrt(depth)"
//!
//! [train]
//! optimizer = "adam"
//! lr = 1e-3
//! batch_size = 64
//! steps = 500
//!
//! [task]
//! eval_size = 4096
//!
//! [probe]
//! eval_every = 50
//! probe_every = 50
//!
//! [execution]                 # how runs are executed: not part of a run's identity
//! checkpoint_every = 100
//!
//! [grid]                      # axes, crossed into a cartesian product
//! residual = [false, true]
//! init_scale = ["1/sqrt(depth)", 1.0]
//! seed = { start = 0, count = 10 }
//!
//! [[exclude]]                 # drop the grid points matching all of these
//! residual = false
//! init_scale = 1.0
//!
//! [[include]]                 # add points: the fixed settings with these overridden
//! depth = 30
//! residual = true
//! seed = [0, 1, 2]
//! ```
//!
//! Every table and every key is optional except `name`. A setting that is neither fixed
//! nor swept takes its default ([`RunConfig::default`]). Unknown keys and tables, values
//! of the wrong type and impossible values are errors that name the file, line, column
//! and key and suggest a fix (including "did you mean" for misspelt names).
//!
//! ## Top level
//!
//! - `name` (required): letters, digits, `_`, `-` and `.`, not starting with `.`, without
//!   `..`, at most 100 characters. It names the directory `runs/<name>/`, so it can be
//!   neither empty nor a path (`../x`, `/abs`, `a/b` are refused).
//! - `description` (optional): free text for reports.
//!
//! ## Fixed settings: `[model]`, `[train]`, `[task]`, `[probe]`
//!
//! Each setting lives in one table; writing it in another is an error naming the right one
//! (`lr belongs in [train], not in [model]`).
//!
//! | setting | table | value | default |
//! |---|---|---|---|
//! | `depth` | `[model]` | integer, 1 to 10000: number of layers | 20 |
//! | `width` | `[model]` | integer, 1 to 4096: width of every layer | 64 |
//! | `residual` | `[model]` | `true` (ResMLP) or `false` (PlainMLP) | `false` |
//! | `init_scale` | `[model]` | positive number, or an expression of `depth` in quotes: `"1/sqrt(depth)"`, `"1/depth"`, `"0.5*sqrt(2/depth)"` (numbers, `depth`, `+ - * /`, parentheses, `sqrt(...)`) | `"1/sqrt(depth)"` |
//! | `seed` | `[train]` | integer >= 0: seed of the init and data streams | 0 |
//! | `optimizer` | `[train]` | `"adam"` or `"sgd"` | `"adam"` |
//! | `lr` | `[train]` | number > 0 | `1e-3` |
//! | `momentum` | `[train]` | number in [0, 1) (used by SGD; part of the id anyway) | 0.9 |
//! | `batch_size` | `[train]` | integer >= 1 | 64 |
//! | `steps` | `[train]` | integer >= 1: optimizer steps | 500 |
//! | `eval_size` | `[task]` | integer >= 1: size of the held-out batch | 4096 |
//! | `eval_every` | `[probe]` | integer >= 1: eval-loss interval in steps | 50 |
//! | `probe_every` | `[probe]` | integer >= 1: per-layer probe interval in steps | 50 |
//!
//! Number settings (`lr`, `momentum`, `init_scale`) accept integers (`lr = 1`); integer
//! settings refuse fractions (`depth = 20.0` is an error with the fix).
//!
//! ## `[execution]`
//!
//! How runs are executed; changing it never changes a run's id or results, so it cannot be
//! swept and a resumed sweep may change it.
//!
//! - `checkpoint_every` (integer >= 1, default 100): steps between checkpoints.
//! - `vectorize` (integer >= 1, default 1): how many runs one worker may train together.
//!
//! ## `[grid]`
//!
//! Each key is a setting, each value the non-empty list of the values it takes. The runs
//! are the cartesian product of all axes. A setting may also be written as a fixed
//! setting: the axis overrides it (the fixed value then only matters for `[[include]]`
//! points that do not set it). An integer setting may use a range instead of a list:
//!
//! - `seed = { start = 0, count = 10 }` is `[0, 1, ..., 9]`;
//! - `depth = { start = 2, stop = 50, step = 4 }` is `[2, 6, ..., 50]`: `stop` is
//!   included (reached if `start + k*step` lands on it), `step` defaults to 1 and may
//!   also be given with `count`.
//!
//! A single value is refused (`depth = 20` under `[grid]`: write `[20]`, or move it to
//! `[model]`). Repeated values of an axis (also `1.0` and `"1"` for `init_scale`) count
//! once. Each setting can be an axis only once (TOML itself refuses a repeated key).
//!
//! ## `[[exclude]]`
//!
//! Each `[[exclude]]` lists settings with one value each; it drops every grid point
//! whose settings (axes or fixed) equal all of them. An `[[exclude]]` that matches no
//! grid point is an error (it is most likely a typo). Excludes never drop
//! `[[include]]` points.
//!
//! ## `[[include]]`
//!
//! Each `[[include]]` adds points built from the fixed settings (not from the grid axes)
//! with the listed settings overridden. A value may be a list or a range: an include is
//! itself a small grid, one point per combination. To give an included configuration
//! several seeds, list them: `seed = [0, 1, 2]`.
//!
//! ## Expansion
//!
//! [`SweepSpec::expand`] gives the grid points, then the include points. The grid's
//! order: the `seed` axis outermost (so that an interrupted sweep holds complete pairs of
//! arms for its first seeds), then the other axes in file order, the last varying
//! fastest. A sweep without `[grid]` axes is its `[[include]]` points, or else the one run
//! of the fixed settings. Every run is validated ([`RunConfig::validate`]); an impossible
//! point is reported with its axis values. Points with the same run id count once: the id
//! depends only on the run's settings, never on the order of axes in the file or on the
//! file itself. A sweep of more than [`MAX_POINTS`] points (counted before exclusions) is
//! refused before any run is built.
//!
//! Comparing two versions of a sweep, [`SweepSpec::changed_fixed_settings`] names the
//! fixed settings that differ, so that a sweep directory is not resumed with a different
//! experiment.

// `SweepError` is a plain struct by contract (file, line, column, key, message, help);
// it is returned rarely, so its size in `Result`s does not matter.
#![allow(clippy::result_large_err)]

mod error;
mod expand;
mod overrides;
mod schema;
mod toml_values;
mod value;

use std::path::Path;

pub(crate) use error::did_you_mean;
pub use error::{Pos, SweepError};
pub use expand::MAX_POINTS;
pub use overrides::{is_override, Override};
pub use schema::{Axis, Exclude, Include};
pub use value::{apply_setting, apply_setting_text, AxisValue, FIXED_TABLES};

use crate::config::{RunConfig, SETTING_NAMES};
use error::Ctx;

/// Settings of `[execution]`: how runs are executed, not part of a run's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Execution {
    /// Steps between checkpoints (default 100).
    pub checkpoint_every: usize,
    /// How many runs one worker may train together (default 1).
    pub vectorize: usize,
}

impl Default for Execution {
    fn default() -> Self {
        Execution {
            checkpoint_every: 100,
            vectorize: 1,
        }
    }
}

/// A parsed and checked sweep file.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    /// The sweep's name: the directory `runs/<name>/`.
    pub name: String,
    /// Free text from the file.
    pub description: Option<String>,
    /// The defaults with the fixed settings of `[model]`, `[train]`, `[task]`, `[probe]`.
    pub base: RunConfig,
    /// `[execution]`.
    pub execution: Execution,
    /// The `[grid]` axes, in file order.
    pub axes: Vec<Axis>,
    /// The `[[include]]` entries, in file order.
    pub includes: Vec<Include>,
    /// The `[[exclude]]` rules, in file order.
    pub excludes: Vec<Exclude>,
    /// The exact text of the file.
    pub source: String,
    /// The file name used in messages.
    pub origin: String,
    /// Where things are in the file, for errors found during expansion.
    pub(crate) places: schema::Places,
}

impl SweepSpec {
    /// Parses and checks a sweep file's text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<SweepSpec, SweepError> {
        let doc = schema::read_document(&Ctx { text, origin })?;
        Ok(SweepSpec {
            name: doc.name,
            description: doc.description,
            base: doc.base,
            execution: doc.execution,
            axes: doc.axes,
            includes: doc.includes,
            excludes: doc.excludes,
            source: text.to_string(),
            origin: origin.to_string(),
            places: doc.places,
        })
    }

    /// Reads and parses a sweep file; messages name it as given.
    pub fn from_file(path: &Path) -> Result<SweepSpec, SweepError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            let help = (e.kind() == std::io::ErrorKind::NotFound)
                .then(|| "check the path; this project's sweeps are in sweeps/".to_string());
            SweepError {
                origin: origin.clone(),
                line: None,
                col: None,
                key: None,
                message: format!("cannot read the sweep file: {e}"),
                help,
            }
        })?;
        SweepSpec::parse(&text, &origin)
    }

    /// The default sweep, `sweeps/distant_identity.toml`, embedded in the binary.
    pub fn default_sweep() -> SweepSpec {
        SweepSpec::parse(
            include_str!("../../sweeps/distant_identity.toml"),
            "sweeps/distant_identity.toml",
        )
        .expect("the embedded default sweep is valid (tested)")
    }

    /// The settings that vary between runs: the `[grid]` axes in file order, then the
    /// settings that `[[include]]`s set to a value other than the fixed one (in order of
    /// first appearance). Group runs by these (without `seed`) to aggregate over seeds.
    pub fn axis_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.axes.iter().map(|a| a.name.clone()).collect();
        for include in &self.includes {
            for axis in &include.axes {
                let fixed = AxisValue::of(&self.base, &axis.name);
                let varies = axis.values.iter().any(|v| Some(v) != fixed.as_ref());
                if varies && !names.contains(&axis.name) {
                    names.push(axis.name.clone());
                }
            }
        }
        names
    }

    /// The fixed settings whose values differ between this sweep and `newer` (in
    /// [`SETTING_NAMES`] order); `[execution]`, the name, the description, includes and
    /// excludes are not compared.
    ///
    /// A setting fixed in both versions is changed when its value differs. A setting that
    /// is fixed in one version and an axis in the other is changed unless the axis
    /// contains the fixed value (so turning `depth = 20` into the axis `depth = [10, 20]`
    /// extends the sweep and is not a change). A setting that is an axis in both is not
    /// fixed: changing its values extends or narrows the sweep.
    pub fn changed_fixed_settings(&self, newer: &SweepSpec) -> Vec<String> {
        let axis = |spec: &SweepSpec, name: &str| -> Option<Vec<AxisValue>> {
            spec.axes
                .iter()
                .find(|a| a.name == name)
                .map(|a| a.values.clone())
        };
        SETTING_NAMES
            .iter()
            .filter(|name| {
                let old_fixed = AxisValue::of(&self.base, name);
                let new_fixed = AxisValue::of(&newer.base, name);
                match (axis(self, name), axis(newer, name)) {
                    (None, None) => old_fixed != new_fixed,
                    (Some(_), Some(_)) => false,
                    (None, Some(values)) => !old_fixed.is_some_and(|v| values.contains(&v)),
                    (Some(values), None) => !new_fixed.is_some_and(|v| values.contains(&v)),
                }
            })
            .map(|name| name.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests;
