# Recipes for relive. Nothing here is required: every recipe is a plain cargo command.
set shell := ["bash", "-euo", "pipefail", "-c"]

# Run every test (unit, integration, scenarios).
test:
    RUST_BACKTRACE=0 cargo test

# Format check and clippy on every target.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Load the bundled example and print the report.
example:
    cargo run --release -- check examples/arena
