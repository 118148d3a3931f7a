#!/usr/bin/env bash
# Benchmarks, side by side in one run: this package (release build), idc-index 0.13.4 in its
# own virtualenv, DuckDB over the same parquet files. Writes .benchmarks/latest.json and
# prints the markdown table recorded in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idc-index/target}"
venv="${IDC_BENCH_VENV:-$HOME/.cache/idc-index/bench-venv}"
v013="${IDC_BENCH_V013_VENV:-$HOME/.cache/idc-index/venv013}"
# release: what users install; ci: the same optimised dependencies with our thin crates at -O1.
profile="${IDC_BENCH_PROFILE:-release}"

# The download benchmarks need a fast local server (nginx) and curl for the server's ceiling.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ] || ! command -v curl >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light curl >/dev/null
    else
        echo "nginx or curl missing (apt-get install nginx-light curl): the download benchmarks will be skipped" >&2
    fi
fi
# The command-line download benchmarks: s3s-fs (a Rust S3 server over a directory, the reference
# server) and a proxy that delays every response and, with IDC_BENCH_RATE_MBIT, caps the bandwidth of
# all its connections together (tests/benchmarks/delay_proxy; its unit tests: cargo test --release
# --manifest-path tests/benchmarks/delay_proxy/Cargo.toml).
tools="${IDC_BENCH_TOOLS:-$HOME/.cache/idc-index/tools}"
[ -x "$tools/bin/s3s-fs" ] || CARGO_TARGET_DIR="$HOME/.cache/idc-index/s3s-target" \
    cargo install s3s-fs --version 0.14.1 --features binary --locked --root "$tools"
cargo build --release --quiet --manifest-path tests/benchmarks/delay_proxy/Cargo.toml
export IDC_BENCH_TOOLS="$tools"

[ -x "$v013/bin/python" ] || { python3 -m venv "$v013"; "$v013/bin/pip" install --quiet "idc-index==0.13.4"; }
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --quiet "maturin>=1.8,<2"
# The remote-query benchmark publishes a release in the builder's layout.
python -m pip install --quiet -e index_builder --config-settings editable_mode=compat
maturin develop --quiet --profile "$profile" --extras test
mkdir -p .benchmarks
IDC_BENCH_V013_PYTHON="$v013/bin/python" python -m pytest tests/benchmarks -o addopts="" -p no:cacheprovider \
    --benchmark-only --benchmark-json .benchmarks/latest.json -q "$@"
python tests/benchmarks/report.py .benchmarks/latest.json
