//! Fuzzes the scenario file parser (scenarios.md): any text is a scenario or an error with
//! a line and column inside the text, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let compiles = |_: &str, _: bool| -> Result<(), (usize, usize, String)> { Ok(()) };
    let file = std::path::Path::new("fuzz.toml");
    if let Err(err) = relive::scenario::model::parse(file, "fuzz", text, &compiles) {
        let lines = text.lines().count().max(1);
        assert!(err.line >= 1 && err.line <= lines + 1, "line {} of {lines}: {err}", err.line);
        assert!(err.column >= 1, "{err}");
    }
});
