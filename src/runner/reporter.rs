//! The one thread that owns the terminal while a sweep runs.
//!
//! On a terminal: an indicatif overall bar (runs done/total, with those done before and
//! those resumed from checkpoints; elapsed; an ETA from the training steps done, so it
//! holds when a vectorized batch finishes several runs at once) and one line per busy
//! worker (its run with step and loss, or its batch). Lines are cut to the terminal's
//! width, never wrapped. Elsewhere (CI, pipes, cluster logs): a plain progress line at
//! most every 5 s (`RESWEEP_PROGRESS_EVERY` seconds when set), plus failures and warnings
//! as they happen. The Ctrl-C notice
//! is printed above the bars, where redrawing does not erase it.

use super::{Event, RunOutcome};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between plain progress lines, unless `RESWEEP_PROGRESS_EVERY` says otherwise.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Time between plain progress lines: `RESWEEP_PROGRESS_EVERY` seconds when it is set to
/// a number ≥ 0 (a cluster log may want fewer lines, a test more), else [`PLAIN_EVERY`].
fn plain_every() -> Duration {
    std::env::var("RESWEEP_PROGRESS_EVERY")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map_or(PLAIN_EVERY, Duration::from_secs_f64)
}

/// How the reporter draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Live bars (stderr is a terminal).
    Bars,
    /// Plain lines on stderr.
    Plain,
    /// Nothing but failures and warnings.
    Quiet,
}

impl Mode {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn detect() -> Mode {
        if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Plain
        }
    }
}

/// Starts the reporter; it ends when every sender of the channel is dropped.
pub fn spawn(rx: Receiver<Event>, mode: Mode, jobs: usize) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("resweep-reporter".into())
        .spawn(move || {
            DRAWING.store(true, Ordering::SeqCst);
            match mode {
                Mode::Bars => bars(rx, jobs),
                Mode::Plain | Mode::Quiet => plain(rx, mode == Mode::Plain),
            }
            DRAWING.store(false, Ordering::SeqCst);
            // Asked for as the last run ended: shown now.
            if let Some(notice) = take_notice() {
                crate::errln!("{notice}");
            }
        })
        .expect("spawn the reporter thread")
}

fn loss_text(loss: Option<f64>) -> String {
    match loss {
        Some(l) => format!("loss {l:.4e}"),
        None => "loss not finite".into(),
    }
}

fn outcome_text(run_id: &str, outcome: &RunOutcome) -> Option<String> {
    match outcome {
        RunOutcome::Diverged { step } => {
            Some(format!("{run_id}: diverged at step {step} (recorded)"))
        }
        _ => None,
    }
}

/// The Ctrl-C notice was asked for ([`request_interrupt_notice`]) and not shown yet.
static NOTICE: AtomicBool = AtomicBool::new(false);
/// A reporter is drawing: the notice goes through it, above the bars.
static DRAWING: AtomicBool = AtomicBool::new(false);

/// The first Ctrl-C's notice. While a reporter runs it prints the notice itself (above
/// the live bars, which would otherwise overwrite it); otherwise it is printed here.
pub fn request_interrupt_notice() {
    if DRAWING.load(Ordering::SeqCst) {
        NOTICE.store(true, Ordering::SeqCst);
    } else {
        crate::errln!("{INTERRUPT_NOTICE}");
    }
}

/// What the first Ctrl-C does.
const INTERRUPT_NOTICE: &str =
    "interrupt: finishing checkpoints of running runs (press Ctrl-C again to exit at once)";

/// The notice, once, if it was asked for.
fn take_notice() -> Option<&'static str> {
    NOTICE
        .swap(false, Ordering::SeqCst)
        .then_some(INTERRUPT_NOTICE)
}

/// Units of work per run: progress counts steps, so the ETA follows the work whether
/// runs finish one by one or a batch of them at once (`--vectorize`).
const UNITS: u64 = 1000;

/// A run being trained.
struct Busy {
    step: usize,
    steps: usize,
    from_step: usize,
    loss: Option<f64>,
}

impl Busy {
    /// Units of this session's work done.
    fn units(&self) -> u64 {
        let todo = self.steps.saturating_sub(self.from_step).max(1);
        let done = self.step.saturating_sub(self.from_step).min(todo);
        UNITS * done as u64 / todo as u64
    }
}

