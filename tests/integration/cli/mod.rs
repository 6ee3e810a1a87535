//! The `relive` binary: commands, output formats and exit codes (0 ok, 1 a script or test
//! failed, 2 relive could not do what was asked, 5 no test found). One file per command.

mod check;
mod config;
mod hint;
mod junit;
mod scenario;
mod venv;
mod watch;

use std::process::{Command, Output};

pub fn relive(args: &[&str]) -> Output {
    relive_in(args, None, &[])
}

/// Runs relive with `args` in `cwd` (default: this process's), with `env` added.
pub fn relive_in(args: &[&str], cwd: Option<&std::path::Path>, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relive"));
    command.args(args).env_remove("RELIVE_LOG").env_remove("VIRTUAL_ENV");
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    command.envs(env.iter().copied()).output().expect("relive runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs Python code with the interpreter relive was built against; returns its stdout.
pub fn python(code: &str) -> String {
    let output =
        Command::new(relive::python::BUILD_PYTHON_EXECUTABLE.unwrap()).args(["-c", code]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}
