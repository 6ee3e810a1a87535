//! Integration tests, one module per capability, all through the public Rust API with real
//! temp folders and the real interpreter.

mod callbacks;
mod cli;
mod dependents;
mod faults;
mod interpreter;
mod leaks;
mod load;
mod load_errors;
mod oracle;
mod pending;
mod pieces;
mod plain_tests;
mod property;
mod python_host;
mod python_package;
mod r8a;
mod r8b_property;
mod testgate;
mod threads;
mod twins;
mod update;
mod util;
mod verify;
mod watch;
