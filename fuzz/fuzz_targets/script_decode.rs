//! Fuzzes script decoding and compiling (E1: PEP 263 cookies, BOMs, odd bytes): any bytes
//! compile or give a script problem, never a panic or a crash. Nothing is executed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(problem) = relive::engine::check_source(std::path::Path::new("fuzz.py"), data) {
        assert!(!problem.to_string().is_empty());
    }
});
