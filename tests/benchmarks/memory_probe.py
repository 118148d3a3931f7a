"""Resident memory of idc-index in a process of its own: after ``IDCClient()``, and after
running a list of queries. Run by tests/benchmarks/test_queries.py; prints one JSON line.

    python memory_probe.py CACHE_DIR RELEASE_BASE_URL CLINICAL_DIR QUERIES_JSON INDEX [INDEX ...]

CLINICAL_DIR holds the clinical tables that fetching ``clinical_index`` would download.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def resident() -> dict[str, float]:
    """MB of resident memory: in all, anonymous (heap: Arrow buffers, caches) and file-backed
    (mapped pages of the index files and of the shared libraries)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) / 1024
    return {"rss": fields["VmRSS"], "peak": fields["VmHWM"], "anon": fields["RssAnon"], "file": fields["RssFile"]}


def main() -> None:
    cache_dir, base_url, clinical_dir, queries_file, *optional = sys.argv[1:]
    from idc_index import IDCClient

    client = IDCClient(cache_dir=cache_dir, release_base_url=base_url)
    client._engine.wait_optimized("index")
    started = resident()
    client.clinical_data_dir = clinical_dir
    for name in optional:
        client.fetch_index(name)
    queries = json.loads(Path(queries_file).read_text())
    for sql in queries:
        client.sql(sql).to_arrow()
    print(
        json.dumps(
            {
                "after_start": started,
                "after_queries": resident(),
                "queries": len(queries),
                "held_mb": {k: v / 2**20 for k, v in client._engine.memory_held().items()},
            }
        )
    )


if __name__ == "__main__":
    main()
