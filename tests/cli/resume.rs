//! Interruption and resumption: SIGKILL, SIGINT, concurrent invocations and failures.
//! Every interrupted sweep, once resumed, must end bitwise equal to an uninterrupted one.

use crate::util::*;

fn reference(
    name: &str,
) -> (
    tempfile::TempDir,
    std::collections::BTreeMap<String, Vec<u8>>,
) {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &long_sweep(name, 3));
    ok(run_in(
        dir.path(),
        &["run", "s.toml", "--jobs", "2", "--quiet"],
    ));
    let files = run_files(&dir.path().join("runs").join(name));
    (dir, files)
}

#[test]
fn sigkill_then_resume_is_bitwise_identical() {
    let (_ref_dir, want) = reference("killed");
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &long_sweep("killed", 3));
    let sweep_dir = dir.path().join("runs/killed");
    let child = spawn(dir.path(), &["run", "s.toml", "--jobs", "2"]);
    wait_for_checkpoint(&sweep_dir);
    std::thread::sleep(std::time::Duration::from_millis(150));
    signal(&child, "-KILL");
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());

    let plan = ok(run_in(dir.path(), &["plan", "s.toml"]));
    assert!(plan.contains("partial") || plan.contains("done"), "{plan}");
    ok(run_in(dir.path(), &["run", "s.toml", "--jobs", "2"]));
    assert_eq!(run_files(&sweep_dir), want);
}

#[test]
fn sigint_checkpoints_exits_130_and_resumes_exactly() {
    let (_ref_dir, want) = reference("interrupted");
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &long_sweep("interrupted", 3));
    let sweep_dir = dir.path().join("runs/interrupted");
    let err = interrupt(dir.path(), &sweep_dir, &["run", "s.toml", "--jobs", "1"]);
    assert!(
        err.contains("interrupted:") && err.contains("rerun the same command to resume"),
        "{err}"
    );
    // The run in flight was checkpointed, not lost.
    let plan = ok(run_in(dir.path(), &["plan", "s.toml"]));
    assert!(plan.contains("partial"), "{plan}");

    let again = ok(run_in(dir.path(), &["run", "s.toml", "--jobs", "2"]));
    assert!(again.contains("already done"), "{again}");
    assert_eq!(run_files(&sweep_dir), want);
}

#[test]
fn two_concurrent_invocations_share_the_work_without_corruption() {
    let (_ref_dir, want) = reference("concurrent");
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &long_sweep("concurrent", 3));
    let a = spawn(dir.path(), &["run", "s.toml", "--jobs", "1"]);
    let b = spawn(dir.path(), &["run", "s.toml", "--jobs", "1"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{:?}", text(&a));
    assert!(b.status.success(), "{:?}", text(&b));
    // Whatever one skipped, a rerun finishes; nothing is corrupted and nothing differs.
    ok(run_in(dir.path(), &["run", "s.toml"]));
    assert_eq!(run_files(&dir.path().join("runs/concurrent")), want);
    let results = results(&dir.path().join("runs/concurrent"));
    assert_eq!(results.len(), 6);
}

#[test]
fn a_failed_run_does_not_stop_the_others_and_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("failing", 20, 2));
    // Plant a run directory whose config.json contradicts its id: that run must fail.
    let plan = ok(run_in(dir.path(), &["plan", "s.toml"]));
    let victim = plan
        .lines()
        .nth(2)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let vdir = dir.path().join("runs/failing/runs").join(&victim);
    std::fs::create_dir_all(&vdir).unwrap();
    std::fs::write(vdir.join("config.json"), "{\"not\": \"this run\"}").unwrap();

    let o = run_in(dir.path(), &["run", "s.toml", "--jobs", "2"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains("3 completed") && out.contains("1 failed"),
        "{out}"
    );
    assert!(err.contains(&victim) && err.contains("FAILED"), "{err}");
    assert!(vdir.join("failed.json").is_file());

    // Without --retry-failed the failure stays; with it (after the fix) the run completes.
    let o = run_in(dir.path(), &["run", "s.toml"]);
    assert_eq!(o.status.code(), Some(1));
    std::fs::remove_file(vdir.join("config.json")).unwrap();
    let out = ok(run_in(dir.path(), &["run", "s.toml", "--retry-failed"]));
    assert!(out.contains("1 completed"), "{out}");
    assert!(!vdir.join("failed.json").exists());
}

#[test]
fn a_damaged_checkpoint_is_reported_and_the_run_restarts_cleanly() {
    let (_ref_dir, want) = reference("damaged");
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &long_sweep("damaged", 3));
    let sweep_dir = dir.path().join("runs/damaged");
    let child = spawn(dir.path(), &["run", "s.toml", "--jobs", "1"]);
    wait_for_checkpoint(&sweep_dir);
    signal(&child, "-KILL");
    child.wait_with_output().unwrap();
    // Flip one byte of every checkpoint on disk: the checksum must catch it.
    let mut damaged = 0;
    for run in std::fs::read_dir(sweep_dir.join("runs")).unwrap().flatten() {
        let ckpt = run.path().join("checkpoint.bin");
        if let Ok(mut bytes) = std::fs::read(&ckpt) {
            bytes[40] ^= 0xff;
            std::fs::write(&ckpt, bytes).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged > 0);
    let o = run_in(dir.path(), &["run", "s.toml", "--jobs", "2"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        err.contains("checksum mismatch") && err.contains("trains again from step 0"),
        "{err}"
    );
    // The damaged checkpoints were moved aside, not deleted.
    let kept = std::fs::read_dir(sweep_dir.join("runs"))
        .unwrap()
        .flatten()
        .filter(|run| run.path().join("damaged/1/checkpoint.bin").is_file())
        .count();
    assert_eq!(kept, damaged, "{err}");
    assert_eq!(run_files(&sweep_dir), want);
}
