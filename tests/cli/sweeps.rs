//! Planning and running sweeps: the default sweep, determinism across job counts, and a
//! sweep file that changes between invocations.

use crate::util::*;

#[test]
fn default_sweep_plans_forty_runs_without_training() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(run_in(dir.path(), &["plan"]));
    assert!(out.contains("sweep `distant_identity`"), "{out}");
    assert!(out.contains("40 runs: 40 pending"), "{out}");
    assert!(out.contains("d20-res-s0.224-seed0-"), "{out}");
    assert!(!dir.path().join("runs").exists(), "plan wrote to disk");
}

#[test]
fn results_are_bitwise_identical_whatever_the_number_of_jobs() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    for (dir, jobs) in [(&one, "1"), (&two, "2")] {
        sweep_file(dir.path(), "s.toml", &small_sweep("det", 40, 3));
        let out = ok(run_in(dir.path(), &["run", "s.toml", "--jobs", jobs]));
        assert!(out.contains("6 completed"), "{out}");
    }
    let (a, b) = (
        run_files(&one.path().join("runs/det")),
        run_files(&two.path().join("runs/det")),
    );
    // config.json, steps.jsonl, layers.jsonl, probes.json and the two weights files of 6
    // runs.
    assert_eq!(a.len(), 6 * 6);
    assert_eq!(a, b);
    assert_eq!(
        results(&one.path().join("runs/det")),
        results(&two.path().join("runs/det"))
    );
    // A second run is a no-op.
    let out = ok(run_in(one.path(), &["run", "s.toml", "--jobs", "1"]));
    assert!(
        out.contains("0 completed") && out.contains("6 already done"),
        "{out}"
    );
}

#[test]
fn a_changed_sweep_runs_new_points_reports_dropped_ones_and_refuses_changed_settings() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("evolving", 10, 2));
    ok(run_in(dir.path(), &["run", "s.toml"]));

    // More seeds: only the new points run.
    sweep_file(dir.path(), "s.toml", &small_sweep("evolving", 10, 3));
    let out = ok(run_in(dir.path(), &["run", "s.toml"]));
    assert!(
        out.contains("2 completed") && out.contains("4 already done"),
        "{out}"
    );

    // Fewer seeds: dropped points are left on disk and reported.
    sweep_file(dir.path(), "s.toml", &small_sweep("evolving", 10, 1));
    let o = run_in(dir.path(), &["run", "s.toml"]);
    let (_, err) = text(&o);
    assert!(o.status.success());
    assert!(
        err.contains("4 run directories on disk are no longer in the sweep"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("runs/evolving/runs"))
            .unwrap()
            .count(),
        6
    );

    // A changed fixed setting makes old runs incomparable: refused unless --force.
    sweep_file(
        dir.path(),
        "s.toml",
        &small_sweep("evolving", 10, 2).replace("width = 8", "width = 16"),
    );
    let o = run_in(dir.path(), &["run", "s.toml"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("width: 8 (on disk) -> 16 (now)") && err.contains("--force"),
        "{err}"
    );
    let out = ok(run_in(dir.path(), &["run", "s.toml", "--force"]));
    assert!(out.contains("4 completed"), "{out}");
}
