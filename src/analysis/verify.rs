//! `resweep verify`: an fsck for a sweep directory.
//!
//! It checks every run the frozen sweep expects (the seal of a finished run, the
//! checkpoint and the metrics it continues of a partial one, see
//! [`crate::store::RunDir::status`]), then rebuilds the tables from the run directories
//! into a temporary directory beside them and compares them with `tables/*.parquet`,
//! row count and value by value (floats bit for bit). It writes nothing else and
//! removes its temporary directory.

use super::tables::{collect_into, TABLE_NAMES};
use crate::store::{RunStatus, SweepDir};
use anyhow::Context as _;
use polars::prelude::*;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// One run's verdict.
#[derive(Clone, Debug)]
pub struct RunVerdict {
    /// The run's id.
    pub run_id: String,
    /// Its status, every seal and checksum verified.
    pub status: RunStatus,
}

/// One table's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct TableVerdict {
    /// The table's name (`runs`, `steps`, ...).
    pub table: &'static str,
    /// Rows in `tables/<name>.parquet` (when it could be read).
    pub rows: Option<usize>,
    /// What is wrong, or `None` when the table holds exactly what the run directories
    /// give.
    pub problem: Option<String>,
}

/// Everything `resweep verify` found.
#[derive(Clone, Debug)]
pub struct Verification {
    /// Every run the frozen sweep expects, in id order.
    pub runs: Vec<RunVerdict>,
    /// Every table, in [`TABLE_NAMES`] order; empty when no table was ever written and
    /// no run is complete.
    pub tables: Vec<TableVerdict>,
    /// Run directories on disk that the sweep does not expect (not checked).
    pub ignored: Vec<String>,
}

impl Verification {
    /// Runs whose files do not verify.
    pub fn damaged(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| matches!(r.status, RunStatus::Damaged { .. }))
            .count()
    }

    /// Tables that do not match the run directories.
    pub fn bad_tables(&self) -> usize {
        self.tables.iter().filter(|t| t.problem.is_some()).count()
    }

    /// Everything verifies: no damaged run, every table matches.
    pub fn ok(&self) -> bool {
        self.damaged() == 0 && self.bad_tables() == 0
    }
}

