//! The parquet tables as other programs read them: an old pyarrow (12, from before Arrow's
//! string_view type) and the current one, with every value checked against the run
//! directories; typed `finished_at`, the `sweep` column and null for settings that do not
//! apply.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned old pyarrow: older than 15, so it cannot read Arrow's view types.
const OLD_PYARROW: &str = "pyarrow==12.0.1";

/// A sweep with both optimizers, so `momentum` applies to half of the runs.
fn two_optimizers(name: &str) -> String {
    small_sweep(name, 20, 1).replace("[grid]\n", "[grid]\noptimizer = [\"adam\", \"sgd\"]\n")
}

/// A virtual environment with [`OLD_PYARROW`], made once in the test build's temporary
/// directory and reused; `Err` says why it cannot be made here.
fn old_pyarrow_python() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("old-pyarrow-venv");
    let python = root.join("bin/python");
    let works = |py: &Path| {
        Command::new(py)
            .args([
                "-c",
                "import pyarrow, sys; sys.exit(pyarrow.__version__ != '12.0.1')",
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if works(&python) {
        return Ok(python);
    }
    // Built aside and renamed into place, so an interrupted install is never reused.
    let staging = root.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let step = |cmd: &mut Command, what: &str| -> Result<(), String> {
        let o = cmd.output().map_err(|e| format!("{what}: {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().last().unwrap_or("").trim().to_string();
            Err(format!("{what} failed: {last}"))
        }
    };
    step(
        Command::new("python3").args(["-m", "venv"]).arg(&staging),
        "python3 -m venv",
    )?;
    step(
        Command::new(staging.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            OLD_PYARROW,
            "numpy<2",
        ]),
        &format!("pip install {OLD_PYARROW}"),
    )?;
    let _ = std::fs::remove_dir_all(&root);
    std::fs::rename(&staging, &root).map_err(|e| format!("cannot move the venv: {e}"))?;
    if works(&python) {
        Ok(python)
    } else {
        Err(format!("{OLD_PYARROW} installed but does not import"))
    }
}

fn check_with(python: &Path, sweep_dir: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parquet_check.py");
    let o = Command::new(python)
        .arg(script)
        .arg(sweep_dir)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{}:\n{out}{err}", python.display());
    out
}

#[test]
fn an_old_pyarrow_reads_every_table_and_every_value_matches() {
    let python = match old_pyarrow_python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("SKIPPED an_old_pyarrow_reads_every_table_and_every_value_matches: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &two_optimizers("oldreader"));
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let sweep = dir.path().join("runs/oldreader");
    let out = check_with(&python, &sweep);
    assert!(
        out.contains("runs: 4 rows, steps: 84 rows") && out.contains("pyarrow 12.0.1"),
        "{out}"
    );
    // compare's tables and a query's --out file are written the same way.
    ok(run_in(
        dir.path(),
        &["compare", "runs/oldreader", "--axis", "residual"],
    ));
    ok(run_in(
        dir.path(),
        &[
            "query",
            "runs/oldreader",
            "SELECT run_id, sweep, finished_at FROM runs",
            "--out",
            "q.parquet",
        ],
    ));
    let read = Command::new(&python)
        .arg("-c")
        .arg(
            "import sys, pyarrow.parquet as pq\n\
             for p in sys.argv[1:]: print(p.rsplit('/', 1)[-1], pq.read_table(p).num_rows)",
        )
        .arg(sweep.join("tables/compare.parquet"))
        .arg(sweep.join("tables/compare_pairs.parquet"))
        .arg(dir.path().join("q.parquet"))
        .output()
        .unwrap();
    let (out, err) = text(&read);
    assert!(read.status.success(), "{out}{err}");
    assert!(out.contains("q.parquet 4"), "{out}");
}

#[test]
fn runs_table_has_typed_times_the_sweep_and_nulls_where_a_setting_does_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &two_optimizers("typed"));
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let csv = ok(run_in(
        dir.path(),
        &[
            "query",
            "runs/typed",
            "SELECT sweep, optimizer, momentum, count(*) AS n FROM runs GROUP BY sweep, optimizer, momentum ORDER BY optimizer",
            "--format",
            "csv",
        ],
    ));
    assert_eq!(
        csv,
        "sweep,optimizer,momentum,n\ntyped,adam,,2\ntyped,sgd,0.9,2\n"
    );
    // finished_at is a timestamp: date functions and arithmetic work on it, and CSV
    // writes it (and a duration) as text.
    let csv = ok(run_in(
        dir.path(),
        &[
            "query",
            "runs/typed",
            "SELECT count(*) AS n, min(EXTRACT(year FROM finished_at)) >= 2025 AS recent, \
             max(finished_at) - min(finished_at) AS took, min(finished_at) AS first FROM runs",
            "--format",
            "csv",
        ],
    ));
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(&row[..2], ["4", "true"], "{csv}");
    assert!(row[2].ends_with('s') && row[3].ends_with(" UTC"), "{csv}");
}
