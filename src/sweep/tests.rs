//! Unit tests of sweep files: parsing, every refused input with its place, expansion.

use super::*;
use crate::config::{InitScale, OptimizerKind};
use std::collections::BTreeSet;

fn parse(text: &str) -> SweepSpec {
    match SweepSpec::parse(text, "t.toml") {
        Ok(s) => s,
        Err(e) => panic!("{text}\n{e}"),
    }
}

fn expand(text: &str) -> Vec<RunConfig> {
    match parse(text).expand() {
        Ok(r) => r,
        Err(e) => panic!("{text}\n{e}"),
    }
}

/// The error of a text that must fail to parse.
fn parse_err(text: &str) -> SweepError {
    match SweepSpec::parse(text, "t.toml") {
        Ok(_) => panic!("parsed but should not:\n{text}"),
        Err(e) => e,
    }
}

/// The error of a text that parses but must fail to expand.
fn expand_err(text: &str) -> SweepError {
    match parse(text).expand() {
        Ok(r) => panic!("expanded to {} runs but should not:\n{text}", r.len()),
        Err(e) => e,
    }
}

/// Checks an error's place, key and that its message and help contain the given texts.
#[track_caller]
fn check(e: &SweepError, line: usize, col: usize, key: Option<&str>, message: &str, help: &str) {
    let shown = e.to_string();
    assert_eq!(
        (e.line, e.col),
        (Some(line), Some(col)),
        "place of:\n{shown}"
    );
    assert_eq!(e.key.as_deref(), key, "key of:\n{shown}");
    assert!(
        e.message.contains(message),
        "message should contain {message:?}:\n{shown}"
    );
    let h = e.help.clone().unwrap_or_default();
    assert!(h.contains(help), "help should contain {help:?}:\n{shown}");
    assert_eq!(e.origin, "t.toml");
    assert!(
        shown.starts_with(&format!("error: t.toml:{line}:{col}: ")),
        "{shown}"
    );
}

fn ids(runs: &[RunConfig]) -> BTreeSet<String> {
    runs.iter().map(RunConfig::run_id).collect()
}

// ---- the project's sweep files --------------------------------------------------------

#[test]
fn default_sweep_is_the_fair_comparison() {
    let s = SweepSpec::default_sweep();
    assert_eq!(s.name, "distant_identity");
    assert_eq!(s.origin, "sweeps/distant_identity.toml");
    assert_eq!(s.source, include_str!("../../sweeps/distant_identity.toml"));
    assert_eq!(s.axis_names(), ["residual", "init_scale", "seed"]);
    let b = &s.base;
    assert_eq!((b.depth, b.width, b.batch_size, b.steps), (20, 64, 64, 500));
    assert_eq!((b.optimizer, b.lr), (OptimizerKind::Adam, 1e-3));
    assert_eq!((b.eval_size, b.eval_every), (4096, 50));
    assert_eq!(s.execution.checkpoint_every, 100);
    assert_eq!(s.execution.vectorize, 1);
    let runs = s.expand().unwrap();
    assert_eq!(runs.len(), 40);
    assert_eq!(ids(&runs).len(), 40);
    assert_eq!(runs.iter().filter(|r| r.residual).count(), 20);
    assert_eq!(
        runs.iter()
            .filter(|r| r.init_scale == InitScale::Value(1.0))
            .count(),
        20
    );
    // Seed outermost: the first four runs are the four configurations of seed 0.
    assert!(runs[..4].iter().all(|r| r.seed == 0));
    assert!(runs[4..8].iter().all(|r| r.seed == 1));
    assert_eq!(runs[39].seed, 9);
}

#[test]
fn depth_sweep_parses_and_shares_ids_with_the_default() {
    let s = SweepSpec::parse(include_str!("../../sweeps/depth.toml"), "sweeps/depth.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name, "depth");
    let all = s.expand().unwrap();
    // The grid (both arms at 1/sqrt(depth)) and the strongest baseline (PlainMLP at 1).
    assert_eq!(all.len(), 7 * 2 * 5 + 7 * 5);
    let (runs, baseline): (Vec<RunConfig>, Vec<RunConfig>) = all
        .into_iter()
        .partition(|r| r.init_scale == InitScale::Expr("1/sqrt(depth)".into()));
    assert_eq!(runs.len(), 7 * 2 * 5);
    assert!(baseline
        .iter()
        .all(|r| !r.residual && r.init_scale == InitScale::Value(1.0)));
    let depths: BTreeSet<usize> = runs.iter().map(|r| r.depth).collect();
    assert_eq!(
        depths.into_iter().collect::<Vec<_>>(),
        [2, 5, 10, 20, 30, 40, 50]
    );
    let pairs: BTreeSet<(usize, u64)> = baseline.iter().map(|r| (r.depth, r.seed)).collect();
    let grid: BTreeSet<(usize, u64)> = runs.iter().map(|r| (r.depth, r.seed)).collect();
    assert_eq!(
        pairs, grid,
        "one baseline run per depth and seed of the grid"
    );
    // Its depth-20 runs are the default sweep's PlainMLP runs at init scale 1.
    let default_ids = ids(&SweepSpec::default_sweep().expand().unwrap());
    assert_eq!(
        baseline
            .iter()
            .filter(|r| default_ids.contains(&r.run_id()))
            .count(),
        5
    );
    // The depth-20 runs are runs of the default sweep too.
    let default_ids = ids(&SweepSpec::default_sweep().expand().unwrap());
    let shared = runs
        .iter()
        .filter(|r| default_ids.contains(&r.run_id()))
        .count();
    assert_eq!(shared, 2 * 5);
}

// ---- expansion --------------------------------------------------------------------------

#[test]
fn product_size_and_order() {
    let runs = expand(
        r#"name = "p"
[grid]
depth = [2, 3, 4]
seed = [0, 1]
residual = [false, true]
lr = [1e-3, 1e-2]
"#,
    );
    assert_eq!(runs.len(), 3 * 2 * 2 * 2);
    // seed outermost, then depth, residual, lr (file order, last fastest).
    let key = |r: &RunConfig| (r.seed, r.depth, r.residual, (r.lr * 1e3) as u32);
    assert_eq!(key(&runs[0]), (0, 2, false, 1));
    assert_eq!(key(&runs[1]), (0, 2, false, 10));
    assert_eq!(key(&runs[2]), (0, 2, true, 1));
    assert_eq!(key(&runs[4]), (0, 3, false, 1));
    assert_eq!(key(&runs[12]), (1, 2, false, 1));
    // Settings not on an axis keep the defaults.
    assert!(runs.iter().all(|r| r.width == 64 && r.steps == 500));
}

#[test]
fn no_grid_is_one_run_of_the_fixed_settings() {
    let runs = expand("name = \"one\"\n[model]\ndepth = 7\n");
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0],
        RunConfig {
            depth: 7,
            ..RunConfig::default()
        }
    );
}

