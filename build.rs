//! Makes the binaries run the interpreter they were built against.
//!
//! pyo3-ffi's own rpath flag never reaches dependent crates, so without this the loader picks
//! whatever libpython the system has, silently (see the toolchain notes). The build
//! interpreter's path is baked in so start-up can hand it to PyConfig as the program name,
//! which fixes `sys.prefix` and the standard library whatever `PATH` says at run time.
fn main() {
    let config = pyo3_build_config::get();
    pyo3_build_config::add_libpython_rpath_link_args();
    if let Some(executable) = config.executable() {
        println!("cargo:rustc-env=RELIVE_PYTHON_EXECUTABLE={executable}");
    }
    println!("cargo:rustc-env=RELIVE_PYTHON_VERSION={}.{}", config.version().major, config.version().minor);
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=build.rs");
}
