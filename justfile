# Recipes for relive. Nothing here is required: every recipe is a plain cargo command.
set shell := ["bash", "-euo", "pipefail", "-c"]

# Run every test (unit, integration, scenarios).
test:
    RUST_BACKTRACE=0 cargo test

# CI: the whole suite against every CPython in .ci/python-versions that pyenv has
# (3.11 required), each in its own target/pyX.Y; prints which versions ran.
ci:
    .ci/run

# The whole suite against one CPython found through pyenv, e.g. `just test-python 3.13`.
test-python VERSION:
    .ci/run {{VERSION}}

# Format check and clippy on every target.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Watch the bundled example: a live program that picks up edits (Ctrl-C stops).
example:
    cargo run --release -- watch examples/arena --run "arena.tick()"

# Load the bundled example once with its tests, as CI would.
check:
    cargo run --release -- check examples/arena

# Benchmarks (not part of cargo test).
bench:
    cargo bench

# The reload benchmark next to IPython autoreload and jurigged, installed into a throwaway
# virtualenv under target/ (needs PyPI; never needed to build or test).
bench-peers:
    python3 -m venv target/peers-venv
    target/peers-venv/bin/pip install --quiet ipython jurigged
    cargo bench --bench reload

# Fuzz the scenario parser and script decoding for SECONDS each (default 60). Not in CI.
# Needs `cargo install cargo-fuzz`; runs on stable through RUSTC_BOOTSTRAP, without a
# sanitizer (the embedded CPython is not instrumented). Crashes land in fuzz/artifacts/.
fuzz seconds="60":
    #!/usr/bin/env bash
    set -euo pipefail
    export RUSTC_BOOTSTRAP=1
    libdir="$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')"
    export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    for target in scenario_model script_decode; do
        mkdir -p "fuzz/target/corpus/$target"
        cargo fuzz run --sanitizer none "$target" "fuzz/target/corpus/$target" "fuzz/corpus/$target" \
            -- -max_total_time={{seconds}}
    done

# The Python wheel (abi3, CPython 3.11+) into target/wheels, built by maturin from PyPI in a
# throwaway virtualenv under target/. Install it with `pip install target/wheels/*.whl`.
wheel:
    python3 -m venv target/maturin-venv
    target/maturin-venv/bin/pip install --quiet "maturin>=1.9.4,<2"
    target/maturin-venv/bin/maturin build --release --out target/wheels
