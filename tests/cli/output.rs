//! Output that fits scripts: a short ending for `run` (the summary behind `--summary`),
//! `--quiet` quiet on every command, `--json` for plan, status and compare.

use crate::util::*;

fn finished() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("out", 10, 2));
    ok(run_in(dir.path(), &["run", "s.toml", "-q"]));
    dir
}

#[test]
fn run_ends_with_a_short_summary_and_the_long_table_behind_summary() {
    let dir = finished();
    let short = ok(run_in(dir.path(), &["run", "s.toml"]));
    let lines: Vec<&str> = short.lines().collect();
    assert!(lines.len() <= 5, "{short}");
    assert!(lines[0].starts_with("sweep `out`: 4 runs:"), "{short}");
    assert!(short.contains("report: runs/out/report.md"), "{short}");
    assert!(!short.contains("final_eval_loss"), "{short}");
    let long = ok(run_in(dir.path(), &["run", "s.toml", "--summary"]));
    assert!(
        long.contains("final_eval_loss") && long.lines().count() > 10,
        "{long}"
    );
    // aggregate still prints the summary.
    let agg = ok(run_in(dir.path(), &["aggregate", "runs/out"]));
    assert!(agg.contains("final_eval_loss"), "{agg}");
}

#[test]
fn quiet_is_quiet_on_every_command_but_keeps_what_was_asked_for() {
    let dir = finished();
    for args in [
        vec!["run", "s.toml"],
        vec!["plan", "s.toml"],
        vec!["status", "runs/out"],
        vec!["aggregate", "runs/out"],
        vec!["report", "runs/out"],
        vec!["compare", "runs/out"],
        vec!["verify", "runs/out"],
        vec!["slurm", "s.toml", "--tasks", "2"],
        vec![
            "train",
            "--depth",
            "2",
            "--width",
            "4",
            "--steps",
            "3",
            "--eval-size",
            "8",
        ],
        vec![
            "bench", "--batch", "8", "--depth", "2", "--width", "8", "--steps", "2", "--reps", "1",
        ],
    ] {
        for q in ["--quiet", "-q"] {
            let mut with = args.clone();
            with.push(q);
            let o = run_in(dir.path(), &with);
            let (out, err) = text(&o);
            assert!(o.status.success(), "{with:?}: {err}");
            assert_eq!(out, "", "{with:?} printed");
            assert_eq!(err, "", "{with:?} printed on stderr");
        }
    }
    // What was asked for still prints: query results and --json.
    let q = ok(run_in(
        dir.path(),
        &[
            "query",
            "runs/out",
            "SELECT count(*) AS n FROM runs",
            "--format",
            "csv",
            "-q",
        ],
    ));
    assert_eq!(q, "n\n4\n");
    let j = ok(run_in(dir.path(), &["plan", "s.toml", "--json", "-q"]));
    assert!(serde_json::from_str::<serde_json::Value>(&j).is_ok(), "{j}");
    // Errors still print.
    let o = run_in(dir.path(), &["plan", "nope.toml", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("nope.toml"));
}

#[test]
fn plan_status_and_compare_speak_json() {
    let dir = finished();
    let plan: serde_json::Value =
        serde_json::from_str(&ok(run_in(dir.path(), &["plan", "s.toml", "--json"]))).unwrap();
    assert_eq!(plan["sweep"], "out");
    assert_eq!(plan["runs"].as_array().unwrap().len(), 4);
    assert_eq!(plan["counts"]["done"], 4);
    assert_eq!(plan["runs"][0]["status"], "done");
    assert_eq!(plan["runs"][0]["settings"]["residual"], false);
    assert_eq!(plan["steps_left"], 0);

    let status: serde_json::Value =
        serde_json::from_str(&ok(run_in(dir.path(), &["status", "runs/out", "--json"]))).unwrap();
    assert_eq!(status["complete"], 4);
    assert_eq!(status["steps_done"], status["steps_total"]);
    assert_eq!(status["shards"][0]["done"], 4);

    let cmp: serde_json::Value =
        serde_json::from_str(&ok(run_in(dir.path(), &["compare", "runs/out", "--json"]))).unwrap();
    assert_eq!(cmp["fair"], true);
    assert_eq!(cmp["arms"], serde_json::json!(["false", "true"]));
    assert_eq!(cmp["pairs"], 2);
    let stratum = &cmp["strata"][0];
    assert_eq!(stratum["pairs"].as_array().unwrap().len(), 2);
    assert!(stratum["stats"]["mean_diff"].is_number(), "{stratum}");
}
