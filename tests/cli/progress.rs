//! The progress display as a log sees it (stderr not a terminal): counts that include
//! what was done before and what continues from a checkpoint, the Ctrl-C notice, a batch
//! worker's line and the step-based ETA under `--vectorize`. And as a terminal sees it:
//! the bars under a pseudo-terminal (util-linux `script`) never exceed its width.

use crate::util::*;
use std::process::Command;
use std::time::Instant;

#[test]
fn progress_counts_resumed_runs_and_keeps_the_interrupt_notice() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &long_sweep("prog", 2));
    let sweep = dir.path().join("runs/prog");
    let err = interrupt(dir.path(), &sweep, &["run", "s.toml", "--jobs", "2"]);
    assert!(
        err.contains(
            "interrupt: finishing checkpoints of running runs (press Ctrl-C again to exit at once)"
        ),
        "{err}"
    );
    let o = run_in(dir.path(), &["run", "s.toml", "--jobs", "2"]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    // The last progress line: every run counted, the resumed ones named.
    let last = err
        .lines()
        .rfind(|l| l.starts_with('['))
        .unwrap_or_else(|| panic!("no progress line: {err}"));
    assert!(last.starts_with("[4/4 runs ("), "{err}");
    assert!(last.contains("resumed from checkpoints"), "{err}");
}

/// The seconds of `ETA n s` in a plain progress line, if it has one.
fn eta_seconds(line: &str) -> Option<f64> {
    let rest = &line[line.find(", ETA ")? + 6..];
    rest[..rest.find(" s]")?].parse().ok()
}

#[test]
fn a_vectorized_sweep_logs_its_batch_and_an_eta_from_the_steps_done() {
    let dir = tempfile::tempdir().unwrap();
    sweep_file(dir.path(), "s.toml", &long_sweep("vec", 2));
    let start = Instant::now();
    let o = bin()
        .current_dir(dir.path())
        .env("RESWEEP_PROGRESS_EVERY", "0.1")
        .args(["run", "s.toml", "--vectorize", "4", "--jobs", "1"])
        .output()
        .unwrap();
    let wall = start.elapsed().as_secs_f64();
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('[')).collect();
    // The one worker trains each arm's two seeds as one batch (a batch holds runs of one
    // architecture), and says so.
    let batch: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("] batch of 2: step ") && l.contains(" +1"))
        .collect();
    assert!(!batch.is_empty(), "no batch line: {err}");
    // No run has finished while the batch trains, yet the ETA is there: it counts steps,
    // not runs (counting runs it would be missing, or infinite, until the batch ends).
    let early: Vec<f64> = batch
        .iter()
        .filter(|l| l.starts_with("[0/4 runs,"))
        .filter_map(|l| eta_seconds(l))
        .collect();
    assert!(!early.is_empty(), "no ETA while the batch trains: {err}");
    // And it is sane: never more than the whole sweep took, with room for a slow start.
    for l in &lines {
        if let Some(eta) = eta_seconds(l) {
            assert!(
                eta <= 2.0 * wall + 1.0,
                "ETA {eta} s for a {wall:.1} s sweep: {l}"
            );
        }
    }
    assert!(lines.last().unwrap().starts_with("[4/4 runs,"), "{err}");
}

/// Visible lines of what a terminal was sent: escape sequences removed, and the text cut
/// where a line of the display starts (indicatif pads each line to the terminal's width
/// and lets the terminal wrap it, so lines follow one another without a newline).
fn screen_lines(raw: &[u8]) -> Vec<String> {
    let t = String::from_utf8_lossy(raw);
    let mut plain = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte. Colours (`m`) vanish; cursor moves and
            // erasures end the visible text before them.
            let mut last = ' ';
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        last = d;
                        break;
                    }
                }
            }
            if last != 'm' {
                plain.push('\n');
            }
        } else if c == '\r' {
            plain.push('\n');
        } else {
            plain.push(c);
        }
    }
    let mut out = Vec::new();
    for seg in plain.split('\n') {
        // A new display line starts at "sweep [" (the overall bar) or "worker N".
        let mut starts: Vec<usize> = seg
            .match_indices("sweep [")
            .chain(seg.match_indices("worker "))
            .map(|(i, _)| i)
            .collect();
        starts.push(0);
        starts.push(seg.len());
        starts.sort_unstable();
        starts.dedup();
        for w in starts.windows(2) {
            out.push(seg[w[0]..w[1]].to_string());
        }
    }
    out.retain(|l| !l.trim().is_empty());
    out
}

#[test]
fn terminal_bars_never_exceed_the_terminal_width() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!(
            "skipped: util-linux `script` is not installed, so no pseudo-terminal can be made"
        );
        return;
    }
    let bin_path = env!("CARGO_BIN_EXE_resweep");
    // 60 columns: the worker lines (~70 columns here) must be cut. (The overall bar's
    // fixed part, bar, elapsed and ETA, takes 52 columns; below that it wraps.)
    for (cols, name) in [(80, "tty80"), (60, "tty60")] {
        let dir = tempfile::tempdir().unwrap();
        sweep_file(dir.path(), "s.toml", &long_sweep(name, 2));
        let cmd = format!("stty cols {cols} rows 24; exec '{bin_path}' run s.toml --jobs 2");
        let o = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(dir.path())
            .env("COLUMNS", cols.to_string())
            .env_remove("RAYON_NUM_THREADS")
            .output()
            .unwrap();
        let raw = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{raw}");
        let lines = screen_lines(&o.stdout);
        // The display's lines (the closing summary after it is plain text, which a
        // terminal may wrap).
        let bars: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("sweep [") || l.starts_with("worker "))
            .collect();
        let widest = bars.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(
            widest <= cols,
            "a line of {widest} columns on a {cols}-column terminal: {:?}",
            bars.iter().find(|l| l.chars().count() > cols)
        );
        // The bars were drawn (overall bar, counts, ETA, a busy worker) ...
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("sweep [") && l.contains(", ETA ")),
            "{raw}"
        );
        // (cut to "4/4 run" at 60 columns)
        assert!(lines.iter().any(|l| l.contains("4/4 run")), "{raw}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("worker ") && l.contains("step")),
            "{raw}"
        );
        // ... and the closing summary follows them.
        assert!(
            raw.contains(&format!("sweep `{name}`: 4 runs: 4 completed")),
            "{raw}"
        );
    }
}
