//! What `relive watch` prints: one line per event, coloured through `anstream`, which
//! drops the colours when stdout is not a terminal or `NO_COLOR` is set, and keeps them
//! when `CLICOLOR_FORCE` is set.

use std::collections::BTreeMap;
use std::io::Write;

use anstyle::{AnsiColor, Style};
use relive::{Outcome, ReloadReport, ScriptPath};

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const DIM: Style = Style::new().dimmed();

/// Indent of the lines that continue an event's line.
const CONTINUATION: &str = "    ";

/// The watch's output, and the scripts whose file on disk differs from the code in effect.
pub struct Paint {
    out: anstream::AutoStream<std::io::Stdout>,
    /// Scripts rejected since their last applied version: path -> version in effect.
    differs: BTreeMap<ScriptPath, Option<u32>>,
}

impl Paint {
    pub fn stdout() -> Paint {
        Paint { out: anstream::stdout(), differs: BTreeMap::new() }
    }

    /// Prints `text` as it is.
    pub fn print(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// Prints an error line in red, its further lines indented.
    pub fn error(&mut self, text: &str) {
        let text = relive::report::indent_lines(text, CONTINUATION);
        self.print(&format!("{RED}{text}{RED:#}\n"));
    }

    /// Clears the screen (`--clear`); nothing when the stream drops escapes.
    pub fn clear(&mut self) {
        self.print("\x1b[2J\x1b[H");
    }

    /// One line per event: the outcome word coloured, then what the report says, further
    /// lines of a message indented under it; then a line when the file on disk differs
    /// from the code in effect.
    pub fn event(&mut self, report: &ReloadReport) {
        let style = match report.outcome {
            Outcome::Reloaded | Outcome::Loaded => GREEN,
            Outcome::Rejected => RED,
            Outcome::Pending | Outcome::Retested => YELLOW,
            _ => Style::new(),
        };
        let rest = relive::report::indent_lines(&report.details().to_string(), CONTINUATION);
        self.print(&format!("{style}{}{style:#} {}{rest}\n", report.outcome, report.path));
        if let Some(note) = self.disk_note(report) {
            self.print(&format!("{CONTINUATION}{DIM}{note}{DIM:#}\n"));
        }
    }

    /// Tracks rejections: after one, and on each retest until a save brings the file and
    /// the code in effect together, says that they differ.
    fn disk_note(&mut self, report: &ReloadReport) -> Option<String> {
        if report.dependent {
            // Rebuilt for another script's change: its own file is the code in effect.
            return None;
        }
        match report.outcome {
            Outcome::Rejected => {
                self.differs.insert(report.path.clone(), report.version);
            }
            Outcome::Retested if self.differs.contains_key(&report.path) => {}
            _ => {
                self.differs.remove(&report.path);
                return None;
            }
        }
        let version = self.differs.get(&report.path).copied().flatten();
        let in_effect = version.map_or(String::new(), |v| format!(" (version {v})"));
        Some(format!(
            "note: {} on disk differs from the code in effect{in_effect} until a save is accepted",
            report.path
        ))
    }
}
