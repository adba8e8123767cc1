//! The one thread that owns the terminal while a sweep runs.
//!
//! On a terminal: an indicatif overall bar (runs done/total, elapsed, ETA) and one line
//! per busy worker (run id, step/steps, loss). Elsewhere (CI, pipes, cluster logs): a plain
//! progress line at most every few seconds, plus failures and warnings as they happen.

use super::{Event, RunOutcome};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Seconds between plain progress lines.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

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
        .spawn(move || match mode {
            Mode::Bars => bars(rx, jobs),
            Mode::Plain | Mode::Quiet => plain(rx, mode == Mode::Plain),
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

fn bars(rx: Receiver<Event>, jobs: usize) {
    let multi = MultiProgress::new();
    let overall = multi.add(ProgressBar::new(0));
    overall.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30.cyan/blue}] {pos}/{len} runs  {elapsed_precise} elapsed, ETA {eta_precise} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    overall.set_prefix("sweep");
    overall.enable_steady_tick(Duration::from_millis(200));
    let worker_style = ProgressStyle::with_template("{prefix:>8} {msg}").expect("valid template");
    let workers: Vec<ProgressBar> = (0..jobs.max(1))
        .map(|i| {
            let pb = multi.add(ProgressBar::new(0));
            pb.set_style(worker_style.clone());
            pb.set_prefix(format!("worker {i}"));
            pb.set_message("idle");
            pb
        })
        .collect();
    let worker = |i: usize| &workers[i.min(workers.len() - 1)];
    let mut failed = 0;
    for event in rx {
        match event {
            Event::Plan { pending, .. } => overall.set_length(pending as u64),
            Event::Started {
                worker: w,
                run_id,
                steps,
                from_step,
            } => {
                let resumed = if from_step > 0 {
                    format!(" (resumed at {from_step})")
                } else {
                    String::new()
                };
                worker(w).set_message(format!("{run_id}  step {from_step}/{steps}{resumed}"));
            }
            Event::Progress {
                worker: w,
                run_id,
                step,
                steps,
                loss,
            } => worker(w).set_message(format!(
                "{run_id}  step {step}/{steps}  {}",
                loss_text(loss)
            )),
            Event::Finished {
                worker: w,
                run_id,
                outcome,
            } => {
                if let Some(text) = outcome_text(&run_id, &outcome) {
                    let _ = multi.println(text);
                }
                if outcome != RunOutcome::Interrupted {
                    overall.inc(1);
                }
                worker(w).set_message("idle");
            }
            Event::Failed {
                worker: w,
                run_id,
                reason,
            } => {
                failed += 1;
                let _ = multi.println(format!("{run_id}: FAILED: {reason}"));
                overall.set_message(format!("({failed} failed)"));
                overall.inc(1);
                worker(w).set_message("idle");
            }
            Event::Warning(text) => {
                let _ = multi.println(format!("warning: {text}"));
            }
        }
    }
    for pb in &workers {
        pb.finish_and_clear();
    }
    overall.finish_and_clear();
}

fn plain(rx: Receiver<Event>, progress_lines: bool) {
    let start = Instant::now();
    let mut last_line = Instant::now();
    let (mut done, mut pending, mut failed) = (0usize, 0usize, 0usize);
    let mut busy: BTreeMap<usize, String> = BTreeMap::new();
    let line = |done: usize, pending: usize, failed: usize, busy: &BTreeMap<usize, String>| {
        let elapsed = start.elapsed().as_secs_f64();
        let eta = if done > 0 && pending > done {
            format!(
                ", ETA {:.0} s",
                elapsed / done as f64 * (pending - done) as f64
            )
        } else {
            String::new()
        };
        let workers: Vec<&str> = busy.values().map(String::as_str).collect();
        crate::errln!(
            "[{done}/{pending} runs, {failed} failed, {elapsed:.0} s elapsed{eta}] {}",
            workers.join(" | ")
        );
    };
    for event in rx {
        match event {
            Event::Plan {
                pending: p,
                done: d,
                total,
            } => {
                pending = p;
                if progress_lines {
                    crate::errln!("{total} runs: {d} already done, {p} to run");
                }
            }
            Event::Started {
                worker,
                run_id,
                steps,
                from_step,
            } => {
                busy.insert(worker, format!("{run_id} {from_step}/{steps}"));
            }
            Event::Progress {
                worker,
                run_id,
                step,
                steps,
                loss,
            } => {
                busy.insert(
                    worker,
                    format!("{run_id} {step}/{steps} {}", loss_text(loss)),
                );
            }
            Event::Finished {
                worker,
                run_id,
                outcome,
            } => {
                busy.remove(&worker);
                if let Some(text) = outcome_text(&run_id, &outcome) {
                    crate::errln!("{text}");
                }
                if outcome != RunOutcome::Interrupted {
                    done += 1;
                }
            }
            Event::Failed {
                worker,
                run_id,
                reason,
            } => {
                busy.remove(&worker);
                failed += 1;
                done += 1;
                crate::errln!("{run_id}: FAILED: {reason}");
            }
            Event::Warning(text) => crate::errln!("warning: {text}"),
        }
        if progress_lines && last_line.elapsed() >= PLAIN_EVERY {
            last_line = Instant::now();
            line(done, pending, failed, &busy);
        }
    }
    if progress_lines && pending > 0 {
        line(done, pending, failed, &busy);
    }
}
