//! Makes the binaries run the interpreter they were built against.
//!
//! pyo3-ffi's own rpath flag never reaches dependent crates, so without this the loader picks
//! whatever libpython the system has, silently (see the toolchain notes). The build
//! interpreter's path is baked in so start-up can hand it to PyConfig as the program name,
//! which fixes `sys.prefix` and the standard library whatever `PATH` says at run time.
//!
//! An extension-module build (`PYO3_BUILD_EXTENSION_MODULE`, set by maturin) links no
//! libpython and needs no rpath: the host interpreter is already running. pyo3's cfgs
//! (`Py_LIMITED_API` for the abi3 wheel) are emitted so `python.rs` can tell.
fn main() {
    let config = pyo3_build_config::get();
    pyo3_build_config::use_pyo3_cfgs();
    // Adds nothing for an extension-module build, which links no libpython.
    pyo3_build_config::add_libpython_rpath_link_args();
    pyo3_build_config::add_extension_module_link_args();
    if let Some(executable) = config.executable() {
        println!("cargo:rustc-env=RELIVE_PYTHON_EXECUTABLE={executable}");
    }
    println!("cargo:rustc-env=RELIVE_PYTHON_VERSION={}.{}", config.version().major, config.version().minor);
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PYO3_BUILD_EXTENSION_MODULE");
    println!("cargo:rerun-if-changed=build.rs");
}
