//! The micro-world: every run records its probes, aggregation turns them into tables, and
//! the report's micro-world section reads them, with numbers a test can recompute.

use crate::util::{ok, run_in, sweep_file};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

fn table(sweep: &Path, name: &str) -> DataFrame {
    ParquetReader::new(File::open(sweep.join("tables").join(format!("{name}.parquet"))).unwrap())
        .finish()
        .unwrap()
}

fn f64s(df: &DataFrame, name: &str) -> Vec<f64> {
    let c = df.column(name).unwrap().cast(&DataType::Float64).unwrap();
    c.f64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect()
}

fn strs(df: &DataFrame, name: &str) -> Vec<String> {
    let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
    c.str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

const SWEEP: &str = r#"name = "micro"
[model]
depth = 6
width = 16
[train]
batch_size = 32
steps = 120
[task]
eval_size = 128
[probe]
eval_every = 20
probe_every = 20
[grid]
residual = [false, true]
init_scale = ["1/sqrt(depth)", 1.0]
seed = { start = 0, count = 3 }
"#;

/// The report line's label for a run: its arm and init scale, as the report writes them.
fn label(residual: bool, scale: &str) -> String {
    format!(
        "{}, init_scale={scale}",
        if residual { "ResMLP" } else { "PlainMLP" }
    )
}

#[test]
fn the_micro_world_section_reads_the_probe_tables() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "m.toml", SWEEP);
    ok(run_in(dir.path(), &["run", "m.toml", "--quiet"]));
    let sweep = dir.path().join("runs/micro");
    let report = std::fs::read_to_string(sweep.join("report.md")).unwrap();

    // The answer opens the report, before any detail.
    let answer = report
        .find("**The answer, from this sweep's data.**")
        .unwrap();
    assert!(answer < report.find("## Setup").unwrap(), "{report}");
    assert!(report.contains("The audit finds the comparison fair (12 runs in 6 seed pairs)"));
    assert!(
        report.contains("Against the strongest baseline (each arm at its own init scale"),
        "{report}"
    );

    // Every micro-world figure is drawn and linked.
    assert!(report.contains("## Micro-world: why"));
    for f in [
        "jacobian_spectrum.png",
        "branch_ratio.png",
        "lesions.png",
        "update_sizes.png",
        "shattering.png",
    ] {
        assert!(report.contains(&format!("(plots/{f})")), "{f} not linked");
        assert!(sweep.join("plots").join(f).is_file(), "{f} not drawn");
    }

    // Each line's Jacobian reading, recomputed from the probes table.
    let runs = table(&sweep, "runs");
    let run_line: BTreeMap<String, String> = strs(&runs, "run_id")
        .into_iter()
        .zip(
            strs(&runs, "residual")
                .iter()
                .zip(strs(&runs, "init_scale_expr")),
        )
        .map(|(id, (res, scale))| (id, label(res == "true", &scale)))
        .collect();
    let probes = table(&sweep, "probes");
    assert_eq!(probes.height(), 24, "12 runs at init and at the end");
    let mut by_line: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for ((id, when), er) in strs(&probes, "run_id")
        .iter()
        .zip(strs(&probes, "when"))
        .zip(f64s(&probes, "jac_effective_rank"))
    {
        by_line
            .entry((run_line[id].clone(), when))
            .or_default()
            .push(er);
    }
    for residual in [false, true] {
        for scale in ["1/sqrt(depth)", "1"] {
            let l = label(residual, scale);
            let init = median(by_line[&(l.clone(), "init".into())].clone());
            let last = median(by_line[&(l.clone(), "final".into())].clone());
            let want = format!(
                "- **{l}**: effective rank {} → {},",
                resweep::format::reading(init),
                resweep::format::reading(last)
            );
            assert!(report.contains(&want), "missing {want:?} in\n{report}");
        }
    }

    // The branch-ratio reading: mean over layers of the seeds' mean, from the layers table.
    let layers = table(&sweep, "layers");
    let mut acc: BTreeMap<(String, i64), Vec<f64>> = BTreeMap::new();
    for ((id, step), (layer, br)) in strs(&layers, "run_id")
        .iter()
        .zip(f64s(&layers, "step"))
        .zip(
            f64s(&layers, "layer")
                .into_iter()
                .zip(f64s(&layers, "branch_ratio")),
        )
    {
        if step == 0.0 && br.is_finite() {
            acc.entry((run_line[id].clone(), layer as i64))
                .or_default()
                .push(br);
        }
    }
    let l = label(true, "1/sqrt(depth)");
    let means: Vec<f64> = acc
        .iter()
        .filter(|((line, _), _)| *line == l)
        .map(|(_, v)| v.iter().sum::<f64>() / v.len() as f64)
        .collect();
    assert_eq!(means.len(), 6);
    let want = format!(
        "- **{l}**: {} at initialisation",
        resweep::format::reading(means.iter().sum::<f64>() / 6.0)
    );
    assert!(report.contains(&want), "missing {want:?}");

    // The probe tables are queryable like the others.
    let q = ok(run_in(
        dir.path(),
        &[
            "query",
            "runs/micro",
            "SELECT count(*) AS n FROM spectrum s JOIN probes p USING (run_id, \"when\")",
        ],
    ));
    // 12 runs x 2 snapshots x 16 inputs x 16 singular values.
    assert!(q.contains("6144"), "{q}");

    // The independent reader agrees with the tables, when it can run.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parquet_check.py");
    match std::process::Command::new("python3")
        .arg(&script)
        .arg(&sweep)
        .output()
    {
        Ok(o) if o.status.success() => {
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(out.contains("probes: "), "{out}");
        }
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            eprintln!("skipped the pyarrow check: pyarrow is not installed (.ci/run installs it)")
        }
        Ok(o) => panic!(
            "parquet_check failed:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => eprintln!("skipped the pyarrow check: no python3 ({e})"),
    }
}

