//! Sealed runs: every metrics, config, result and checkpoint file is damaged in turn
//! (cut short, one byte flipped, replaced by garbage of the same length). Each time
//! `plan` names the damage, `aggregate` exits 1 and leaves the run out, `verify` fails,
//! `run` repairs it (damaged files moved aside, never deleted), and the final tables
//! equal an undamaged sweep's bit for bit. Also: closed pipes and full disks on every
//! printing command.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[derive(Clone, Copy, Debug)]
enum Fault {
    Truncate,
    FlipByte,
    Garbage,
}

const FAULTS: [Fault; 3] = [Fault::Truncate, Fault::FlipByte, Fault::Garbage];

fn damage(path: &Path, fault: Fault) {
    let mut bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() > 8, "{} is too small to damage", path.display());
    match fault {
        Fault::Truncate => bytes.truncate(bytes.len() / 2),
        Fault::FlipByte => {
            // A digit in the middle of the file becomes another digit (still valid
            // JSON where it is JSON: only the seal can tell); any other byte flips a bit.
            let mid = bytes.len() / 2;
            let i = (mid..bytes.len())
                .chain(0..mid)
                .find(|&i| bytes[i].is_ascii_digit())
                .unwrap_or(mid);
            bytes[i] = if bytes[i].is_ascii_digit() {
                b'0' + (bytes[i] - b'0' + 1) % 10
            } else {
                bytes[i] ^ 1
            };
        }
        Fault::Garbage => {
            let mut x: u32 = 0x9e37_79b9;
            for b in bytes.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = (x >> 24) as u8;
            }
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// Tables and results that must be equal to the undamaged sweep's: steps, layers and
/// summary parquet files byte for byte, and every `result.json` but its timing.
fn final_state(sweep_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for t in ["steps", "layers", "summary"] {
        let p = sweep_dir.join("tables").join(format!("{t}.parquet"));
        out.push((t.to_string(), std::fs::read(&p).unwrap()));
    }
    out.push((
        "results".into(),
        serde_json::to_vec(&results(sweep_dir)).unwrap(),
    ));
    out.push((
        "run files".into(),
        serde_json::to_vec(&run_files(sweep_dir)).unwrap(),
    ));
    out
}

fn runs_in_table(cwd: &Path, sweep_dir: &Path) -> String {
    ok(run_in(
        cwd,
        &[
            "query",
            sweep_dir.to_str().unwrap(),
            "SELECT run_id FROM runs ORDER BY run_id",
            "--format",
            "csv",
        ],
    ))
}

/// One damaged file of one run, from damage to repair.
fn damage_and_repair(reference: &Path, want: &[(String, Vec<u8>)], file: &str, fault: Fault) {
    let dir = tempfile::tempdir().unwrap();
    let sweep_dir = dir.path().join("runs/faults");
    copy_tree(reference, &dir.path().join("runs"));
    sweep_file(dir.path(), "s.toml", &small_sweep("faults", 30, 2));
    let victim = std::fs::read_dir(sweep_dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .min()
        .unwrap();
    let run_dir = sweep_dir.join("runs").join(&victim);
    damage(&run_dir.join(file), fault);
    let case = format!("{file} {fault:?}");

    // plan names the damage.
    let plan = ok(run_in(dir.path(), &["plan", "s.toml"]));
    let line = plan.lines().find(|l| l.starts_with(&victim)).unwrap();
    assert!(
        line.contains(&format!("damaged: {file}")),
        "{case}: plan says\n{plan}"
    );
    assert_eq!(plan.matches("damaged").count(), 2, "{case}: {plan}"); // the row and the count

    // aggregate leaves the run out, names it, and exits 1.
    let agg = run_in(dir.path(), &["aggregate", sweep_dir.to_str().unwrap()]);
    let (_, err) = text(&agg);
    assert_eq!(agg.status.code(), Some(1), "{case}: {err}");
    assert!(
        err.contains(&victim) && err.contains(file) && !err.contains("panicked"),
        "{case}: {err}"
    );
    let in_table = runs_in_table(dir.path(), &sweep_dir);
    assert!(!in_table.contains(&victim), "{case}: {in_table}");
    assert_eq!(in_table.lines().count(), 1 + 3, "{case}: {in_table}");

    // verify fails and names it.
    let v = run_in(dir.path(), &["verify", sweep_dir.to_str().unwrap()]);
    let (vout, _) = text(&v);
    assert_eq!(v.status.code(), Some(1), "{case}: {vout}");
    assert!(
        vout.contains(&format!("DAMAGED: {file}")) && vout.contains("NOT OK"),
        "{case}: {vout}"
    );

    // With nobody reading its output, verify still says so by its exit code.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let closed = run_with_stdout(
        dir.path(),
        &["verify", sweep_dir.to_str().unwrap()],
        Stdio::from(writer),
    );
    assert_eq!(closed.status.code(), Some(1), "{case}");

    // run repairs it, moving the damaged files aside.
    let out = ok(run_in(dir.path(), &["run", "s.toml"]));
    assert!(out.contains("1 repaired"), "{case}: {out}");
    let aside = run_dir.join("damaged/1");
    assert!(aside.join(file).is_file(), "{case}: {file} not moved aside");
    let why = std::fs::read_to_string(aside.join("damage.txt")).unwrap();
    assert!(why.starts_with(file), "{case}: {why}");

    // Everything verifies, and the tables are the undamaged sweep's.
    let v = ok(run_in(dir.path(), &["verify", sweep_dir.to_str().unwrap()]));
    assert!(v.contains("everything verifies"), "{case}: {v}");
    let got = final_state(&sweep_dir);
    for ((name, a), (_, b)) in got.iter().zip(want) {
        assert!(a == b, "{case}: {name} differs from the undamaged sweep's");
    }
}

#[test]
fn every_damaged_file_is_detected_left_out_and_repaired_bitwise() {
    let ref_dir = tempfile::tempdir().unwrap();
    sweep_file(ref_dir.path(), "s.toml", &small_sweep("faults", 30, 2));
    ok(run_in(ref_dir.path(), &["run", "s.toml", "--quiet"]));
    let reference = ref_dir.path().join("runs");
    let v = ok(run_in(ref_dir.path(), &["verify", "runs/faults"]));
    assert!(
        v.contains("4 done") && v.contains("everything verifies"),
        "{v}"
    );
    let want = final_state(&reference.join("faults"));
    for file in [
        "steps.jsonl",
        "layers.jsonl",
        "config.json",
        "weights_init.safetensors",
        "weights_final.safetensors",
        "probes.json",
        "result.json",
    ] {
        for fault in FAULTS {
            damage_and_repair(&reference, &want, file, fault);
        }
    }
}

#[test]
fn a_damaged_checkpoint_or_resumed_prefix_restarts_the_run_exactly() {
    let (want_dir, want) = {
        let dir = tempfile::tempdir().unwrap();
        sweep_file(dir.path(), "s.toml", &long_sweep("ckpt", 1));
        ok(run_in(
            dir.path(),
            &["run", "s.toml", "--jobs", "1", "--quiet"],
        ));
        let files = run_files(&dir.path().join("runs/ckpt"));
        (dir, files)
    };
    drop(want_dir);
    let base = tempfile::tempdir().unwrap();
    sweep_file(base.path(), "s.toml", &long_sweep("ckpt", 1));
    let base_sweep = base.path().join("runs/ckpt");
    interrupt(base.path(), &base_sweep, &["run", "s.toml", "--jobs", "1"]);
    let partial: Vec<PathBuf> = std::fs::read_dir(base_sweep.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("checkpoint.bin").is_file())
        .collect();
    assert!(!partial.is_empty());
    let victim = partial[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();

    for (file, fault) in [
        ("checkpoint.bin", Fault::Truncate),
        ("checkpoint.bin", Fault::FlipByte),
        ("checkpoint.bin", Fault::Garbage),
        ("steps.jsonl", Fault::Truncate),
        ("layers.jsonl", Fault::FlipByte),
    ] {
        let case = format!("{file} {fault:?}");
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&base.path().join("runs"), &dir.path().join("runs"));
        sweep_file(dir.path(), "s.toml", &long_sweep("ckpt", 1));
        let sweep_dir = dir.path().join("runs/ckpt");
        let run_dir = sweep_dir.join("runs").join(&victim);
        damage(&run_dir.join(file), fault);

        let plan = ok(run_in(dir.path(), &["plan", "s.toml"]));
        let line = plan.lines().find(|l| l.starts_with(&victim)).unwrap();
        assert!(line.contains(&format!("damaged: {file}")), "{case}: {plan}");
        let agg = run_in(dir.path(), &["aggregate", sweep_dir.to_str().unwrap()]);
        assert_eq!(agg.status.code(), Some(1), "{case}: {:?}", text(&agg));
        let v = run_in(dir.path(), &["verify", sweep_dir.to_str().unwrap()]);
        assert_eq!(v.status.code(), Some(1), "{case}");

        let out = ok(run_in(dir.path(), &["run", "s.toml"]));
        assert!(out.contains("1 repaired"), "{case}: {out}");
        assert!(run_dir.join("damaged/1").join(file).is_file(), "{case}");
        assert_eq!(run_files(&sweep_dir), want, "{case}: not bitwise equal");
        ok(run_in(dir.path(), &["verify", sweep_dir.to_str().unwrap()]));
    }
}

#[test]
fn results_of_an_older_resweep_without_a_seal_are_damaged_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("unsealed", 20, 1));
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let sweep_dir = dir.path().join("runs/unsealed");
    let run = std::fs::read_dir(sweep_dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("result.json")).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("seal");
    std::fs::write(
        run.join("result.json"),
        serde_json::to_string_pretty(&v).unwrap() + "\n",
    )
    .unwrap();
    let plan = ok(run_in(dir.path(), &["plan", "s.toml"]));
    assert!(plan.contains("damaged: result.json: has no seal"), "{plan}");
    let out = ok(run_in(dir.path(), &["run", "s.toml"]));
    assert!(out.contains("1 repaired"), "{out}");
}

