//! Expansion of a [`SweepSpec`] into the runs to train: the cartesian product of the
//! `[grid]` axes minus the `[[exclude]]`d points, then the `[[include]]` points; every
//! run validated, duplicates (same run id) collapsed, the size capped before anything is
//! built.

use std::collections::HashSet;

use super::error::{error_at, Pos, Problem, SweepError};
use super::schema::Axis;
use super::value::AxisValue;
use super::SweepSpec;
use crate::config::{RunConfig, SETTING_NAMES};

/// The most points a sweep may expand to (counted before exclusions and deduplication).
pub const MAX_POINTS: usize = 100_000;

/// One point of a product of axes: `(setting, value)` per axis.
type Point<'a> = [(&'a str, &'a AxisValue)];

/// Where the point being built comes from, for error messages.
#[derive(Clone, Copy)]
enum Origin {
    Grid,
    Include(usize),
}

impl SweepSpec {
    /// The runs of the sweep, expanded, validated and deduplicated, in a deterministic
    /// order: first the grid points (the `seed` axis outermost, then the other axes in file
    /// order, the last one varying fastest), without those matched by an `[[exclude]]`;
    /// then the `[[include]]` points in file order. A point whose run id was already seen
    /// is dropped. Without `[grid]` axes the grid is the one point of the fixed settings,
    /// unless the file has `[[include]]`s, which are then the whole sweep.
    ///
    /// Fails (before building anything) when the sweep has more than [`MAX_POINTS`]
    /// points, when a point is impossible (`RunConfig::validate`, reported with the
    /// point's axis values), when an `[[exclude]]` matches no grid point, or when no run
    /// is left.
    pub fn expand(&self) -> Result<Vec<RunConfig>, SweepError> {
        let grid_points = self.grid_point_count();
        let include_points: Vec<u128> = self.includes.iter().map(|i| product(&i.axes)).collect();
        let total = include_points
            .iter()
            .fold(grid_points, |acc, n| acc.saturating_add(*n));
        if total > MAX_POINTS as u128 {
            return Err(self.too_many(total, grid_points, include_points.iter().sum()));
        }

        let mut runs = Vec::with_capacity(total as usize);
        let mut seen = HashSet::with_capacity(total as usize);
        let mut exclude_used = vec![false; self.excludes.len()];

        if grid_points > 0 {
            let axes: Vec<&Axis> = self
                .grid_order()
                .into_iter()
                .map(|i| &self.axes[i])
                .collect();
            for_each_point(&axes, &mut |point| {
                let config = self.build(point)?;
                let mut excluded = false;
                for (used, rule) in exclude_used.iter_mut().zip(&self.excludes) {
                    if rule.matches(&config) {
                        *used = true;
                        excluded = true;
                    }
                }
                if !excluded {
                    self.admit(config, point, Origin::Grid, &mut runs, &mut seen)?;
                }
                Ok(())
            })?;
        }
        if let Some(i) = exclude_used.iter().position(|used| !used) {
            let rule = &self.excludes[i];
            let what: Vec<String> = rule
                .settings
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            return Err(error_at(
                &self.origin,
                Some(rule.at),
                Some("exclude"),
                Problem::new(format!(
                    "this [[exclude]] ({}) matches no point of the [grid]",
                    what.join(", ")
                ))
                .help("check its values against the [grid] axes (an [[exclude]] never drops [[include]] points), or delete it"),
            ));
        }

        for (n, include) in self.includes.iter().enumerate() {
            let axes: Vec<&Axis> = include.axes.iter().collect();
            for_each_point(&axes, &mut |point| {
                let config = self.build(point)?;
                self.admit(config, point, Origin::Include(n), &mut runs, &mut seen)
            })?;
        }

        if runs.is_empty() {
            let pos = self.excludes.first().map(|e| e.at).or(self.places.grid);
            return Err(error_at(
                &self.origin,
                pos,
                None,
                Problem::new(
                    "the sweep has no runs: the [[exclude]] rules drop every point of the [grid]",
                )
                .help("remove or narrow an [[exclude]]"),
            ));
        }
        Ok(runs)
    }

    /// Number of grid points before exclusions (0 when the grid is empty and the sweep is
    /// made of `[[include]]`s).
    fn grid_point_count(&self) -> u128 {
        if self.axes.is_empty() && !self.includes.is_empty() {
            0
        } else {
            product(&self.axes)
        }
    }

