//! An honest setup table and a warning at the end of `run` for an unfair sweep; no empty
//! pair tables after UNFAIR; `--axis` did-you-mean; natural order (depth 4, 12, 24) in
//! compare, the report, the summary and the tables.

use crate::util::*;

/// Each arm gets its own init scale through include rules.
const RIGGED: &str = r#"name = "rigged"
[model]
depth = 3
width = 8
[train]
batch_size = 16
steps = 10
[task]
eval_size = 64
[[include]]
residual = false
init_scale = "1/sqrt(depth)"
seed = [0, 1]
[[include]]
residual = true
init_scale = 1.0
seed = [0, 1]
"#;

#[test]
fn an_unfair_sweep_says_so_at_the_end_of_run_and_in_an_honest_setup_table() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", RIGGED);
    let o = run_in(dir.path(), &["run", "s.toml", "-q"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out, "");
    let last = err.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("warning: UNFAIR: 1 problem found comparing residual")
            && last.contains("resweep compare runs/rigged --axis residual"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let md = std::fs::read_to_string(dir.path().join("runs/rigged/report.md")).unwrap();
    assert!(
        md.contains("| `init_scale` | **differs between runs** (include/exclude rules): residual=false: \"1/sqrt(depth)\"; residual=true: 1 |"),
        "{md}"
    );
    assert!(
        md.contains("| `residual` | **axis** (from include rules): false, true |"),
        "{md}"
    );
    assert!(
        md.contains("| `seed` | **axis** (from include rules): 0, 1 |"),
        "{md}"
    );
    // No empty pair tables: the reason and the fix instead.
    assert!(
        md.contains("no pairs: no two runs differ only in residual"),
        "{md}"
    );
    assert!(!md.contains("| stratum | arms |"), "{md}");
    let cmp = ok(run_in(dir.path(), &["compare", "runs/rigged"]));
    assert!(
        cmp.contains("no pairs: no two runs differ only in residual"),
        "{cmp}"
    );
    assert!(
        !cmp.contains("0 pairs by seed") && !cmp.contains("  seed  "),
        "{cmp}"
    );
    // A fair sweep ends without the warning.
    sweep_file(dir.path(), "f.toml", &small_sweep("fair", 10, 1));
    let o = run_in(dir.path(), &["run", "f.toml", "-q"]);
    assert_eq!(text(&o).1, "");
}

#[test]
fn compare_suggests_the_axis_meant() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("axes", 10, 1));
    ok(run_in(dir.path(), &["run", "s.toml", "-q"]));
    let o = run_in(dir.path(), &["compare", "runs/axes", "--axis", "residul"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("did you mean residual?"), "{err}");
}

#[test]
fn numbers_sort_as_numbers_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let body = small_sweep("nat", 10, 1)
        .replace("depth = 3\n", "")
        .replace("[grid]\n", "[grid]\ndepth = [12, 4, 24]\n");
    sweep_file(dir.path(), "s.toml", &body);
    ok(run_in(dir.path(), &["run", "s.toml", "-q"]));
    let order = |text: &str, words: &[&str]| -> bool {
        let at: Vec<usize> = words
            .iter()
            .map(|w| text.find(w).unwrap_or(usize::MAX))
            .collect();
        at.windows(2).all(|w| w[0] < w[1] && w[1] != usize::MAX)
    };
    let cmp = ok(run_in(dir.path(), &["compare", "runs/nat"]));
    assert!(
        order(&cmp, &["depth=4:", "depth=12:", "depth=24:"]),
        "{cmp}"
    );
    let md = std::fs::read_to_string(dir.path().join("runs/nat/report.md")).unwrap();
    assert!(md.contains("| `depth` | **axis**: 4, 12, 24 |"), "{md}");
    assert!(
        order(&md, &["| depth=4 |", "| depth=12 |", "| depth=24 |"]),
        "{md}"
    );
    let summary = std::fs::read_to_string(dir.path().join("runs/nat/tables/summary.md")).unwrap();
    assert!(
        order(
            &summary,
            &[
                "| final_eval_loss | 4 |",
                "| final_eval_loss | 12 |",
                "| final_eval_loss | 24 |"
            ]
        ),
        "{summary}"
    );
    // The runs table (and so a query without ORDER BY) lists d4 before d12.
    let ids = ok(run_in(
        dir.path(),
        &[
            "query",
            "runs/nat",
            "SELECT depth FROM runs",
            "--format",
            "csv",
        ],
    ));
    assert_eq!(ids, "depth\n4\n4\n12\n12\n24\n24\n");
}
