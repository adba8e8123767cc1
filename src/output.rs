//! The process's standard output and standard error: every line a command prints goes
//! through here, so that a closed pipe (`resweep plan | head -1`) or a full disk
//! (`> /dev/full`) never panics, as `println!` would.
//!
//! Writes never fail the caller: the first error on each stream is recorded, later
//! writes to that stream are skipped, and the command finishes its work (tables and
//! reports on disk are never left half-written because a terminal went away). At exit,
//! [`exit_code`] turns what was recorded into the process's exit code, as ripgrep does:
//! a closed pipe ends quietly, with the command's own exit code (0 when its work
//! succeeded); any other write error gives one line on
//! standard error (when it can still be written) and exit code 1.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The first write error on standard output, if any.
static STDOUT_ERROR: Mutex<Option<io::Error>> = Mutex::new(None);
/// The first write error on standard error, if any.
static STDERR_ERROR: Mutex<Option<io::Error>> = Mutex::new(None);

/// `--quiet`: the human-readable output of [`out!`] and [`outln!`] is not printed.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Turns `--quiet` on or off for the process.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Prints to standard output (never panics; see the module doc); nothing under
/// `--quiet`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { if !$crate::output::quiet() { $crate::output::write_stdout(format_args!($($arg)*)) } };
}

/// Prints a line to standard output (never panics; see the module doc); nothing under
/// `--quiet`.
#[macro_export]
macro_rules! outln {
    () => { if !$crate::output::quiet() { $crate::output::write_stdout(format_args!("\n")) } };
    ($($arg:tt)*) => { if !$crate::output::quiet() { $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) } };
}

/// Prints a line of data that was asked for (`--json`) to standard output, `--quiet` or
/// not (never panics).
#[macro_export]
macro_rules! dataln {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints a line to standard error (never panics; see the module doc).
#[macro_export]
macro_rules! errln {
    () => { $crate::output::write_stderr(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

fn failed(slot: &Mutex<Option<io::Error>>) -> bool {
    slot.lock().map_or(true, |s| s.is_some())
}

fn record(slot: &Mutex<Option<io::Error>>, e: io::Error) {
    if let Ok(mut s) = slot.lock() {
        s.get_or_insert(e);
    }
}

/// Writes to standard output and flushes; the first error is recorded, later writes are
/// skipped.
pub fn write_stdout(args: fmt::Arguments<'_>) {
    if failed(&STDOUT_ERROR) {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        record(&STDOUT_ERROR, e);
    }
}

/// Writes to standard error; the first error is recorded, later writes are skipped.
pub fn write_stderr(args: fmt::Arguments<'_>) {
    if failed(&STDERR_ERROR) {
        return;
    }
    let mut err = io::stderr().lock();
    if let Err(e) = err.write_fmt(args).and_then(|()| err.flush()) {
        record(&STDERR_ERROR, e);
    }
}

/// A writer onto standard output for bulk output (tables, CSV, JSON): errors are
/// recorded as for [`write_stdout`] and returned to the caller, which stops writing.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if failed(&STDOUT_ERROR) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "standard output failed earlier",
            ));
        }
        io::stdout().lock().write(buf).inspect_err(|e| {
            record(&STDOUT_ERROR, io::Error::new(e.kind(), e.to_string()));
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        if failed(&STDOUT_ERROR) {
            return Ok(());
        }
        io::stdout().lock().flush().inspect_err(|e| {
            record(&STDOUT_ERROR, io::Error::new(e.kind(), e.to_string()));
        })
    }
}

/// Standard output was closed by its reader (a pipe into `head`): the command's output
/// is no longer wanted, which is not an error.
pub fn stdout_closed() -> bool {
    STDOUT_ERROR.lock().is_ok_and(|s| {
        s.as_ref()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// A write to standard output failed (closed or otherwise); [`exit_code`] reports it.
pub fn stdout_failed() -> bool {
    failed(&STDOUT_ERROR)
}

/// The exit code for a command that would exit with `code`, given what happened to the
/// standard streams: a closed standard output changes nothing (quietly); any other write
/// error on standard output means exit code 1, with one line saying so on standard
/// error; a failed standard error turns success into exit code 1 (other codes stay).
pub fn exit_code(code: u8) -> ExitCode {
    let _ = io::stdout().lock().flush();
    if stdout_closed() {
        // Nobody reads the output any more, which is no error: the command's own code.
        return ExitCode::from(code);
    }
    let out_err = STDOUT_ERROR.lock().ok().and_then(|mut s| s.take());
    if let Some(e) = out_err {
        write_stderr(format_args!(
            "error: cannot write to standard output: {e}\n"
        ));
        return ExitCode::from(1);
    }
    let err_failed = STDERR_ERROR.lock().is_ok_and(|s| {
        s.as_ref()
            .is_some_and(|e| e.kind() != io::ErrorKind::BrokenPipe)
    });
    if err_failed && code == 0 {
        // Nothing can say so any more; the exit code does.
        return ExitCode::from(1);
    }
    ExitCode::from(code)
}
