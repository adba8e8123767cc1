//! The progress display as a log sees it (stderr not a terminal): counts that include
//! what was done before and what continues from a checkpoint, and the Ctrl-C notice.
//! (A batch worker's line and the step-based ETA are unit tests of the reporter.)

use crate::util::*;

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
