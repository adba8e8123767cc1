//! `resweep bench`: the step benchmark reports every figure, for the one-run path and the
//! vectorized step, and refuses impossible settings. Timings are never asserted on.

use crate::util::{ok, run_in, text};

#[test]
fn bench_reports_step_floors_and_paired_ratios_for_both_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(run_in(
        dir.path(),
        &[
            "bench",
            "--batch",
            "8,16",
            "--depth",
            "3",
            "--width",
            "8",
            "--steps",
            "6",
            "--reps",
            "3",
            "--vectorize",
            "4",
            "--json",
        ],
    ));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let shape: Vec<(u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["batch"].as_u64().unwrap(),
                r["vectorize"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(shape, [(8, 1), (8, 4), (16, 1), (16, 4)]);
    for r in &rows {
        for key in [
            "us_per_step",
            "gflops",
            "matmul_floor_us",
            "x_floor",
            "hot_floor_us",
            "x_hot_floor",
        ] {
            let v = r[key].as_f64().unwrap_or_else(|| panic!("{key} in {r}"));
            assert!(v.is_finite() && v > 0.0, "{key} = {v} in {r}");
        }
        assert!(r["autograd_us_per_step"].is_null());
    }
    // Nothing is written: the benchmark trains in memory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let table = ok(run_in(
        dir.path(),
        &[
            "bench",
            "--batch",
            "8",
            "--depth",
            "2",
            "--width",
            "4",
            "--steps",
            "3",
            "--reps",
            "1",
            "--autograd",
        ],
    ));
    let header = table.lines().nth(1).unwrap();
    let columns: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        columns,
        [
            "batch",
            "runs/graph",
            "us/run-step",
            "GFLOP/s",
            "floor us",
            "x floor",
            "hot floor us",
            "x hot floor",
            "autograd us"
        ],
        "{table}"
    );
    let row = table.lines().last().unwrap();
    assert_eq!(row.split_whitespace().count(), 9, "{table}");
}

#[test]
fn bench_refuses_zero_sizes() {
    let dir = tempfile::tempdir().unwrap();
    for flag in [
        "--batch",
        "--steps",
        "--reps",
        "--depth",
        "--width",
        "--vectorize",
    ] {
        let o = run_in(dir.path(), &["bench", flag, "0"]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains("at least 1"), "{flag}: {err}");
    }
}
