//! report.html in a real browser: headless Chromium opens the page from `file://` with
//! `#selftest`, which makes the page exercise itself (draw every figure, hide a legend
//! entry, hover, drag to zoom and switch to linear axes on the loss curves, sort and filter
//! the runs table, open a run in the drill-down) and write what it
//! measured into the DOM; `--dump-dom` hands that back. Chromium's log carries every
//! console message (errors, blocked or failed requests), and the page logs nothing of its
//! own, so any console line fails the test. Where no Chromium is installed the tests say
//! so and skip (`.ci/run` installs Debian's `chromium`).

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Chromium binary, or `None` (after saying why) when there is none.
fn chromium() -> Option<PathBuf> {
    let names = ["chromium", "chromium-browser", "google-chrome", "chrome"];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    eprintln!(
        "skipped: no Chromium on PATH (looked for {}); install Debian's `chromium` to run the browser tests",
        names.join(", ")
    );
    None
}

/// Chromium's headless arguments, with a profile of its own in `profile`.
fn headless(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=15000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Opens `html` with `#selftest` and returns the page's own report, after checking that
/// the browser logged no console message (errors, blocked or failed requests).
fn self_test(browser: &Path, html: &Path) -> Value {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}#selftest", html.canonicalize().unwrap().display());
    let out = headless(browser, profile.path())
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let (dom, log) = text(&out);
    assert!(out.status.success(), "chromium failed: {log}");
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("net::ERR"))
        .collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let start = dom
        .find("<pre id=\"selftest\"")
        .unwrap_or_else(|| panic!("the self-test wrote no result; log:\n{log}"));
    let body = &dom[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</pre>").unwrap()];
    let json = body
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["errors"], serde_json::json!([]), "page errors: {v}");
    assert_eq!(v["resources"], 0, "the page requested something: {v}");
    v
}

/// Checks every figure drew, the legend hides and restores a group, hovering, zooming and
/// the log toggle work, the runs table sorts and filters, and the drill-down draws; returns the report's figure titles by kind.
fn check_interactions(v: &Value, html: &str) -> Vec<(String, String)> {
    let figures = v["figures"].as_array().unwrap();
    assert_eq!(
        figures.len(),
        html.matches("<figure class=\"chart\" data-figure=").count(),
        "every chart container was drawn: {v}"
    );
    assert!(!html.contains("<img"), "every figure is interactive");
    for f in figures {
        assert!(
            f["canvases"].as_u64().unwrap() > 0 && f["ink"].as_u64().unwrap() > 100,
            "figure drew nothing: {f}"
        );
    }
    let l = &v["legend"];
    assert!(l["series_before"].as_u64().unwrap() > 0, "{l}");
    assert_eq!(l["series_after"], 0, "hidden group still shown: {l}");
    let before = l["pixels_before"].as_u64().unwrap();
    assert!(before > 0, "the group's colour was not drawn: {l}");
    assert!(
        l["pixels_after"].as_u64().unwrap() * 20 <= before,
        "hiding the group did not remove its pixels: {l}"
    );
    assert_eq!(l["pixels_restored"], before, "showing it again: {l}");
    // Hovering the loss curves names the step, each group, its value and n.
    let hover = v["hover"]["text"].as_str().unwrap();
    assert!(hover.starts_with("step "), "{hover}");
    assert!(
        hover.contains(l["label"].as_str().unwrap()) && hover.contains("n = "),
        "{hover}"
    );
    // Dragging over 20–60% of the plot's width zooms into that part of the steps.
    let z = &v["zoom"];
    let (b0, b1) = (
        z["before"][0].as_f64().unwrap(),
        z["before"][1].as_f64().unwrap(),
    );
    let (a0, a1) = (
        z["after"][0].as_f64().unwrap(),
        z["after"][1].as_f64().unwrap(),
    );
    assert!(
        b0 < a0 && a1 < b1 && (a1 - a0) < 0.6 * (b1 - b0),
        "no zoom: {z}"
    );
    // The log toggle switches every panel to linear axes and back (uPlot's distr 3 / 1).
    let t = &v["log_toggle"];
    let all = |k: &str, d: u64| {
        let a = t[k].as_array().unwrap();
        !a.is_empty() && a.iter().all(|x| x == d)
    };
    assert!(
        all("before", 3) && all("toggled", 1) && all("back", 3),
        "{t}"
    );
    let s = &v["sort"];
    assert!(s["rows"].as_u64().unwrap() >= 2, "{s}");
    for k in ["reordered", "ordered", "same_rows"] {
        assert_eq!(s[k], true, "sorting: {s}");
    }
    assert_eq!(v["filter"]["visible"], 1, "{v}");
    assert_eq!(v["filter"]["all_match"], true, "{v}");
    let d = &v["drill"];
    assert_eq!(d["figures"], 3, "loss, gradients, activations: {d}");
    for ink in d["ink"].as_array().unwrap() {
        assert!(ink.as_u64().unwrap() > 100, "drill-down drew nothing: {d}");
    }
    figures
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["title"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A sweep shaped like the default one (both arms, two init scales, paired seeds), small.
fn default_like(name: &str) -> String {
    format!(
        r#"name = "{name}"
[model]
depth = 6
width = 16
[train]
batch_size = 16
steps = 60
[task]
eval_size = 64
[probe]
eval_every = 10
probe_every = 10
[grid]
residual = [false, true]
init_scale = ["1/sqrt(depth)", 1.0]
seed = {{ start = 0, count = 3 }}
"#
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_default_like_report_works_in_a_browser_and_can_be_screenshot() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &default_like("browser"));
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let sweep = dir.path().join("runs/browser");
    let path = sweep.join("report.html");
    let html = read(&path);
    assert!(
        html.contains("\"live\":null"),
        "a finished report never reloads"
    );
    let figures = check_interactions(&self_test(&browser, &path), &html);
    let kinds: Vec<&str> = figures.iter().map(|(k, _)| k.as_str()).collect();
    for k in ["bands", "heatmaps", "pairs"] {
        assert!(kinds.contains(&k), "no {k} figure: {kinds:?}");
    }
    // The page carries report.md's readings: every bullet's bold label and numbers.
    let md = read(&sweep.join("report.md"));
    for line in md.lines().filter(|l| l.starts_with("- **")) {
        let label = &line[4..line[4..].find("**").unwrap() + 4];
        assert!(html.contains(label), "{label} missing from report.html");
    }
    for n in ["n = 3", "pairs"] {
        assert!(html.contains(n), "{n}");
    }
    // `aggregate` and `report` rewrite it from the same data: same bytes but the date line.
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.contains("report written by"))
            .collect()
    };
    ok(run_in(dir.path(), &["report", "runs/browser"]));
    assert_eq!(
        strip(&read(&path)),
        strip(&html),
        "report.html is deterministic"
    );
    std::fs::remove_file(&path).unwrap();
    ok(run_in(dir.path(), &["aggregate", "runs/browser"]));
    assert!(path.is_file(), "aggregate writes report.html");

    let profile = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let out = headless(&browser, profile.path())
        .arg("--window-size=1280,2400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", path.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 50_000,
        "a near-blank screenshot: {} bytes",
        png.len()
    );
}

