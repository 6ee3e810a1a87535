//! `relive watch DIR`: load with tests, then reload on every change until Ctrl-C, one
//! readable line per event (a multi-line message indented under it); optionally call a
//! function of the namespace every tick.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use relive::{Mode, Reloader};

use super::paint::Paint;

/// The watch's default `--delay`. Measured (issue 14): an editor's save followed by a
/// formatter run as a Python process rewrites the file 39-59 ms later; over 12 such saves,
/// a 20 ms window reloaded 24 times (the unformatted version first, tested and possibly
/// rejected), 50 ms 14 times, 80 ms 12-13, 90 and 100 ms 12 times: once per save. 90 ms
/// keeps within the contract's "tens of milliseconds" (W1). The library keeps its 20 ms
/// (`ReloaderBuilder::watch_window`).
const DEFAULT_DELAY_MS: u64 = 90;

/// Arguments of `relive watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    common: super::config::Common,
    /// How reloads take effect: update keeps classes and functions (their identity) and
    /// patches them; overwrite replaces a script's names with the new version's.
    /// [default: update]
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Remove names a new version no longer defines instead of leaving them in place.
    #[arg(long)]
    prune: bool,
    /// Milliseconds without a file event before a burst of changes is reloaded
    /// [default: 90].
    #[arg(long, value_name = "MS")]
    delay: Option<u64>,
    /// Clear the screen before each batch of reload lines.
    #[arg(long)]
    clear: bool,
    /// Python expression to evaluate every tick, e.g. `arena.tick()`; its value is printed.
    #[arg(long, value_name = "EXPR")]
    run: Option<String>,
    /// After each applied reload, compare the namespaces with a fresh load of the same files
    /// in a child Python and warn about every name that differs (costs one interpreter start
    /// and one fresh load per reload).
    #[arg(long)]
    verify: bool,
    /// Seconds between two evaluations of --run.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, requires = "run")]
    tick: f64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Update,
    Overwrite,
}

pub fn run(args: WatchArgs) -> anyhow::Result<ExitCode> {
    super::init_logging("warn");
    let settings = args.common.settings()?;
    super::venv::activate()?;
    let tick = super::positive_seconds("--tick", args.tick)?;
    let mode = match args.mode {
        Some(ModeArg::Update) => Mode::Update,
        Some(ModeArg::Overwrite) => Mode::Overwrite,
        None => settings.mode.unwrap_or_default(),
    };
    let delay = Duration::from_millis(args.delay.or(settings.delay).unwrap_or(DEFAULT_DELAY_MS));
    let mut reloader = Reloader::builder()
        .mode(mode)
        .tests(settings.tests)
        .prune(args.prune)
        .partial(true)
        .test_timeout(settings.test_timeout)
        .watch_window(delay)
        .verify(args.verify)
        .build()?;
    // Ctrl-C also interrupts a candidate or test running at that moment.
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, interrupt) = (stop.clone(), reloader.stop_handle());
    ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        interrupt.request();
    })
    .context("cannot install the Ctrl-C handler")?;
    let report = super::load(&mut reloader, &args.common.dir, settings.namespace.as_deref())?;
    if let Some(hint) = super::hint::namespace_hint(&report, &args.common.dir, settings.namespace.is_none()) {
        eprintln!("{hint}");
    }
    let mut paint = Paint::stdout();
    paint.print(&report.to_string());
    reloader.watch()?;
    paint.print(&format!("watching {} for changes; Ctrl-C stops\n", args.common.dir.display()));
    let mut next_tick = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if let Some(expression) = &args.run
            && Instant::now() >= next_tick
        {
            match reloader.evaluate(expression) {
                Ok(Some(value)) => paint.print(&format!("{expression} -> {value}\n")),
                Ok(None) => {}
                Err(failure) => paint.error(&format!("{expression} raised {failure}")),
            }
            next_tick += tick;
        }
        let wait = if args.run.is_some() {
            next_tick.saturating_duration_since(Instant::now()).min(Duration::from_millis(100))
        } else {
            Duration::from_millis(100)
        };
        let reports = reloader.wait_for_changes(wait)?;
        if args.clear && !reports.is_empty() {
            paint.clear();
        }
        for report in reports {
            paint.event(&report);
        }
    }
    reloader.end_monitoring();
    paint.print("stopped\n");
    Ok(ExitCode::SUCCESS)
}
