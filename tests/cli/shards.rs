//! `--shard K/N`, `resweep status` and `resweep slurm` without submitting.

use crate::util::*;

#[test]
fn shards_together_equal_the_whole_sweep() {
    let whole = tempfile::tempdir().unwrap();
    sweep_file(whole.path(), "s.toml", &small_sweep("sharded", 20, 3));
    ok(run_in(whole.path(), &["run", "s.toml", "--quiet"]));

    let parts = tempfile::tempdir().unwrap();
    sweep_file(parts.path(), "s.toml", &small_sweep("sharded", 20, 3));
    let mut counted = 0;
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = ok(run_in(parts.path(), &["run", "s.toml", "--shard", &shard]));
        assert!(out.contains(&format!("(shard {k}/3)")), "{out}");
        let n: usize = out
            .split(" runs:")
            .next()
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        counted += n;
    }
    assert_eq!(counted, 6, "shards must cover the grid exactly once");
    let status = ok(run_in(parts.path(), &["status", "runs/sharded"]));
    assert!(
        status.contains("6 of 6 runs complete, 100.0% of training steps done"),
        "{status}"
    );
    assert_eq!(
        run_files(&parts.path().join("runs/sharded")),
        run_files(&whole.path().join("runs/sharded"))
    );

    let o = run_in(parts.path(), &["run", "s.toml", "--shard", "3/3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("K/N"));
}

#[test]
fn slurm_writes_scripts_and_prints_how_to_submit() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("cluster", 20, 2));
    let out = ok(run_in(
        dir.path(),
        &[
            "slurm",
            "s.toml",
            "--tasks",
            "2",
            "--resweep",
            "resweep",
            "--partition",
            "debug",
        ],
    ));
    assert!(
        out.contains("4 runs in 2 shards") && out.contains("sbatch --parsable"),
        "{out}"
    );
    let script =
        std::fs::read_to_string(dir.path().join("runs/cluster/slurm/array.sbatch")).unwrap();
    assert!(
        script.contains("#SBATCH --array=0-1") && script.contains("#SBATCH --partition=debug"),
        "{script}"
    );
    assert!(
        script.contains("--shard \"${SLURM_ARRAY_TASK_ID}/2\""),
        "{script}"
    );
    let status = ok(run_in(dir.path(), &["status", "runs/cluster"]));
    assert!(
        status.contains("0/2") && status.contains("1/2") && status.contains("0 of 4 runs complete"),
        "{status}"
    );
}
