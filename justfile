# Recipes for relive. Nothing here is required: every recipe is a plain cargo command.
set shell := ["bash", "-euo", "pipefail", "-c"]

# Run every test (unit, integration, scenarios).
test:
    RUST_BACKTRACE=0 cargo test

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

# The Python wheel (abi3, CPython 3.11+) into target/wheels, built by maturin from PyPI in a
# throwaway virtualenv under target/. Install it with `pip install target/wheels/*.whl`.
wheel:
    python3 -m venv target/maturin-venv
    target/maturin-venv/bin/pip install --quiet "maturin>=1.9.4,<2"
    target/maturin-venv/bin/maturin build --release --out target/wheels