#[test]
fn range_forms() {
    let s = parse(
        r#"name = "r"
[grid]
seed = { start = 3, count = 4 }
depth = { start = 2, stop = 50, step = 4 }
width = { start = 8, stop = 10 }
steps = { start = 100, count = 3, step = 100 }
eval_every = { start = 10, stop = 35, step = 10 }
"#,
    );
    let values = |i: usize| -> Vec<u64> {
        s.axes[i]
            .values
            .iter()
            .map(|v| match v {
                AxisValue::Int(n) => *n,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(values(0), [3, 4, 5, 6]);
    assert_eq!(values(1), (2..=50).step_by(4).collect::<Vec<u64>>());
    assert_eq!(*values(1).last().unwrap(), 50);
    assert_eq!(values(2), [8, 9, 10]);
    assert_eq!(values(3), [100, 200, 300]);
    assert_eq!(values(4), [10, 20, 30]);
    // The table-header spelling of a range works too.
    let s = parse("name = \"r\"\n[grid.seed]\nstart = 0\ncount = 3\n");
    assert_eq!(s.axes[0].values.len(), 3);
}

#[test]
fn exclude_drops_matching_grid_points() {
    let runs = expand(
        r#"name = "x"
[grid]
residual = [false, true]
init_scale = ["1/sqrt(depth)", 1.0]
seed = [0, 1]

[[exclude]]
residual = false
init_scale = 1
"#,
    );
    assert_eq!(runs.len(), 6);
    assert!(!runs
        .iter()
        .any(|r| !r.residual && r.init_scale == InitScale::Value(1.0)));
    // A rule may name a fixed setting too: it then matches every point or none.
    let runs = expand(
        "name = \"x\"\n[model]\ndepth = 5\n[grid]\nseed = [0, 1, 2]\n[[exclude]]\ndepth = 5\nseed = 1\n",
    );
    assert_eq!(runs.iter().map(|r| r.seed).collect::<Vec<_>>(), [0, 2]);
}

#[test]
fn include_adds_points_from_the_fixed_settings() {
    let s = parse(
        r#"name = "i"
[model]
depth = 20
[train]
lr = 2e-3
[grid]
residual = [false, true]
seed = [0, 1]

[[include]]
depth = 30
residual = true

[[include]]
depth = [40, 50]
seed = { start = 5, count = 2 }
"#,
    );
    let runs = s.expand().unwrap();
    assert_eq!(runs.len(), 4 + 1 + 4);
    let extra = &runs[4];
    assert_eq!((extra.depth, extra.residual, extra.seed), (30, true, 0));
    assert_eq!(extra.lr, 2e-3, "includes start from the fixed settings");
    let last: Vec<(usize, u64)> = runs[5..].iter().map(|r| (r.depth, r.seed)).collect();
    assert_eq!(last, [(40, 5), (40, 6), (50, 5), (50, 6)]);
    assert_eq!(s.axis_names(), ["residual", "seed", "depth"]);
}

#[test]
fn includes_alone_are_the_sweep() {
    let runs = expand("name = \"i\"\n[[include]]\ndepth = [3, 4]\n[[include]]\nwidth = 8\n");
    let got: Vec<(usize, usize)> = runs.iter().map(|r| (r.depth, r.width)).collect();
    assert_eq!(got, [(3, 64), (4, 64), (20, 8)]);
}

#[test]
fn excludes_do_not_drop_includes() {
    let runs = expand(
        "name = \"i\"\n[grid]\nseed = [0, 1]\n[[exclude]]\nseed = 1\n[[include]]\nseed = 1\n",
    );
    assert_eq!(runs.iter().map(|r| r.seed).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn duplicates_collapse() {
    // 1.0 and "1" are the same init scale; an include repeating a grid point adds nothing.
    let s = parse(
        r#"name = "d"
[grid]
init_scale = [1.0, "1", "1/sqrt(depth)", " 1 / sqrt( depth ) "]
seed = [0, 1, 1]
[[include]]
init_scale = 1
seed = 1
"#,
    );
    assert_eq!(s.axes[0].values.len(), 2);
    assert_eq!(s.axes[1].values.len(), 2);
    let runs = s.expand().unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(ids(&runs).len(), 4);
}

#[test]
fn ids_do_not_depend_on_axis_order() {
    let a = expand(
        "name = \"a\"\n[grid]\nresidual = [false, true]\ninit_scale = [\"1/sqrt(depth)\", 1.0]\nseed = [0, 1, 2]\ndepth = [5, 10]\n",
    );
    let b = expand(
        "name = \"b\"\n[grid]\ndepth = [10, 5]\nseed = [2, 1, 0]\ninit_scale = [1, \"1/sqrt(depth)\"]\nresidual = [true, false]\n",
    );
    assert_eq!(a.len(), 24);
    assert_eq!(ids(&a), ids(&b));
    // A fixed setting and a one-value axis make the same run.
    let c = expand("name = \"c\"\n[model]\ndepth = 5\n");
    let d = expand("name = \"d\"\n[grid]\ndepth = [5]\n");
    assert_eq!(c[0].run_id(), d[0].run_id());
}

#[test]
fn an_axis_overrides_the_fixed_setting() {
    let runs = expand("name = \"o\"\n[model]\ndepth = 3\n[grid]\ndepth = [4, 5]\n");
    assert_eq!(runs.iter().map(|r| r.depth).collect::<Vec<_>>(), [4, 5]);
}

#[test]
fn more_than_100k_points_are_refused_before_expansion() {
    let e = expand_err(
        "name = \"big\"\n[grid]\nseed = { start = 0, count = 1000 }\nresidual = [false, true]\ndepth = { start = 1, count = 60 }\n",
    );
    check(&e, 2, 1, None, "120000 points", "the longest is seed");
    assert!(
        e.message.contains("seed 1000 x residual 2 x depth 60"),
        "{e}"
    );
    assert!(e.message.contains("limit of 100000"), "{e}");
    // Far beyond: no overflow, no allocation.
    let e = expand_err(
        "name = \"huge\"\n[grid]\nseed = { start = 0, count = 100000 }\ndepth = { start = 1, count = 10000 }\nwidth = { start = 1, count = 4000 }\nsteps = { start = 1, count = 100000 }\nbatch_size = { start = 1, count = 100000 }\n",
    );
    assert!(e.message.contains("more than the limit"), "{e}");
    // One range alone over the limit is refused while parsing.
    let e = parse_err("name = \"r\"\n[grid]\nseed = { start = 0, count = 1000000 }\n");
    check(&e, 3, 8, Some("seed"), "1000000 values", "shorten");
    // Includes count too.
    let e = expand_err(
        "name = \"i\"\n[grid]\nseed = { start = 0, count = 60000 }\n[[include]]\nseed = { start = 0, count = 60000 }\n",
    );
    assert!(e.message.contains("120000 points"), "{e}");
    assert!(e.message.contains("[[include]]s: 60000"), "{e}");
}

#[test]
fn impossible_points_are_reported_with_their_axis_values() {
    // The expression is 0 at depth 3 only, which no single value shows.
    let e = expand_err(
        "name = \"v\"\n[model]\ninit_scale = \"(depth-3)*(depth-3)\"\n[grid]\nseed = [0]\ndepth = [2, 3, 4]\n",
    );
    check(
        &e,
        3,
        14,
        Some("init_scale"),
        "the grid point (seed = 0, depth = 3) is impossible: init_scale",
        "[[exclude]]",
    );
    // Excluding the point fixes it.
    let runs = expand(
        "name = \"v\"\n[model]\ninit_scale = \"(depth-3)*(depth-3)\"\n[grid]\ndepth = [2, 3, 4]\n[[exclude]]\ndepth = 3\n",
    );
    assert_eq!(runs.len(), 2);
    // As an axis, the error points at the axis.
    let e = expand_err(
        "name = \"v\"\n[grid]\ndepth = [2, 3]\ninit_scale = [\"(depth-3)*(depth-3)\"]\n",
    );
    check(
        &e,
        4,
        1,
        Some("init_scale"),
        "depth = 3, init_scale = \"(depth-3)*(depth-3)\"",
        "",
    );
    // In an include, at the include.
    let e = expand_err(
        "name = \"v\"\n[model]\ninit_scale = \"(depth-3)*(depth-3)\"\n\n[[include]]\ndepth = 3\n",
    );
    check(
        &e,
        5,
        1,
        Some("init_scale"),
        "the [[include]] point (depth = 3) is impossible",
        "this [[include]]",
    );
}

#[test]
fn exclude_rules_must_match_and_leave_runs() {
    let e = expand_err("name = \"x\"\n[grid]\nseed = [0, 1]\n\n[[exclude]]\nseed = 2\n");
    check(
        &e,
        5,
        1,
        Some("exclude"),
        "(seed = 2) matches no point",
        "delete it",
    );
    let e = expand_err(
        "name = \"x\"\n[grid]\nseed = [0, 1]\n[[exclude]]\nseed = 0\n[[exclude]]\nseed = 1\n",
    );
    check(&e, 4, 1, None, "no runs", "[[exclude]]");
}

// ---- other API ---------------------------------------------------------------------------

#[test]
fn axis_names_are_the_grid_then_what_includes_vary() {
    let s = parse(
        "name = \"a\"\n[model]\ndepth = 20\n[grid]\nseed = [0]\nresidual = [false, true]\n[[include]]\ndepth = 20\nresidual = true\n[[include]]\nwidth = 32\n",
    );
    assert_eq!(s.axis_names(), ["seed", "residual", "width"]);
}

#[test]
fn changed_fixed_settings_names_what_changed() {
    let base = "name = \"c\"\n[model]\ndepth = 20\n[train]\nlr = 1e-3\n[grid]\nseed = [0, 1]\n";
    let a = parse(base);
    assert!(a.changed_fixed_settings(&a).is_empty());
    // More seeds, another execution, another description: not a change.
    let b = parse(
        &format!("{base}residual = [false, true]\n[execution]\ncheckpoint_every = 7\n")
            .replace("seed = [0, 1]", "seed = [0, 1, 2]"),
    );
    assert_eq!(a.changed_fixed_settings(&b), Vec::<String>::new());
    // lr changed, a default spelled out is no change.
    let c = parse(&base.replace("lr = 1e-3", "lr = 2e-3\nsteps = 500"));
    assert_eq!(a.changed_fixed_settings(&c), ["lr"]);
    // A fixed setting turned into an axis that keeps its value is an extension...
    let d = parse(
        &base
            .replace("depth = 20\n", "")
            .replace("[grid]\n", "[grid]\ndepth = [10, 20]\n"),
    );
    assert!(
        a.changed_fixed_settings(&d).is_empty(),
        "{:?}",
        a.changed_fixed_settings(&d)
    );
    // ...one that drops it is a change, both ways.
    let e = parse(&base.replace("[grid]\n", "[grid]\ndepth = [10, 30]\n"));
    assert_eq!(a.changed_fixed_settings(&e), ["depth"]);
    assert_eq!(e.changed_fixed_settings(&a), ["depth"]);
}

#[test]
fn apply_setting_for_flags() {
    let mut c = RunConfig::default();
    apply_setting(&mut c, "depth", &toml::Value::Integer(30)).unwrap();
    apply_setting_text(&mut c, "optimizer", "sgd").unwrap();
    apply_setting_text(&mut c, "init_scale", "1/depth").unwrap();
    apply_setting_text(&mut c, "lr", "5e-4").unwrap();
    apply_setting_text(&mut c, "residual", "true").unwrap();
    assert_eq!(c.depth, 30);
    assert_eq!(c.optimizer, OptimizerKind::Sgd);
    assert_eq!(c.init_scale, InitScale::Expr("1/depth".into()));
    assert_eq!(c.lr, 5e-4);
    assert!(c.residual);
    let e = apply_setting_text(&mut c, "dept", "3").unwrap_err();
    assert!(e.contains("did you mean `depth`?"), "{e}");
    let e = apply_setting_text(&mut c, "depth", "0").unwrap_err();
    assert!(e.contains("depth = 0 is impossible"), "{e}");
    let e = apply_setting_text(&mut c, "checkpoint_every", "3").unwrap_err();
    assert!(e.contains("[execution]"), "{e}");
    let v = AxisValue::parse("init_scale", &toml::Value::Float(0.5)).unwrap();
    assert_eq!(v.to_string(), "0.5");
    assert_eq!(AxisValue::of(&c, "depth"), Some(AxisValue::Int(30)));
}

#[test]
fn every_setting_has_a_home() {
    let names: Vec<&str> = crate::config::SETTINGS.iter().map(|s| s.name).collect();
    assert_eq!(names, SETTING_NAMES);
    for s in crate::config::SETTINGS {
        assert!(value::FIXED_TABLES.contains(&s.table));
        // Each example is a valid value, and each setting reads back what it wrote.
        let v: toml::Value = s.example.parse().unwrap();
        let mut c = RunConfig::default();
        apply_setting(&mut c, s.name, &v).unwrap();
        let back = AxisValue::of(&c, s.name).unwrap();
        assert_eq!(
            back.to_string().parse::<toml::Value>().unwrap(),
            back.to_toml()
        );
    }
}

#[test]
fn from_file_names_the_path() {
    let e = SweepSpec::from_file(Path::new("no/such/sweep.toml")).unwrap_err();
    assert_eq!(e.origin, "no/such/sweep.toml");
    assert!(e.message.contains("cannot read"), "{e}");
    let dir = std::env::temp_dir().join(format!("resweep-sweep-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "name = \"b\"\n[model]\ndept = 3\n").unwrap();
    let e = SweepSpec::from_file(&path).unwrap_err();
    assert_eq!(e.origin, path.display().to_string());
    assert_eq!((e.line, e.col), (Some(3), Some(1)));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- refused inputs: each with its place, key and fix -----------------------------------

#[test]
fn malformed_toml() {
    let e = parse_err("name = \"m\"\n[grid]\ndepth = [1, 2\n");
    check(&e, 3, 14, None, "invalid TOML: unclosed array", "");
    let e = parse_err("name = m\n");
    check(&e, 1, 8, None, "invalid TOML", "quotes");
    let e = parse_err("name = \"m\"\n[grid\n");
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn repeated_keys_and_tables() {
    let e = parse_err("name = \"d\"\n[grid]\ndepth = [1]\nseed = [0]\ndepth = [2]\n");
    check(
        &e,
        5,
        1,
        Some("depth"),
        "`depth` appears twice",
        "depth = [1, 2]",
    );
    let e = parse_err("name = \"d\"\n[grid]\ndepth = [1]\n[model]\n[grid]\nseed = [0]\n");
    check(&e, 5, 2, Some("grid"), "[grid] appears twice", "merge");
}

#[test]
fn unknown_keys_and_tables_suggest_the_right_name() {
    let e = parse_err("name = \"u\"\n[model]\nwidth = 64\ndept = 20\n");
    check(
        &e,
        4,
        1,
        Some("dept"),
        "unknown key `dept` in [model]",
        "did you mean `depth`?",
    );
    let e = parse_err("name = \"u\"\n[train]\nlerning_rate = 0.1\n");
    check(
        &e,
        3,
        1,
        Some("lerning_rate"),
        "unknown key",
        "did you mean `lr`?",
    );
    let e = parse_err("name = \"u\"\n[train]\ndept = 20\n");
    check(
        &e,
        3,
        1,
        Some("dept"),
        "in [train]",
        "did you mean `depth`? (it belongs in [model])",
    );
    let e = parse_err("name = \"u\"\n[model]\nfoo = 1\n");
    check(
        &e,
        3,
        1,
        Some("foo"),
        "unknown key `foo`",
        "[model] holds depth, width, residual, init_scale",
    );
    let e = parse_err("name = \"u\"\ndescripton = \"x\"\n");
    check(
        &e,
        2,
        1,
        Some("descripton"),
        "unknown key `descripton`",
        "did you mean `description`?",
    );
    let e = parse_err("name = \"u\"\n[grids]\nseed = [0]\n");
    check(
        &e,
        2,
        2,
        Some("grids"),
        "unknown table [grids]",
        "did you mean [grid]?",
    );
    let e = parse_err("name = \"u\"\n[[excludes]]\nseed = 0\n");
    check(
        &e,
        2,
        3,
        Some("excludes"),
        "unknown table [[excludes]]",
        "did you mean [[exclude]]?",
    );
    let e = parse_err("name = \"u\"\n[trian]\nlr = 1\n");
    check(
        &e,
        2,
        2,
        Some("trian"),
        "unknown table [trian]",
        "did you mean [train]?",
    );
    let e = parse_err("name = \"u\"\n[grid]\nsed = [0, 1]\n");
    check(
        &e,
        3,
        1,
        Some("sed"),
        "unknown key `sed` in [grid]",
        "did you mean `seed`?",
    );
    let e = parse_err("name = \"u\"\n[grid]\nseed = { start = 0, cout = 3 }\n");
    check(
        &e,
        3,
        21,
        Some("seed"),
        "unknown key `cout` in the range of seed",
        "did you mean `count`?",
    );
    let e = parse_err("name = \"u\"\n[grid]\nseed = [0]\n[[exclude]]\nresidal = true\n");
    check(
        &e,
        5,
        1,
        Some("residal"),
        "unknown key `residal` in [[exclude]]",
        "did you mean `residual`?",
    );
    let e = parse_err("name = \"u\"\n[[include]]\nwidht = 3\n");
    check(
        &e,
        3,
        1,
        Some("widht"),
        "in [[include]]",
        "did you mean `width`?",
    );
    let e = parse_err("name = \"u\"\n[execution]\ncheckpoint_evry = 3\n");
    check(
        &e,
        3,
        1,
        Some("checkpoint_evry"),
        "unknown key",
        "did you mean `checkpoint_every`?",
    );
}

#[test]
fn settings_in_the_wrong_table_name_the_right_one() {
    let e = parse_err("name = \"w\"\n[model]\ndepth = 20\nlr = 1e-3\n");
    check(
        &e,
        4,
        1,
        Some("lr"),
        "lr belongs in [train], not in [model]",
        "move `lr = 1e-3` under [train]",
    );
    let e = parse_err("name = \"w\"\ndepth = 20\n");
    check(
        &e,
        2,
        1,
        Some("depth"),
        "depth belongs in [model]",
        "[grid]",
    );
    let e = parse_err("name = \"w\"\n[train]\ncheckpoint_every = 10\n");
    check(
        &e,
        3,
        1,
        Some("checkpoint_every"),
        "belongs in [execution]",
        "under [execution]",
    );
    let e = parse_err("name = \"w\"\n[grid]\ncheckpoint_every = [10, 20]\n");
    check(
        &e,
        3,
        1,
        Some("checkpoint_every"),
        "cannot be swept",
        "[execution]",
    );
    let e = parse_err("name = \"w\"\n[execution]\nlr = 1\n");
    check(&e, 3, 1, Some("lr"), "unknown key `lr` in [execution]", "");
    let e = parse_err("name = \"w\"\n[model]\ndepth = [10, 20]\n");
    check(
        &e,
        3,
        9,
        Some("depth"),
        "fixed setting and takes one value",
        "move `depth = [10, 20]` under [grid]",
    );
    let e = parse_err("name = \"w\"\nmodel = 3\n");
    check(&e, 2, 9, Some("model"), "must be a table", "[model]");
}

#[test]
fn wrong_types() {
    let e = parse_err("name = \"t\"\n[model]\ndepth = \"twenty\"\n");
    check(
        &e,
        3,
        9,
        Some("depth"),
        "depth must be an integer such as 20, found the string \"twenty\"",
        "depth = 20",
    );
    let e = parse_err("name = \"t\"\n[model]\nresidual = 1\n");
    check(
        &e,
        3,
        12,
        Some("residual"),
        "residual must be true or false, found the integer 1",
        "residual = true (ResMLP)",
    );
    let e = parse_err("name = \"t\"\n[train]\nlr = \"fast\"\n");
    check(
        &e,
        3,
        6,
        Some("lr"),
        "lr must be a number such as 1e-3, found the string \"fast\"",
        "lr = 1e-3",
    );
    let e = parse_err("name = \"t\"\n[train]\nlr = \"1e-3\"\n");
    check(
        &e,
        3,
        6,
        Some("lr"),
        "lr must be a number",
        "remove the quotes: lr = 1e-3",
    );
    let e = parse_err("name = \"t\"\n[model]\ndepth = 20.0\n");
    check(
        &e,
        3,
        9,
        Some("depth"),
        "depth must be an integer, found the float 20.0",
        "depth = 20 (without",
    );
    let e = parse_err("name = \"t\"\n[model]\ndepth = 2.5\n");
    check(&e, 3, 9, Some("depth"), "depth must be an integer", "");
    let e = parse_err("name = \"t\"\n[train]\noptimizer = \"adamw\"\n");
    check(
        &e,
        3,
        13,
        Some("optimizer"),
        "unknown optimizer \"adamw\"",
        "\"sgd\"",
    );
    let e = parse_err("name = \"t\"\n[train]\noptimizer = 1\n");
    check(
        &e,
        3,
        13,
        Some("optimizer"),
        "optimizer must be \"adam\" or \"sgd\"",
        "",
    );
    let e = parse_err("name = \"t\"\n[model]\ninit_scale = true\n");
    check(
        &e,
        3,
        14,
        Some("init_scale"),
        "init_scale must be a number or an expression",
        "",
    );
    let e = parse_err("name = \"t\"\n[grid]\nresidual = [false, \"true\"]\n");
    check(&e, 3, 20, Some("residual"), "found the string \"true\"", "");
    let e = parse_err("name = \"t\"\n[grid]\nseed = [0, [1, 2]]\n");
    check(&e, 3, 12, Some("seed"), "cannot be a list", "flat list");
    let e = parse_err("name = \"t\"\n[train]\nseed = 99999999999999999999\n");
    check(&e, 3, 8, Some("seed"), "out of range", "");
    let e = parse_err("name = \"t\"\ndescription = 3\n");
    check(&e, 2, 15, Some("description"), "must be a string", "");
    let e = parse_err("name = \"t\"\n[execution]\ncheckpoint_every = \"often\"\n");
    check(
        &e,
        3,
        20,
        Some("checkpoint_every"),
        "must be an integer",
        "checkpoint_every = 100",
    );
}

#[test]
fn impossible_values() {
    let cases: &[(&str, usize, &str, &str)] = &[
        ("[model]\ndepth = 0", 9, "depth", "depth = 0 is impossible"),
        (
            "[model]\nwidth = 5000",
            9,
            "width",
            "width = 5000 is too large",
        ),
        ("[train]\nlr = 0", 6, "lr", "lr = 0 is impossible"),
        ("[train]\nlr = -1e-3", 6, "lr", "lr = -0.001 is impossible"),
        ("[train]\nlr = nan", 6, "lr", "lr = NaN is impossible"),
        (
            "[train]\nbatch_size = 0",
            14,
            "batch_size",
            "batch_size = 0 is impossible",
        ),
        ("[train]\nsteps = 0", 9, "steps", "steps = 0 is impossible"),
        (
            "[train]\nmomentum = 1.0",
            12,
            "momentum",
            "momentum = 1 is impossible",
        ),
        (
            "[train]\nseed = -1",
            8,
            "seed",
            "seed = -1 is impossible: seed cannot be negative",
        ),
        ("[model]\ndepth = -3", 9, "depth", "cannot be negative"),
        (
            "[probe]\neval_every = 0",
            14,
            "eval_every",
            "eval_every = 0 is impossible",
        ),
        (
            "[model]\ninit_scale = 0",
            14,
            "init_scale",
            "init_scale 0 is impossible",
        ),
        (
            "[model]\ninit_scale = \"1/log(depth)\"",
            14,
            "init_scale",
            "unknown name \"log\"",
        ),
        (
            "[grid]\ninit_scale = [1.0, \"depth-depth\"]",
            20,
            "init_scale",
            "init_scale \"depth-depth\" evaluates to 0",
        ),
        (
            "[grid]\ndepth = [4, 0]",
            13,
            "depth",
            "depth = 0 is impossible",
        ),
        (
            "[execution]\nvectorize = 0",
            13,
            "vectorize",
            "vectorize = 0 is impossible",
        ),
        (
            "[execution]\ncheckpoint_every = -5",
            20,
            "checkpoint_every",
            "checkpoint_every = -5 is impossible",
        ),
    ];
    for (body, col, key, message) in cases {
        let e = parse_err(&format!("name = \"v\"\n{body}\n"));
        check(&e, 3, *col, Some(key), message, "");
        assert!(e.help.is_some(), "no help for {body}:\n{e}");
    }
}

#[test]
fn bad_axes() {
    let e = parse_err("name = \"a\"\n[grid]\ndepth = []\n");
    check(
        &e,
        3,
        9,
        Some("depth"),
        "the list of depth is empty",
        "depth = [20]",
    );
    let e = parse_err("name = \"a\"\n[grid]\ndepth = 20\n");
    check(
        &e,
        3,
        9,
        Some("depth"),
        "needs a list of values",
        "depth = [20]",
    );
    let e = parse_err("name = \"a\"\n[grid]\nseed = { start = 0, count = 0 }\n");
    check(
        &e,
        3,
        29,
        Some("seed"),
        "count = 0: it would give no values",
        "at least 1",
    );
    let e = parse_err("name = \"a\"\n[grid]\ndepth = { start = 10, stop = 2 }\n");
    check(
        &e,
        3,
        30,
        Some("depth"),
        "stop = 2 below start = 10",
        "included",
    );
    let e = parse_err("name = \"a\"\n[grid]\ndepth = { start = 2, stop = 10, step = 0 }\n");
    check(&e, 3, 40, Some("depth"), "step = 0", "");
    let e = parse_err("name = \"a\"\n[grid]\nseed = { start = 0, count = 3, stop = 4 }\n");
    check(
        &e,
        3,
        39,
        Some("seed"),
        "both `count` and `stop`",
        "keep one",
    );
    let e = parse_err("name = \"a\"\n[grid]\nseed = { start = 0 }\n");
    check(&e, 3, 8, Some("seed"), "needs `count` or `stop`", "");
    let e = parse_err("name = \"a\"\n[grid]\nseed = { count = 3 }\n");
    check(&e, 3, 8, Some("seed"), "has no `start`", "");
    let e = parse_err("name = \"a\"\n[grid]\nseed = { start = -2, count = 3 }\n");
    check(&e, 3, 18, Some("seed"), "cannot be negative", "");
    let e = parse_err("name = \"a\"\n[grid]\ndepth = { start = 0, count = 3 }\n");
    check(
        &e,
        3,
        9,
        Some("depth"),
        "the range of depth contains 0: depth = 0 is impossible",
        "",
    );
    let e = parse_err("name = \"a\"\n[grid]\nseed = { start = 0.5, count = 3 }\n");
    check(&e, 3, 18, Some("seed"), "must be an integer", "");
    let e = parse_err("name = \"a\"\n[grid]\nlr = { start = 1, count = 3 }\n");
    check(
        &e,
        3,
        6,
        Some("lr"),
        "only for integer settings",
        "lr = [1e-3]",
    );
}

#[test]
fn bad_rules() {
    let e = parse_err("name = \"r\"\n[grid]\nseed = [0]\n[exclude]\nseed = 0\n");
    check(
        &e,
        4,
        1,
        Some("exclude"),
        "array of tables, written [[exclude]]",
        "double brackets",
    );
    let e = parse_err("name = \"r\"\n[grid]\nseed = [0, 1]\n[[exclude]]\nseed = [0, 1]\n");
    check(
        &e,
        5,
        8,
        Some("seed"),
        "single value",
        "one [[exclude]] per value",
    );
    let e = parse_err("name = \"r\"\n[grid]\nseed = [0, 1]\n[[exclude]]\n[[exclude]]\nseed = 1\n");
    check(&e, 4, 1, Some("exclude"), "empty", "");
    let e = parse_err("name = \"r\"\n[[include]]\n");
    check(&e, 2, 1, Some("include"), "empty", "depth = 30");
    let e = parse_err("name = \"r\"\n[[include]]\ndepth = []\n");
    check(&e, 3, 9, Some("depth"), "empty", "");
    let e = parse_err("name = \"r\"\ninclude = 3\n");
    check(&e, 2, 11, Some("include"), "array of tables", "[[include]]");
    let e = parse_err("name = \"r\"\nexclude = [1]\n");
    check(&e, 2, 12, Some("exclude"), "must be a table", "");
}

#[test]
fn names_must_be_directory_names() {
    let e = parse_err("[model]\ndepth = 3\n");
    check(&e, 1, 1, Some("name"), "no name", "name = \"my_sweep\"");
    for (name, message) in [
        ("../x", "contains '/'"),
        ("/abs", "contains '/'"),
        ("a/b", "contains '/'"),
        ("a\\\\b", "contains '\\'"),
        ("", "name is empty"),
        (".hidden", "must not start with '.'"),
        ("..", "must not start with '.'"),
        ("a..b", "\"..\""),
        ("a b", "contains ' '"),
    ] {
        let e = parse_err(&format!("description = \"d\"\nname = \"{name}\"\n"));
        check(&e, 2, 8, Some("name"), message, "runs/<name>/");
    }
    let e = parse_err("name = \"../x\"\n");
    assert!(e.help.as_deref().unwrap().contains("name = \"x\""), "{e}");
    let e = parse_err("name = \"a/b\"\n");
    assert!(e.help.as_deref().unwrap().contains("name = \"a_b\""), "{e}");
    let e = parse_err(&format!("name = \"{}\"\n", "x".repeat(101)));
    check(&e, 1, 8, Some("name"), "more than 100", "");
    let e = parse_err("name = 42\n");
    check(
        &e,
        1,
        8,
        Some("name"),
        "name must be a string, found the integer 42",
        "",
    );
    for ok in ["a", "distant_identity", "v1.2-b", "A_b.c-d"] {
        assert_eq!(parse(&format!("name = \"{ok}\"\n")).name, ok);
    }
}

/// Run ids recorded from the build before the settings were declared in one place: the
/// default sweep, `sweeps/depth.toml`, a sweep that moves every setting away from its
/// default, and three `resweep train` flag combinations. Ids name run directories on
/// disk, so they must never change.
mod recorded_ids {
    pub const DEFAULT_SWEEP: &[&str] = &[
        "d20-plain-s0.224-seed0-65cea880",
        "d20-plain-s1-seed0-22147f44",
        "d20-res-s0.224-seed0-423c4205",
        "d20-res-s1-seed0-1904c93b",
        "d20-plain-s0.224-seed1-e4462cc0",
        "d20-plain-s1-seed1-b0526c40",
        "d20-res-s0.224-seed1-d7df7f6a",
        "d20-res-s1-seed1-30aed4a4",
        "d20-plain-s0.224-seed2-7bbe67bb",
        "d20-plain-s1-seed2-b778afd6",
        "d20-res-s0.224-seed2-98175b1a",
        "d20-res-s1-seed2-74b735f9",
        "d20-plain-s0.224-seed3-7957ae17",
        "d20-plain-s1-seed3-da542506",
        "d20-res-s0.224-seed3-c2c032ea",
        "d20-res-s1-seed3-f6e06661",
        "d20-plain-s0.224-seed4-06c2ec2c",
        "d20-plain-s1-seed4-5b312b5a",
        "d20-res-s0.224-seed4-dda9d97c",
        "d20-res-s1-seed4-cf23481c",
        "d20-plain-s0.224-seed5-973b2030",
        "d20-plain-s1-seed5-6de3cad3",
        "d20-res-s0.224-seed5-a2b1af8c",
        "d20-res-s1-seed5-6f1be6a3",
        "d20-plain-s0.224-seed6-e92b63f1",
        "d20-plain-s1-seed6-a3ae9466",
        "d20-res-s0.224-seed6-622d68f0",
        "d20-res-s1-seed6-845dab28",
        "d20-plain-s0.224-seed7-e1a0aef1",
        "d20-plain-s1-seed7-bd168b9c",
        "d20-res-s0.224-seed7-eb41f1f1",
        "d20-res-s1-seed7-5e187d16",
        "d20-plain-s0.224-seed8-26ee213d",
        "d20-plain-s1-seed8-30c2b6a3",
        "d20-res-s0.224-seed8-8be1edc5",
        "d20-res-s1-seed8-ce66825a",
        "d20-plain-s0.224-seed9-493b6916",
        "d20-plain-s1-seed9-46ea3634",
        "d20-res-s0.224-seed9-17f96052",
        "d20-res-s1-seed9-30236633",
    ];

    pub const DEPTH_SWEEP: &[&str] = &[
        "d2-plain-s0.707-seed0-9fa3c843",
        "d2-res-s0.707-seed0-6928279f",
        "d5-plain-s0.447-seed0-0855be40",
        "d5-res-s0.447-seed0-66fbbb75",
        "d10-plain-s0.316-seed0-b316d5a3",
        "d10-res-s0.316-seed0-73f5d410",
        "d20-plain-s0.224-seed0-65cea880",
        "d20-res-s0.224-seed0-423c4205",
        "d30-plain-s0.183-seed0-81d00aa9",
        "d30-res-s0.183-seed0-73f62cde",
        "d40-plain-s0.158-seed0-c973eb6b",
        "d40-res-s0.158-seed0-1041a390",
        "d50-plain-s0.141-seed0-2b021078",
        "d50-res-s0.141-seed0-72763d4e",
        "d2-plain-s0.707-seed1-9d21d707",
        "d2-res-s0.707-seed1-fc89c56e",
        "d5-plain-s0.447-seed1-7f27d98d",
        "d5-res-s0.447-seed1-b9b4eb5a",
        "d10-plain-s0.316-seed1-fd318ac7",
        "d10-res-s0.316-seed1-5d29b46e",
        "d20-plain-s0.224-seed1-e4462cc0",
        "d20-res-s0.224-seed1-d7df7f6a",
        "d30-plain-s0.183-seed1-9760dc17",
        "d30-res-s0.183-seed1-e7867151",
        "d40-plain-s0.158-seed1-33e8a9bf",
        "d40-res-s0.158-seed1-a8078c01",
        "d50-plain-s0.141-seed1-b5a933b5",
        "d50-res-s0.141-seed1-6e53975d",
        "d2-plain-s0.707-seed2-e6f0c6bd",
        "d2-res-s0.707-seed2-b573cb98",
        "d5-plain-s0.447-seed2-bd4d4ca7",
        "d5-res-s0.447-seed2-494ce2b0",
        "d10-plain-s0.316-seed2-a32b35ab",
        "d10-res-s0.316-seed2-172b3ddb",
        "d20-plain-s0.224-seed2-7bbe67bb",
        "d20-res-s0.224-seed2-98175b1a",
        "d30-plain-s0.183-seed2-db34518e",
        "d30-res-s0.183-seed2-867a2771",
        "d40-plain-s0.158-seed2-051cc950",
        "d40-res-s0.158-seed2-da9457a0",
        "d50-plain-s0.141-seed2-09afab9a",
        "d50-res-s0.141-seed2-30ae02f8",
        "d2-plain-s0.707-seed3-27ba6361",
        "d2-res-s0.707-seed3-eea9e480",
        "d5-plain-s0.447-seed3-52fc38cb",
        "d5-res-s0.447-seed3-dce56a25",
        "d10-plain-s0.316-seed3-82921ea6",
        "d10-res-s0.316-seed3-a7eca3f5",
        "d20-plain-s0.224-seed3-7957ae17",
        "d20-res-s0.224-seed3-c2c032ea",
        "d30-plain-s0.183-seed3-eb73db0c",
        "d30-res-s0.183-seed3-6629a4ef",
        "d40-plain-s0.158-seed3-9bc87e76",
        "d40-res-s0.158-seed3-79971dff",
        "d50-plain-s0.141-seed3-73b6149c",
        "d50-res-s0.141-seed3-c30015cd",
        "d2-plain-s0.707-seed4-b9aa9d4b",
        "d2-res-s0.707-seed4-7be24ad9",
        "d5-plain-s0.447-seed4-a12b44f7",
        "d5-res-s0.447-seed4-6b184c81",
        "d10-plain-s0.316-seed4-b4d449f7",
        "d10-res-s0.316-seed4-2e9c5f2b",
        "d20-plain-s0.224-seed4-06c2ec2c",
        "d20-res-s0.224-seed4-dda9d97c",
        "d30-plain-s0.183-seed4-f81defdd",
        "d30-res-s0.183-seed4-7854c22d",
        "d40-plain-s0.158-seed4-ebc0a33c",
        "d40-res-s0.158-seed4-0f8f9a40",
        "d50-plain-s0.141-seed4-0fab40b3",
        "d50-res-s0.141-seed4-f3199f06",
    ];

    pub const ODD_SWEEP: &[&str] = &[
        "d3-plain-s0.5-seed0-da391224",
        "d3-plain-s0.5-seed0-1e611592",
        "d3-plain-s0.333-seed0-314ac45b",
        "d3-plain-s0.333-seed0-e87a5fa5",
        "d3-plain-s0.408-seed0-9dd934c1",
        "d3-plain-s0.408-seed0-03cb5bdd",
        "d7-plain-s0.5-seed0-7ef52eff",
        "d7-plain-s0.5-seed0-5ae6d561",
        "d7-plain-s0.143-seed0-bf4cf166",
        "d7-plain-s0.143-seed0-02b714d0",
        "d7-plain-s0.267-seed0-52fc2d96",
        "d7-plain-s0.267-seed0-1e85f375",
        "d3-plain-s0.5-seed11-ea0606cf",
        "d3-plain-s0.5-seed11-6be49a66",
        "d3-plain-s0.333-seed11-29832e00",
        "d3-plain-s0.333-seed11-fa8c9703",
        "d3-plain-s0.408-seed11-64f0dae9",
        "d3-plain-s0.408-seed11-b9447e5b",
        "d7-plain-s0.5-seed11-b5586621",
        "d7-plain-s0.5-seed11-a705261e",
        "d7-plain-s0.143-seed11-dc70c300",
        "d7-plain-s0.143-seed11-00ebb6cc",
        "d7-plain-s0.267-seed11-0b961ed4",
        "d7-plain-s0.267-seed11-8a16a5f3",
    ];

    pub const ODD_SWEEP_TOML: &str = r#"name = "odd"

[model]
width = 16

[train]
optimizer = "sgd"
momentum = 0.5
batch_size = 32
steps = 120

[task]
eval_size = 256

[probe]
eval_every = 10
probe_every = 30

[grid]
depth = [3, 7]
init_scale = [0.5, "1/depth", "0.5*sqrt(2/depth)"]
lr = [1e-2, 0.05]
seed = [0, 11]
"#;
}

#[test]
fn ids_of_existing_runs_never_change() {
    use recorded_ids::*;
    let ids = |spec: SweepSpec| -> Vec<String> {
        spec.expand()
            .unwrap()
            .iter()
            .map(RunConfig::run_id)
            .collect()
    };
    assert_eq!(ids(SweepSpec::default_sweep()), DEFAULT_SWEEP);
    let depth = SweepSpec::parse(include_str!("../../sweeps/depth.toml"), "depth.toml").unwrap();
    // The grid's runs keep their ids; the strongest-baseline include only adds runs.
    let depth_ids = ids(depth);
    assert_eq!(depth_ids[..DEPTH_SWEEP.len()], DEPTH_SWEEP[..]);
    assert_eq!(depth_ids.len(), DEPTH_SWEEP.len() + 35);
    assert_eq!(ids(parse(ODD_SWEEP_TOML)), ODD_SWEEP);
    // `resweep train` with the flags below (the rest at their defaults).
    let train = |flags: &[(&str, &str)]| {
        let mut c = RunConfig::default();
        for (k, v) in flags {
            apply_setting_text(&mut c, k, v).unwrap();
        }
        c.run_id()
    };
    assert_eq!(
        train(&[
            ("depth", "3"),
            ("width", "8"),
            ("steps", "5"),
            ("eval_size", "16")
        ]),
        "d3-plain-s0.577-seed0-1f467e7a"
    );
    assert_eq!(
        train(&[
            ("depth", "4"),
            ("width", "8"),
            ("steps", "6"),
            ("residual", "true"),
            ("optimizer", "sgd"),
            ("lr", "0.02"),
            ("momentum", "0.8"),
            ("seed", "9"),
            ("init_scale", "0.7"),
            ("batch_size", "8"),
            ("eval_size", "32"),
            ("eval_every", "2"),
            ("probe_every", "3"),
        ]),
        "d4-res-s0.7-seed9-dc546cdb"
    );
    assert_eq!(
        train(&[
            ("depth", "2"),
            ("width", "4"),
            ("steps", "3"),
            ("init_scale", "1/depth"),
            ("lr", "5e-4"),
            ("eval_size", "8"),
        ]),
        "d2-plain-s0.5-seed0-8a1ba49d"
    );
}
