#!/usr/bin/env bash
# Static checks, the same as CI's lint job: ruff, mypy (strict), stubtest of the native module
# against python/idc_index/_core.pyi, rustfmt and clippy. Runs every check and fails if any did.
# Needs, in the active environment, the extension built and the lint extra, e.g. in the test
# virtualenv: `maturin develop --profile ci --extras test,lint`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idc-index/target}"

status=0
run() {
    echo "+ $*"
    "$@" || status=1
}

run ruff check python tests index_builder
run mypy
run python -m mypy.stubtest idc_index._core
run cargo fmt --manifest-path rust/Cargo.toml --all --check
run cargo clippy --manifest-path rust/Cargo.toml --profile ci --workspace --all-targets -- -D warnings
exit "$status"
