//! `relive watch DIR`: load with tests, then reload on every change until Ctrl-C, one
//! readable line per event; optionally call a function of the namespace every tick.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use relive::{Mode, Outcome, ReloadReport, Reloader};

/// Arguments of `relive watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The script directory.
    dir: PathBuf,
    /// Base namespace (default: the directory's name).
    #[arg(long, short)]
    namespace: Option<String>,
    /// How reloads take effect.
    #[arg(long, value_enum, default_value = "update")]
    mode: ModeArg,
    /// Do not run the scripts' unit tests (T7).
    #[arg(long)]
    no_tests: bool,
    /// Remove names a new version no longer defines instead of leaking them (R10).
    #[arg(long)]
    prune: bool,
    /// Per-script timeout in seconds for module-level code plus tests (T6).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    test_timeout: f64,
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
    let test_timeout = super::positive_seconds("--test-timeout", args.test_timeout)?;
    let tick = super::positive_seconds("--tick", args.tick)?;
    let mut reloader = Reloader::builder()
        .mode(match args.mode {
            ModeArg::Update => Mode::Update,
            ModeArg::Overwrite => Mode::Overwrite,
        })
        .tests(!args.no_tests)
        .prune(args.prune)
        .partial(true)
        .test_timeout(test_timeout)
        .verify(args.verify)
        .build()?;
    // Ctrl-C also interrupts a candidate or test running at that moment (W4).
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, interrupt) = (stop.clone(), reloader.stop_handle());
    ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        interrupt.request();
    })
    .context("cannot install the Ctrl-C handler")?;
    let report = super::load(&mut reloader, &args.dir, args.namespace.as_deref())?;
    print!("{report}");
    reloader.watch()?;
    let paint = Paint { enabled: std::io::stdout().is_terminal() };
    println!("watching {} for changes; Ctrl-C stops", args.dir.display());
    let mut next_tick = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if let Some(expression) = &args.run
            && Instant::now() >= next_tick
        {
            match reloader.evaluate(expression) {
                Ok(Some(value)) => println!("{expression} -> {value}"),
                Ok(None) => {}
                Err(failure) => println!("{}", paint.red(&format!("{expression} raised {failure}"))),
            }
            next_tick += tick;
        }
        let wait = if args.run.is_some() {
            next_tick.saturating_duration_since(Instant::now()).min(Duration::from_millis(100))
        } else {
            Duration::from_millis(100)
        };
        for report in reloader.wait_for_changes(wait)? {
            println!("{}", paint.line(&report));
        }
    }
    reloader.end_monitoring();
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// ANSI colours, only when stdout is a terminal.
struct Paint {
    enabled: bool,
}

impl Paint {
    fn colour(&self, code: &str, text: &str) -> String {
        if self.enabled { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    fn red(&self, text: &str) -> String {
        self.colour("31", text)
    }

    /// One line per event: the outcome word coloured, then what the report says.
    fn line(&self, report: &ReloadReport) -> String {
        let word = report.outcome.as_str();
        let word = match report.outcome {
            Outcome::Reloaded | Outcome::Loaded => self.colour("32", word),
            Outcome::Rejected => self.colour("31", word),
            Outcome::Pending | Outcome::Retested => self.colour("33", word),
            _ => word.to_string(),
        };
        let text = report.to_string();
        let rest = text.split_once(": ").map(|(_, rest)| rest).unwrap_or("");
        let rest = rest.strip_prefix(report.outcome.as_str()).unwrap_or(rest);
        format!("{word} {}{rest}", report.path)
    }
}
