//! Bad input gets a clear message (what, where, how to fix), exit code 2, and nothing on
//! disk.

use crate::util::*;

fn rejected(body: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "bad.toml", body);
    let o = run_in(dir.path(), &["run", "bad.toml"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "stdout:\n{out}\nstderr:\n{err}");
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in:\n{err}");
    }
    assert!(!dir.path().join("runs").exists(), "bad input created files");
}

#[test]
fn unknown_key_names_the_place_and_suggests_a_fix() {
    rejected(
        "name = \"x\"\n[model]\ndept = 20\n",
        &["bad.toml:3:1", "dept", "did you mean `depth`"],
    );
}

#[test]
fn wrong_types_and_impossible_values_are_located() {
    rejected(
        "name = \"x\"\n[model]\ndepth = \"twenty\"\n",
        &["bad.toml:3:", "depth"],
    );
    rejected(
        "name = \"x\"\n[model]\ndepth = 0\n",
        &["bad.toml:3:", "depth"],
    );
    rejected("name = \"x\"\n[train]\nlr = -0.1\n", &["bad.toml:3:", "lr"]);
    rejected(
        "name = \"x\"\n[train]\nbatch_size = 0\n",
        &["bad.toml:3:", "batch_size"],
    );
    rejected(
        "name = \"x\"\n[grid]\nseed = []\n",
        &["bad.toml:3:", "seed"],
    );
    rejected(
        "name = \"x\"\n[model]\ninit_scale = \"1/log(depth)\"\n",
        &["bad.toml:3:", "init_scale"],
    );
}

#[test]
fn malformed_toml_is_located() {
    rejected("name = \"x\"\n[model\ndepth = 2\n", &["bad.toml:2:"]);
}

#[test]
fn sweep_names_cannot_escape_the_runs_directory() {
    rejected("name = \"../escape\"\n", &["bad.toml:1:", "name"]);
    rejected("name = \"/abs\"\n", &["bad.toml:1:", "name"]);
}

#[test]
fn missing_sweep_file_and_bad_directory_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(dir.path(), &["run", "nope.toml"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("nope.toml") && err.contains("cannot read"),
        "{err}"
    );
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let o = run_in(dir.path(), &["run", "empty"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("without sweep.toml"), "{err}");
}
