//! Helpers: run the binary, write sweep files, read run directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_resweep"));
    c.env_remove("RAYON_NUM_THREADS");
    c
}

/// Runs the binary with `args` in `cwd`.
pub fn run_in(cwd: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run resweep")
}

/// Text of stdout and stderr.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Asserts success and returns stdout.
pub fn ok(o: Output) -> String {
    let (out, err) = text(&o);
    assert!(
        o.status.success(),
        "resweep failed ({:?})\nstdout:\n{out}\nstderr:\n{err}",
        o.status
    );
    out
}

/// A temporary directory with a sweep file `name.toml` of the given body.
pub fn sweep_file(dir: &Path, file: &str, body: &str) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, body).unwrap();
    p
}

/// A small, quick sweep: depth 3, width 8, `steps` steps, 2 arms x `seeds` seeds.
pub fn small_sweep(name: &str, steps: usize, seeds: usize) -> String {
    format!(
        r#"name = "{name}"
[model]
depth = 3
width = 8
init_scale = "1/sqrt(depth)"
[train]
batch_size = 16
steps = {steps}
[task]
eval_size = 64
[probe]
eval_every = 10
probe_every = 20
[execution]
checkpoint_every = 10
[grid]
residual = [false, true]
seed = {{ start = 0, count = {seeds} }}
"#
    )
}

/// Every file of every run directory (except locks and timing-bearing results), by
/// `run_id/file` — the bytes that must be identical between two executions.
pub fn run_files(sweep_dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for run in std::fs::read_dir(sweep_dir.join("runs")).unwrap() {
        let run = run.unwrap().path();
        for f in std::fs::read_dir(&run).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "result.json" || f.is_dir() {
                continue;
            }
            let key = format!("{}/{name}", run.file_name().unwrap().to_string_lossy());
            files.insert(key, std::fs::read(&f).unwrap());
        }
    }
    files
}

/// `result.json` of every run, by run id, as written.
pub fn raw_results(sweep_dir: &Path) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for run in std::fs::read_dir(sweep_dir.join("runs")).unwrap() {
        let run = run.unwrap().path();
        let text = std::fs::read_to_string(run.join("result.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        out.insert(run.file_name().unwrap().to_string_lossy().into_owned(), v);
    }
    out
}

/// `result.json` of every run, without the fields that legitimately vary (timing, dates).
pub fn results(sweep_dir: &Path) -> BTreeMap<String, serde_json::Value> {
    let mut out = raw_results(sweep_dir);
    for v in out.values_mut() {
        let obj = v.as_object_mut().unwrap();
        for k in ["wall_time_s", "steps_per_s", "finished_at", "resumed"] {
            obj.remove(k);
        }
        // The seal's digest of result.json covers the timing fields too; the seals of
        // the metrics files stay.
        if let Some(seal) = obj.get_mut("seal").and_then(|s| s.as_object_mut()) {
            seal.remove("result_sha256");
        }
    }
    out
}

/// Long enough per run to be interrupted mid-way (a few hundred ms each).
pub fn long_sweep(name: &str, seeds: usize) -> String {
    format!(
        r#"name = "{name}"
[model]
depth = 6
width = 32
[train]
batch_size = 64
steps = 1500
[task]
eval_size = 256
[probe]
eval_every = 100
probe_every = 250
[execution]
checkpoint_every = 50
[grid]
residual = [false, true]
seed = {{ start = 0, count = {seeds} }}
"#
    )
}

/// Starts the binary without waiting for it.
pub fn spawn(cwd: &Path, args: &[&str]) -> Child {
    bin()
        .current_dir(cwd)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until some run of the sweep has a checkpoint on disk.
pub fn wait_for_checkpoint(sweep_dir: &Path) {
    let start = Instant::now();
    loop {
        let found = std::fs::read_dir(sweep_dir.join("runs"))
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.path().join("checkpoint.bin").is_file())
            })
            .unwrap_or(false);
        if found {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `resweep args` in `cwd`, interrupts it (SIGINT) once a run of `sweep_dir` has a
/// checkpoint, checks that it exits 130 and returns its stderr.
pub fn interrupt(cwd: &Path, sweep_dir: &Path, args: &[&str]) -> String {
    let child = spawn(cwd, args);
    wait_for_checkpoint(sweep_dir);
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    err
}

/// Sends a signal (`-INT`, `-KILL`) to a child.
pub fn signal(child: &Child, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Copies a directory tree (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}