#[test]
fn verify_catches_tables_that_disagree_with_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("tables", 20, 1));
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let tables = dir.path().join("runs/tables/tables");
    // A stale steps table (another sweep's) and a damaged layers table.
    let other = tempfile::tempdir().unwrap();
    sweep_file(other.path(), "s.toml", &small_sweep("tables", 10, 1));
    ok(run_in(other.path(), &["run", "s.toml", "--quiet"]));
    std::fs::copy(
        other.path().join("runs/tables/tables/steps.parquet"),
        tables.join("steps.parquet"),
    )
    .unwrap();
    damage(&tables.join("layers.parquet"), Fault::Garbage);
    let v = run_in(dir.path(), &["verify", "runs/tables"]);
    let (out, err) = text(&v);
    assert_eq!(v.status.code(), Some(1), "{out}{err}");
    let line = |t: &str| out.lines().find(|l| l.starts_with(t)).unwrap().to_string();
    assert!(line("runs.parquet").ends_with("ok"), "{out}");
    assert!(line("steps.parquet").contains("DIFFERS"), "{out}");
    assert!(
        line("layers.parquet").contains("DIFFERS: unreadable"),
        "{out}"
    );
    assert!(out.contains("2 of 4 tables match"), "{out}");
    // Nothing was left behind by the rebuild.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("runs/tables"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // aggregate rebuilds the tables; then everything verifies.
    ok(run_in(dir.path(), &["aggregate", "runs/tables"]));
    ok(run_in(dir.path(), &["verify", "runs/tables"]));
}

