//! The live report of `resweep run`: while the sweep runs, the tables, report.md and
//! report.html are rewritten from disk after runs finish, at most once every
//! [`MIN_INTERVAL`], on a thread of their own. report.html then says the sweep is running
//! and reloads itself; the report written when the sweep ends does not.

use crate::report::html::Live;
use crate::store::SweepDir;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The shortest time between two live rewrites.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

/// The thread that rewrites the report; told of every finished run.
pub struct LiveReport {
    tx: mpsc::Sender<()>,
    handle: JoinHandle<()>,
}

impl LiveReport {
    /// Starts the thread for the sweep in `dir` of `total` runs; `command` is the command
    /// line the report names.
    pub fn start(dir: SweepDir, total: usize, command: String) -> Self {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("resweep-live-report".into())
            .spawn(move || serve(&rx, &dir, total, &command))
            .expect("spawning the live-report thread");
        LiveReport { tx, handle }
    }

    /// A handle that tells the thread of finished runs (from another thread).
    pub fn notifier(&self) -> Notifier {
        Notifier(self.tx.clone())
    }

    /// Stops the thread (after the rewrite it may be doing) and waits for it.
    pub fn stop(self) {
        drop(self.tx);
        let _ = self.handle.join();
    }
}

/// Tells the live report that a run finished.
pub struct Notifier(mpsc::Sender<()>);

impl Notifier {
    /// A run finished (completed or diverged): its results belong in the report.
    pub fn finished_run(&self) {
        let _ = self.0.send(());
    }
}

/// Whether a rewrite is due now: a run finished since the last one, and the last one (if
/// any) was at least [`MIN_INTERVAL`] ago.
fn due(pending: bool, last: Option<Instant>, now: Instant) -> bool {
    pending && last.is_none_or(|t| now.duration_since(t) >= MIN_INTERVAL)
}

fn serve(rx: &mpsc::Receiver<()>, dir: &SweepDir, total: usize, command: &str) {
    let mut last: Option<Instant> = None;
    let mut pending = false;
    loop {
        let got = match (pending, last) {
            (true, Some(t)) => rx.recv_timeout(MIN_INTERVAL.saturating_sub(t.elapsed())),
            (true, None) => Ok(()),
            (false, _) => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match got {
            Ok(()) => pending = true,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Take every notification already queued: one rewrite covers them all.
        while rx.try_recv().is_ok() {}
        if due(pending, last, Instant::now()) {
            // Best effort: the report written when the sweep ends reports any error.
            let _ = rewrite(dir, total, command);
            last = Some(Instant::now());
            pending = false;
        }
    }
}

/// Collects the finished runs into the tables and writes the live report, under the
/// exclusive tables lock.
fn rewrite(dir: &SweepDir, total: usize, command: &str) -> anyhow::Result<()> {
    let _tables = dir.lock_tables(true)?;
    let c = crate::analysis::collect(dir)?;
    crate::report::build::build_with(dir, &c, command, Some(Live { total }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_wait_for_a_finished_run_and_the_interval() {
        let t0 = Instant::now();
        assert!(!due(false, None, t0), "nothing finished");
        assert!(
            due(true, None, t0),
            "the first finished run is shown at once"
        );
        assert!(!due(true, Some(t0), t0 + Duration::from_secs(9)));
        assert!(due(true, Some(t0), t0 + MIN_INTERVAL));
        assert!(!due(false, Some(t0), t0 + Duration::from_secs(60)));
    }
}