/// Depth 50 takes the PlainMLP's gradients and activations down to ~1e-43: log axes
/// spanning some 45 decades (uPlot's own log ticks failed on those).
#[test]
fn a_depth_sweep_report_works_in_a_browser() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let body = small_sweep("depthhtml", 30, 2).replace(
        "residual = [false, true]",
        "residual = [false, true]\ndepth = [2, 10, 50]",
    );
    sweep_file(dir.path(), "s.toml", &body);
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let path = dir.path().join("runs/depthhtml/report.html");
    let figures = check_interactions(&self_test(&browser, &path), &read(&path));
    assert!(
        figures
            .iter()
            .any(|(k, t)| k == "error_bars" && t.contains("depth")),
        "no depth figure: {figures:?}"
    );
}

/// A page that must load without errors and draw its figures, whatever its sweep.
fn loads(browser: &Path, path: &Path) -> Value {
    let v = self_test(browser, path);
    assert!(!v["figures"].as_array().unwrap().is_empty(), "{v}");
    v
}

#[test]
fn diverged_one_armed_and_half_finished_sweeps_load_without_errors() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Diverged runs: SGD at learning rate 5 blows half of them up within a few steps.
    let diverged = default_like("diverged").replace(
        "batch_size = 16",
        "optimizer = \"sgd\"\nlr = 5.0\nbatch_size = 16",
    );
    sweep_file(dir.path(), "d.toml", &diverged);
    ok(run_in(dir.path(), &["run", "d.toml", "--quiet"]));
    let path = dir.path().join("runs/diverged/report.html");
    let html = read(&path);
    assert!(
        html.contains("seeds diverged (their curves stop there)"),
        "the figure's note"
    );
    assert!(
        html.contains("<td>diverged</td>"),
        "the runs table's status"
    );
    loads(&browser, &path);

    // No residual axis: one arm, no paired seeds.
    let one_arm = default_like("onearm").replace("residual = [false, true]\n", "");
    sweep_file(dir.path(), "o.toml", &one_arm);
    ok(run_in(dir.path(), &["run", "o.toml", "--quiet"]));
    let v = loads(&browser, &dir.path().join("runs/onearm/report.html"));
    assert!(v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["kind"] != "pairs"));

    // Half finished: one shard of two, then the tables and the report.
    sweep_file(dir.path(), "h.toml", &default_like("half"));
    ok(run_in(
        dir.path(),
        &["run", "h.toml", "--quiet", "--shard", "1/2"],
    ));
    assert!(
        !dir.path().join("runs/half/report.html").exists(),
        "a shard leaves the report to aggregate"
    );
    ok(run_in(dir.path(), &["aggregate", "runs/half"]));
    let path = dir.path().join("runs/half/report.html");
    let html = read(&path);
    assert!(html.contains("\"live\":null"));
    let v = loads(&browser, &path);
    let total: usize = 12;
    let rows = v["sort"]["rows"].as_u64().unwrap() as usize;
    assert!(
        rows > 0 && rows < total,
        "{rows} runs of {total} in the table"
    );
}

#[test]
fn the_report_is_live_while_the_sweep_runs_and_still_once_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &long_sweep("livehtml", 3));
    let path = dir.path().join("runs/livehtml/report.html");
    let mut child = spawn(dir.path(), &["run", "s.toml", "--quiet", "--jobs", "1"]);
    // The first finished run is shown at once; the sweep goes on for several more.
    let start = std::time::Instant::now();
    let live = loop {
        if let Ok(html) = std::fs::read_to_string(&path) {
            break html;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before any live report was written"
        );
        assert!(start.elapsed().as_secs() < 120, "no live report");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        live.contains("id=\"live\""),
        "the live page says the sweep runs"
    );
    assert!(live.contains("\"reload_ms\":10000"), "and reloads itself");
    assert!(live.contains("of 6 runs are complete"));
    if let Some(browser) = chromium() {
        self_test(&browser, &path);
    }
    assert!(child.wait().unwrap().success());
    let done = read(&path);
    assert!(
        done.contains("\"live\":null") && !done.contains("id=\"live\""),
        "a finished report never reloads"
    );
}