#[test]
fn a_finished_run_whose_result_is_lost_is_set_aside_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("lost", 20, 1));
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let sweep_dir = dir.path().join("runs/lost");
    let want = run_files(&sweep_dir);
    let run = std::fs::read_dir(sweep_dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let steps_before = std::fs::read(run.join("steps.jsonl")).unwrap();
    std::fs::remove_file(run.join("result.json")).unwrap();
    let plan = ok(run_in(dir.path(), &["plan", "s.toml"]));
    assert!(
        plan.contains("damaged: result.json: missing, though the run had finished"),
        "{plan}"
    );
    let out = ok(run_in(dir.path(), &["run", "s.toml"]));
    assert!(out.contains("1 repaired"), "{out}");
    // The complete records were kept aside, byte for byte, and the rerun equals them.
    assert_eq!(
        std::fs::read(run.join("damaged/1/steps.jsonl")).unwrap(),
        steps_before
    );
    assert_eq!(run_files(&sweep_dir), want);
    // A directory where result.json should be is damage too, and is moved aside.
    std::fs::remove_file(run.join("result.json")).unwrap();
    std::fs::create_dir(run.join("result.json")).unwrap();
    let plan = ok(run_in(dir.path(), &["plan", "s.toml"]));
    assert!(
        plan.contains("damaged: result.json: cannot be read"),
        "{plan}"
    );
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    assert!(run.join("damaged/2/result.json").is_dir());
    assert_eq!(run_files(&sweep_dir), want);
}