/// Progress of the sweep as the reporter sees it.
#[derive(Default)]
struct Tally {
    total: usize,
    done_before: usize,
    pending: usize,
    finished: usize,
    failed: usize,
    resumed: usize,
    /// Busy runs per worker (a vectorized worker trains several), by run id.
    busy: BTreeMap<usize, BTreeMap<String, Busy>>,
}

impl Tally {
    fn units(&self) -> u64 {
        UNITS * self.finished as u64
            + self
                .busy
                .values()
                .flat_map(|runs| runs.values())
                .map(Busy::units)
                .sum::<u64>()
    }

    /// `12/40 runs (20 done before, 3 resumed from checkpoints, 1 failed)`.
    fn counts(&self) -> String {
        let mut extra = Vec::new();
        if self.done_before > 0 {
            extra.push(format!("{} done before", self.done_before));
        }
        if self.resumed > 0 {
            extra.push(format!("{} resumed from checkpoints", self.resumed));
        }
        if self.failed > 0 {
            extra.push(format!("{} failed", self.failed));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        format!(
            "{}/{} runs{extra}",
            self.done_before + self.finished,
            self.total
        )
    }

    /// A worker's line: its run, or its batch (`batch of 4: step 120/500, d20-res-…-seed0
    /// +3`).
    fn worker_line(&self, w: usize) -> String {
        let Some(runs) = self.busy.get(&w).filter(|r| !r.is_empty()) else {
            return "idle".into();
        };
        let (first, b) = runs.iter().next().expect("not empty");
        if runs.len() == 1 {
            if b.step == b.from_step {
                let resumed = if b.from_step > 0 { " (resumed)" } else { "" };
                return format!("{first}  step {}/{}{resumed}", b.step, b.steps);
            }
            return format!(
                "{first}  step {}/{}  {}",
                b.step,
                b.steps,
                loss_text(b.loss)
            );
        }
        let min = runs.values().map(|b| b.step).min().unwrap_or(0);
        let steps = runs.values().map(|b| b.steps).max().unwrap_or(0);
        format!(
            "batch of {}: step {min}/{steps}  {first} +{}",
            runs.len(),
            runs.len() - 1
        )
    }

    /// Applies an event; returns a line to print above the progress, if any.
    fn apply(&mut self, event: Event) -> (Option<usize>, Option<String>) {
        match event {
            Event::Plan {
                total,
                done,
                pending,
            } => {
                (self.total, self.done_before, self.pending) = (total, done, pending);
                (None, None)
            }
            Event::Started {
                worker,
                run_id,
                steps,
                from_step,
            } => {
                if from_step > 0 {
                    self.resumed += 1;
                }
                self.busy.entry(worker).or_default().insert(
                    run_id,
                    Busy {
                        step: from_step,
                        steps,
                        from_step,
                        loss: None,
                    },
                );
                (Some(worker), None)
            }
            Event::Progress {
                worker,
                run_id,
                step,
                loss,
                ..
            } => {
                if let Some(b) = self.busy.get_mut(&worker).and_then(|r| r.get_mut(&run_id)) {
                    (b.step, b.loss) = (step, loss);
                }
                (Some(worker), None)
            }
            Event::Finished {
                worker,
                run_id,
                outcome,
            } => {
                if let Some(runs) = self.busy.get_mut(&worker) {
                    runs.remove(&run_id);
                }
                if outcome != RunOutcome::Interrupted {
                    self.finished += 1;
                }
                (Some(worker), outcome_text(&run_id, &outcome))
            }
            Event::Failed {
                worker,
                run_id,
                reason,
            } => {
                if let Some(runs) = self.busy.get_mut(&worker) {
                    runs.remove(&run_id);
                }
                self.failed += 1;
                self.finished += 1;
                (Some(worker), Some(format!("{run_id}: FAILED: {reason}")))
            }
            Event::Warning(text) => (None, Some(format!("warning: {text}"))),
        }
    }
}

fn bars(rx: Receiver<Event>, jobs: usize) {
    let multi = MultiProgress::new();
    let overall = multi.add(ProgressBar::new(0));
    // `wide_msg` takes what is left of the terminal's width and is cut there: no line
    // wraps, at 80 columns or less.
    overall.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:20.cyan/blue}] {elapsed_precise}, ETA {eta_precise}  {wide_msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    overall.set_prefix("sweep");
    overall.enable_steady_tick(Duration::from_millis(200));
    let worker_style =
        ProgressStyle::with_template("{prefix:>8} {wide_msg}").expect("valid template");
    let workers: Vec<ProgressBar> = (0..jobs.max(1))
        .map(|i| {
            let pb = multi.add(ProgressBar::new(0));
            pb.set_style(worker_style.clone());
            pb.set_prefix(format!("worker {i}"));
            pb.set_message("idle");
            pb
        })
        .collect();
    let mut tally = Tally::default();
    loop {
        if let Some(notice) = take_notice() {
            let _ = multi.println(notice);
        }
        let event = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let (worker, line) = tally.apply(event);
        if let Some(line) = line {
            let _ = multi.println(line);
        }
        if let Some(w) = worker {
            workers[w.min(workers.len() - 1)].set_message(tally.worker_line(w));
        }
        overall.set_length(UNITS * tally.pending as u64);
        overall.set_position(tally.units());
        overall.set_message(tally.counts());
    }
    for pb in &workers {
        pb.finish_and_clear();
    }
    overall.finish_and_clear();
}

