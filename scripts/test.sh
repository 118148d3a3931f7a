#!/usr/bin/env bash
# Build the extension (CI profile: optimised dependencies, fast own crates) into a dedicated
# virtualenv and run every test: Rust core, Python package, index builder.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idc-index/target}"
venv="${IDC_TEST_VENV:-$HOME/.cache/idc-index/test-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "maturin>=1.8,<2"
# A path entry (compat mode), not an import hook: the tests run from the repository root, where
# the index_builder/ directory would otherwise shadow the package as an empty namespace.
python -m pip install --quiet -e "index_builder[test]" --config-settings editable_mode=compat
maturin develop --quiet --profile ci --extras test
# A real client written for idc-index 0.13 (tests/test_client_tcia_utils.py); without its
# dependencies, which the test extra lists, because it requires idc-index (from PyPI otherwise).
python -m pip install --quiet --no-deps "tcia_utils==3.3.5"

(cd rust && cargo test --profile ci --workspace --exclude idc_py --quiet)
python -m pytest -q tests "$@"
(cd index_builder && python -m pytest -q tests)
