//! Writing a command's report to stdout. A reader that went away (a closed pipe, as with
//! `relive check | head`) is not an error: the rest of the report is dropped and the
//! command's exit code stands. Any other write error is one.

use std::io::Write;

/// Writes `text` to stdout and flushes it.
pub(super) fn emit(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
