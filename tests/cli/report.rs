//! Figures and report.md: valid PNGs of the expected size with real content, and every
//! link of the report resolves — also for a sweep with one arm only.

use crate::util::*;
use std::path::Path;

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "not a PNG"
    );
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Markdown link targets of a report.
fn links(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in md.match_indices("](") {
        let rest = &md[i + 2..];
        out.push(rest[..rest.find(')').unwrap()].to_string());
    }
    out
}

fn check_report(sweep_dir: &Path, expected_figures: &[&str]) -> String {
    let md = std::fs::read_to_string(sweep_dir.join("report.md")).unwrap();
    let targets = links(&md);
    assert!(!targets.is_empty());
    for t in &targets {
        assert!(!t.starts_with('/'), "absolute link {t}");
        assert!(sweep_dir.join(t).exists(), "report.md links to missing {t}");
    }
    for f in expected_figures {
        let path = sweep_dir.join("plots").join(f);
        assert!(
            targets.iter().any(|t| t == &format!("plots/{f}")),
            "{f} not linked"
        );
        let bytes = std::fs::read(&path).unwrap();
        let (w, h) = png_size(&bytes);
        assert!(w >= 600 && h >= 500, "{f}: {w}x{h}");
        // A blank or near-blank image compresses to almost nothing.
        assert!(bytes.len() > 20_000, "{f}: only {} bytes", bytes.len());
    }
    md
}

#[test]
fn the_report_of_a_two_arm_sweep_has_every_figure_and_its_readings() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &small_sweep("reported", 40, 3));
    let out = ok(run_in(dir.path(), &["run", "s.toml"]));
    assert!(out.contains("report: runs/reported/report.md"), "{out}");
    let md = check_report(
        &dir.path().join("runs/reported"),
        &[
            "loss.png",
            "gradients.png",
            "activations.png",
            "gradient_flow.png",
            "dead_units.png",
            "paired_seeds.png",
        ],
    );
    assert!(
        md.contains("fair: only residual differs (false vs true) across 6 runs in 3 pairs"),
        "{md}"
    );
    assert!(
        md.contains("eval loss") && md.contains("at step 0 →"),
        "{md}"
    );
    assert!(md.contains("## Reproducibility") && md.contains("resweep version of the runs"));

    // `resweep report` regenerates it from disk.
    std::fs::remove_dir_all(dir.path().join("runs/reported/plots")).unwrap();
    ok(run_in(dir.path(), &["report", "runs/reported"]));
    check_report(
        &dir.path().join("runs/reported"),
        &["loss.png", "paired_seeds.png"],
    );
}

#[test]
fn a_plain_only_sweep_and_a_depth_sweep_still_get_sensible_reports() {
    let dir = tempfile::tempdir().unwrap();
    let plain =
        small_sweep("plain_only", 20, 2).replace("residual = [false, true]", "depth = [2, 3]");
    sweep_file(dir.path(), "s.toml", &plain);
    ok(run_in(dir.path(), &["run", "s.toml", "--quiet"]));
    let md = check_report(
        &dir.path().join("runs/plain_only"),
        &["loss.png", "gradients.png", "activations.png", "depth.png"],
    );
    assert!(md.contains("Not drawn: `residual` is not an axis"), "{md}");
    assert!(md.contains("PlainMLP, depth=2"), "{md}");
}
