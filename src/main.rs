//! The `resweep` binary: parse the command line, dispatch, map errors to exit codes
//! (0 ok, 1 failure, 2 bad input, 130 interrupted).

use clap::Parser;
use resweep::cli::{Cli, Command};
use resweep::commands;
use resweep::{errln, output};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: a training step allocates and frees the same
/// few buffer sizes thousands of times a second, and glibc's malloc served the large ones
/// (256 KB at batch 1024) with fresh mmap'd pages each time, so page faults took ~40% of a
/// batch-1024 step. Allocation does not affect results: runs stay bitwise identical.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h; the Rust bindings name no constant for
/// it): how long freed memory stays mapped before it is returned to the OS.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed pages mapped. By default mimalloc returns memory it has not reused for a
/// while (its purge delay) to the OS; the large buffers of a vectorized step (every
/// layer's activations for 16 runs) were then faulted back in as zeroed 2 MiB huge pages:
/// ~8% of the 16-run benchmark step in `clear_page`, and 1,800 instead of 999 page faults
/// for the same benchmark. Never purging keeps the process at its peak footprint (about
/// 200 MB for a sweep), which it needs anyway.
fn keep_freed_pages() {
    // SAFETY: setting an option is always allowed; mimalloc reads it at each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

fn main() -> ExitCode {
    keep_freed_pages();
    commands::pin_math_threads();
    let cli = Cli::parse();
    output::set_quiet(cli.quiet);
    let command = cli.command_or_default();
    let result = match &command {
        Command::Run(a) => commands::run::run(a),
        Command::Plan(a) => commands::run::plan(a),
        Command::Train(a) => commands::train::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Aggregate(a) => commands::analysis::aggregate(a),
        Command::Query(a) => commands::analysis::query(a),
        Command::Compare(a) => commands::analysis::compare(a),
        Command::Report(a) => commands::analysis::report(a),
        Command::Slurm(a) => commands::slurm::slurm(a),
        Command::Status(a) => commands::status::status(a),
        Command::List(a) => commands::list::list(a),
        Command::Verify(a) => commands::verify::run(a),
        Command::Landscape(a) => commands::landscape::run(a),
    };
    let code = match result {
        Ok(exit) => exit.code(),
        // Standard output is full (not closed): the error is its own, and exit_code
        // reports it in one line.
        Err(_) if output::stdout_failed() && !output::stdout_closed() => 1,
        Err(e) => {
            let (message, code) = commands::failure(&e);
            errln!("{message}");
            code
        }
    };
    output::exit_code(code)
}
