//! `resweep list`: every sweep of a runs directory with its counts, status, size and last
//! change.

use crate::util::*;

#[test]
fn list_shows_every_sweep_with_counts_status_size_and_last_change() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "a.toml", &small_sweep("alpha", 10, 1));
    sweep_file(dir.path(), "b.toml", &small_sweep("beta", 10, 2));
    ok(run_in(dir.path(), &["run", "a.toml", "-q"]));
    // beta is planned into its directory but only one shard of it runs.
    ok(run_in(
        dir.path(),
        &["run", "b.toml", "--shard", "0/2", "-q"],
    ));
    let out = ok(run_in(dir.path(), &["list"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("sweep") && lines[0].contains("last change"),
        "{out}"
    );
    let alpha = lines
        .iter()
        .find(|l| l.starts_with("alpha"))
        .expect("alpha listed");
    assert!(
        alpha.contains("complete") && (alpha.contains(" KB") || alpha.contains(" MB")),
        "{out}"
    );
    let beta = lines
        .iter()
        .find(|l| l.starts_with("beta"))
        .expect("beta listed");
    assert!(beta.contains("pending"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(run_in(dir.path(), &["list", "--json"]))).unwrap();
    assert_eq!(json[0]["sweep"], "alpha");
    assert_eq!(json[0]["runs"], 2);
    assert_eq!(json[0]["done"], 2);
    assert!(json[1]["done"].as_u64().unwrap() < 4);
    assert!(json[0]["bytes"].as_u64().unwrap() > 10_000);
    // Another runs directory, and one that does not exist.
    let o = run_in(dir.path(), &["list", "--runs-dir", "nowhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("nowhere does not exist"));
}
