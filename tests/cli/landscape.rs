//! `resweep landscape`: slices around the initial and final weights of the lowest seed of
//! each group, one file per slice (kept when up to date, recomputed when missing, torn or
//! stale), `landscape.parquet` queryable, `plots/landscape.png`; bad input exits 2 and
//! writes nothing.

use crate::util::*;
use resweep::analysis::landscape::last_slices;
use resweep::store::SweepDir;
use std::collections::BTreeMap;
use std::path::Path;

/// Every file under `root` with its bytes and modification time.
fn snapshot(root: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let key = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
                out.insert(key, (std::fs::read(&p).unwrap(), mtime));
            }
        }
    }
    out
}

fn slice(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `(run_id, when, rows)` of landscape.parquet, through `resweep query`.
fn table_counts(cwd: &Path, sweep: &str) -> Vec<(String, String, u64)> {
    let out = ok(run_in(
        cwd,
        &[
            "query",
            sweep,
            "SELECT run_id, \"when\", count(*) AS n FROM landscape GROUP BY run_id, \"when\" ORDER BY run_id, \"when\"",
            "--format",
            "json",
        ],
    ));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["run_id"].as_str().unwrap().to_string(),
                r["when"].as_str().unwrap().to_string(),
                r["n"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn slices_table_and_figure_and_only_what_changed_is_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    sweep_file(cwd, "s.toml", &small_sweep("land", 40, 2));
    ok(run_in(cwd, &["run", "s.toml", "--quiet"]));
    let sweep = cwd.join("runs/land");
    let results = raw_results(&sweep);
    // Default: the lowest seed of each group (here the two arms).
    let seed0: Vec<&String> = results.keys().filter(|id| id.contains("-seed0-")).collect();
    assert_eq!(seed0.len(), 2);

    let out = ok(run_in(
        cwd,
        &[
            "landscape",
            "runs/land",
            "--grid",
            "5",
            "--span",
            "0.5",
            "--jobs",
            "2",
        ],
    ));
    assert!(out.contains("4 slices computed"), "{out}");
    assert!(out.contains("PlainMLP") && out.contains("ResMLP"), "{out}");
    let slices = sweep.join("landscape");
    for id in &seed0 {
        for when in ["init", "final"] {
            let s = slice(&slices.join(format!("{id}.{when}.json")));
            assert_eq!(
                (s["grid"].as_u64(), s["rows"].as_u64()),
                (Some(5), Some(64))
            );
            let loss = s["loss"].as_array().unwrap();
            assert_eq!(loss.len(), 25);
            let centre = loss[2 * 5 + 2].as_f64().unwrap();
            assert_eq!(centre, s["centre_loss"].as_f64().unwrap());
            // The eval batch has 64 inputs (≤ 256): the centre is the recorded eval loss.
            let metrics = &results[*id]["metrics"];
            let recorded = match when {
                "init" => metrics["initial_eval_loss"].as_f64().unwrap(),
                _ => metrics["final_eval_loss"].as_f64().unwrap(),
            };
            assert_eq!(centre.to_bits(), recorded.to_bits(), "{id} {when}");
            let sealed = results[*id]["seal"]["files"][format!("weights_{when}.safetensors")]
                ["sha256"]
                .as_str()
                .unwrap();
            assert_eq!(s["weights_sha256"].as_str().unwrap(), sealed);
        }
    }
    let counts = table_counts(cwd, "runs/land");
    assert_eq!(counts.len(), 4);
    assert!(counts.iter().all(|(_, _, n)| *n == 25), "{counts:?}");
    let (chosen, kept) = last_slices(&SweepDir::open(&sweep).unwrap()).unwrap();
    assert_eq!(chosen.len(), 2);
    assert_eq!(kept.len(), 4);
    let png = std::fs::read(sweep.join("plots/landscape.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // Again: nothing recomputed, slice files untouched.
    let before = snapshot(&slices);
    let out = ok(run_in(
        cwd,
        &["landscape", "runs/land", "--grid", "5", "--span", "0.5"],
    ));
    assert!(
        out.contains("4 slices up to date: nothing computed"),
        "{out}"
    );
    assert_eq!(snapshot(&slices), before);

    // A missing and a torn slice are recomputed, to the same bytes; the others are kept.
    let names: Vec<&String> = before.keys().filter(|n| *n != "last.json").collect();
    std::fs::remove_file(slices.join(names[0])).unwrap();
    let torn = slices.join(names[1]);
    let bytes = std::fs::read(&torn).unwrap();
    std::fs::write(&torn, &bytes[..bytes.len() / 2]).unwrap();
    let out = ok(run_in(
        cwd,
        &["landscape", "runs/land", "--grid", "5", "--span", "0.5"],
    ));
    assert!(
        out.contains("2 slices computed") && out.contains("2 up to date"),
        "{out}"
    );
    let after = snapshot(&slices);
    for (name, (bytes, mtime)) in &before {
        assert_eq!(&after[name].0, bytes, "{name}: the same bits again");
        if name != names[0] && name != names[1] {
            assert_eq!(&after[name].1, mtime, "{name} was rewritten");
        }
    }

    // A slice computed from other weights (its digest differs) is stale.
    let stale = slices.join(names[2]);
    let mut s = slice(&stale);
    s["weights_sha256"] = serde_json::json!("0".repeat(64));
    std::fs::write(&stale, serde_json::to_vec(&s).unwrap()).unwrap();
    let out = ok(run_in(
        cwd,
        &["landscape", "runs/land", "--grid", "5", "--span", "0.5"],
    ));
    assert!(
        out.contains("1 slice computed") && out.contains("3 up to date"),
        "{out}"
    );
    assert_eq!(std::fs::read(&stale).unwrap(), before[names[2]].0);

    // Another grid makes every slice stale; --runs picks runs by id.
    let plain1 = results
        .keys()
        .find(|id| id.contains("-plain-") && id.contains("-seed1-"))
        .unwrap();
    let out = ok(run_in(
        cwd,
        &["landscape", "runs/land", "--runs", plain1, "--grid", "3"],
    ));
    assert!(out.contains("2 slices computed"), "{out}");
    assert_eq!(
        table_counts(cwd, "runs/land"),
        vec![
            (plain1.clone(), "final".to_string(), 9),
            (plain1.clone(), "init".to_string(), 9)
        ]
    );
    let (chosen, kept) = last_slices(&SweepDir::open(&sweep).unwrap()).unwrap();
    assert_eq!(
        (chosen[0].run_id.as_str(), kept.len()),
        (plain1.as_str(), 2)
    );
    let out = ok(run_in(cwd, &["landscape", "runs/land", "--grid", "3"]));
    assert!(out.contains("4 slices computed"), "{out}");
    assert!(table_counts(cwd, "runs/land")
        .iter()
        .all(|(_, _, n)| *n == 9));
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    sweep_file(cwd, "s.toml", &small_sweep("landbad", 10, 1));
    ok(run_in(cwd, &["run", "s.toml", "--quiet"]));
    // A sweep directory with no finished runs: the frozen sweep alone.
    std::fs::create_dir_all(cwd.join("runs/none")).unwrap();
    std::fs::copy(
        cwd.join("runs/landbad/sweep.toml"),
        cwd.join("runs/none/sweep.toml"),
    )
    .unwrap();
    let id = raw_results(&cwd.join("runs/landbad"))
        .into_keys()
        .next()
        .unwrap();
    let typo = format!("{}x", &id[..id.len() - 1]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["runs/none"], "no finished runs"),
        (vec!["runs/landbad", "--runs", "nope"], "unknown run nope"),
        (vec!["runs/landbad", "--runs", &typo], "did you mean"),
        (vec!["runs/landbad", "--grid", "2"], "--grid 2"),
        (vec!["runs/landbad", "--grid", "202"], "--grid 202"),
        (vec!["runs/landbad", "--span", "0"], "--span 0"),
        (vec!["runs/landbad", "--span", "-1"], "--span -1"),
        (vec!["runs/landbad", "--span", "NaN"], "--span NaN"),
        (vec!["runs/landbad", "--span", "inf"], "--span inf"),
        (vec!["runs/landbad", "--jobs", "0"], "--jobs"),
        (vec!["runs/missing"], "does not exist"),
    ];
    let before = snapshot(cwd);
    for (args, want) in cases {
        let mut full = vec!["landscape"];
        full.extend(&args);
        let o = run_in(cwd, &full);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    let after = snapshot(cwd);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    assert!(before.iter().all(|(k, v)| after[k] == *v), "a file changed");
}
