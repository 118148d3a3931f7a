"""Measure what the parquet layout buys on the client's lookups.

Takes a real ``idc_index.parquet`` (default: the one of the installed idc-index-data package, one
row group of ~1M rows), rewrites it with the builder's layout variants, and times point lookups by
SeriesInstanceUID and a filter by collection with DuckDB, pyarrow and (when installed) DataFusion,
the client's engine. Usage::

    python measure_layout.py [--source idc_index.parquet] [--lookups 30] [--out DIR]

Each lookup is a fresh query on a fresh connection (no result cache); the median is reported.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from index_builder.indices import INDICES
from index_builder.writer import write_index


def real_idc_index() -> Path:
    spec = importlib.util.find_spec("idc_index_data")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pass --source idc_index.parquet or pip install idc-index-data==25.0.5")
    return Path(next(iter(spec.submodule_search_locations))) / "idc_index.parquet"


def median_ms(fn, args) -> float:
    times = []
    for a in args:
        t0 = time.perf_counter()
        fn(a)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=Path, default=None)
    ap.add_argument("--lookups", type=int, default=30)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    source = args.source or real_idc_index()
    out = args.out or Path(tempfile.mkdtemp(prefix="idc-layout-"))
    out.mkdir(parents=True, exist_ok=True)

    table = pq.read_table(source).replace_schema_metadata(None)
    spec = INDICES["idc_index"]
    variants = {"as published (1 row group)": source}
    for label, rg, bloom in [("sorted, 16k rows/group", 16384, False),
                             ("sorted, 16k rows/group + bloom", 16384, True),
                             ("sorted, 8k rows/group + bloom", 8192, True)]:
        path = out / f"idc_index_{rg}_{'bloom' if bloom else 'nobloom'}.parquet"
        t0 = time.perf_counter()
        write_index(table, spec, path, 25, "25.0.0", row_group_size=rg, bloom=bloom)
        print(f"wrote {label}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        variants[label] = path

    rng = random.Random(1)
    uids = rng.sample(table.column("SeriesInstanceUID").to_pylist(), args.lookups)
    collections = rng.sample(sorted(set(table.column("collection_id").to_pylist())), min(args.lookups, 10))
    try:
        import datafusion
    except ImportError:
        datafusion = None

    header = ["layout", "MB", "row groups", "duckdb uid ms", "pyarrow uid ms", "duckdb coll ms"]
    if datafusion:
        header += ["datafusion uid ms"]
    rows = []
    for label, path in variants.items():
        md = pq.read_metadata(path)

        def duck_uid(u, p=path):
            duckdb.connect().execute(f"SELECT * FROM read_parquet('{p}') WHERE SeriesInstanceUID = ?", [u]).fetchall()

        def duck_coll(c, p=path):
            duckdb.connect().execute(f"SELECT SeriesInstanceUID FROM read_parquet('{p}') WHERE collection_id = ?", [c]).fetchall()

        def arrow_uid(u, p=path):
            ds.dataset(p).to_table(filter=ds.field("SeriesInstanceUID") == u)

        row = [label, f"{path.stat().st_size / 1e6:.1f}", str(md.num_row_groups),
               f"{median_ms(duck_uid, uids):.1f}", f"{median_ms(arrow_uid, uids):.1f}",
               f"{median_ms(duck_coll, collections):.1f}"]
        if datafusion:
            def df_uid(u, p=path):
                ctx = datafusion.SessionContext(datafusion.SessionConfig().set(
                    "datafusion.execution.parquet.pushdown_filters", "true"))
                ctx.register_parquet("idx", str(p))
                ctx.sql(f"SELECT * FROM idx WHERE \"SeriesInstanceUID\" = '{u}'").to_arrow_table()

            row.append(f"{median_ms(df_uid, uids):.1f}")
        rows.append(row)

    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


if __name__ == "__main__":
    main()
