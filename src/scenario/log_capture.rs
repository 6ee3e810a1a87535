//! The `log` records of a scenario's process, captured for its transcript.

use std::sync::Mutex;

/// Log records captured for the transcript (installed by the process running scenarios).
pub struct LogCapture {
    lines: Mutex<Vec<(log::Level, String)>>,
}

static CAPTURE: LogCapture = LogCapture { lines: Mutex::new(Vec::new()) };

impl log::Log for LogCapture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = record.args().to_string();
            self.lines.lock().unwrap_or_else(|p| p.into_inner()).push((record.level(), line));
        }
    }
    fn flush(&self) {}
}

impl LogCapture {
    /// Makes this process's `log` output go to the scenario transcript.
    ///
    /// # Errors
    /// When another logger is installed already.
    pub fn install() -> Result<(), log::SetLoggerError> {
        log::set_logger(&CAPTURE)?;
        log::set_max_level(log::LevelFilter::Info);
        Ok(())
    }

    pub(super) fn take() -> Vec<(log::Level, String)> {
        std::mem::take(&mut *CAPTURE.lines.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