    /// Indices of the grid axes from outermost to innermost: `seed` first (so that an
    /// interrupted sweep holds complete, paired replicates of its first seeds), then the
    /// others in file order.
    fn grid_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.axes.len()).collect();
        order.sort_by_key(|&i| self.axes[i].name != "seed");
        order
    }

    /// The fixed settings with the point's values applied.
    fn build(&self, point: &Point) -> Result<RunConfig, SweepError> {
        let mut config = self.base.clone();
        for (key, value) in point {
            value.apply(&mut config, key).map_err(|e| {
                error_at(
                    &self.origin,
                    None,
                    Some(key),
                    Problem::new(format!("internal error: {e}")),
                )
            })?;
        }
        Ok(config)
    }

    /// Validates a point and keeps it unless its run id was already seen.
    fn admit(
        &self,
        config: RunConfig,
        point: &Point,
        origin: Origin,
        runs: &mut Vec<RunConfig>,
        seen: &mut HashSet<String>,
    ) -> Result<(), SweepError> {
        if let Err(e) = config.validate() {
            return Err(self.impossible_point(&e, point, origin));
        }
        // A setting that cannot apply to this point (`gate` of a PlainMLP) is an error
        // when the file fixes both it and the arm; when either is an axis, the point
        // means the run with the setting at its default (and collapses into it).
        let axes: &[Axis] = match origin {
            Origin::Grid => &self.axes,
            Origin::Include(n) => &self.includes[n].axes,
        };
        let varies = |name: &str| axes.iter().any(|a| a.name == name && a.values.len() > 1);
        if config
            .meaningless()
            .iter()
            .any(|name| !["residual", "gate", name].iter().any(|n| varies(n)))
        {
            let message = config.inapplicable().unwrap_or_default();
            return Err(self.impossible_point(&message, point, origin));
        }
        let config = config.normalized();
        if seen.insert(config.run_id()) {
            runs.push(config);
        }
        Ok(())
    }

    /// The error for a point that fails `RunConfig::validate`, located at the culprit
    /// setting when the file has it.
    fn impossible_point(&self, message: &str, point: &Point, origin: Origin) -> SweepError {
        let culprit = SETTING_NAMES.iter().copied().find(|s| {
            message
                .strip_prefix(s)
                .is_some_and(|rest| rest.starts_with([' ', '=']))
        });
        // The point's values, in file order.
        let names: Vec<&str> = match origin {
            Origin::Grid => self.axes.iter().map(|a| a.name.as_str()).collect(),
            Origin::Include(n) => self.includes[n]
                .axes
                .iter()
                .map(|a| a.name.as_str())
                .collect(),
        };
        let described: Vec<String> = names
            .iter()
            .filter_map(|name| point.iter().find(|(k, _)| k == name))
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        let (where_, pos, help): (&str, Option<Pos>, &str) = match origin {
            Origin::Grid => {
                let axis_pos = culprit
                    .and_then(|c| self.axes.iter().position(|a| a.name == c))
                    .and_then(|i| self.places.axes.get(i).copied());
                (
                    "the grid point",
                    axis_pos
                        .or_else(|| culprit.and_then(|c| self.places.fixed.get(c).copied()))
                        .or(self.places.grid),
                    "remove the value from its axis, or drop the point with an [[exclude]]",
                )
            }
            Origin::Include(n) => (
                "the [[include]] point",
                Some(self.includes[n].at),
                "change the values of this [[include]]",
            ),
        };
        let described = if described.is_empty() {
            String::new()
        } else {
            format!(" ({})", described.join(", "))
        };
        error_at(
            &self.origin,
            pos,
            culprit,
            Problem::new(format!("{where_}{described} is impossible: {message}")).help(help),
        )
    }

    /// The error for a sweep over [`MAX_POINTS`], giving the count and the axis sizes.
    fn too_many(&self, total: u128, grid_points: u128, include_points: u128) -> SweepError {
        let sizes: Vec<String> = self
            .axes
            .iter()
            .map(|a| format!("{} {}", a.name, a.values.len()))
            .collect();
        let mut detail = String::new();
        if grid_points > 0 && !self.axes.is_empty() {
            detail = format!("[grid]: {} = {grid_points}", sizes.join(" x "));
        }
        if include_points > 0 {
            if !detail.is_empty() {
                detail.push_str("; ");
            }
            detail.push_str(&format!("[[include]]s: {include_points}"));
        }
        let longest = self
            .axes
            .iter()
            .max_by_key(|a| a.values.len())
            .map(|a| {
                format!(
                    " (the longest is {}, with {} values)",
                    a.name,
                    a.values.len()
                )
            })
            .unwrap_or_default();
        error_at(
            &self.origin,
            self.places.grid.or(self.includes.first().map(|i| i.at)),
            None,
            Problem::new(format!(
                "the sweep has {total} points ({detail}), more than the limit of {MAX_POINTS}"
            ))
            .help(format!(
                "shorten an axis{longest}, or split the sweep into several files"
            )),
        )
    }
}

/// The number of points of a product of axes (saturating).
fn product(axes: &[Axis]) -> u128 {
    axes.iter()
        .fold(1u128, |acc, a| acc.saturating_mul(a.values.len() as u128))
}

/// Calls `f` with every point of the product of `axes` (the first outermost, the last
/// varying fastest); a point lists `(setting, value)` in the order of `axes`.
fn for_each_point(
    axes: &[&Axis],
    f: &mut dyn FnMut(&Point) -> Result<(), SweepError>,
) -> Result<(), SweepError> {
    if axes.iter().any(|a| a.values.is_empty()) {
        return Ok(());
    }
    let mut index = vec![0usize; axes.len()];
    let mut point: Vec<(&str, &AxisValue)> = axes
        .iter()
        .map(|a| (a.name.as_str(), &a.values[0]))
        .collect();
    loop {
        f(&point)?;
        // Advance the odometer from the innermost axis.
        let mut i = axes.len();
        loop {
            if i == 0 {
                return Ok(());
            }
            i -= 1;
            index[i] += 1;
            if index[i] < axes[i].values.len() {
                point[i].1 = &axes[i].values[index[i]];
                break;
            }
            index[i] = 0;
            point[i].1 = &axes[i].values[0];
        }
    }
}