/// At the default shapes a PlainMLP at `1/sqrt(depth)` ends with exactly zero gradients,
/// and the report says why from the measurements: its top layers switch off for every
/// input (seeds 4 and 6 do so by step 250 of the default sweep).
#[test]
fn the_report_explains_gradients_that_become_exactly_zero() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(
        dir.path(),
        "z.toml",
        r#"name = "zero"
[model]
depth = 20
width = 64
init_scale = "1/sqrt(depth)"
residual = false
[train]
steps = 300
[task]
eval_size = 256
[probe]
eval_every = 50
probe_every = 25
[grid]
seed = [4, 6]
"#,
    );
    ok(run_in(dir.path(), &["run", "z.toml", "--quiet"]));
    let report = std::fs::read_to_string(dir.path().join("runs/zero/report.md")).unwrap();
    let line = report
        .lines()
        .find(|l| l.contains("gradients become exactly zero"))
        .unwrap_or_else(|| panic!("no explanation in\n{report}"));
    assert!(line.contains("in 2 of 2 runs"), "{line}");
    assert!(
        line.contains("layer 19") || line.contains("layer 20"),
        "{line}"
    );
    assert!(line.contains("every ReLU there is off"), "{line}");
    assert!(report.contains("does not compare the two arms"), "{report}");
}

/// A net that explodes at step 0 has non-finite statistics in its last probe: JSON writes
/// them as null, and the run still reads back as diverged (not failed), its probes and
/// report included.
#[test]
fn a_run_with_non_finite_statistics_is_diverged_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(
        dir.path(),
        "x.toml",
        r#"name = "explode"
[model]
depth = 6
width = 16
init_scale = 1e30
[train]
steps = 20
[task]
eval_size = 64
[grid]
residual = [false, true]
seed = [0]
"#,
    );
    let out = ok(run_in(dir.path(), &["run", "x.toml", "--quiet"]));
    let status = ok(run_in(dir.path(), &["status", "runs/explode"]));
    assert!(
        status.contains("2 of 2 runs complete") && !status.contains("damaged run"),
        "{out}\n{status}"
    );
    let q = ok(run_in(
        dir.path(),
        &[
            "query",
            "runs/explode",
            "SELECT count(*) AS n FROM runs WHERE status = 'diverged'",
        ],
    ));
    assert!(q.lines().any(|l| l.trim() == "1" || l.trim() == "2"), "{q}");
    let report = std::fs::read_to_string(dir.path().join("runs/explode/report.md")).unwrap();
    assert!(report.contains("## Micro-world: why"), "{report}");
}