/// Verifies a sweep directory (see the module doc). Holds no lock: the caller takes the
/// shared tables lock.
pub fn verify(dir: &SweepDir) -> anyhow::Result<Verification> {
    let mut ids: Vec<String> = super::frozen::Frozen::read(dir)?
        .configs
        .iter()
        .map(|c| c.run_id())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let ignored = dir
        .run_ids_on_disk()?
        .into_iter()
        .filter(|id| ids.binary_search(id).is_err())
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start the threads that read runs")?;
    let runs: Vec<RunVerdict> = pool.install(|| {
        ids.par_iter()
            .map(|id| RunVerdict {
                run_id: id.clone(),
                status: dir.run(id).status(),
            })
            .collect()
    });
    let any_complete = runs
        .iter()
        .any(|r| matches!(r.status, RunStatus::Done { .. }));
    let any_table = TABLE_NAMES
        .iter()
        .any(|t| super::table_path(dir, t).exists());
    let tables = if any_complete || any_table {
        verify_tables(dir)?
    } else {
        Vec::new()
    };
    Ok(Verification {
        runs,
        tables,
        ignored,
    })
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn verify_tables(dir: &SweepDir) -> anyhow::Result<Vec<TableVerdict>> {
    let aside = TempDir(crate::store::temp_sibling(&dir.tables()));
    collect_into(dir, &aside.0).context("cannot rebuild the tables from the run directories")?;
    let mut out = Vec::new();
    for &table in TABLE_NAMES {
        let have_path = super::table_path(dir, table);
        let want = read(&aside.0.join(format!("{table}.parquet")))
            .with_context(|| format!("cannot read the rebuilt {table} table"))?;
        let verdict = if !have_path.exists() {
            TableVerdict {
                table,
                rows: None,
                problem: Some(format!(
                    "missing ({} rows due): `resweep aggregate` writes it",
                    want.height()
                )),
            }
        } else {
            match read(&have_path) {
                Err(e) => TableVerdict {
                    table,
                    rows: None,
                    problem: Some(format!("unreadable: {e:#}")),
                },
                Ok(have) => TableVerdict {
                    table,
                    rows: Some(have.height()),
                    problem: difference(&have, &want),
                },
            }
        };
        out.push(verdict);
    }
    Ok(out)
}

fn read(path: &Path) -> anyhow::Result<DataFrame> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// How table `have` differs from `want` (rebuilt from the run directories), or `None`.
pub fn difference(have: &DataFrame, want: &DataFrame) -> Option<String> {
    let names = |df: &DataFrame| -> Vec<String> {
        df.get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect()
    };
    if names(have) != names(want) {
        return Some(format!(
            "its columns differ from the ones the run directories give ({} vs {}); `resweep aggregate` rebuilds it",
            names(have).join(", "),
            names(want).join(", ")
        ));
    }
    if have.height() != want.height() {
        return Some(format!(
            "{} rows, the run directories give {}; `resweep aggregate` rebuilds it",
            have.height(),
            want.height()
        ));
    }
    for (a, b) in have.columns().iter().zip(want.columns()) {
        if let Some(row) = first_difference(a, b) {
            let run = have
                .column("run_id")
                .ok()
                .and_then(|c| c.get(row).ok())
                .map(|v| match v {
                    AnyValue::String(s) => format!(" (run {s})"),
                    AnyValue::StringOwned(s) => format!(" (run {s})"),
                    _ => String::new(),
                })
                .unwrap_or_default();
            return Some(format!(
                "column {} differs from the run directories at row {}{run}; `resweep aggregate` rebuilds it",
                a.name(),
                row + 1
            ));
        }
    }
    None
}

/// The first row where two columns of equal length differ (floats compared bit for bit,
/// nulls equal to nulls), or `None`.
fn first_difference(a: &Column, b: &Column) -> Option<usize> {
    if a.dtype() != b.dtype() {
        return Some(0);
    }
    let (a, b) = (a.as_materialized_series(), b.as_materialized_series());
    if a.dtype().is_float() {
        let bits = |s: &Series| -> Option<Vec<Option<u64>>> {
            let s = s.cast(&DataType::Float64).ok()?;
            Some(s.f64().ok()?.iter().map(|v| v.map(f64::to_bits)).collect())
        };
        return match (bits(a), bits(b)) {
            (Some(x), Some(y)) => x.iter().zip(&y).position(|(p, q)| p != q),
            _ => Some(0),
        };
    }
    match a.equal_missing(b) {
        Ok(eq) => eq.iter().position(|v| v != Some(true)),
        Err(_) => Some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_found_bit_for_bit_and_named_by_run() {
        let want = df!(
            "run_id" => ["a", "a", "b"],
            "step" => [0i64, 1, 0],
            "loss" => [f64::NAN, 0.5, 1.0],
        )
        .unwrap();
        assert_eq!(difference(&want, &want), None, "NaN equals NaN bit for bit");
        let changed = df!(
            "run_id" => ["a", "a", "b"],
            "step" => [0i64, 1, 0],
            "loss" => [f64::NAN, 0.5, 1.0000000000000002],
        )
        .unwrap();
        let d = difference(&changed, &want).unwrap();
        assert!(
            d.contains("column loss") && d.contains("row 3") && d.contains("run b"),
            "{d}"
        );
        let short = want.head(Some(2));
        assert!(difference(&short, &want)
            .unwrap()
            .contains("2 rows, the run directories give 3"));
        let ints = df!(
            "run_id" => ["a", "a", "b"],
            "step" => [0i64, 2, 0],
            "loss" => [f64::NAN, 0.5, 1.0],
        )
        .unwrap();
        assert!(difference(&ints, &want).unwrap().contains("column step"));
    }
}