/// A `resweep train` that finishes in milliseconds.
const TINY_TRAIN: [&str; 9] = [
    "train",
    "--depth",
    "2",
    "--width",
    "4",
    "--steps",
    "5",
    "--eval-size",
    "16",
];

#[test]
fn train_out_twice_into_one_directory_is_not_damage() {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<&str> = TINY_TRAIN
        .iter()
        .copied()
        .chain(["--out", "mine"])
        .collect();
    ok(run_in(dir.path(), &args));
    let out = ok(run_in(dir.path(), &args));
    assert!(!out.contains("damaged"), "{out}");
    assert!(!dir.path().join("mine/damaged").exists());
    assert!(dir.path().join("mine/result.json").is_file());
}

/// A sweep with tables, for the output tests.
fn finished_sweep() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("pipes", 10, 1));
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    dir
}

/// Every command that prints, with arguments that make it print.
fn printing_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["plan", "s.toml"],
        vec!["status", "runs/pipes"],
        vec!["verify", "runs/pipes"],
        vec!["aggregate", "runs/pipes"],
        vec!["report", "runs/pipes"],
        vec!["query", "runs/pipes", "SELECT * FROM steps"],
        vec![
            "query",
            "runs/pipes",
            "SELECT * FROM layers",
            "--format",
            "csv",
        ],
        vec!["compare", "runs/pipes", "--axis", "residual"],
        vec!["landscape", "runs/pipes", "--grid", "3"],
        vec!["compare", "runs/pipes", "--json"],
        vec!["plan", "s.toml", "--json"],
        vec!["status", "runs/pipes", "--json"],
        vec!["list"],
        vec!["list", "--json"],
        vec!["run", "s.toml"],
        vec!["run", "s.toml", "--summary"],
        vec!["slurm", "s.toml", "--tasks", "2"],
        TINY_TRAIN.to_vec(),
        vec![
            "bench", "--batch", "8", "--depth", "2", "--width", "8", "--steps", "2", "--reps", "1",
        ],
        vec!["--help"],
        vec!["plan", "--help"],
    ]
}

fn run_with_stdout(cwd: &Path, args: &[&str], stdout: Stdio) -> Output {
    bin()
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_ends_every_command_quietly_with_success() {
    let dir = finished_sweep();
    for args in printing_commands() {
        // The reading end is closed before the command starts: every write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = run_with_stdout(dir.path(), &args, Stdio::from(writer));
        let (_, err) = text(&out);
        assert!(
            out.status.success() && !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {:?}\n{err}",
            out.status
        );
    }
    // And through a real shell pipe into `head -1`.
    let exe = env!("CARGO_BIN_EXE_resweep");
    let sh = Command::new("bash")
        .current_dir(dir.path())
        .args([
            "-c",
            &format!("'{exe}' plan s.toml | head -1; echo \"status=${{PIPESTATUS[0]}}\""),
        ])
        .output()
        .unwrap();
    let (out, err) = text(&sh);
    assert!(
        out.starts_with("run_id") && out.contains("status=0"),
        "{out}{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_full_disk_on_stdout_is_one_line_and_exit_1() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: this system has no /dev/full");
        return;
    }
    let dir = finished_sweep();
    for args in printing_commands() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = run_with_stdout(dir.path(), &args, Stdio::from(full));
        let (_, err) = text(&out);
        if args.contains(&"--help") {
            // clap prints help itself; it must not panic either.
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(
            err.lines()
                .filter(|l| l.contains("cannot write to standard output"))
                .count(),
            1,
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // A full standard error turns success into exit code 1 and never panics: `run` on a
    // finished sweep reports its plan on standard error ("4 runs: 4 already done").
    let stderr_full = |args: &[&str]| {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        bin()
            .current_dir(dir.path())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(full))
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(stderr_full(&["run", "s.toml"]), Some(1));
    // A command that writes nothing to standard error is unaffected.
    assert_eq!(stderr_full(&["aggregate", "runs/pipes"]), Some(0));
    // Bad input keeps its exit code 2 (and a panic would be 101).
    assert_eq!(stderr_full(&["plan", "missing.toml"]), Some(2));
}
