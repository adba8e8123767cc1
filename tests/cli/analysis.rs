//! Tables, queries and comparisons of a finished sweep, through the CLI.

use crate::util::*;
use std::path::Path;

fn finished(name: &str, body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", body);
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let _ = name;
    dir
}

#[test]
fn run_aggregates_and_query_answers_in_every_format() {
    let dir = finished("tabled", &small_sweep("tabled", 30, 3));
    let tables = dir.path().join("runs/tabled/tables");
    for t in ["runs", "steps", "layers", "summary"] {
        assert!(tables.join(format!("{t}.parquet")).is_file(), "{t}");
    }
    assert!(tables.join("summary.csv").is_file() && tables.join("summary.md").is_file());

    let sql = "SELECT residual, count(*) AS n, avg(final_eval_loss) AS loss FROM runs GROUP BY residual ORDER BY residual";
    let table = ok(run_in(dir.path(), &["query", "runs/tabled", sql]));
    assert!(
        table.contains("residual") && table.lines().count() >= 4,
        "{table}"
    );
    let csv = ok(run_in(
        dir.path(),
        &["query", "runs/tabled", sql, "--format", "csv"],
    ));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "residual,n,loss");
    assert!(
        lines[1].starts_with("false,3,") && lines[2].starts_with("true,3,"),
        "{csv}"
    );
    let json = ok(run_in(
        dir.path(),
        &["query", "runs/tabled", sql, "--format", "json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["n"], 3);
    ok(run_in(
        dir.path(),
        &["query", "runs/tabled", sql, "--out", "q.parquet"],
    ));
    assert!(std::fs::read(dir.path().join("q.parquet"))
        .unwrap()
        .starts_with(b"PAR1"));

    // Values in the tables equal those in the run directories.
    let per_run = ok(run_in(
        dir.path(),
        &[
            "query",
            "runs/tabled",
            "SELECT run_id, final_eval_loss FROM runs ORDER BY run_id",
            "--format",
            "json",
        ],
    ));
    let rows: serde_json::Value = serde_json::from_str(&per_run).unwrap();
    let results = results(&dir.path().join("runs/tabled"));
    assert_eq!(rows.as_array().unwrap().len(), results.len());
    for row in rows.as_array().unwrap() {
        let id = row["run_id"].as_str().unwrap();
        assert_eq!(
            row["final_eval_loss"], results[id]["metrics"]["final_eval_loss"],
            "{id}"
        );
    }
    let steps = ok(run_in(
        dir.path(),
        &[
            "query",
            "runs/tabled",
            "SELECT count(*) AS n FROM steps",
            "--format",
            "csv",
        ],
    ));
    assert_eq!(steps.lines().nth(1), Some("186")); // 6 runs x 31 steps

    // A bad query is one clear line and exit code 2.
    let o = run_in(
        dir.path(),
        &["query", "runs/tabled", "SELECT nope FROM runs"],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn tables_are_read_correctly_by_an_independent_reader() {
    let available = std::process::Command::new("python3")
        .args(["-c", "import pyarrow"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !available {
        eprintln!("SKIPPED tables_are_read_correctly_by_an_independent_reader: python3 with pyarrow is not available (pip install pyarrow)");
        return;
    }
    let dir = finished("crosscheck", &small_sweep("crosscheck", 30, 2));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parquet_check.py");
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(dir.path().join("runs/crosscheck"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("runs: 4 rows, steps: 124 rows"), "{out}");
}

#[test]
fn compare_proves_a_fair_sweep_fair_and_catches_an_unfair_one() {
    let dir = finished("fair", &small_sweep("fair", 20, 3));
    let out = ok(run_in(
        dir.path(),
        &["compare", "runs/fair", "--axis", "residual", "--strict"],
    ));
    assert!(
        out.contains("fair: only residual differs (false vs true) across 6 runs in 3 pairs"),
        "{out}"
    );
    assert!(dir
        .path()
        .join("runs/fair/tables/compare.parquet")
        .is_file());

    // Each arm gets its own init scale through include rules: unfair, and named.
    let unfair = r#"name = "unfair"
[model]
depth = 3
width = 8
[train]
batch_size = 16
steps = 10
[task]
eval_size = 64
[[include]]
residual = false
init_scale = "1/sqrt(depth)"
seed = [0, 1, 2]
[[include]]
residual = true
init_scale = 1.0
seed = [0, 1, 2]
"#;
    let dir = finished("unfair", unfair);
    let o = run_in(
        dir.path(),
        &["compare", "runs/unfair", "--axis", "residual", "--strict"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("UNFAIR"), "{out}");
    assert!(out.contains("init_scale"), "{out}");
    // Without --strict the verdict is printed and the exit code is 0.
    ok(run_in(dir.path(), &["compare", "runs/unfair"]));
}