fn plain(rx: Receiver<Event>, progress_lines: bool) {
    let start = Instant::now();
    let every = plain_every();
    let mut last_line = Instant::now();
    let mut tally = Tally::default();
    let line = |tally: &Tally| {
        let elapsed = start.elapsed().as_secs_f64();
        let units = tally.units();
        let todo = UNITS * tally.pending as u64;
        let eta = if units > 0 && todo > units {
            format!(
                ", ETA {:.0} s",
                elapsed / units as f64 * (todo - units) as f64
            )
        } else {
            String::new()
        };
        let workers: Vec<String> = tally
            .busy
            .keys()
            .map(|w| tally.worker_line(*w))
            .filter(|l| l != "idle")
            .collect();
        crate::errln!(
            "[{}, {elapsed:.0} s elapsed{eta}] {}",
            tally.counts(),
            workers.join(" | ")
        );
    };
    loop {
        if let Some(notice) = take_notice() {
            crate::errln!("{notice}");
        }
        let event = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if let Event::Plan {
            total,
            done,
            pending,
        } = &event
        {
            if progress_lines {
                crate::errln!("{total} runs: {done} already done, {pending} to run");
            }
        }
        if let (_, Some(text)) = tally.apply(event) {
            crate::errln!("{text}");
        }
        if progress_lines && last_line.elapsed() >= every {
            last_line = Instant::now();
            line(&tally);
        }
    }
    if progress_lines && tally.pending > 0 {
        line(&tally);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(worker: usize, run_id: &str, from_step: usize) -> Event {
        Event::Started {
            worker,
            run_id: run_id.into(),
            steps: 100,
            from_step,
        }
    }

    #[test]
    fn a_batch_worker_shows_its_batch_and_progress_counts_steps() {
        let mut t = Tally::default();
        t.apply(Event::Plan {
            total: 6,
            done: 2,
            pending: 4,
        });
        for id in ["run-a", "run-b", "run-c"] {
            t.apply(started(0, id, 0));
        }
        t.apply(started(1, "run-d", 50));
        for id in ["run-a", "run-b", "run-c"] {
            t.apply(Event::Progress {
                worker: 0,
                run_id: id.into(),
                step: if id == "run-c" { 40 } else { 60 },
                steps: 100,
                loss: Some(0.5),
            });
        }
        assert_eq!(t.worker_line(0), "batch of 3: step 40/100  run-a +2");
        assert_eq!(t.worker_line(1), "run-d  step 50/100 (resumed)");
        assert_eq!(t.worker_line(2), "idle");
        // Steps, not runs: 0.6 + 0.6 + 0.4 of three runs, the resumed one just begun.
        assert_eq!(t.units(), 1600);
        assert_eq!(
            t.counts(),
            "2/6 runs (2 done before, 1 resumed from checkpoints)"
        );
        // A batch finishing at once moves the work by what was left, not by 3 runs.
        for id in ["run-a", "run-b", "run-c"] {
            t.apply(Event::Finished {
                worker: 0,
                run_id: id.into(),
                outcome: RunOutcome::Completed,
            });
        }
        assert_eq!(t.units(), 3000);
        assert_eq!(
            t.counts(),
            "5/6 runs (2 done before, 1 resumed from checkpoints)"
        );
    }
}
