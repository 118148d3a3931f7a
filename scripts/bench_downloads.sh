#!/usr/bin/env bash
# Every download benchmark behind the goals of "Downloads where users are" in docs/benchmarks.md,
# one after another in one run, so that the goals table can be read from figures of one run:
# round trips of 20, 80 and 150 ms, capped links, objects that state only an MD5, the bandwidth
# limit, memory against the number of files, Dask, a whole-IDC plan, and a first run.
#
# Runs the package installed in the active environment (for example `maturin develop --profile
# ci --extras test`); s3s-fs and the delay proxy as scripts/bench.sh installs and builds them.
# Writes .benchmarks/downloads/<step>.json and prints each step's table. About 45 minutes on 2 cores;
# IDC_BENCH_MEMORY_FILES (default 10000,100000,1000000) sets the memory step's sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idc-index/target}"
export IDC_BENCH_TOOLS="${IDC_BENCH_TOOLS:-$HOME/.cache/idc-index/tools}"
[ -x "$IDC_BENCH_TOOLS/bin/s3s-fs" ] || CARGO_TARGET_DIR="$HOME/.cache/idc-index/s3s-target" \
    cargo install s3s-fs --version 0.14.1 --features binary --locked --root "$IDC_BENCH_TOOLS"
cargo build --release --quiet --manifest-path tests/benchmarks/delay_proxy/Cargo.toml
out=.benchmarks/downloads
mkdir -p "$out"

# step NAME VAR=VALUE... -- PYTEST ARGUMENTS...
step() {
    local name=$1 vars=()
    shift
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    echo "== $name ($(date -u +%H:%M:%S))"
    env "${vars[@]}" python -m pytest -o addopts="" -p no:cacheprovider --benchmark-only -q \
        --benchmark-json "$out/$name.json" "$@"
}

step latency IDC_BENCH_DELAY_MS=20,80,150 IDC_BENCH_SMALL_SERIES=125 IDC_BENCH_CASES=small IDC_BENCH_ROUNDS=3 -- \
    tests/benchmarks/test_download_cli.py -k "not same-concurrency"
step capped-link IDC_BENCH_DELAY_MS=80 IDC_BENCH_RATE_MBIT=200,1000 IDC_BENCH_ROUNDS=2 -- \
    tests/benchmarks/test_download_cli.py -k "not loopback and not same-concurrency"
step md5-only IDC_BENCH_CHECKSUM=md5 IDC_BENCH_ROUNDS=3 -- \
    tests/benchmarks/test_download_cli.py -k "loopback and not same-concurrency"
step bandwidth-limit -- tests/benchmarks/test_bandwidth_limit.py -s
step memory IDC_BENCH_MEMORY_FILES="${IDC_BENCH_MEMORY_FILES:-10000,100000,1000000}" -- \
    tests/benchmarks/test_download_memory.py
step dask -- tests/benchmarks/test_download_distributed.py
step planning -- tests/benchmarks/test_planning.py
step first-run -- tests/benchmarks/test_startup.py -k first_run

for f in latency capped-link md5-only memory dask planning first-run; do
    echo "== $f"
    python tests/benchmarks/report.py "$out/$f.json"
done
